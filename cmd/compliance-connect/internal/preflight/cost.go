package preflight

import (
	"math"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance"
)

// cost is what one endpoint's jobs spend of the shared request budget,
// estimated from the sample request's density.
type cost struct {
	// Sampled activities over the sampled span give PerHour.
	Sampled int
	PerHour float64
	// Interval is the gap between two scheduled jobs (0 for once).
	Interval time.Duration
	// PerJob requests, PerMinute on average.
	PerJob, PerMinute float64
	// Backfill requests over BackfillSpan: a `once` backfill's range, or the
	// first job's catch-up from earliest when there is no checkpoint.
	Backfill     float64
	BackfillSpan time.Duration
}

// estimate applies the README's formula: a job reads its interval plus the
// overlap again, so it costs (1 + overlap / interval) × activities /
// page_size requests, plus one per slice (the last page of each slice).
func estimate(ep *compliance.PipelineAPI, s *sample, now time.Time, fresh bool) cost {
	var c cost
	c.Sampled = len(s.page.Activities)
	span := s.to.Sub(s.from)
	if s.page.HasMore && c.Sampled > 0 {
		// The page is the newest part of the range: its density is that of
		// [oldest activity, to).
		oldest := s.page.Activities[0].CreatedAt
		for _, a := range s.page.Activities {
			if a.CreatedAt.Before(oldest) {
				oldest = a.CreatedAt
			}
		}
		span = max(s.to.Sub(oldest), time.Second)
	}
	perSecond := float64(c.Sampled) / span.Seconds()
	c.PerHour = perSecond * 3600
	requests := func(span time.Duration) float64 {
		acts := perSecond * span.Seconds()
		slices := math.Max(1, math.Max(math.Ceil(float64(span)/float64(ep.Slices.MaxSlice)), math.Ceil(acts/float64(ep.Slices.Target))))
		return acts/float64(ep.PageSize) + slices
	}
	earliest := ep.Earliest.Resolve(now, ep.Location)
	edge := now.Add(-ep.Settle)
	if ep.Schedule.Once() {
		to := ep.Latest.Resolve(now, ep.Location)
		if to.After(edge) {
			to = edge
		}
		c.BackfillSpan = max(to.Sub(earliest), 0)
		c.Backfill = requests(c.BackfillSpan)
		return c
	}
	next := ep.Schedule.Next(now)
	c.Interval = ep.Schedule.Next(next).Sub(next)
	if c.Interval <= 0 {
		return c
	}
	if ep.Tracking {
		c.PerJob = requests(c.Interval + ep.Overlap)
		if fresh && edge.After(earliest) {
			c.BackfillSpan = edge.Sub(earliest)
			c.Backfill = requests(c.BackfillSpan)
		}
	} else {
		// Without a checkpoint every job reads [earliest, latest) anew.
		to := ep.Latest.Resolve(now, ep.Location)
		c.PerJob = requests(max(to.Sub(earliest), 0))
	}
	c.PerMinute = c.PerJob / c.Interval.Minutes()
	return c
}
