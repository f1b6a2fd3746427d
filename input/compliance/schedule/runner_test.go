package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
)

// deadline bounds every wait on the code under test; it is a hang detector,
// never part of what is asserted.
const deadline = 10 * time.Second

type doneEvent struct {
	tick time.Time
	err  error
}

// harness runs a Runner on a FakeClock. Jobs report their tick on started and
// block until the test sends their result on release (or ctx ends).
type harness struct {
	t       *testing.T
	clock   *schedule.FakeClock
	runner  *schedule.Runner
	started chan time.Time
	release chan error
	skipped chan time.Time
	done    chan doneEvent
	result  chan error
	cancel  context.CancelFunc
}

func newHarness(t *testing.T, spec string, loc *time.Location, start time.Time, runOnStart bool) *harness {
	t.Helper()
	s, err := schedule.Parse(spec, loc)
	require.NoError(t, err)
	h := &harness{
		t:       t,
		clock:   schedule.NewFakeClock(start),
		started: make(chan time.Time, 100),
		release: make(chan error),
		skipped: make(chan time.Time, 100),
		done:    make(chan doneEvent, 100),
		result:  make(chan error, 1),
	}
	h.runner = &schedule.Runner{
		Spec:       s,
		RunOnStart: runOnStart,
		Clock:      h.clock,
		OnSkip:     func(tick time.Time) { h.skipped <- tick },
		OnDone:     func(tick time.Time, err error) { h.done <- doneEvent{tick, err} },
	}
	return h
}

func (h *harness) job(ctx context.Context, tick time.Time) error {
	h.started <- tick
	select {
	case err := <-h.release:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.t.Cleanup(cancel)
	go func() { h.result <- h.runner.Run(ctx, h.job) }()
}

// waitArmed waits until Run is blocked on the clock with n pending timers.
func (h *harness) waitArmed(n int) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.clock.Waiters() == n }, deadline, time.Millisecond,
		"runner never armed %d timer(s)", n)
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}

// requireNone asserts that nothing is queued on ch. It is only used where the
// runner cannot produce a value any more (no timer has fired since).
func requireNone[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		require.FailNow(t, "unexpected "+what, "%v", v)
	default:
	}
}

func requireTick(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: got %v, want %v", what, got, want)
}

// finishJob releases the running job with err and waits until Run has seen it
// return, so the runner is idle before the test moves the clock again.
func (h *harness) finishJob(err error) doneEvent {
	h.t.Helper()
	select {
	case h.release <- err:
	case <-time.After(deadline):
		require.FailNow(h.t, "no job was waiting to be released")
	}
	return recv(h.t, h.done, "OnDone")
}

func TestRunOnStartRunsAJobImmediately(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 2, 30, 0)
	h := newHarness(t, "*/5 * * * *", nil, t0, true)
	h.start()

	requireTick(t, t0, recv(t, h.started, "the start-up job"), "start-up job tick")
	ev := h.finishJob(nil)
	requireTick(t, t0, ev.tick, "OnDone tick")
	require.NoError(t, ev.err)

	h.waitArmed(1)
	h.clock.Set(utc(2026, 11, 25, 10, 5, 0, 0))
	requireTick(t, utc(2026, 11, 25, 10, 5, 0, 0), recv(t, h.started, "the first tick's job"), "first tick")
}

func TestWithoutRunOnStartTheFirstJobWaitsForTheFirstTick(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 2, 30, 0)
	h := newHarness(t, "*/5 * * * *", nil, t0, false)
	h.start()

	h.waitArmed(1)
	requireNone(t, h.started, "job before the first tick")
	h.clock.Set(utc(2026, 11, 25, 10, 4, 59, 999_999_999))
	assert.Equal(t, 1, h.clock.Waiters(), "the timer has not fired 1ns before the tick")
	requireNone(t, h.started, "job before the first tick")

	h.clock.Advance(time.Nanosecond)
	requireTick(t, utc(2026, 11, 25, 10, 5, 0, 0), recv(t, h.started, "the first tick's job"), "first tick")
}

