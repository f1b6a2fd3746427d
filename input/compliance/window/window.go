// Package window computes what one collection job reads: the job's
// [from, to) range of created_at on a whole-second grid, and the adaptive
// slices that cut it into pieces processed oldest first. It is pure: the
// caller passes every instant, nothing here reads a clock.
package window

import (
	"fmt"
	"time"
)

// Layout is the one format used for every bound sent to the API and stored in
// the checkpoint. Bounds are whole seconds in UTC, so adjacent slices share the
// identical string as one's created_at.lt and the next one's created_at.gte.
const Layout = "2006-01-02T15:04:05Z"

// Format renders a whole-second bound. It truncates sub-second parts, so any
// instant maps to exactly one string.
func Format(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(Layout)
}

// Parse reads a bound written by Format (or any RFC 3339 time) and truncates
// it to the second grid.
func Parse(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time bound %q: %w", s, err)
	}
	return t.UTC().Truncate(time.Second), nil
}

// Range is a half-open interval [From, To) of created_at on the second grid.
type Range struct {
	From, To time.Time
}

// Empty reports whether the range holds no instant.
func (r Range) Empty() bool { return !r.From.Before(r.To) }

// String renders the range as "[from, to)".
func (r Range) String() string { return "[" + Format(r.From) + ", " + Format(r.To) + ")" }

// Incremental is the input of a job that resumes from a checkpoint.
type Incremental struct {
	Now       time.Time     // the clamped current time
	Settle    time.Duration // never query newer than Now - Settle
	Overlap   time.Duration // re-read this much below ScannedTo
	Latest    time.Time     // resolved `latest`; zero means no upper bound but Now - Settle
	ScannedTo time.Time     // from the checkpoint
	SeenFrom  time.Time     // lower bound of the checkpoint's seen set; zero if unknown
	Floor     time.Time     // the persisted earliest; never read below it
}

// IncrementalRange returns the job range [from, to):
//
//	to   = truncate(min(Latest, Now - Settle))
//	from = max(ScannedTo - Overlap, SeenFrom, Floor)
//
// SeenFrom keeps a raised overlap from re-reading ids no longer in the seen
// set. An empty range means there is nothing to do yet.
func IncrementalRange(in Incremental) Range {
	to := in.Now.Add(-in.Settle)
	if !in.Latest.IsZero() && in.Latest.Before(to) {
		to = in.Latest
	}
	from := in.ScannedTo.Add(-in.Overlap)
	if !in.SeenFrom.IsZero() && in.SeenFrom.After(from) {
		from = in.SeenFrom
	}
	if !in.Floor.IsZero() && in.Floor.After(from) {
		from = in.Floor
	}
	return Range{From: from.UTC().Truncate(time.Second), To: to.UTC().Truncate(time.Second)}
}

// Untracked returns the range of a job that keeps no state: every job
// collects [earliest - settle, latest - settle), so that tiling windows such
// as -5m@m..@m every 5 minutes leave no gap despite the settle clamp.
func Untracked(earliest, latest time.Time, settle time.Duration) Range {
	return Range{
		From: earliest.Add(-settle).UTC().Truncate(time.Second),
		To:   latest.Add(-settle).UTC().Truncate(time.Second),
	}
}
