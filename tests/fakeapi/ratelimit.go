package fakeapi

import (
	"math"
	"time"
)

// fixedWindow is the fake's rate limiter: limit requests per clock-aligned
// minute (windows start at :00 of each minute of the fake clock). limit 0
// means unlimited. It is not safe for concurrent use; Server guards it.
type fixedWindow struct {
	limit int
	start time.Time
	used  int
}

// rateDecision is the outcome of one take.
type rateDecision struct {
	limited    bool // the limiter is on (limit > 0), so headers are sent
	allowed    bool
	limit      int
	remaining  int
	reset      time.Time
	retryAfter int // whole seconds until the window resets, at least 1
}

// take spends one request of the current window at now.
func (l *fixedWindow) take(now time.Time) rateDecision {
	if l.limit <= 0 {
		return rateDecision{allowed: true}
	}
	if start := now.Truncate(time.Minute); !start.Equal(l.start) {
		l.start, l.used = start, 0
	}
	d := rateDecision{limited: true, limit: l.limit, reset: l.start.Add(time.Minute)}
	if l.used < l.limit {
		l.used++
		d.allowed = true
	}
	d.remaining = l.limit - l.used
	d.retryAfter = max(1, int(math.Ceil(d.reset.Sub(now).Seconds())))
	return d
}
