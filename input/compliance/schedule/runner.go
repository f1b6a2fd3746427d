package schedule

import (
	"context"
	"fmt"
	"time"
)

// Clock is the time source of a Runner. After must deliver one value once d
// has passed on this clock; d <= 0 fires at once.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Timer is a one-shot timer of a TimerClock: C receives the clock's time
// once the duration has passed, unless Stop was called first (Stop reports
// whether it prevented that).
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// TimerClock is a Clock that also makes stoppable timers: the collector's
// job_timeout, drain grace, ack warnings and settle waits, and the input's
// lease waits, run on one so that tests drive them with a FakeClock.
type TimerClock interface {
	Clock
	NewTimer(d time.Duration) Timer
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewTimer returns a wall-clock timer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Runner starts jobs on the ticks of Spec. Jobs never overlap: a tick that
// arrives while a job runs is skipped and passed to OnSkip. Set the fields,
// then call Run once.
type Runner struct {
	// Spec says when jobs start. The zero Spec is an error.
	Spec Spec
	// RunOnStart starts a job as soon as Run is called, before the first
	// tick. It is ignored for "once", which always runs exactly one job.
	RunOnStart bool
	// Clock is the time source; nil means RealClock{}.
	Clock Clock
	// OnSkip, if set, is called once for each tick that arrives while a job
	// is still running. It runs on Run's goroutine and must not block.
	OnSkip func(tick time.Time)
	// OnDone, if set, is called after each job returns, with the job's
	// tick and error, before Run looks at the next tick. It runs on Run's
	// goroutine and must not block.
	OnDone func(tick time.Time, err error)
}

// Run starts jobs until ctx is cancelled. Each job gets ctx and the tick that
// started it (the start time for RunOnStart and "once"). Ticks follow Spec
// from the time Run is called; a job error does not stop the schedule (report
// it from the job or OnDone).
//
// When ctx is cancelled, Run waits for the running job, if any, to return (it
// sees ctx cancelled) and returns nil. Run does not cancel a job on later
// ticks; bounding a job's duration is the job's business.
//
// With "once", Run runs exactly one job and returns its error; if ctx is
// already cancelled it runs nothing and returns an error wrapping ctx.Err().
//
// If Run wakes up late (the host was suspended, the clock stepped forward),
// the ticks that passed meanwhile collapse into the latest one, which starts
// a job or is skipped like any other tick.
func (r *Runner) Run(ctx context.Context, job func(ctx context.Context, tick time.Time) error) error {
	clock := r.Clock
	if clock == nil {
		clock = RealClock{}
	}
	switch r.Spec.kind {
	case kindInvalid:
		return errZeroSpec
	case kindOnce:
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("schedule: once job not started: %w", err)
		}
		now := clock.Now()
		err := job(ctx, now)
		if r.OnDone != nil {
			r.OnDone(now, err)
		}
		return err
	}
	if ctx.Err() != nil {
		return nil
	}

	done := make(chan error, 1)
	running := false
	var runningTick time.Time
	start := func(tick time.Time) {
		running, runningTick = true, tick
		go func() { done <- job(ctx, tick) }()
	}
	finish := func(err error) {
		running = false
		if r.OnDone != nil {
			r.OnDone(runningTick, err)
		}
	}
	// noTick ends Run when the cron library finds no tick within five years
	// (only possible for 29 February schedules near a non-leap century year).
	noTick := func(after time.Time) error {
		if running {
			finish(<-done)
		}
		return fmt.Errorf("schedule %q: no tick within five years after %s", r.Spec, after.Format(time.RFC3339))
	}

	now := clock.Now()
	if r.RunOnStart {
		start(now)
	}
	next := r.Spec.Next(now)
	if next.IsZero() {
		return noTick(now)
	}
	timer := clock.After(next.Sub(now))
	for {
		select {
		case <-ctx.Done():
			if running {
				finish(<-done)
			}
			return nil

		case err := <-done:
			finish(err)

		case <-timer:
			if ctx.Err() != nil {
				continue // the ctx.Done case ends Run
			}
			now = clock.Now()
			if now.Before(next) {
				// Woke early by this clock (the wall clock stepped back).
				timer = clock.After(next.Sub(now))
				continue
			}
			tick := r.Spec.latestDue(next, now)
			if running {
				if r.OnSkip != nil {
					r.OnSkip(tick)
				}
			} else {
				start(tick)
			}
			next = r.Spec.Next(tick)
			if next.IsZero() {
				return noTick(tick)
			}
			timer = clock.After(next.Sub(now))
		}
	}
}
