package collector_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

// reconcileEnv is a testEnv whose regular collector records what it delivers
// in the record of delivered ids, with a reconciler of the same endpoint on
// the same output channel: 60 activities over [10:00, 11:00) and five found
// late, created in [10:20, 10:40) but indexed only at 11:30.
type reconcileEnv struct {
	*testEnv
	out    chan collector.Batch
	ledger *checkpoint.Delivered
	rcfg   collector.ReconcileConfig
	acts   []api.Activity
	late   []api.Activity
}

func newReconcileEnv(t *testing.T, opts ...checkpoint.DeliveredOption) *reconcileEnv {
	e := &reconcileEnv{testEnv: newEnv(t, "2026-11-25T11:10:00Z"), out: make(chan collector.Batch)}
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T10:00:00Z")
	e.rcfg = collector.ReconcileConfig{Lookback: 2 * time.Hour, Settle: 10 * time.Minute}
	e.ledger = checkpoint.NewDelivered(e.store, key, e.cfg.Identity(), e.rcfg.Lookback+e.rcfg.Settle, opts...)
	e.acts = spread("a", 60, at("2026-11-25T10:00:00Z"), time.Hour)
	e.feed.add(e.acts...)
	e.late = spread("late", 5, at("2026-11-25T10:20:00Z"), 20*time.Minute)
	for _, a := range e.late {
		e.feed.addVisible(a, at("2026-11-25T11:30:00Z"))
	}
	return e
}

func (e *reconcileEnv) regular(recording bool) *collector.Collector {
	e.t.Helper()
	deps := collector.Deps{Lister: e.feed, Clock: e.clock, Log: e.log, Out: e.out, Keeper: checkpoint.NewKeeper(e.store, key)}
	if recording {
		deps.Delivered = e.ledger
	}
	c, err := collector.New(e.cfg, deps)
	require.NoError(e.t, err)
	return c
}

func (e *reconcileEnv) reconciler(regular *collector.Collector, ledger collector.DeliveredLedger) *collector.Reconciler {
	e.t.Helper()
	if ledger == nil {
		ledger = e.ledger
	}
	r, err := collector.NewReconciler(e.cfg, e.rcfg, collector.ReconcileDeps{
		Lister: e.feed, Ledger: ledger, Regular: regular, Clock: e.clock, Log: e.log, Out: e.out,
		Checkpoint: func(ctx context.Context) (*checkpoint.Head, error) { return checkpoint.LoadHead(ctx, e.store, key) },
	})
	require.NoError(e.t, err)
	return r
}

func reconcile(t *testing.T, r *collector.Reconciler) (collector.Report, error) {
	t.Helper()
	j := &runningJob{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.rep, j.err = r.RunJob(context.Background(), time.Time{}, make(chan struct{}))
	}()
	return j.wait(t)
}

// The regular jobs miss activities indexed later than settle + overlap; a
// reconciliation walks the window again and emits exactly those, once: the
// next reconciliation of the same window emits nothing, and neither do the
// regular jobs that follow. (Also with buckets whose length does not divide
// a day: their bounds are multiples of it since the Unix epoch.)
func TestReconcileEmitsOnlyTheActivitiesTheRegularJobsMissed(t *testing.T) {
	for _, bucket := range []time.Duration{checkpoint.DefaultBucket, 7 * time.Minute} {
		t.Run(bucket.String(), func(t *testing.T) { reconcileEmitsOnlyMissed(t, bucket) })
	}
}