func TestCronJobsStartAtTheScheduledInstantsEvenWhenWokenLate(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 2, 30, 0)
	h := newHarness(t, "*/5 * * * *", nil, t0, false)
	h.start()

	for i, want := range []time.Time{
		utc(2026, 11, 25, 10, 5, 0, 0),
		utc(2026, 11, 25, 10, 10, 0, 0),
		utc(2026, 11, 25, 10, 15, 0, 0),
	} {
		h.waitArmed(1)
		h.clock.Set(want.Add(300 * time.Millisecond)) // the runner wakes a little late
		requireTick(t, want, recv(t, h.started, "a tick's job"), fmt.Sprintf("tick %d", i))
		h.finishJob(nil)
	}
	requireNone(t, h.skipped, "skip")
}

func TestEveryTicksDoNotDrift(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 0, 0, 0)
	h := newHarness(t, "@every 10ms", nil, t0, false)
	h.start()

	for i := 1; i <= 4; i++ {
		want := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		h.waitArmed(1)
		h.clock.Set(want.Add(time.Duration(i) * time.Millisecond)) // the runner wakes late, by a varying amount
		requireTick(t, want, recv(t, h.started, "an @every job"), fmt.Sprintf("@every tick %d", i))
		h.finishJob(nil)
	}
}

func TestTicksDuringALongJobAreSkippedAndReported(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 0, 0, 0)
	h := newHarness(t, "@every 10ms", nil, t0, true)
	h.start()
	requireTick(t, t0, recv(t, h.started, "the start-up job"), "start-up tick")

	for i := 1; i <= 3; i++ {
		h.waitArmed(1)
		h.clock.Advance(10 * time.Millisecond)
		requireTick(t, t0.Add(time.Duration(i)*10*time.Millisecond), recv(t, h.skipped, "OnSkip"), "skipped tick")
	}
	requireNone(t, h.started, "overlapping job")

	ev := h.finishJob(nil)
	requireTick(t, t0, ev.tick, "the long job's tick")

	h.waitArmed(1)
	h.clock.Advance(10 * time.Millisecond)
	requireTick(t, t0.Add(40*time.Millisecond), recv(t, h.started, "the job after the long one"), "next job tick")
	requireNone(t, h.skipped, "extra skip")
}

func TestALateWakeUpCollapsesMissedTicksIntoTheLatest(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		start    time.Time
		advance  time.Duration
		wantTick time.Time
		nextTick time.Time
	}{
		{"@every", "@every 10ms", utc(2026, 11, 25, 10, 0, 0, 0), 35 * time.Millisecond,
			utc(2026, 11, 25, 10, 0, 0, 30_000_000), utc(2026, 11, 25, 10, 0, 0, 40_000_000)},
		{"cron", "*/5 * * * *", utc(2026, 11, 25, 10, 2, 30, 0), time.Hour,
			utc(2026, 11, 25, 11, 0, 0, 0), utc(2026, 11, 25, 11, 5, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name+" while idle starts one job", func(t *testing.T) {
			h := newHarness(t, tc.spec, nil, tc.start, false)
			h.start()
			h.waitArmed(1)
			h.clock.Advance(tc.advance)
			requireTick(t, tc.wantTick, recv(t, h.started, "the job"), "collapsed tick")
			h.finishJob(nil)
			requireNone(t, h.skipped, "skip")

			h.waitArmed(1)
			h.clock.Set(tc.nextTick)
			requireTick(t, tc.nextTick, recv(t, h.started, "the next job"), "tick after the collapsed one")
		})
		t.Run(tc.name+" while busy skips one tick", func(t *testing.T) {
			h := newHarness(t, tc.spec, nil, tc.start, true)
			h.start()
			recv(t, h.started, "the start-up job")
			h.waitArmed(1)
			h.clock.Advance(tc.advance)
			requireTick(t, tc.wantTick, recv(t, h.skipped, "OnSkip"), "collapsed skipped tick")
			h.waitArmed(1)
			requireNone(t, h.skipped, "second skip")
		})
	}
}

func TestJobErrorsDoNotStopTheSchedule(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 0, 0, 0)
	h := newHarness(t, "@every 1m", nil, t0, true)
	h.start()
	boom := errors.New("boom")

	recv(t, h.started, "the start-up job")
	ev := h.finishJob(boom)
	require.ErrorIs(t, ev.err, boom, "OnDone gets the job's error")

	h.waitArmed(1)
	h.clock.Advance(time.Minute)
	requireTick(t, t0.Add(time.Minute), recv(t, h.started, "the next job"), "job after a failed one")
	h.finishJob(nil)
	requireNone(t, h.result, "Run result")
}

