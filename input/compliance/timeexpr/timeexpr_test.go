package timeexpr_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST cases must not depend on the host's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// utc builds an instant in UTC; ns is nanoseconds.
func utc(y int, m time.Month, d, hh, mm, ss, ns int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
}

// TestResolve pins every unit, snap and number rule at fixed instants.
// Wednesday 2026-11-25 10:37:42.5 UTC is the default "now".
func TestResolve(t *testing.T) {
	wed := utc(2026, 11, 25, 10, 37, 42, 500_000_000)
	sun := utc(2026, 11, 22, 15, 0, 0, 0)
	mon := utc(2026, 11, 23, 0, 0, 0, 0) // exactly Monday midnight
	sat := utc(2026, 11, 28, 23, 59, 59, 999_999_999)
	day := func(y int, m time.Month, d int) time.Time { return utc(y, m, d, 0, 0, 0, 0) }

	ny := mustLoad(t, "America/New_York")
	santiago := mustLoad(t, "America/Santiago")
	havana := mustLoad(t, "America/Havana")
	plus2 := time.FixedZone("+02:00", 2*3600)

	tests := []struct {
		name string
		expr string
		now  time.Time
		loc  *time.Location
		want time.Time
	}{
		// now
		{"now", "now", wed, nil, wed},
		{"now is case-insensitive", "NOW", wed, nil, wed},
		{"now with snap", "now@d", wed, nil, day(2026, 11, 25)},
		{"surrounding whitespace is ignored", "  -1d@d\t", wed, nil, day(2026, 11, 24)},

		// seconds, every spelling
		{"s", "-30s", wed, nil, wed.Add(-30 * time.Second)},
		{"sec", "-30sec", wed, nil, wed.Add(-30 * time.Second)},
		{"secs", "-30secs", wed, nil, wed.Add(-30 * time.Second)},
		{"second", "-1second", wed, nil, wed.Add(-time.Second)},
		{"seconds", "+2seconds", wed, nil, wed.Add(2 * time.Second)},
		// minutes
		{"m", "-5m", wed, nil, wed.Add(-5 * time.Minute)},
		{"min", "-5min", wed, nil, wed.Add(-5 * time.Minute)},
		{"mins", "-5mins", wed, nil, wed.Add(-5 * time.Minute)},
		{"minute", "-1minute", wed, nil, wed.Add(-time.Minute)},
		{"minutes", "+5minutes", wed, nil, wed.Add(5 * time.Minute)},
		{"M upper case is minutes", "-5M", wed, nil, wed.Add(-5 * time.Minute)},
		// hours
		{"h", "-2h", wed, nil, wed.Add(-2 * time.Hour)},
		{"hr", "-2hr", wed, nil, wed.Add(-2 * time.Hour)},
		{"hrs", "-2hrs", wed, nil, wed.Add(-2 * time.Hour)},
		{"hour", "-1hour", wed, nil, wed.Add(-time.Hour)},
		{"hours", "+2hours", wed, nil, wed.Add(2 * time.Hour)},
		// days
		{"d", "-1d", wed, nil, utc(2026, 11, 24, 10, 37, 42, 500_000_000)},
		{"day", "-1day", wed, nil, utc(2026, 11, 24, 10, 37, 42, 500_000_000)},
		{"days", "+10days", wed, nil, utc(2026, 12, 5, 10, 37, 42, 500_000_000)},
		{"D upper case", "-1D", wed, nil, utc(2026, 11, 24, 10, 37, 42, 500_000_000)},
		// weeks
		{"w", "-1w", wed, nil, utc(2026, 11, 18, 10, 37, 42, 500_000_000)},
		{"wk", "-1wk", wed, nil, utc(2026, 11, 18, 10, 37, 42, 500_000_000)},
		{"wks", "-2wks", wed, nil, utc(2026, 11, 11, 10, 37, 42, 500_000_000)},
		{"week", "-1week", wed, nil, utc(2026, 11, 18, 10, 37, 42, 500_000_000)},
		{"weeks", "+2weeks", wed, nil, utc(2026, 12, 9, 10, 37, 42, 500_000_000)},
		// months
		{"mon", "-1mon", wed, nil, utc(2026, 10, 25, 10, 37, 42, 500_000_000)},
		{"month", "-1month", wed, nil, utc(2026, 10, 25, 10, 37, 42, 500_000_000)},
		{"months", "+2months", wed, nil, utc(2027, 1, 25, 10, 37, 42, 500_000_000)},
		{"MON upper case is months", "-1MON", wed, nil, utc(2026, 10, 25, 10, 37, 42, 500_000_000)},
		{"month offset clamps to month end", "-1mon", utc(2026, 3, 31, 12, 0, 0, 0), nil, utc(2026, 2, 28, 12, 0, 0, 0)},
		{"month offset clamps in leap year", "+1mon", utc(2028, 1, 31, 0, 0, 0, 0), nil, utc(2028, 2, 29, 0, 0, 0, 0)},
		{"month offset across years backwards", "-13mon", utc(2026, 1, 15, 0, 0, 0, 0), nil, utc(2024, 12, 15, 0, 0, 0, 0)},
		// quarters
		{"q", "-1q", wed, nil, utc(2026, 8, 25, 10, 37, 42, 500_000_000)},
		{"qtr", "-1qtr", wed, nil, utc(2026, 8, 25, 10, 37, 42, 500_000_000)},
		{"qtrs", "-2qtrs", wed, nil, utc(2026, 5, 25, 10, 37, 42, 500_000_000)},
		{"quarter", "-1quarter", wed, nil, utc(2026, 8, 25, 10, 37, 42, 500_000_000)},
		{"quarters", "+1quarters", utc(2026, 11, 30, 0, 0, 0, 0), nil, utc(2027, 2, 28, 0, 0, 0, 0)},
		// years
		{"y", "-1y", wed, nil, utc(2025, 11, 25, 10, 37, 42, 500_000_000)},
		{"yr", "-1yr", wed, nil, utc(2025, 11, 25, 10, 37, 42, 500_000_000)},
		{"yrs", "-2yrs", wed, nil, utc(2024, 11, 25, 10, 37, 42, 500_000_000)},
		{"year", "-1year", wed, nil, utc(2025, 11, 25, 10, 37, 42, 500_000_000)},
		{"years", "+1years", wed, nil, utc(2027, 11, 25, 10, 37, 42, 500_000_000)},
		{"year offset from Feb 29 clamps", "-1y", utc(2028, 2, 29, 8, 0, 0, 0), nil, utc(2027, 2, 28, 8, 0, 0, 0)},

		// snaps, every unit and spelling
		{"@s", "@s", wed, nil, utc(2026, 11, 25, 10, 37, 42, 0)},
		{"@second", "@second", wed, nil, utc(2026, 11, 25, 10, 37, 42, 0)},
		{"@m", "@m", wed, nil, utc(2026, 11, 25, 10, 37, 0, 0)},
		{"@minute", "@minute", wed, nil, utc(2026, 11, 25, 10, 37, 0, 0)},
		{"@h", "@h", wed, nil, utc(2026, 11, 25, 10, 0, 0, 0)},
		{"@hour", "@hour", wed, nil, utc(2026, 11, 25, 10, 0, 0, 0)},
		{"@d", "@d", wed, nil, day(2026, 11, 25)},
		{"@day", "@day", wed, nil, day(2026, 11, 25)},
		{"@mon", "@mon", wed, nil, day(2026, 11, 1)},
		{"@month", "@month", wed, nil, day(2026, 11, 1)},
		{"@y", "@y", wed, nil, day(2026, 1, 1)},
		{"@year", "@year", wed, nil, day(2026, 1, 1)},
		{"@Y upper case", "@Y", wed, nil, day(2026, 1, 1)},

		// the manual's examples
		{"+128m@h", "+128m@h", wed, nil, utc(2026, 11, 25, 12, 0, 0, 0)},
		{"-7d@d", "-7d@d", wed, nil, day(2026, 11, 18)},
		{"-1q@q", "-1q@q", wed, nil, day(2026, 7, 1)},
		{"-5m@m", "-5m@m", wed, nil, utc(2026, 11, 25, 10, 32, 0, 0)},

		// @q in each quarter, and on a quarter's first instant
		{"@q in Q1", "@q", utc(2026, 2, 14, 9, 0, 0, 0), nil, day(2026, 1, 1)},
		{"@q in Q2", "@q", utc(2026, 5, 31, 23, 59, 59, 0), nil, day(2026, 4, 1)},
		{"@q in Q3", "@q", utc(2026, 8, 1, 0, 0, 1, 0), nil, day(2026, 7, 1)},
		{"@q in Q4", "@qtr", wed, nil, day(2026, 10, 1)},
		{"@q at quarter start is itself", "@quarter", day(2026, 4, 1), nil, day(2026, 4, 1)},

		// weekday snaps from a Wednesday
		{"@w is Sunday", "@w", wed, nil, day(2026, 11, 22)},
		{"@w0 is Sunday", "@w0", wed, nil, day(2026, 11, 22)},
		{"@w1 Monday", "@w1", wed, nil, day(2026, 11, 23)},
		{"@w2 Tuesday", "@w2", wed, nil, day(2026, 11, 24)},
		{"@w3 today included", "@w3", wed, nil, day(2026, 11, 25)},
		{"@w4 last Thursday", "@w4", wed, nil, day(2026, 11, 19)},
		{"@w5 last Friday", "@w5", wed, nil, day(2026, 11, 20)},
		{"@w6 last Saturday", "@w6", wed, nil, day(2026, 11, 21)},
		{"@week long form", "@week", wed, nil, day(2026, 11, 22)},
		{"@week1 long form", "@week1", wed, nil, day(2026, 11, 23)},
		{"@wk1 long form", "@wk1", wed, nil, day(2026, 11, 23)},
		{"@W1 upper case", "@W1", wed, nil, day(2026, 11, 23)},
		// ... from a Sunday
		{"Sunday @w0 is today", "@w0", sun, nil, day(2026, 11, 22)},
		{"Sunday @w1 is last week's Monday", "@w1", sun, nil, day(2026, 11, 16)},
		{"Sunday @w6 is yesterday", "@w6", sun, nil, day(2026, 11, 21)},
		// ... from Monday 00:00 exactly
		{"Monday midnight @w1 is itself", "@w1", mon, nil, day(2026, 11, 23)},
		{"Monday midnight @w0 is yesterday", "@w0", mon, nil, day(2026, 11, 22)},
		{"Monday midnight @w2 is six days back", "@w2", mon, nil, day(2026, 11, 17)},
		// ... from the last instant of a Saturday
		{"Saturday @w6 is today", "@w6", sat, nil, day(2026, 11, 28)},
		{"Saturday @w0 is last Sunday", "@w0", sat, nil, day(2026, 11, 22)},
		{"Saturday @w1 is Monday", "@w1", sat, nil, day(2026, 11, 23)},
		{"Saturday @w5 is yesterday", "@w5", sat, nil, day(2026, 11, 27)},

		// bare integers
		{"signed negative integer is seconds", "-1", wed, nil, wed.Add(-time.Second)},
		{"signed positive integer is seconds", "+30", wed, nil, wed.Add(30 * time.Second)},
		{"short unsigned integer is future seconds", "30", wed, nil, wed.Add(30 * time.Second)},
		{"zero is now", "0", wed, nil, wed},
		{"8-digit unsigned integer is still relative", "12345678", wed, nil, wed.Add(12345678 * time.Second)},
		{"signed long integer is relative", "-1764067062", wed, nil, wed.Add(-1764067062 * time.Second)},
		{"bare seconds with snap", "-60@m", wed, nil, utc(2026, 11, 25, 10, 36, 0, 0)},
		{"9-digit unsigned integer is epoch", "100000000", wed, nil, utc(1973, 3, 3, 9, 46, 40, 0)},
		{"10-digit epoch", "1764067062", wed, nil, utc(2025, 11, 25, 10, 37, 42, 0)},
		{"epoch ignores now and zone", "1764067062", sun, ny, utc(2025, 11, 25, 10, 37, 42, 0)},

		// RFC 3339
		{"RFC 3339 Z", "2026-11-25T10:00:00Z", wed, nil, utc(2026, 11, 25, 10, 0, 0, 0)},
		{"RFC 3339 +02:00", "2026-11-25T12:00:00+02:00", wed, nil, utc(2026, 11, 25, 10, 0, 0, 0)},
		{"RFC 3339 fractional", "2026-11-25T10:00:00.123456789Z", wed, nil, utc(2026, 11, 25, 10, 0, 0, 123456789)},
		{"RFC 3339 ignores now and zone", "2026-11-25T12:00:00+02:00", sun, plus2, utc(2026, 11, 25, 10, 0, 0, 0)},

		// America/New_York: calendar units keep wall-clock time across DST, s/m/h do not
		{"New York @d", "@d", time.Date(2026, 11, 25, 10, 37, 0, 0, ny), ny, time.Date(2026, 11, 25, 0, 0, 0, 0, ny)},
		{"New York @d on a UTC now of the next UTC day", "@d", utc(2026, 11, 26, 3, 0, 0, 0), ny, time.Date(2026, 11, 25, 0, 0, 0, 0, ny)},
		{"New York -1d across fall-back is 25h", "-1d", time.Date(2026, 11, 1, 12, 0, 0, 0, ny), ny, utc(2026, 10, 31, 16, 0, 0, 0)},
		{"New York -24h across fall-back is exact", "-24h", time.Date(2026, 11, 1, 12, 0, 0, 0, ny), ny, utc(2026, 10, 31, 17, 0, 0, 0)},
		{"New York -1d across spring-forward is 23h", "-1d", time.Date(2026, 3, 8, 12, 0, 0, 0, ny), ny, utc(2026, 3, 7, 17, 0, 0, 0)},
		{"New York @d on fall-back day starts in EDT", "@d", time.Date(2026, 11, 1, 12, 0, 0, 0, ny), ny, utc(2026, 11, 1, 4, 0, 0, 0)},
		{"New York @d on spring-forward day starts in EST", "@d", time.Date(2026, 3, 8, 12, 0, 0, 0, ny), ny, utc(2026, 3, 8, 5, 0, 0, 0)},
		{"New York @h in the repeated hour keeps EST", "@h", utc(2026, 11, 1, 6, 30, 0, 0), ny, utc(2026, 11, 1, 6, 0, 0, 0)},
		{"New York @h in the first run of the repeated hour keeps EDT", "@h", utc(2026, 11, 1, 5, 30, 0, 0), ny, utc(2026, 11, 1, 5, 0, 0, 0)},
		{"New York @w1", "@w1", time.Date(2026, 11, 25, 10, 0, 0, 0, ny), ny, time.Date(2026, 11, 23, 0, 0, 0, 0, ny)},
		{"New York @mon across DST", "@mon", time.Date(2026, 11, 25, 10, 0, 0, 0, ny), ny, time.Date(2026, 11, 1, 0, 0, 0, 0, ny)},

		// zones where DST starts or ends at midnight
		{"Santiago @d when midnight does not exist", "@d", time.Date(2024, 9, 8, 12, 0, 0, 0, santiago), santiago, utc(2024, 9, 8, 4, 0, 0, 0)},
		{"Santiago @w0 when midnight does not exist", "@w0", time.Date(2024, 9, 10, 12, 0, 0, 0, santiago), santiago, utc(2024, 9, 8, 4, 0, 0, 0)},
		{"Santiago @d after midnight repeats", "@d", time.Date(2024, 4, 7, 10, 0, 0, 0, santiago), santiago, utc(2024, 4, 7, 4, 0, 0, 0)},
		{"Havana @d in the repeated first hour", "@d", utc(2024, 11, 3, 5, 30, 0, 0), havana, utc(2024, 11, 3, 4, 0, 0, 0)},
		{"Havana @d when midnight does not exist", "@d", time.Date(2025, 3, 9, 12, 0, 0, 0, havana), havana, utc(2025, 3, 9, 5, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := timeexpr.Parse(tc.expr)
			require.NoError(t, err)
			got := e.Resolve(tc.now, tc.loc)
			assert.True(t, tc.want.Equal(got), "Parse(%q).Resolve(%v) = %v, want %v", tc.expr, tc.now, got, tc.want)
			wantLoc := tc.loc
			if wantLoc == nil {
				wantLoc = time.UTC
			}
			assert.Equal(t, wantLoc, got.Location(), "result is in the requested location")
		})
	}
}

