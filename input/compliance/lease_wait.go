package compliance

import (
	"context"
	"fmt"
	"time"
)

// This file holds what jobs need of the HA lease (lease.go): knowing when
// its first refresh has a result, and waiting until it is held.

// leaseLogEvery is how often a `once` backfill waiting for the lease says who
// holds it.
const leaseLogEvery = 30 * time.Second

// runSignalling refreshes the lease once, closes ready (the first result is
// known: held, standing by, or failing), then keeps it fresh like run.
func (l *lease) runSignalling(ctx context.Context, interval time.Duration, ready chan<- struct{}) {
	if _, err := l.refresh(ctx); err != nil && ctx.Err() == nil {
		l.log.Warnf("%v", err)
	}
	close(ready)
	l.run(ctx, interval)
}

// currentHolder is the token of the instance last seen holding the lease
// ("" when unknown or ours).
func (l *lease) currentHolder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

// leaseHeld waits for the lease's first refresh, so that the start-up job
// is not skipped just because the lease was not taken yet, and reports
// whether this instance holds it. Changes between collecting and standing by
// are logged at INFO.
func (in *input) leaseHeld(ctx context.Context, r *endpointRunner) bool {
	select {
	case <-r.leaseReady:
	case <-ctx.Done():
		return false
	}
	held := r.lease.Held()
	log := in.log.With("endpoint", r.name)
	switch {
	case !held && !r.standby:
		log.Infof("standing by: the collection lease %s is held by %q; jobs are skipped (outcome %q) until it is free",
			r.lease.key, r.lease.currentHolder(), "standby")
	case held && r.standby:
		log.Infof("this instance holds the collection lease %s: collecting", r.lease.key)
	}
	r.standby = !held
	return held
}

// waitLease waits until this instance holds the lease, for at most the
// endpoint's job_timeout (0: until the input stops), saying every
// leaseLogEvery who holds it. A `once` backfill calls it: another replica
// may be running the same backfill, and success must mean the work was done.
func (in *input) waitLease(ctx context.Context, r *endpointRunner) error {
	select {
	case <-r.leaseReady:
	case <-ctx.Done():
		return fmt.Errorf("stopped while waiting for the collection lease %s", r.lease.key)
	}
	clock := in.opts.clock
	start := clock.Now()
	var lastLog time.Time
	log := in.log.With("endpoint", r.name)
	for !r.lease.Held() {
		now := clock.Now()
		waited := now.Sub(start)
		if r.jobTimeout > 0 && waited >= r.jobTimeout {
			err := fmt.Errorf("waited job_timeout (%v) for the collection lease %s, held by %q: another replica may be running this backfill; this one collected nothing",
				r.jobTimeout, r.lease.key, r.lease.currentHolder())
			if lerr := r.lease.Err(); lerr != nil {
				err = fmt.Errorf("waited job_timeout (%v) for the collection lease: %w", r.jobTimeout, lerr)
			}
			return err
		}
		if lastLog.IsZero() || now.Sub(lastLog) >= leaseLogEvery {
			lastLog = now
			if lerr := r.lease.Err(); lerr != nil {
				log.Warnf("the `once` backfill waits for the collection lease (%v so far): %v", waited.Truncate(time.Second), lerr)
			} else {
				log.Infof("the `once` backfill waits for the collection lease %s, held by %q (%v so far)", r.lease.key, r.lease.currentHolder(), waited.Truncate(time.Second))
			}
		}
		poll := in.cfg.LeaseRenew
		if r.jobTimeout > 0 {
			poll = min(poll, r.jobTimeout-waited)
		}
		t := clock.NewTimer(poll)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped while waiting for the collection lease %s", r.lease.key)
		}
	}
	return nil
}
