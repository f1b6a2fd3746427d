// Package timeexpr parses the earliest/latest time expressions of the
// anthropic_compliance input (Cribl/Splunk style: "now", "-7d@d", "@w1",
// "+128m@h", bare seconds, epoch seconds, RFC 3339) and resolves them against
// an injected "now" in a time zone. It has no dependencies beyond the standard
// library; the Benthos glue in input/compliance reads the wall clock.
//
// Bare integers: a signed integer ("-1", "+30") is an offset in seconds; an
// unsigned integer of 9 or more digits is epoch seconds (absolute, 100000000
// is 1973-03-03); a shorter unsigned integer is an offset in seconds into the
// future ("30" = "+30s"). Offsets with a unit need a sign ("-7d", not "7d").
package timeexpr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SyntaxError reports an expression that cannot be parsed.
type SyntaxError struct {
	// Expr is the expression with surrounding whitespace removed.
	Expr string
	// Pos is the byte offset in Expr where the problem starts.
	Pos int
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid time expression %q: %s at position %d", e.Expr, e.Msg, e.Pos)
}

// Expr is a parsed time expression. It is immutable and safe to share. The
// zero Expr means "now".
type Expr struct {
	text string
	kind kind

	abs time.Time // kindAbsolute

	n    int64 // kindRelative: offset count, in unit
	unit unit

	snap    unit         // unitNone: no snap
	weekday time.Weekday // snap == unitWeek
}

type kind uint8

const (
	kindRelative kind = iota // includes "now" (n == 0, no snap)
	kindAbsolute
)

type unit uint8

const (
	unitNone unit = iota
	unitSecond
	unitMinute
	unitHour
	unitDay
	unitWeek
	unitMonth
	unitQuarter
	unitYear
)

// units maps every accepted spelling (lower case) to its unit.
var units = map[string]unit{
	"s": unitSecond, "sec": unitSecond, "secs": unitSecond, "second": unitSecond, "seconds": unitSecond,
	"m": unitMinute, "min": unitMinute, "mins": unitMinute, "minute": unitMinute, "minutes": unitMinute,
	"h": unitHour, "hr": unitHour, "hrs": unitHour, "hour": unitHour, "hours": unitHour,
	"d": unitDay, "day": unitDay, "days": unitDay,
	"w": unitWeek, "wk": unitWeek, "wks": unitWeek, "week": unitWeek, "weeks": unitWeek,
	"mon": unitMonth, "month": unitMonth, "months": unitMonth,
	"q": unitQuarter, "qtr": unitQuarter, "qtrs": unitQuarter, "quarter": unitQuarter, "quarters": unitQuarter,
	"y": unitYear, "yr": unitYear, "yrs": unitYear, "year": unitYear, "years": unitYear,
}

// maxCount is the largest offset count per unit: about ±292 years, the range
// of a time.Duration, measured with the average Gregorian month and year.
var maxCount = map[unit]int64{
	unitSecond:  int64(1<<63-1) / int64(time.Second),
	unitMinute:  int64(1<<63-1) / int64(time.Minute),
	unitHour:    int64(1<<63-1) / int64(time.Hour),
	unitDay:     int64(1<<63-1) / int64(24*time.Hour),
	unitWeek:    int64(1<<63-1) / int64(7*24*time.Hour),
	unitMonth:   int64(1<<63-1) / int64(2629746*time.Second),
	unitQuarter: int64(1<<63-1) / int64(3*2629746*time.Second),
	unitYear:    int64(1<<63-1) / int64(31556952*time.Second),
}

const (
	// epochDigits is the digit count from which an unsigned integer is epoch seconds.
	epochDigits = 9
	// epochMillisFrom is the smallest value rejected as epoch milliseconds (year 5138 in seconds).
	epochMillisFrom = 100_000_000_000
)

// MustParse is Parse that panics on error; for tests and defaults.
func MustParse(s string) Expr {
	e, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return e
}

// Parse parses a time expression. Surrounding whitespace is ignored. Errors
// are *SyntaxError.
func Parse(s string) (Expr, error) {
	p := parser{s: strings.TrimSpace(s)}
	e, err := p.parse()
	if err != nil {
		return Expr{}, err
	}
	e.text = p.s
	return e, nil
}

// String returns the expression as written, without surrounding whitespace.
func (e Expr) String() string {
	if e.text == "" {
		return "now"
	}
	return e.text
}

// IsAbsolute reports whether the expression names a fixed instant (RFC 3339
// or epoch seconds), so Resolve does not depend on now or loc.
func (e Expr) IsAbsolute() bool { return e.kind == kindAbsolute }