func TestIsAbsoluteOnlyForEpochAndRFC3339(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{"now", false},
		{"-7d@d", false},
		{"@w1", false},
		{"-1", false},
		{"30", false},
		{"12345678", false},
		{"100000000", true},
		{"1764067062", true},
		{"2026-11-25T10:00:00Z", true},
		{"2026-11-25T12:00:00.5+02:00", true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, timeexpr.MustParse(tc.expr).IsAbsolute(), "IsAbsolute(%q)", tc.expr)
	}
}

func TestStringIsTheTrimmedText(t *testing.T) {
	assert.Equal(t, "-7d@d", timeexpr.MustParse("  -7d@d \n").String())
	assert.Equal(t, "2026-11-25T12:00:00+02:00", timeexpr.MustParse("2026-11-25T12:00:00+02:00").String())
	assert.Equal(t, "NOW", timeexpr.MustParse("NOW").String())
}

func TestZeroExprIsNow(t *testing.T) {
	var e timeexpr.Expr
	now := utc(2026, 11, 25, 10, 0, 0, 7)
	assert.Equal(t, "now", e.String())
	assert.False(t, e.IsAbsolute())
	assert.True(t, now.Equal(e.Resolve(now, nil)))
}

func TestMustParsePanicsOnSyntaxError(t *testing.T) {
	assert.PanicsWithError(t, `invalid time expression "-7x@d": unknown unit "x" at position 2`, func() {
		timeexpr.MustParse("-7x@d")
	})
}