func TestOnceRunsExactlyOneJobAndReturnsItsError(t *testing.T) {
	boom := errors.New("boom")
	for _, runOnStart := range []bool{false, true} {
		for _, jobErr := range []error{nil, boom} {
			t0 := utc(2026, 11, 25, 10, 0, 0, 0)
			s, err := schedule.Parse("once", nil)
			require.NoError(t, err)
			clock := schedule.NewFakeClock(t0)
			var calls atomic.Int32
			var gotTick time.Time
			r := &schedule.Runner{Spec: s, RunOnStart: runOnStart, Clock: clock}
			err = r.Run(t.Context(), func(_ context.Context, tick time.Time) error {
				calls.Add(1)
				gotTick = tick
				return jobErr
			})
			assert.ErrorIs(t, err, jobErr, "RunOnStart=%v: Run returns the job's error", runOnStart)
			if jobErr == nil {
				assert.NoError(t, err)
			}
			assert.Equal(t, int32(1), calls.Load(), "RunOnStart=%v: exactly one job", runOnStart)
			requireTick(t, t0, gotTick, "once tick is the start time")
			assert.Zero(t, clock.Waiters(), "once arms no timer")
		}
	}
}

func TestOnceWithACancelledContextRunsNothing(t *testing.T) {
	s, err := schedule.Parse("once", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	r := &schedule.Runner{Spec: s, Clock: schedule.NewFakeClock(utc(2026, 11, 25, 10, 0, 0, 0))}
	err = r.Run(ctx, func(context.Context, time.Time) error { called = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "schedule: once job not started: context canceled")
	assert.False(t, called)
}

func TestCancelEndsRunAndWaitsForTheRunningJob(t *testing.T) {
	h := newHarness(t, "*/5 * * * *", nil, utc(2026, 11, 25, 10, 2, 30, 0), true)
	h.start()
	recv(t, h.started, "the start-up job")

	h.cancel()
	ev := recv(t, h.done, "OnDone of the cancelled job")
	require.ErrorIs(t, ev.err, context.Canceled, "the job saw ctx cancelled")
	require.NoError(t, recv(t, h.result, "Run to return"))
}

func TestCancelWhileIdleEndsRun(t *testing.T) {
	h := newHarness(t, "*/5 * * * *", nil, utc(2026, 11, 25, 10, 2, 30, 0), false)
	h.start()
	h.waitArmed(1)
	h.cancel()
	require.NoError(t, recv(t, h.result, "Run to return"))
	requireNone(t, h.started, "job")
}

func TestRunWithACancelledContextStartsNothing(t *testing.T) {
	s, err := schedule.Parse("@every 1s", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := &schedule.Runner{Spec: s, RunOnStart: true, Clock: schedule.NewFakeClock(utc(2026, 11, 25, 10, 0, 0, 0))}
	require.NoError(t, r.Run(ctx, func(context.Context, time.Time) error {
		t.Error("job started after cancel")
		return nil
	}))
}

func TestCronRunnerFollowsTheTimeZone(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	h := newHarness(t, "0 9 * * *", berlin, utc(2026, 3, 28, 6, 0, 0, 0), false)
	h.start()

	for _, want := range []time.Time{
		time.Date(2026, 3, 28, 9, 0, 0, 0, berlin), // 08:00Z, CET
		time.Date(2026, 3, 29, 9, 0, 0, 0, berlin), // 07:00Z, CEST
	} {
		h.waitArmed(1)
		h.clock.Set(want)
		got := recv(t, h.started, "the 09:00 job")
		requireTick(t, want, got, "09:00 Berlin")
		assert.Equal(t, berlin, got.Location(), "ticks are in the schedule's zone")
		h.finishJob(nil)
	}
	assert.Equal(t, utc(2026, 3, 29, 7, 0, 0, 0), h.clock.Now().UTC(), "the CEST tick is 07:00 UTC")
}

func TestRunnerReArmsWhenTheClockFiresEarly(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 2, 30, 0)
	fake := schedule.NewFakeClock(t0)
	clock := &earlyOnceClock{FakeClock: fake}
	s, err := schedule.Parse("*/5 * * * *", nil)
	require.NoError(t, err)
	started := make(chan time.Time, 10)
	r := &schedule.Runner{Spec: s, Clock: clock}
	go func() {
		_ = r.Run(t.Context(), func(_ context.Context, tick time.Time) error { started <- tick; return nil })
	}()

	// The first timer fired at once although the fake clock still reads
	// 10:02:30; the runner must wait again instead of starting a job.
	require.Eventually(t, func() bool { return fake.Waiters() == 1 }, deadline, time.Millisecond)
	requireNone(t, started, "job on an early wake-up")
	fake.Set(utc(2026, 11, 25, 10, 5, 0, 0))
	requireTick(t, utc(2026, 11, 25, 10, 5, 0, 0), recv(t, started, "the 10:05 job"), "tick after re-arm")
}

// earlyOnceClock fires its first After channel immediately, as a real timer
// does when the wall clock has stepped back.
type earlyOnceClock struct {
	*schedule.FakeClock
	fired atomic.Bool
}

func (c *earlyOnceClock) After(d time.Duration) <-chan time.Time {
	if c.fired.CompareAndSwap(false, true) {
		ch := make(chan time.Time, 1)
		ch <- c.Now()
		return ch
	}
	return c.FakeClock.After(d)
}

func TestZeroSpecIsAnError(t *testing.T) {
	r := &schedule.Runner{}
	err := r.Run(t.Context(), func(context.Context, time.Time) error { return nil })
	require.EqualError(t, err, "schedule: Runner.Spec is the zero Spec (use schedule.Parse)")
}

func TestRunEndsWithAnErrorWhenTheCronHasNoTickWithinFiveYears(t *testing.T) {
	// 2100 is not a leap year: from March 2097 the next 29 February is in
	// 2104, beyond robfig/cron's five-year search.
	s, err := schedule.Parse("0 0 29 2 *", nil)
	require.NoError(t, err)
	r := &schedule.Runner{Spec: s, Clock: schedule.NewFakeClock(utc(2097, 3, 1, 0, 0, 0, 0))}
	err = r.Run(t.Context(), func(context.Context, time.Time) error { return nil })
	require.EqualError(t, err, `schedule "0 0 29 2 *": no tick within five years after 2097-03-01T00:00:00Z`)
}

// TestJobsNeverOverlapOnTheRealClock runs a fast @every schedule on the wall
// clock until 20 jobs have run and checks that no two ever ran at once. It
// asserts no durations; the deadline only detects a hang.
func TestJobsNeverOverlapOnTheRealClock(t *testing.T) {
	s, err := schedule.Parse("@every 1ms", nil)
	require.NoError(t, err)
	var active, maxActive, jobs atomic.Int32
	var skips atomic.Int32
	r := &schedule.Runner{Spec: s, RunOnStart: true, OnSkip: func(time.Time) { skips.Add(1) }}
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() {
		result <- r.Run(ctx, func(context.Context, time.Time) error {
			n := active.Add(1)
			for {
				m := maxActive.Load()
				if n <= m || maxActive.CompareAndSwap(m, n) {
					break
				}
			}
			jobs.Add(1)
			active.Add(-1)
			return nil
		})
	}()
	require.Eventually(t, func() bool { return jobs.Load() >= 20 }, deadline, time.Millisecond)
	cancel()
	require.NoError(t, recv(t, result, "Run to return"))
	assert.Equal(t, int32(1), maxActive.Load(), "at most one job at a time")
	t.Logf("%d jobs, %d skipped ticks", jobs.Load(), skips.Load())
}

func TestFakeTimerFiresAtItsDeadlineAndStopRemovesIt(t *testing.T) {
	t0 := utc(2026, 11, 25, 10, 0, 0, 0)
	c := schedule.NewFakeClock(t0)
	fires := c.NewTimer(time.Second)
	stopped := c.NewTimer(time.Second)
	changed := c.Changed()
	require.True(t, stopped.Stop(), "a waiting timer is stopped")
	select {
	case <-changed:
	default:
		t.Fatal("stopping a timer is a change of the waiters")
	}
	require.Equal(t, 1, c.Waiters())
	next, ok := c.NextDeadline()
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), next)
	c.Advance(999 * time.Millisecond)
	select {
	case <-fires.C():
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	require.Equal(t, t0.Add(time.Second), <-fires.C())
	select {
	case <-stopped.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	require.False(t, fires.Stop(), "a fired timer cannot be stopped")
	require.Zero(t, c.Waiters())
}

func TestRealClockTimerIsStoppable(t *testing.T) {
	timer := schedule.RealClock{}.NewTimer(time.Hour)
	require.True(t, timer.Stop())
	require.NotNil(t, timer.C())
}
