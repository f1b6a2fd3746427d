package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The endpoints of one input share a client: calls run concurrently, and
// their responses come back in any order. The headroom must hold anyway.
func TestHeadroomHoldsForConcurrentCalls(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	reset := now.Add(30 * time.Second)
	budget := Budget{Headroom: 0.1, MaxWait: time.Minute} // keeps 6 of 60
	reading := func(remaining int, reset time.Time) RateLimit {
		return RateLimit{Limit: 60, Remaining: remaining, Reset: reset, Known: true}
	}

	t.Run("attempts in flight count as spent", func(t *testing.T) {
		var b budgetState
		b.observe(reading(10, reset), now, now)
		for i := range 4 {
			_, _, wait := b.headroomWait(budget, now)
			assert.False(t, wait, "attempt %d: %d left, %d in flight", i+1, 10, i)
		}
		wait, _, ok := b.headroomWait(budget, now)
		assert.True(t, ok, "10 left less 4 in flight leaves the headroom")
		assert.Equal(t, 30*time.Second, wait)
		wait, _, ok = b.headroomWait(budget, now.Add(10*time.Second))
		assert.True(t, ok, "a concurrent call waits for the same pause")
		assert.Equal(t, 20*time.Second, wait)
	})

	t.Run("an answer that left the server earlier does not raise what is left", func(t *testing.T) {
		var b budgetState
		b.observe(reading(7, reset), now, now)
		b.observe(reading(9, reset), now, now) // a request that reached the server before
		assert.Equal(t, 7, b.rl.Remaining)
		b.observe(reading(3, now.Add(-30*time.Second)), now, now) // the previous window's
		assert.Equal(t, 7, b.rl.Remaining)
		assert.Equal(t, reset, b.rl.Reset)
		b.observe(reading(59, reset.Add(time.Minute)), now, now) // the next window's
		assert.Equal(t, 59, b.rl.Remaining)
	})

	t.Run("settled attempts no longer count", func(t *testing.T) {
		var b budgetState
		b.observe(reading(8, reset), now, now)
		_, _, ok := b.headroomWait(budget, now)
		assert.False(t, ok)
		b.observe(reading(7, reset), now, now) // its answer counts it
		b.settled()
		_, _, ok = b.headroomWait(budget, now)
		assert.False(t, ok, "7 left, nothing in flight")
		_, _, ok = b.headroomWait(budget, now)
		assert.True(t, ok, "7 left, 1 in flight")
	})
}