func reconcileEmitsOnlyMissed(t *testing.T, bucket time.Duration) {
	e := newReconcileEnv(t, checkpoint.WithBucket(bucket))
	c := e.regular(true)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c) // [10:00, 11:08)
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T11:40:00Z"))
	rep, err := run(t, c) // [11:03, 11:38): the late ones are older
	require.NoError(t, err)
	assert.Zero(t, rep.LateCatches)
	assert.ElementsMatch(t, ids(e.acts), k.ids(), "the regular jobs miss the late activities")

	e.clock.Set(at("2026-11-25T12:00:00Z"))
	r := e.reconciler(c, nil)
	rep, err = reconcile(t, r)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
	assert.Equal(t, collector.KindReconcile, rep.Kind)
	assert.Equal(t, "2026-11-25T10:00:00Z", rep.From, "tick - settle - lookback is before the floor")
	assert.Equal(t, "2026-11-25T11:33:00Z", rep.To, "the checkpoint's seen_from, not tick - settle (11:50): the regular jobs read from there")
	assert.Equal(t, 5, rep.LateFound)
	assert.Equal(t, 5, rep.Emitted)
	assert.Equal(t, 5, rep.Recorded)
	assert.Equal(t, 60, rep.Duplicates, "every activity delivered by the regular jobs is recognised")
	assert.Empty(t, rep.Unreconciled)
	assert.True(t, strings.HasPrefix(rep.JobID, "activities-reconcile-"), rep.JobID)
	assert.ElementsMatch(t, append(ids(e.acts), ids(e.late)...), k.ids())

	e.clock.Set(at("2026-11-25T12:30:00Z"))       // window [10:20, 11:33): the late ones again
	rep, err = reconcile(t, e.reconciler(c, nil)) // a new reconciler: nothing kept in memory
	require.NoError(t, err)
	assert.Equal(t, "2026-11-25T10:20:00Z", rep.From)
	assert.Zero(t, rep.LateFound, "what the first reconciliation delivered is recorded")
	assert.Equal(t, 40+5, rep.Duplicates)
	_, err = run(t, c)
	require.NoError(t, err)
	assert.ElementsMatch(t, append(ids(e.acts), ids(e.late)...), k.ids(), "each activity handed out exactly once")
}

// A reconciliation and a regular job of the same endpoint run at the same
// time, on one output channel, one API client and one record: their windows
// are disjoint, so nothing is emitted twice.
func TestReconcileRunsBesideTheRegularJobWithoutDoubleEmitting(t *testing.T) {
	e := newReconcileEnv(t)
	c := e.regular(true)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T11:40:00Z"))
	fresh := spread("f", 40, at("2026-11-25T11:08:00Z"), 45*time.Minute)
	e.feed.add(fresh...)
	_, err = run(t, c)
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T12:00:00Z"))
	r := e.reconciler(c, nil)
	var wg sync.WaitGroup
	var rrep, crep collector.Report
	var rerr, cerr error
	wg.Add(2)
	go func() { defer wg.Done(); rrep, rerr = r.RunJob(context.Background(), time.Time{}, make(chan struct{})) }()
	go func() { defer wg.Done(); crep, cerr = c.RunJob(context.Background(), time.Time{}, make(chan struct{})) }()
	wg.Wait()
	require.NoError(t, rerr)
	require.NoError(t, cerr)
	assert.Equal(t, 5, rrep.LateFound)
	assert.Equal(t, collector.OutcomeSuccess, crep.Outcome)
	assert.ElementsMatch(t, append(append(ids(e.acts), ids(e.late)...), ids(fresh)...), k.ids())
}

// Reconciliation walks only what the record covers: ranges delivered before
// the record was kept are reported as not reconciled and their late
// activities are not emitted (their delivered ones would be duplicated).
func TestReconcileSkipsRangesTheRecordDoesNotCover(t *testing.T) {
	e := newReconcileEnv(t)
	late := api.Activity{ID: "late_covered", Type: "claude_chat_created", CreatedAt: at("2026-11-25T11:10:00Z")}
	e.feed.addVisible(late, at("2026-11-25T11:45:00Z"))
	k, stop := consume(t, e.regular(false), nil)
	defer stop()
	_, err := run(t, e.regular(false)) // [10:00, 11:08), before reconciliation was enabled
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T11:40:00Z"))
	c := e.regular(true)
	_, err = run(t, c) // [11:03, 11:38)
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T11:50:00Z"))
	_, err = run(t, c) // [11:33, 11:48)
	require.NoError(t, err)

	e.clock.Set(at("2026-11-25T12:10:00Z"))
	rep, err := reconcile(t, e.reconciler(c, nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"[2026-11-25T10:00:00Z, 2026-11-25T11:03:00Z)"}, rep.Unreconciled)
	assert.Equal(t, 1, rep.LateFound)
	assert.Equal(t, []string{late.ID}, k.ids()[len(k.ids())-1:])
	assert.ElementsMatch(t, append(ids(e.acts), late.ID), k.ids(), "no activity twice; the uncovered late ones are not collected")
	assert.NotEmpty(t, e.log.matching("INFO", "not reconciled", "[2026-11-25T10:00:00Z, 2026-11-25T11:03:00Z)", "nothing recorded"))
}

