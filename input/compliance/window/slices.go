package window

import (
	"fmt"
	"time"
)

// SliceConfig bounds the adaptive slice length.
type SliceConfig struct {
	MinSlice time.Duration // shortest slice; whole seconds, >= 1s
	MaxSlice time.Duration // longest slice and the length of the first one
	Target   int           // activities a slice should hold
}

// Validate checks the bounds.
func (c SliceConfig) Validate() error {
	switch {
	case c.MinSlice < time.Second || c.MinSlice%time.Second != 0:
		return fmt.Errorf("min_slice must be a whole number of seconds >= 1s, got %v", c.MinSlice)
	case c.MaxSlice < c.MinSlice || c.MaxSlice%time.Second != 0:
		return fmt.Errorf("max_slice must be a whole number of seconds >= min_slice (%v), got %v", c.MinSlice, c.MaxSlice)
	case c.Target < 1:
		return fmt.Errorf("target_per_slice must be >= 1, got %d", c.Target)
	}
	return nil
}

// Planner cuts a range into consecutive slices, oldest first. The first
// slice is Length long (MaxSlice for a fresh planner); after each slice the
// caller reports how many activities it held and the next length is scaled
// by Target / seen, clamped to [MinSlice, MaxSlice], and doubled after an
// empty slice. A Planner is not safe for concurrent use.
type Planner struct {
	cfg    SliceConfig
	rng    Range
	next   time.Time
	length time.Duration
}

// NewPlanner plans rng starting with slices of the given length (clamped to
// the config; zero means MaxSlice). The caller keeps the last length across
// jobs so a dense feed does not restart at MaxSlice every job.
func NewPlanner(rng Range, cfg SliceConfig, length time.Duration) *Planner {
	if length == 0 {
		length = cfg.MaxSlice
	}
	return &Planner{cfg: cfg, rng: rng, next: rng.From, length: clamp(length, cfg)}
}

// Next returns the next slice and true, or false when the range is covered.
func (p *Planner) Next() (Range, bool) {
	if !p.next.Before(p.rng.To) {
		return Range{}, false
	}
	to := p.next.Add(p.length)
	if to.After(p.rng.To) {
		to = p.rng.To
	}
	s := Range{From: p.next, To: to}
	p.next = to
	return s, true
}

// Observe adapts the next slice length to the density of a finished slice.
func (p *Planner) Observe(s Range, activities int) {
	p.length = NextLength(s.To.Sub(s.From), activities, p.cfg)
}

// Length is the length the next slice will have (before the range end cuts it).
func (p *Planner) Length() time.Duration { return p.length }

// NextLength is the adaptation rule: scale the observed length by
// Target / activities, double it after an empty slice, and clamp to
// [MinSlice, MaxSlice] on whole seconds.
func NextLength(observed time.Duration, activities int, cfg SliceConfig) time.Duration {
	if observed <= 0 {
		return clamp(cfg.MaxSlice, cfg)
	}
	if activities == 0 {
		return clamp(2*observed, cfg)
	}
	scaled := time.Duration(float64(observed) * float64(cfg.Target) / float64(activities))
	return clamp(scaled, cfg)
}

// Halve returns half a length, clamped: a job that commits nothing halves the
// next slice so that a slice too big to finish within job_timeout shrinks.
func Halve(length time.Duration, cfg SliceConfig) time.Duration {
	return clamp(length/2, cfg)
}

func clamp(d time.Duration, cfg SliceConfig) time.Duration {
	d = d.Truncate(time.Second)
	if d < cfg.MinSlice {
		d = cfg.MinSlice
	}
	if d > cfg.MaxSlice {
		d = cfg.MaxSlice
	}
	return d
}

// DenseFactor is how far above Target a slice's estimated count must be
// before its first page is discarded and the slice cut (see DenseLength).
const DenseFactor = 2

// DenseLength decides, from the first page of a slice, whether the slice is
// far denser than planned. The feed is newest first, so a full first page of
// n activities whose oldest is at created_at c covers [c, slice end): the
// slice holds about n * sliceLen / covered activities. When that exceeds
// DenseFactor * Target, DenseLength returns the length that holds about
// Target at the page's density (Target * covered / n, whole seconds) and
// true; the caller cuts the slice to [from, from + length) without emitting
// the page, and plans the rest after it.
//
// The length never goes below MinSlice: a slice already at MinSlice is
// walked as it is, so a slice holds at most about max(DenseFactor * Target,
// density * MinSlice) activities.
func DenseLength(sliceLen, covered time.Duration, n int, cfg SliceConfig) (time.Duration, bool) {
	if n <= 0 || sliceLen <= 0 {
		return 0, false
	}
	covered = max(covered, time.Second)
	estimate := float64(n) * float64(sliceLen) / float64(covered)
	if estimate <= float64(DenseFactor*cfg.Target) {
		return 0, false
	}
	length := clamp(time.Duration(float64(covered)*float64(cfg.Target)/float64(n)), cfg)
	if length >= sliceLen {
		return 0, false
	}
	return length, true
}

// Cut shortens s, the slice Next returned last, to [s.From, s.From+length):
// the rest of s is planned again after it, and later slices start at length
// until Observe adapts it.
func (p *Planner) Cut(s Range, length time.Duration) Range {
	to := s.From.Add(length)
	if to.After(s.To) {
		to = s.To
	}
	p.next = to
	p.length = clamp(length, p.cfg)
	return Range{From: s.From, To: to}
}
