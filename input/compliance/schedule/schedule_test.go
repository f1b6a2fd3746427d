package schedule_test

import (
	"testing"
	"time"
	_ "time/tzdata" // zone rules must not depend on the host

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utc(y int, m time.Month, d, hh, mm, ss, ns int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
}

func TestParseAcceptsOnceEveryCronAndDescriptors(t *testing.T) {
	tests := []struct {
		spec string
		once bool
		text string
	}{
		{"once", true, "once"},
		{" ONCE ", true, "ONCE"},
		{"@every 5m", false, "@every 5m"},
		{"@every 10ms", false, "@every 10ms"},
		{"@every   1h30m ", false, "@every   1h30m"},
		{"*/5 * * * *", false, "*/5 * * * *"},
		{"0 9 * * MON-FRI", false, "0 9 * * MON-FRI"},
		{"0 0 1 jan,jul *", false, "0 0 1 jan,jul *"},
		{"0 0 29 2 *", false, "0 0 29 2 *"},
		{"@hourly", false, "@hourly"},
		{"@daily", false, "@daily"},
		{"@midnight", false, "@midnight"},
		{"@weekly", false, "@weekly"},
		{"@monthly", false, "@monthly"},
		{"@yearly", false, "@yearly"},
		{"@Annually", false, "@Annually"},
	}
	for _, tc := range tests {
		s, err := schedule.Parse(tc.spec, nil)
		require.NoError(t, err, "Parse(%q)", tc.spec)
		assert.Equal(t, tc.once, s.Once(), "Parse(%q).Once()", tc.spec)
		assert.Equal(t, tc.text, s.String(), "Parse(%q).String()", tc.spec)
	}
}

func TestParseErrorsNameTheSpec(t *testing.T) {
	tests := []struct {
		spec string
		err  string
	}{
		{"", `invalid schedule "": empty (want once, @every <duration> or a 5-field cron such as "*/5 * * * *")`},
		{"*/5 * *", `invalid schedule "*/5 * *": expected 5 fields (minute hour day-of-month month day-of-week), found 3`},
		{"0 */5 * * * *", `invalid schedule "0 */5 * * * *": expected 5 fields (minute hour day-of-month month day-of-week), found 6`},
		{"@every", `invalid schedule "@every": @every needs a duration such as "@every 5m"`},
		{"@every 5", `invalid schedule "@every 5": @every duration: time: missing unit in duration "5"`},
		{"@every -5m", `invalid schedule "@every -5m": @every duration must be positive, got -5m`},
		{"@every 0s", `invalid schedule "@every 0s": @every duration must be positive, got 0s`},
		{"@every5m", `invalid schedule "@every5m": unknown descriptor "@every5m" (want @hourly, @daily, @weekly, @monthly, @yearly or @every <duration>)`},
		{"@fortnightly", `invalid schedule "@fortnightly": unknown descriptor "@fortnightly" (want @hourly, @daily, @weekly, @monthly, @yearly or @every <duration>)`},
		{"TZ=Europe/Berlin 0 9 * * *", `invalid schedule "TZ=Europe/Berlin 0 9 * * *": time zone prefixes are not supported; the schedule's time zone is configured separately`},
		{"CRON_TZ=UTC", `invalid schedule "CRON_TZ=UTC": time zone prefixes are not supported; the schedule's time zone is configured separately`},
		{"61 * * * *", `invalid schedule "61 * * * *": end of range (61) above maximum (59): 61`},
		{"x * * * *", `invalid schedule "x * * * *": failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"0 0 31 4 *", `invalid schedule "0 0 31 4 *": the day-of-month and month fields never match a real date`},
		{"0 0 30 2 *", `invalid schedule "0 0 30 2 *": the day-of-month and month fields never match a real date`},
	}
	for _, tc := range tests {
		_, err := schedule.Parse(tc.spec, nil)
		assert.EqualError(t, err, tc.err, "Parse(%q)", tc.spec)
	}
}

// TestNextTicksAtExactInstants pins successive Next results, strictly after
// the given instant, in the spec's zone.
func TestNextTicksAtExactInstants(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	tests := []struct {
		name  string
		spec  string
		loc   *time.Location
		after time.Time
		want  []time.Time
	}{
		{"every five minutes", "*/5 * * * *", nil, utc(2026, 11, 25, 10, 2, 30, 0),
			[]time.Time{utc(2026, 11, 25, 10, 5, 0, 0), utc(2026, 11, 25, 10, 10, 0, 0), utc(2026, 11, 25, 10, 15, 0, 0)}},
		{"strictly after a tick", "*/5 * * * *", nil, utc(2026, 11, 25, 10, 5, 0, 0),
			[]time.Time{utc(2026, 11, 25, 10, 10, 0, 0)}},
		{"just before a tick", "*/5 * * * *", nil, utc(2026, 11, 25, 10, 4, 59, 999_999_999),
			[]time.Time{utc(2026, 11, 25, 10, 5, 0, 0)}},
		{"@hourly", "@hourly", nil, utc(2026, 11, 25, 10, 0, 0, 0),
			[]time.Time{utc(2026, 11, 25, 11, 0, 0, 0), utc(2026, 11, 25, 12, 0, 0, 0)}},
		{"@daily", "@daily", nil, utc(2026, 11, 25, 10, 0, 0, 0),
			[]time.Time{utc(2026, 11, 26, 0, 0, 0, 0), utc(2026, 11, 27, 0, 0, 0, 0)}},
		{"@weekly is Sunday midnight", "@weekly", nil, utc(2026, 11, 25, 10, 0, 0, 0),
			[]time.Time{utc(2026, 11, 29, 0, 0, 0, 0), utc(2026, 12, 6, 0, 0, 0, 0)}},
		{"@monthly", "@monthly", nil, utc(2026, 11, 25, 10, 0, 0, 0),
			[]time.Time{utc(2026, 12, 1, 0, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0, 0)}},
		{"@yearly", "@yearly", nil, utc(2026, 11, 25, 10, 0, 0, 0),
			[]time.Time{utc(2027, 1, 1, 0, 0, 0, 0), utc(2028, 1, 1, 0, 0, 0, 0)}},
		{"weekdays skip the weekend", "0 9 * * 1-5", nil, utc(2026, 11, 27, 10, 0, 0, 0),
			[]time.Time{utc(2026, 11, 30, 9, 0, 0, 0), utc(2026, 12, 1, 9, 0, 0, 0)}},
		{"29 February", "0 0 29 2 *", nil, utc(2026, 1, 1, 0, 0, 0, 0),
			[]time.Time{utc(2028, 2, 29, 0, 0, 0, 0)}},
		{"@every adds the duration", "@every 10ms", nil, utc(2026, 11, 25, 10, 0, 0, 3),
			[]time.Time{utc(2026, 11, 25, 10, 0, 0, 10_000_003), utc(2026, 11, 25, 10, 0, 0, 20_000_003)}},
		{"09:00 Berlin keeps wall time across spring-forward", "0 9 * * *", berlin, utc(2026, 3, 27, 12, 0, 0, 0),
			[]time.Time{utc(2026, 3, 28, 8, 0, 0, 0), utc(2026, 3, 29, 7, 0, 0, 0), utc(2026, 3, 30, 7, 0, 0, 0)}},
		{"09:00 Berlin keeps wall time across fall-back", "0 9 * * *", berlin, utc(2026, 10, 24, 0, 0, 0, 0),
			[]time.Time{utc(2026, 10, 24, 7, 0, 0, 0), utc(2026, 10, 25, 8, 0, 0, 0)}},
		{"02:30 Berlin does not exist on spring-forward day", "30 2 * * *", berlin, utc(2026, 3, 27, 12, 0, 0, 0),
			[]time.Time{utc(2026, 3, 28, 1, 30, 0, 0), utc(2026, 3, 30, 0, 30, 0, 0)}},
		{"02:30 Berlin happens twice on fall-back day", "30 2 * * *", berlin, utc(2026, 10, 24, 12, 0, 0, 0),
			[]time.Time{utc(2026, 10, 25, 0, 30, 0, 0), utc(2026, 10, 25, 1, 30, 0, 0), utc(2026, 10, 26, 1, 30, 0, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := schedule.Parse(tc.spec, tc.loc)
			require.NoError(t, err)
			wantLoc := tc.loc
			if wantLoc == nil {
				wantLoc = time.UTC
			}
			at := tc.after
			for i, want := range tc.want {
				got := s.Next(at)
				assert.True(t, want.Equal(got), "tick %d: Next(%v) = %v, want %v", i, at, got, want)
				assert.Equal(t, wantLoc, got.Location(), "tick %d is in the spec's zone", i)
				at = got
			}
		})
	}
}

func TestIntervalIsTheLongestGapAhead(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	wed := utc(2026, 11, 25, 10, 0, 0, 0)
	tests := []struct {
		spec string
		loc  *time.Location
		at   time.Time
		want time.Duration
	}{
		{"*/5 * * * *", nil, wed, 5 * time.Minute},
		{"* * * * *", nil, wed, time.Minute},
		{"@every 10ms", nil, wed, 10 * time.Millisecond},
		{"@hourly", nil, wed, time.Hour},
		{"0 9 * * 1-5", nil, wed, 72 * time.Hour},
		{"0 9,17 * * *", nil, wed, 16 * time.Hour},
		{"@weekly", nil, wed, 7 * 24 * time.Hour},
		{"@monthly", nil, utc(2026, 1, 15, 0, 0, 0, 0), 28 * 24 * time.Hour},
		{"30 2 * * *", berlin, utc(2026, 3, 26, 12, 0, 0, 0), 47 * time.Hour},
		{"once", nil, wed, 0},
	}
	for _, tc := range tests {
		s, err := schedule.Parse(tc.spec, tc.loc)
		require.NoError(t, err)
		assert.Equal(t, tc.want, s.Interval(tc.at), "Parse(%q).Interval(%v)", tc.spec, tc.at)
	}
}

func TestOnceAndZeroSpecHaveNoTicks(t *testing.T) {
	once, err := schedule.Parse("once", nil)
	require.NoError(t, err)
	now := utc(2026, 11, 25, 10, 0, 0, 0)
	assert.True(t, once.Next(now).IsZero())
	assert.Zero(t, once.Interval(now))

	var zero schedule.Spec
	assert.False(t, zero.Once())
	assert.True(t, zero.Next(now).IsZero())
	assert.Zero(t, zero.Interval(now))
}

// BenchmarkInterval measures Interval: an every-minute cron walks 25 hours of
// ticks (1,500); restricting the weekday makes it walk the 12,000-tick cap.
func BenchmarkInterval(b *testing.B) {
	for _, spec := range []string{"*/5 * * * *", "* * * * *", "* * * * 1-5"} {
		b.Run(spec, func(b *testing.B) {
			s, err := schedule.Parse(spec, nil)
			require.NoError(b, err)
			at := utc(2026, 11, 25, 10, 0, 0, 0)
			for b.Loop() {
				_ = s.Interval(at)
			}
		})
	}
}

func BenchmarkNextEveryFiveMinutes(b *testing.B) {
	s, err := schedule.Parse("*/5 * * * *", nil)
	require.NoError(b, err)
	at := utc(2026, 11, 25, 10, 0, 0, 0)
	for b.Loop() {
		_ = s.Next(at)
	}
}