// gatedLedger holds the reconciliation's writes while held is set, until
// the job is stopped hard (a crash: nothing more is written).
type gatedLedger struct {
	collector.DeliveredLedger
	held    atomic.Bool
	entered chan struct{}
}

func (g *gatedLedger) Record(ctx context.Context, ids checkpoint.IDSet, covered []checkpoint.Span, now time.Time) (checkpoint.RecordResult, error) {
	if g.held.Load() {
		g.entered <- struct{}{}
		<-ctx.Done()
		return checkpoint.RecordResult{}, ctx.Err()
	}
	return g.DeliveredLedger.Record(ctx, ids, covered, now)
}

// A crash in the middle of a reconciliation loses nothing: what was not
// acknowledged, and what was acknowledged but not recorded yet, is emitted
// again by the next reconciliation; what was recorded is not. The
// duplicates are the acknowledged batches whose record write did not finish
// (here one: the second late activity).
func TestReconcileCrashMidJobLosesNothingAndRepeatsOnlyUnrecordedAcks(t *testing.T) {
	e := newReconcileEnv(t)
	e.cfg.BatchSize = 1
	gate := &gatedLedger{DeliveredLedger: e.ledger, entered: make(chan struct{}, 8)}
	var mu sync.Mutex
	acked := map[string]int{}
	var order []string // late activities handed out before the crash
	crashed := false
	policy := func(b collector.Batch) error {
		id := b.Items[0].Activity.ID
		mu.Lock()
		before := !crashed && strings.Contains(b.Items[0].Origin.JobID, "reconcile")
		if before {
			order = append(order, id)
		}
		n := len(order)
		mu.Unlock()
		if before {
			switch {
			case n == 2:
				// Acknowledge the second one only once the first is
				// recorded, and hold the write of the second.
				first := order[0]
				assert.Eventually(t, func() bool {
					b, err := e.ledger.Load(context.Background(), at("2026-11-25T10:20:00Z"), e.clock.Now())
					return err == nil && b.Has(first)
				}, 10*time.Second, time.Millisecond, "the first acknowledged late activity is recorded")
				gate.held.Store(true)
			case n > 2:
				return errHold // never acknowledged before the crash
			}
		}
		mu.Lock()
		acked[id]++
		mu.Unlock()
		return nil
	}
	c := e.regular(true)
	k, stop := consume(t, c, policy)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T11:40:00Z"))
	_, err = run(t, c)
	require.NoError(t, err)

	e.clock.Set(at("2026-11-25T12:00:00Z"))
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.reconciler(c, gate).RunJob(ctx, time.Time{}, make(chan struct{}))
	}()
	select {
	case <-gate.entered: // the second ack's write has started
	case <-time.After(10 * time.Second):
		t.Fatal("the second ack was never recorded")
	}
	crash()
	<-done
	mu.Lock()
	crashed = true
	first, second := order[0], order[1]
	mu.Unlock()
	k.mu.Lock()
	k.held = nil // the crashed process's unacknowledged batches are gone
	k.mu.Unlock()

	rep, err := reconcile(t, e.reconciler(c, nil)) // the restarted process
	require.NoError(t, err)
	assert.Equal(t, 4, rep.LateFound, "all but the recorded one")
	mu.Lock()
	defer mu.Unlock()
	for _, a := range append(slicesClone(e.acts), e.late...) {
		assert.GreaterOrEqual(t, acked[a.ID], 1, "%s is delivered", a.ID)
	}
	duplicates := 0
	for id, n := range acked {
		duplicates += n - 1
		if n > 1 {
			assert.Equal(t, second, id, "only the acknowledged, unrecorded one is repeated")
		}
	}
	assert.Equal(t, 1, acked[first], "recorded before the crash: not emitted again")
	assert.Equal(t, 1, duplicates)
}

