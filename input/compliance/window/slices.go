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