// Resolve returns the instant the expression denotes at now, in loc (nil
// means UTC). Offsets in s/m/h are exact durations; d/w/mon/q/y move the
// calendar in loc, keeping the wall-clock time across DST changes, and a
// month, quarter or year offset that lands past the end of a month clamps to
// its last day (Mar 31 -1mon = Feb 28/29). A snap then rounds down in loc.
func (e Expr) Resolve(now time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if e.kind == kindAbsolute {
		return e.abs.In(loc)
	}
	t := addOffset(now.In(loc), e.n, e.unit)
	return snapDown(t, e.snap, e.weekday)
}

//------------------------------------------------------------------------------

func addOffset(t time.Time, n int64, u unit) time.Time {
	switch u {
	case unitSecond:
		return t.Add(time.Duration(n) * time.Second)
	case unitMinute:
		return t.Add(time.Duration(n) * time.Minute)
	case unitHour:
		return t.Add(time.Duration(n) * time.Hour)
	case unitDay:
		return t.AddDate(0, 0, int(n))
	case unitWeek:
		return t.AddDate(0, 0, 7*int(n))
	case unitMonth:
		return addMonthsClamped(t, n)
	case unitQuarter:
		return addMonthsClamped(t, 3*n)
	case unitYear:
		return addMonthsClamped(t, 12*n)
	}
	return t
}

