package e2e_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// timeline is the one clock of a timed rig: the fake API reads it through
// the rig's manual clock, the input (shifted by ahead) through a
// schedule.FakeClock that also runs its timers and schedule ticks. Moving it
// moves both; nothing in the input waits on real time but Benthos itself.
type timeline struct {
	t      *testing.T
	fake   *schedule.FakeClock
	manual *fakeapi.ManualClock
}

// shiftedClock is a TimerClock reading c shifted by ahead.
type shiftedClock struct {
	c     *schedule.FakeClock
	ahead time.Duration
}

func (s shiftedClock) Now() time.Time                          { return s.c.Now().Add(s.ahead) }
func (s shiftedClock) After(d time.Duration) <-chan time.Time  { return s.c.After(d) }
func (s shiftedClock) NewTimer(d time.Duration) schedule.Timer { return s.c.NewTimer(d) }

// newTimedRig is newRig whose input runs its timers and schedule on a
// timeline starting at now (the API's time; the input's is now + ahead).
func newTimedRig(t *testing.T, now time.Time, fake fakeapi.Options, ahead time.Duration, opts ...compliance.Option) (*rig, *timeline) {
	t.Helper()
	fc := schedule.NewFakeClock(now)
	opts = append([]compliance.Option{compliance.WithTimers(shiftedClock{c: fc, ahead: ahead})}, opts...)
	r := newRig(t, now, fake, rigOptions{register: opts})
	return r, &timeline{t: t, fake: fc, manual: r.clock}
}

// waitBlocked waits until the input waits on at least n of the timeline's
// timers (e.g. its schedule waits for the next tick).
func (tl *timeline) waitBlocked(n int) {
	tl.t.Helper()
	require.Eventually(tl.t, func() bool { return tl.fake.Waiters() >= n }, 30*time.Second, 2*time.Millisecond,
		"the input never waited on %d timers", n)
}

// now is the API's time.
func (tl *timeline) now() time.Time { return tl.fake.Now() }

// set moves the timeline to at (the API's time), firing the input's due
// timers after the API already reads the new time.
func (tl *timeline) set(at time.Time) {
	tl.manual.Set(at)
	tl.fake.Set(at)
}

// advance moves the timeline forward by d.
func (tl *timeline) advance(d time.Duration) { tl.set(tl.now().Add(d)) }

// playUntil advances the timeline in steps until done holds (checked with a
// short real-time grace after each step, for the engine to react) or limit
// is reached, and reports whether done held. Advancing further than needed
// is harmless as long as limit stays before the next event the test cares
// about (the next tick, job_timeout).
func (tl *timeline) playUntil(done func() bool, step time.Duration, limit time.Time) bool {
	for {
		grace := 200 * time.Millisecond
		if !tl.now().Before(limit) {
			grace = 15 * time.Second // the last chance: wait generously
		}
		for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if done() {
				return true
			}
		}
		if !tl.now().Before(limit) {
			return false
		}
		next := tl.now().Add(step)
		if next.After(limit) {
			next = limit
		}
		tl.set(next)
	}
}