func slicesClone(a []api.Activity) []api.Activity { return append([]api.Activity(nil), a...) }

// With the output down and auto_replay_nacks, a reconciliation that times
// out leaves its batches with the pipeline: the next one waits for them, and
// once they are acknowledged they are recorded, never emitted again.
func TestReconcileWithHeldBatchesWaitsAndRecordsThemWhenAcknowledged(t *testing.T) {
	e := newReconcileEnv(t)
	e.rcfg.JobTimeout = time.Minute
	e.cfg.DrainGrace = 10 * time.Second
	c := e.regular(true)
	k, stop := consume(t, c, func(b collector.Batch) error {
		if strings.Contains(b.Items[0].Origin.JobID, "reconcile") {
			return errHold
		}
		return nil
	})
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	e.clock.Set(at("2026-11-25T11:40:00Z"))
	_, err = run(t, c)
	require.NoError(t, err)

	e.clock.Set(at("2026-11-25T12:00:00Z"))
	r := e.reconciler(c, nil)
	j := &runningJob{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.rep, j.err = r.RunJob(context.Background(), time.Time{}, make(chan struct{}))
	}()
	rep, err := j.waitAdvancing(t, e.clock, e.clock.Now().Add(2*time.Minute))
	require.ErrorIs(t, err, collector.ErrJobTimeout)
	assert.Equal(t, 2, rep.Outstanding, "one batch in each of the two buckets' slices")
	assert.Equal(t, 2, r.HeldBatches())

	rep, err = reconcile(t, r)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeAwaitingAcks, rep.Outcome)

	k.mu.Lock()
	k.policy = nil
	k.mu.Unlock()
	k.releaseHeld(nil)
	rep, err = reconcile(t, r)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
	assert.Zero(t, rep.LateFound, "recorded when acknowledged, before the job walked")
	assert.ElementsMatch(t, append(ids(e.acts), ids(e.late)...), k.ids())
	assert.NotEmpty(t, e.log.matching("recorded 5 activities acknowledged after their job ended"))
}

// failingLedger refuses every write.
type failingLedger struct{ collector.DeliveredLedger }

func (failingLedger) Record(context.Context, checkpoint.IDSet, []checkpoint.Span, time.Time) (checkpoint.RecordResult, error) {
	return checkpoint.RecordResult{}, errors.New("store refuses writes")
}

// The record of delivered ids serves reconciliation only: a regular commit
// whose record cannot be written still commits (collection goes on), and
// that range is left uncovered, so reconciliation skips it rather than emit
// what it delivered.
func TestRegularCommitGoesOnWhenTheRecordCannotBeWritten(t *testing.T) {
	e := newReconcileEnv(t)
	c, err := collector.New(e.cfg, collector.Deps{Lister: e.feed, Clock: e.clock, Log: e.log, Out: e.out,
		Keeper: checkpoint.NewKeeper(e.store, key), Delivered: failingLedger{}})
	require.NoError(t, err)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
	assert.Equal(t, "2026-11-25T11:08:00Z", rep.ScannedTo)
	assert.NotEmpty(t, e.log.matching("WARN", "as delivered failed", "store refuses writes", "reconciliation will skip that range"))

	e.clock.Set(at("2026-11-25T12:00:00Z"))
	rep, err = reconcile(t, e.reconciler(c, nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"[2026-11-25T10:00:00Z, 2026-11-25T11:03:00Z)"}, rep.Unreconciled)
	assert.Zero(t, rep.Emitted)
	assert.ElementsMatch(t, ids(e.acts), k.ids())
}
