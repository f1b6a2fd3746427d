// Package schedule decides when the anthropic_compliance input starts a job:
// Spec parses "once", "@every <duration>" and 5-field cron specs (via
// github.com/robfig/cron/v3) in a time zone, and Runner turns a Spec into
// non-overlapping job runs, skipping ticks that arrive while a job still runs.
// Time is injected through Clock; FakeClock drives tests without sleeping.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a parsed schedule. The zero Spec is invalid: use Parse.
type Spec struct {
	text  string
	kind  kind
	every time.Duration
	cron  *cron.SpecSchedule
	loc   *time.Location
}

type kind uint8

const (
	kindInvalid kind = iota
	kindOnce
	kindEvery
	kindCron
)

const (
	onceSpec    = "once"
	everyPrefix = "@every"
	cronFields  = 5
	// Interval looks ahead this far: a day (plus a DST hour) when the cron
	// repeats daily, a week and a day otherwise, and at most this many ticks.
	dailyHorizon     = 25 * time.Hour
	intervalHorizon  = 8 * 24 * time.Hour
	intervalMaxTicks = 12_000
	// cronStar is the bit robfig/cron sets on a field written as "*" or "?".
	cronStar = uint64(1) << 63
)

// cronParser accepts exactly 5 fields and the @hourly/@daily/... descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses a schedule spec evaluated in loc (nil means UTC):
//
//   - "once": a single job (Runner.Run runs it and returns its error).
//   - "@every <duration>": ticks every Go duration (any positive value; under
//     30s each job's requests come out of the organisation's shared API
//     budget very fast). Ticks are spaced from the previous tick, so they do
//     not drift.
//   - 5-field cron "minute hour day-of-month month day-of-week" ("*/5 * * * *",
//     "0 9 * * 1-5", names such as MON and JAN allowed) and the descriptors
//     @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually).
//
// Cron follows wall-clock time in loc: a time that does not exist on a
// spring-forward day is skipped that day, and a time inside the repeated hour
// of a fall-back day fires twice. A spec that can never fire (31 April) and
// a "TZ=" prefix (the zone is loc) are errors.
func Parse(spec string, loc *time.Location) (Spec, error) {
	if loc == nil {
		loc = time.UTC
	}
	text := strings.TrimSpace(spec)
	s := Spec{text: text, loc: loc}
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("invalid schedule %q: %s", spec, fmt.Sprintf(format, args...))
	}
	lower := strings.ToLower(text)
	switch {
	case text == "":
		return fail("empty (want once, @every <duration> or a 5-field cron such as \"*/5 * * * *\")")

	case lower == onceSpec:
		s.kind = kindOnce
		return s, nil

	case lower == everyPrefix || strings.HasPrefix(lower, everyPrefix+" ") || strings.HasPrefix(lower, everyPrefix+"\t"):
		arg := strings.TrimSpace(text[len(everyPrefix):])
		if arg == "" {
			return fail("@every needs a duration such as \"@every 5m\"")
		}
		d, err := time.ParseDuration(arg)
		if err != nil {
			return Spec{}, fmt.Errorf("invalid schedule %q: @every duration: %w", spec, err)
		}
		if d <= 0 {
			return fail("@every duration must be positive, got %s", arg)
		}
		s.kind, s.every = kindEvery, d
		return s, nil

	case strings.HasPrefix(text, "TZ=") || strings.HasPrefix(text, "CRON_TZ="):
		return fail("time zone prefixes are not supported; the schedule's time zone is configured separately")

	case strings.HasPrefix(text, "@"):
		switch lower {
		case "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually":
		default:
			return fail("unknown descriptor %q (want @hourly, @daily, @weekly, @monthly, @yearly or @every <duration>)", text)
		}
		text = lower

	default:
		if n := len(strings.Fields(text)); n != cronFields {
			return fail("expected 5 fields (minute hour day-of-month month day-of-week), found %d", n)
		}
	}

	parsed, err := cronParser.Parse(text)
	if err != nil {
		return Spec{}, fmt.Errorf("invalid schedule %q: %w", spec, err)
	}
	cs, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return fail("unsupported cron schedule type %T", parsed)
	}
	cs.Location = loc
	// robfig/cron gives up after five years and returns the zero time; five
	// years from any date include a 29 February, so zero means never.
	if cs.Next(time.Date(2024, time.January, 1, 0, 0, 0, 0, loc)).IsZero() {
		return fail("the day-of-month and month fields never match a real date")
	}
	s.kind, s.cron = kindCron, cs
	return s, nil
}

// String returns the spec as written, without surrounding whitespace.
func (s Spec) String() string { return s.text }

// Once reports whether the spec is "once".
func (s Spec) Once() bool { return s.kind == kindOnce }

// Next returns the first tick strictly after `after`, in the spec's
// location. For @every it is after plus the duration. It returns the zero
// time for "once" and the zero Spec.
func (s Spec) Next(after time.Time) time.Time {
	switch s.kind {
	case kindEvery:
		return after.Add(s.every).In(s.loc)
	case kindCron:
		return s.cron.Next(after).In(s.loc)
	}
	return time.Time{}
}

// Interval returns the nominal gap between ticks around at, meant for
// staleness checks ("no successful job for 3 intervals"). For @every it is
// the duration. For cron it is the longest gap between consecutive ticks over
// the ticks following at that span at least 8 days (25 hours when
// day-of-month, month and day-of-week are all "*"; at most 12,000 ticks), so
// that a weekdays-only schedule reports the weekend gap; that walk costs up
// to about 15ms, so compute it once per job, not per message. It returns 0
// for "once" and the zero Spec.
func (s Spec) Interval(at time.Time) time.Duration {
	switch s.kind {
	case kindEvery:
		return s.every
	case kindCron:
		horizon := intervalHorizon
		if s.cron.Dom&s.cron.Month&s.cron.Dow&cronStar != 0 {
			horizon = dailyHorizon
		}
		first := s.cron.Next(at)
		prev := first
		var longest time.Duration
		for range intervalMaxTicks {
			next := s.cron.Next(prev)
			if next.IsZero() {
				break
			}
			longest = max(longest, next.Sub(prev))
			prev = next
			if prev.Sub(first) >= horizon {
				break
			}
		}
		return longest
	}
	return 0
}

// latestDue returns the last tick at or before now, counting from tick (a
// tick that is due: !tick.After(now)). It collapses the ticks a late wake-up
// missed.
func (s Spec) latestDue(tick, now time.Time) time.Time {
	switch s.kind {
	case kindEvery:
		return tick.Add(now.Sub(tick) / s.every * s.every)
	case kindCron:
		for {
			next := s.cron.Next(tick)
			if next.IsZero() || next.After(now) {
				return tick
			}
			tick = next
		}
	}
	return tick
}

var errZeroSpec = errors.New("schedule: Runner.Spec is the zero Spec (use schedule.Parse)")
