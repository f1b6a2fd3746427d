package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit is what the anthropic-ratelimit-requests-* headers of one
// response said about the organization's request budget.
type RateLimit struct {
	// Limit is the budget per window (600 a minute by default).
	Limit int
	// Remaining is the number of requests left in the window.
	Remaining int
	// Reset is when the window resets, on the server's clock; zero if the
	// header was absent or not RFC 3339.
	Reset time.Time
	// Known is set when Limit and Remaining were both present and valid.
	Known bool
}

const (
	headerLimit     = "anthropic-ratelimit-requests-limit"
	headerRemaining = "anthropic-ratelimit-requests-remaining"
	headerReset     = "anthropic-ratelimit-requests-reset"
)

func parseRateLimit(h http.Header) RateLimit {
	var rl RateLimit
	limit, err1 := strconv.Atoi(h.Get(headerLimit))
	remaining, err2 := strconv.Atoi(h.Get(headerRemaining))
	if err1 == nil && err2 == nil && limit > 0 && remaining >= 0 {
		rl.Limit, rl.Remaining, rl.Known = limit, remaining, true
	}
	if v := h.Get(headerReset); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			rl.Reset = t
		}
	}
	return rl
}

// serverTime converts an instant on the server's clock to the local clock:
// relative to the response's Date header when known (so local clock skew
// cannot stretch it), else taken as is.
func serverTime(t, serverDate, receivedAt time.Time) time.Time {
	if serverDate.IsZero() {
		return t
	}
	return receivedAt.Add(t.Sub(serverDate))
}

// budgetState is the latest rate-limit reading; the mutex is its only
// guard, so one client may serve several goroutines (the endpoints of one
// input share a client, hence one budget).
type budgetState struct {
	mu      sync.Mutex
	rl      RateLimit
	resetAt time.Time // rl.Reset on the local clock
	// pauseUntil is the end of the pause a call decided on: concurrent
	// calls wait for it too, instead of going ahead on a forgotten reading.
	pauseUntil time.Time
	// inflight counts attempts let through and not settled yet: the reading
	// may not count them, so they are taken off what it says is left.
	inflight int
}

// observe takes a response's reading. With concurrent calls responses
// arrive out of order: one of an earlier window (earlier reset) is ignored,
// and within one window the remaining count only goes down (the response
// of a request that reached the server later counts more requests).
func (b *budgetState) observe(rl RateLimit, serverDate, receivedAt time.Time) {
	if !rl.Known {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !rl.Reset.IsZero() && !b.rl.Reset.IsZero() {
		switch {
		case rl.Reset.Before(b.rl.Reset):
			return
		case rl.Reset.Equal(b.rl.Reset) && rl.Limit == b.rl.Limit && b.rl.Remaining < rl.Remaining:
			rl.Remaining = b.rl.Remaining
		}
	}
	b.rl = rl
	b.resetAt = time.Time{}
	if !rl.Reset.IsZero() {
		b.resetAt = serverTime(rl.Reset, serverDate, receivedAt)
	}
}

// headroomWait returns how long to wait before the next attempt so as to
// leave the headroom to others, and the reading it is based on. A reading
// leads to at most one wait: it is forgotten once used, and the next
// response brings a fresh one; calls made during that wait wait for its
// end. Attempts in flight count as spent. When it returns no wait, the
// attempt counts as in flight (settle it); after a wait, call begin.
func (b *budgetState) headroomWait(budget Budget, now time.Time) (time.Duration, RateLimit, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rl := b.rl
	if budget.Headroom > 0 {
		if wait := b.pauseUntil.Sub(now); wait > 0 {
			return wait, rl, true
		}
		if rl.Known && !b.resetAt.IsZero() && rl.Remaining-b.inflight <= budget.threshold(rl.Limit) {
			if wait := b.resetAt.Sub(now); wait > 0 {
				b.rl.Known = false
				wait = min(wait, budget.MaxWait)
				b.pauseUntil = now.Add(wait)
				return wait, rl, true
			}
		}
	}
	b.inflight++
	return 0, rl, false
}

// begin counts an attempt in flight after a wait.
func (b *budgetState) begin() {
	b.mu.Lock()
	b.inflight++
	b.mu.Unlock()
}

// settled ends an attempt counted in flight: its answer (if any) was
// observed.
func (b *budgetState) settled() {
	b.mu.Lock()
	b.inflight--
	b.mu.Unlock()
}