// addMonthsClamped moves t by n calendar months, keeping the wall-clock time
// and clamping the day to the target month's length.
func addMonthsClamped(t time.Time, n int64) time.Time {
	y, m, d := t.Date()
	total := int64(y)*12 + int64(m-1) + n
	ty, tm := int(total/12), time.Month(total%12+1)
	if total < 0 && total%12 != 0 {
		ty, tm = int(total/12)-1, time.Month(total%12+13)
	}
	if last := daysIn(ty, tm); d > last {
		d = last
	}
	hh, mm, ss := t.Clock()
	return time.Date(ty, tm, d, hh, mm, ss, t.Nanosecond(), t.Location())
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// snapDown rounds t down to the start of the unit, in t's location.
func snapDown(t time.Time, u unit, wd time.Weekday) time.Time {
	ns := time.Duration(t.Nanosecond())
	sec := time.Duration(t.Second()) * time.Second
	mins := time.Duration(t.Minute()) * time.Minute
	y, m, d := t.Date()
	switch u {
	case unitSecond:
		// Subtracting from the instant keeps the right side of an ambiguous
		// (repeated) wall-clock hour, which time.Date would not.
		return t.Add(-ns)
	case unitMinute:
		return t.Add(-ns - sec)
	case unitHour:
		return t.Add(-ns - sec - mins)
	case unitDay:
		return startOfDay(t, y, m, d)
	case unitWeek:
		back := (int(t.Weekday()) - int(wd) + 7) % 7
		return startOfDay(t, y, m, d-back)
	case unitMonth:
		return startOfDay(t, y, m, 1)
	case unitQuarter:
		return startOfDay(t, y, (m-1)/3*3+1, 1)
	case unitYear:
		return startOfDay(t, y, time.January, 1)
	}
	return t
}

// startOfDay returns the first instant of the given (normalised) date in t's
// location, never later than t.
func startOfDay(t time.Time, y int, m time.Month, d int) time.Time {
	loc := t.Location()
	s := time.Date(y, m, d, 0, 0, 0, 0, loc)
	wy, wm, wd := time.Date(y, m, d, 12, 0, 0, 0, loc).Date()
	if sy, sm, sd := s.Date(); sy != wy || sm != wm || sd != wd {
		// Midnight does not exist (DST starts at 00:00, e.g.
		// America/Santiago) and time.Date went back to the previous day:
		// the day starts when that zone period ends.
		if _, end := s.ZoneBounds(); !end.IsZero() {
			s = end.In(loc)
		}
	}
	if s.After(t) {
		// Only possible when midnight repeats (DST ends at 00:00) and t
		// lies in the first run of it; go back by t's time of day.
		hh, mm, ss := t.Clock()
		s = t.Add(-time.Duration(hh)*time.Hour - time.Duration(mm)*time.Minute -
			time.Duration(ss)*time.Second - time.Duration(t.Nanosecond()))
	}
	return s
}

//------------------------------------------------------------------------------

type parser struct {
	s   string
	pos int
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Expr: p.s, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (Expr, error) {
	s := p.s
	switch {
	case s == "":
		return Expr{}, p.errorf(0, "empty expression")
	case len(s) >= 5 && isDigits(s[:4]) && s[4] == '-':
		return p.parseRFC3339()
	case len(s) >= 3 && strings.EqualFold(s[:3], "now"):
		p.pos = 3
		return p.parseSnap(Expr{})
	case s[0] == '@':
		return p.parseSnap(Expr{})
	}
	return p.parseOffset()
}

func (p *parser) parseRFC3339() (Expr, error) {
	t, err := time.Parse(time.RFC3339Nano, p.s)
	if err != nil {
		if _, errLocal := time.Parse("2006-01-02T15:04:05.999999999", p.s); errLocal == nil {
			return Expr{}, p.errorf(len(p.s), "RFC 3339 time needs a zone offset (Z or ±hh:mm)")
		}
		return Expr{}, p.errorf(0, "not an RFC 3339 time (want e.g. 2026-11-25T10:00:00Z): %v", err)
	}
	return Expr{kind: kindAbsolute, abs: t}, nil
}

// parseOffset parses [+|-]<int>[<unit>][@<snap>].
func (p *parser) parseOffset() (Expr, error) {
	s := p.s
	sign := int64(1)
	signed := false
	if s[0] == '+' || s[0] == '-' {
		signed = true
		if s[0] == '-' {
			sign = -1
		}
		p.pos++
	}
	numStart := p.pos
	for p.pos < len(s) && isDigit(s[p.pos]) {
		p.pos++
	}
	digits := s[numStart:p.pos]
	if digits == "" {
		if signed {
			return Expr{}, p.errorf(numStart, "missing number after %q", runeAt(s, 0))
		}
		return Expr{}, p.errorf(0, "unexpected %q (want now, @<snap>, [+|-]<int><unit>[@<snap>], epoch seconds or RFC 3339)", runeAt(s, 0))
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return Expr{}, p.errorf(numStart, "number %s out of range", digits)
	}

	unitStart := p.pos
	for p.pos < len(s) && isLetter(s[p.pos]) {
		p.pos++
	}
	word := s[unitStart:p.pos]
	if word == "" {
		// Bare integer: seconds, or epoch seconds when unsigned and long.
		if !signed && len(digits) >= epochDigits {
			if n >= epochMillisFrom {
				return Expr{}, p.errorf(0, "epoch value %s is too large for seconds (milliseconds? divide by 1000)", digits)
			}
			if p.pos < len(s) {
				return Expr{}, p.errorf(p.pos, "unexpected %q after epoch seconds (a snap is not allowed on an absolute time)", runeAt(s, p.pos))
			}
			return Expr{kind: kindAbsolute, abs: time.Unix(n, 0).UTC()}, nil
		}
		if n > maxCount[unitSecond] {
			return Expr{}, p.errorf(numStart, "offset %s seconds out of range (at most about 292 years)", digits)
		}
		return p.parseSnap(Expr{n: sign * n, unit: unitSecond})
	}
	u, ok := units[strings.ToLower(word)]
	if !ok {
		return Expr{}, p.errorf(unitStart, "unknown unit %q", word)
	}
	if !signed {
		return Expr{}, p.errorf(0, "missing sign before %s: write \"-%s\" (past) or \"+%s\" (future)",
			s[:p.pos], s[:p.pos], s[:p.pos])
	}
	if n > maxCount[u] {
		return Expr{}, p.errorf(numStart, "offset %s%s out of range (at most about 292 years)", digits, word)
	}
	return p.parseSnap(Expr{n: sign * n, unit: u})
}

// parseSnap parses an optional @<snap> at p.pos, which must end the input.
func (p *parser) parseSnap(e Expr) (Expr, error) {
	s := p.s
	if p.pos == len(s) {
		return e, nil
	}
	if s[p.pos] != '@' {
		return Expr{}, p.errorf(p.pos, "unexpected %q", runeAt(s, p.pos))
	}
	p.pos++
	wordStart := p.pos
	for p.pos < len(s) && isLetter(s[p.pos]) {
		p.pos++
	}
	word := s[wordStart:p.pos]
	if word == "" {
		return Expr{}, p.errorf(wordStart, "missing snap unit after \"@\"")
	}
	u, ok := units[strings.ToLower(word)]
	if !ok {
		return Expr{}, p.errorf(wordStart, "unknown snap unit %q", word)
	}
	e.snap = u
	if p.pos < len(s) && isDigit(s[p.pos]) {
		if u != unitWeek {
			return Expr{}, p.errorf(p.pos, "unexpected %q (only @w takes a weekday number)", runeAt(s, p.pos))
		}
		if s[p.pos] > '6' || (p.pos+1 < len(s) && isDigit(s[p.pos+1])) {
			end := p.pos
			for end < len(s) && isDigit(s[end]) {
				end++
			}
			return Expr{}, p.errorf(p.pos, "unknown weekday %q (want 0-6, 0 = Sunday)", s[p.pos:end])
		}
		e.weekday = time.Weekday(s[p.pos] - '0')
		p.pos++
	}
	if p.pos < len(s) {
		return Expr{}, p.errorf(p.pos, "unexpected %q after snap", runeAt(s, p.pos))
	}
	return e, nil
}

// runeAt returns the character starting at byte offset i, for messages.
func runeAt(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return string(r)
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
