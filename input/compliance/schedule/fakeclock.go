package schedule

import (
	"slices"
	"sync"
	"time"
)

// FakeClock is a TimerClock that moves only when told to, for tests.
// Channels returned by After, and timers made by NewTimer, fire when Set or
// Advance reaches their deadline. It is safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
	changed chan struct{} // closed and replaced whenever waiters change
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a FakeClock reading now.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once it reaches
// Now()+d; with d <= 0 it has fired already.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	return c.add(d).ch
}

// NewTimer returns a timer that fires once the fake time reaches Now()+d
// (at once with d <= 0). A stopped timer no longer counts as a waiter.
func (c *FakeClock) NewTimer(d time.Duration) Timer {
	return &fakeTimer{c: c, w: c.add(d)}
}

func (c *FakeClock) add(d time.Duration) *fakeWaiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeWaiter{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		w.ch <- c.now
		return w
	}
	c.waiters = append(c.waiters, w)
	c.notifyLocked()
	return w
}

type fakeTimer struct {
	c *FakeClock
	w *fakeWaiter
}

func (t *fakeTimer) C() <-chan time.Time { return t.w.ch }

func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.waiters, t.w)
	if i < 0 {
		return false
	}
	c.waiters = slices.Delete(c.waiters, i, i+1)
	c.notifyLocked()
	return true
}

// Advance moves the fake time forward by d and fires the due channels.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the fake time to t (backwards too) and fires the due channels,
// earliest deadline first. When Set returns, every due channel holds its
// value.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

// Waiters returns how many After channels and timers have not fired (or
// been stopped) yet; tests wait for it to know that the code under test is
// blocked on the clock.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// NextDeadline returns the earliest deadline of a waiting channel or timer,
// and false when nothing waits.
func (c *FakeClock) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) == 0 {
		return time.Time{}, false
	}
	next := c.waiters[0].at
	for _, w := range c.waiters[1:] {
		if w.at.Before(next) {
			next = w.at
		}
	}
	return next, true
}

// Changed returns a channel that is closed the next time a channel or timer
// starts or stops waiting, so tests can wait for the code under test to
// block on the clock without polling.
func (c *FakeClock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

func (c *FakeClock) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

func (c *FakeClock) setLocked(t time.Time) {
	c.now = t
	slices.SortStableFunc(c.waiters, func(a, b *fakeWaiter) int { return a.at.Compare(b.at) })
	kept := c.waiters[:0]
	fired := false
	for _, w := range c.waiters {
		if w.at.After(t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- t
		fired = true
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
	if fired {
		c.notifyLocked()
	}
}