// TestParseErrors pins the position and message of every syntax error, and
// that the error is a *SyntaxError naming the expression.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		expr string
		pos  int
		msg  string
	}{
		{"empty", "", 0, "empty expression"},
		{"only whitespace", " \t ", 0, "empty expression"},
		{"unknown unit", "-7x@d", 2, `unknown unit "x"`},
		{"unknown long unit", "-7days2", 6, `unexpected "2"`},
		{"misspelt unit", "-3minuts", 2, `unknown unit "minuts"`},
		{"missing sign with unit", "7d", 0, `missing sign before 7d: write "-7d" (past) or "+7d" (future)`},
		{"sign without number", "-d", 1, `missing number after "-"`},
		{"lone sign", "+", 1, `missing number after "+"`},
		{"double sign", "--1d", 1, `missing number after "-"`},
		{"garbage", "yesterday", 0, `unexpected "y" (want now, @<snap>, [+|-]<int><unit>[@<snap>], epoch seconds or RFC 3339)`},
		{"non-ASCII is shown whole", "é", 0, `unexpected "é" (want now, @<snap>, [+|-]<int><unit>[@<snap>], epoch seconds or RFC 3339)`},
		{"number too long", "-99999999999999999999d", 1, "number 99999999999999999999 out of range"},
		{"offset too large", "-300y", 1, "offset 300y out of range (at most about 292 years)"},
		{"seconds too large", "-9300000000", 1, "offset 9300000000 seconds out of range (at most about 292 years)"},
		{"chained offsets", "-1d+2h", 3, `unexpected "+"`},
		{"inner whitespace", "-1d @d", 3, `unexpected " "`},
		{"now with an offset", "now-1d", 3, `unexpected "-"`},
		{"now followed by letters", "nowish", 3, `unexpected "i"`},
		{"missing snap unit", "-7d@", 4, `missing snap unit after "@"`},
		{"lone at", "@", 1, `missing snap unit after "@"`},
		{"unknown snap unit", "-7d@x", 4, `unknown snap unit "x"`},
		{"weekday number on day snap", "@d1", 2, `unexpected "1" (only @w takes a weekday number)`},
		{"weekday seven", "@w7", 2, `unknown weekday "7" (want 0-6, 0 = Sunday)`},
		{"weekday two digits", "@w10", 2, `unknown weekday "10" (want 0-6, 0 = Sunday)`},
		{"text after snap", "@d!", 2, `unexpected "!" after snap`},
		{"double snap", "@d@h", 2, `unexpected "@" after snap`},
		{"snap on epoch", "1764067062@d", 10, `unexpected "@" after epoch seconds (a snap is not allowed on an absolute time)`},
		{"epoch milliseconds", "1764067062000", 0, "epoch value 1764067062000 is too large for seconds (milliseconds? divide by 1000)"},
		{"RFC 3339 without zone", "2026-11-25T10:00:00", 19, "RFC 3339 time needs a zone offset (Z or ±hh:mm)"},
		{"RFC 3339 bad month", "2026-13-25T10:00:00Z", 0, `not an RFC 3339 time (want e.g. 2026-11-25T10:00:00Z): parsing time "2026-13-25T10:00:00Z": month out of range`},
		{"date only", "2026-11-25", 0, `not an RFC 3339 time (want e.g. 2026-11-25T10:00:00Z): parsing time "2026-11-25" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "" as "T"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := timeexpr.Parse(tc.expr)
			require.Error(t, err)
			synErr, ok := errors.AsType[*timeexpr.SyntaxError](err)
			require.True(t, ok, "error is a *SyntaxError: %v", err)
			assert.Equal(t, tc.pos, synErr.Pos, "position")
			assert.Equal(t, tc.msg, synErr.Msg, "message")
			assert.Equal(t, synErr.Expr, strings.TrimSpace(tc.expr), "Expr is the trimmed input")
			assert.Contains(t, err.Error(), `invalid time expression "`)
		})
	}
}

func TestSyntaxErrorMessageNamesExpressionAndPosition(t *testing.T) {
	_, err := timeexpr.Parse("-7x@d")
	require.EqualError(t, err, `invalid time expression "-7x@d": unknown unit "x" at position 2`)
}
