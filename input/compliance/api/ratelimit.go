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
// guard, so one client may serve several goroutines.
type budgetState struct {
	mu      sync.Mutex
	rl      RateLimit
	resetAt time.Time // rl.Reset on the local clock
}

func (b *budgetState) observe(rl RateLimit, serverDate, receivedAt time.Time) {
	if !rl.Known {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rl = rl
	b.resetAt = time.Time{}
	if !rl.Reset.IsZero() {
		b.resetAt = serverTime(rl.Reset, serverDate, receivedAt)
	}
}

// headroomWait returns how long to wait before the next attempt so as to
// leave the headroom to others, and the reading it is based on. A reading
// leads to at most one wait: it is forgotten once used, and the next
// response brings a fresh one.
func (b *budgetState) headroomWait(budget Budget, now time.Time) (time.Duration, RateLimit, bool) {
	if budget.Headroom <= 0 {
		return 0, RateLimit{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rl := b.rl
	if !rl.Known || b.resetAt.IsZero() || rl.Remaining > budget.threshold(rl.Limit) {
		return 0, rl, false
	}
	wait := b.resetAt.Sub(now)
	if wait <= 0 {
		return 0, rl, false
	}
	b.rl.Known = false
	return min(wait, budget.MaxWait), rl, true
}
