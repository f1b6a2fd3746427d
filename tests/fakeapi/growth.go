package fakeapi

import (
	"math/rand/v2"
	"time"
)

// Growth makes the feed grow as the fake clock advances.
type Growth struct {
	// PerSecond is the mean number of activities created per second of the
	// fake clock; the fractional part is a per-second chance of one more.
	// 0 means no growth.
	PerSecond float64
	// LateFraction is the fraction (0..1) of created activities that are late
	// arrivals: created_at lies up to MaxLateness before the second they are
	// created in, and they become visible at that second + Lag. 0 means none.
	LateFraction float64
	// MaxLateness bounds how far back a late arrival's created_at lies, in
	// whole seconds (at least 1s). Zero means 2m.
	MaxLateness time.Duration
	// Seed selects the generated activities; each second's activities derive
	// from (Seed, second) alone, so the data does not depend on when or how
	// often requests arrive.
	Seed uint64
	// Start: growth creates activities for every whole second s with
	// Start < s <= clock(). Zero means the clock's reading when the server is
	// created.
	Start time.Time
}

// grower materialises Growth. It is not safe for concurrent use; Server
// guards it.
type grower struct {
	cfg  Growth
	lag  time.Duration
	pop  *population
	next int64 // the next unix second to materialise
	ar   arena
	buf  []byte
}

func newGrower(cfg Growth, lag time.Duration, now time.Time, world *worldState) *grower {
	if cfg.MaxLateness <= 0 {
		cfg.MaxLateness = 2 * time.Minute
	}
	cfg.MaxLateness = max(cfg.MaxLateness, time.Second)
	if cfg.Start.IsZero() {
		cfg.Start = now
	}
	g := &grower{cfg: cfg, lag: lag, next: cfg.Start.Unix() + 1}
	if world != nil {
		g.pop = world.population(rand.New(rand.NewPCG(cfg.Seed, saltPopulation)))
	} else {
		g.pop = newPopulation(rand.New(rand.NewPCG(cfg.Seed, saltPopulation)), 3, 200)
	}
	return g
}

// upTo appends to out the activities of every not yet materialised second up
// to now.
func (g *grower) upTo(now time.Time, out []*Activity) []*Activity {
	if g.cfg.PerSecond <= 0 {
		return out
	}
	for ; g.next <= now.Unix(); g.next++ {
		out = g.second(g.next, out)
	}
	return out
}

// second appends the activities created in unix second s.
func (g *grower) second(s int64, out []*Activity) []*Activity {
	r := rand.New(rand.NewPCG(g.cfg.Seed^saltGrowth, uint64(s)))
	gn := &gen{r: r, pop: g.pop}
	n := int(g.cfg.PerSecond)
	if frac := g.cfg.PerSecond - float64(n); frac > 0 && r.Float64() < frac {
		n++
	}
	at := time.Unix(s, 0).UTC()
	maxLate := int64(g.cfg.MaxLateness / time.Second)
	for range n {
		a := &Activity{CreatedAt: at, VisibleAt: at.Add(g.lag)}
		if g.cfg.LateFraction > 0 && r.Float64() < g.cfg.LateFraction {
			a.CreatedAt = at.Add(-time.Duration(1+r.Int64N(maxLate)) * time.Second)
		}
		id := appendBase62([]byte(idPrefix), r, idLen-len(idPrefix))
		a.ID = string(id)
		ts, kind := gn.pickTypeAndActor(forcedChoice{-1, -1})
		g.buf = gn.record(g.buf[:0], a, id, ts, kind)
		a.JSON = g.ar.copy(g.buf)
		out = append(out, a)
	}
	return out
}
