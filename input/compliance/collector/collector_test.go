package collector_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

const key = "anthropic_compliance/test/activities"

func TestMultiSliceWindowDeliversEveryActivityOnceAndCommitsScannedTo(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Slices.MinSlice = time.Minute
	acts := spread("a", 5000, at("2026-11-24T00:00:00Z"), 35*time.Hour) // dense enough to adapt slices
	e.feed.add(acts...)
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()

	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
	assert.ElementsMatch(t, ids(acts), k.ids())
	assert.Greater(t, rep.Slices, 1)
	assert.Equal(t, rep.Slices, rep.SlicesCommitted)
	rec := e.record(key)
	assert.Equal(t, "2026-11-25T11:58:00Z", window.Format(rec.ScannedTo), "to = now - settle")
	assert.Equal(t, "2026-11-24T00:00:00Z", window.Format(rec.Floor))
}

func TestAdjacentSlicesShareTheIdenticalBoundString(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Slices.MinSlice = time.Minute
	e.feed.add(spread("a", 3000, at("2026-11-25T00:00:00Z"), 11*time.Hour)...)
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	firsts := sliceRequests(e.feed.requests())
	require.Greater(t, len(firsts), 2)
	for i := 1; i < len(firsts); i++ {
		assert.Equal(t, firsts[i-1].CreatedAtLT, firsts[i].CreatedAtGTE, "slice %d", i)
		assert.True(t, strings.HasSuffix(firsts[i].CreatedAtGTE, ":00Z") || len(firsts[i].CreatedAtGTE) == len("2026-11-25T00:00:00Z"))
	}
}

func TestFirstJobPersistsEarliestBeforeTheFirstRequest(t *testing.T) {
	// L1b: a first job that fails must not let a relative earliest be
	// re-resolved (a day later) by the next job.
	e := newEnv(t, "2026-11-25T23:50:00Z")
	e.feed.fail = func(int, api.ListParams) error { return errors.New("network down") }
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.Error(t, err)
	assert.Equal(t, "2026-11-24T00:00:00Z", window.Format(e.record(key).Floor))

	e.clock.Set(at("2026-11-26T00:20:00Z")) // -1d@d now resolves to 2026-11-25
	e.feed.fail = nil
	_, err = run(t, c)
	require.NoError(t, err)
	rec := e.record(key)
	assert.Equal(t, "2026-11-24T00:00:00Z", window.Format(rec.Floor), "earliest is never re-resolved")
	assert.Equal(t, "2026-11-24T00:00:00Z", sliceRequests(e.feed.requests())[0].CreatedAtGTE)
}

func TestEarliestNowWaitsInsteadOfNeverStarting(t *testing.T) {
	// L1a: earliest: now makes the first range empty; the floor is still
	// written, so the next job collects from there.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("now")
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeEmpty, rep.Outcome)
	assert.Equal(t, "2026-11-25T12:00:00Z", window.Format(e.record(key).Floor))

	e.feed.add(api.Activity{ID: "late", Type: "x", CreatedAt: at("2026-11-25T12:01:00Z")})
	e.clock.Set(at("2026-11-25T12:10:00Z"))
	rep, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Emitted)
}

func TestCommitWaitsForAcksNotForReceipt(t *testing.T) {
	// L3: acks of early pages before the walk ends must not commit the slice.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 300, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()
	done := make(chan error, 1)
	go func() { _, err := c.RunJob(context.Background(), time.Time{}, make(chan struct{})); done <- err }()
	require.Eventually(t, func() bool { return k.heldCount() == 6 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, "2026-11-25T11:00:00Z", window.Format(e.record(key).ScannedTo), "nothing commits before acks")
	k.releaseHeld(nil)
	require.NoError(t, <-done)
	assert.Equal(t, "2026-11-25T11:58:00Z", window.Format(e.record(key).ScannedTo))
}

func TestOutOfOrderAcksNeverMoveCheckpointPastAnUnackedSlice(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T09:00:00Z")
	e.cfg.Slices.Target = 100000 // slices stay at max_slice (1h)
	e.cfg.BatchSize = 1000
	e.feed.add(spread("a", 10, at("2026-11-25T09:00:00Z"), 2*time.Hour)...)
	c := e.collector(key)
	var mu sync.Mutex
	var first collector.Batch
	k, stop := consume(t, c, func(b collector.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		if first.Ack == nil {
			first = b
			return errHold
		}
		return nil
	})
	defer stop()
	done := make(chan error, 1)
	go func() { _, err := c.RunJob(context.Background(), time.Time{}, make(chan struct{})); done <- err }()
	// The second slice is delivered and acked while the first is held.
	require.Eventually(t, func() bool { return len(k.ids()) == 10 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, "2026-11-25T09:00:00Z", window.Format(e.record(key).ScannedTo), "slice 2 acked first must not commit past slice 1")
	k.releaseHeld(nil)
	require.NoError(t, <-done)
	assert.Equal(t, "2026-11-25T11:58:00Z", window.Format(e.record(key).ScannedTo), "the cascade commits both")
}

func TestEmptyAndFullyDeduplicatedSlicesCommitWithoutAnAck(t *testing.T) {
	// L3: a slice that emits nothing must not block later slices.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T06:00:00Z")
	e.feed.add(api.Activity{ID: "only", Type: "x", CreatedAt: at("2026-11-25T11:30:00Z")})
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"only"}, k.ids())
	assert.Equal(t, rep.Slices, rep.SlicesCommitted)
	assert.Equal(t, "2026-11-25T11:58:00Z", window.Format(e.record(key).ScannedTo))
}

func TestDuplicateWithinOneWalkIsEmittedOnce(t *testing.T) {
	// D2: at-least-once within a walk.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 6, at("2026-11-25T11:00:00Z"), 30*time.Minute)...)
	e.feed.perPage = 2
	e.feed.mutate = func(call int, p *api.Page) {
		if call == 2 { // repeat the previous page's last activity at the top
			p.Activities = append([]api.Activity{{ID: "a_000004", Type: "claude_chat_created", CreatedAt: at("2026-11-25T11:20:00Z")}}, p.Activities...)
		}
	}
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Len(t, k.ids(), 6)
	assert.Equal(t, 1, rep.Duplicates)
}

func TestGrowthAcrossFiveJobsDeliversEachActivityExactlyOnce(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	var all []string
	for job := 0; job < 5; job++ {
		batch := spread("g"+string(rune('a'+job)), 40, e.clock.Now().Add(-5*time.Minute), 5*time.Minute)
		for _, a := range batch {
			e.feed.addVisible(a, a.CreatedAt.Add(45*time.Second)) // indexing lag inside settle
		}
		all = append(all, ids(batch)...)
		e.clock.Advance(5 * time.Minute)
		_, err := run(t, c)
		require.NoError(t, err)
	}
	e.clock.Advance(10 * time.Minute)
	_, err := run(t, c)
	require.NoError(t, err)
	assert.ElementsMatch(t, all, k.ids(), "every activity exactly once across jobs")
}

func TestLateArrivalInsideOverlapIsDeliveredOnceAndCountedAsLateCatch(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	var depths []time.Duration
	e.hooks.OnLateCatch = func(d time.Duration) { depths = append(depths, d) }
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c) // scanned_to 11:58
	require.NoError(t, err)
	// Created 11:56, indexed only at 12:03 (7 min late): inside settle+overlap.
	e.feed.addVisible(api.Activity{ID: "late", Type: "x", CreatedAt: at("2026-11-25T11:56:00Z")}, at("2026-11-25T12:03:00Z"))
	e.clock.Set(at("2026-11-25T12:05:00Z"))
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"late"}, k.ids())
	assert.Equal(t, 1, rep.LateCatches)
	assert.Equal(t, []time.Duration{2 * time.Minute}, depths)
	e.clock.Set(at("2026-11-25T12:10:00Z"))
	_, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"late"}, k.ids(), "not delivered again by the next overlap")
}

func TestLateArrivalBeyondSettlePlusOverlapIsAKnownLimit(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	// Created 11:40, indexed at 12:04: 24 minutes late, beyond 2m+5m.
	e.feed.addVisible(api.Activity{ID: "too-late", Type: "x", CreatedAt: at("2026-11-25T11:40:00Z")}, at("2026-11-25T12:04:00Z"))
	for _, now := range []string{"2026-11-25T12:05:00Z", "2026-11-25T12:10:00Z"} {
		e.clock.Set(at(now))
		_, err = run(t, c)
		require.NoError(t, err)
	}
	assert.Empty(t, k.ids(), "documented limit: indexing later than settle+overlap is not collected")
}

func TestNackKeepsCheckpointAndNextJobRedeliversOnlyUnackedActivities(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.cfg.BatchSize = 10
	acts := spread("a", 40, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	e.feed.add(acts...)
	c := e.collector(key)
	var n int
	var mu sync.Mutex
	acked := map[string]bool{}
	var nacked []string
	k, stop := consume(t, c, func(b collector.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		for _, it := range b.Items {
			if n == 3 {
				nacked = append(nacked, it.Activity.ID)
			} else if n > 0 && n < 3 {
				acked[it.Activity.ID] = true
			}
		}
		if n == 3 {
			return errors.New("SIEM rejected the batch")
		}
		if n > 3 {
			return errHold // in flight when the job failed: never acked
		}
		if n <= 0 {
			return nil
		}
		return nil
	})
	defer stop()
	rep, err := startJob(c, time.Time{}, make(chan struct{})).waitAdvancing(t, e.clock, e.clock.Now().Add(time.Minute))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nack")
	assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
	rec := e.record(key)
	assert.Equal(t, "2026-11-25T11:00:00Z", window.Format(rec.ScannedTo), "a nacked slice never commits")
	assert.Len(t, rec.Pending, 20, "acked ids of the failed slice are pending")

	delivered := len(k.ids())
	mu.Lock()
	n = -1000 // the next job acks everything
	mu.Unlock()
	k.releaseHeld(errors.New("SIEM rejected the batch")) // the batches in flight fail too
	_, err = run(t, c)
	require.NoError(t, err)
	again := k.ids()[delivered:]
	assert.Len(t, again, 20, "every activity not acked before is delivered again")
	assert.Subset(t, again, nacked, "the nacked batch is delivered again")
	for _, id := range again {
		assert.False(t, acked[id], "acked activity %s delivered again", id)
	}
	assert.ElementsMatch(t, ids(acts), uniq(k.ids()))
	assert.Empty(t, e.record(key).Pending, "pending is cleared once scanned_to passes it")
}

// sliceRequests returns the first request of every slice (the clock probe
// has no bounds and is left out).
func sliceRequests(reqs []api.ListParams) []api.ListParams {
	var out []api.ListParams
	for _, p := range reqs {
		if p.AfterID == "" && p.CreatedAtGTE != "" {
			out = append(out, p)
		}
	}
	return out
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func TestRestartResumesFromCheckpoint(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	c1 := e.collector(key)
	k1, stop1 := consume(t, c1, nil)
	_, err := run(t, c1)
	require.NoError(t, err)
	stop1()
	require.Len(t, k1.ids(), 20)

	e.feed.add(spread("b", 5, at("2026-11-25T11:59:00Z"), time.Minute)...)
	e.clock.Set(at("2026-11-25T12:10:00Z"))
	before := len(e.feed.requests())
	c2 := e.collector(key) // a new process
	k2, stop2 := consume(t, c2, nil)
	defer stop2()
	_, err = run(t, c2)
	require.NoError(t, err)
	assert.Len(t, k2.ids(), 5, "only the new activities; the overlap is deduplicated from the checkpoint")
	assert.Equal(t, "2026-11-25T11:53:00Z", sliceRequests(e.feed.requests()[before:])[0].CreatedAtGTE, "from = scanned_to - overlap")
}

func TestBoundedLookAheadKeepsAtMostMaxOpenSlices(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T00:00:00Z")
	e.cfg.Slices.Target = 1000000
	e.feed.add(spread("a", 100, at("2026-11-25T00:00:00Z"), 11*time.Hour)...)
	maxOpen := 0
	e.hooks.OnOpen = func(n int, _ time.Time) { maxOpen = max(maxOpen, n) }
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()
	done := make(chan struct{})
	go func() { defer close(done); _, _ = c.RunJob(context.Background(), time.Time{}, make(chan struct{})) }()
	require.Eventually(t, func() bool { return k.heldCount() >= 2 }, 10*time.Second, time.Millisecond)
	// The job blocks for room (its ack warning timer is the one waiter)
	// and fetches nothing more while two slices wait for acks.
	require.Eventually(t, func() bool { return e.clock.Waiters() == 1 }, 10*time.Second, time.Millisecond)
	requests := len(e.feed.requests())
	assert.Equal(t, 2, k.heldCount())
	assert.Equal(t, requests, len(e.feed.requests()))
	for k.heldCount() > 0 || !isClosed(done) {
		k.releaseHeld(nil)
		select {
		case <-done:
		case <-time.After(time.Millisecond):
		}
	}
	assert.Equal(t, 2, maxOpen)
	assert.Len(t, k.ids(), 100)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestAcksAfterTheJobEndedNeverCommit(t *testing.T) {
	// D6: fencing. A job that ends on its drain grace must ignore late acks
	// for commits (they are only recorded as pending by the next job).
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.cfg.JobTimeout = time.Minute
	e.cfg.DrainGrace = 10 * time.Second
	e.feed.add(spread("a", 5, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()
	j := startJob(c, time.Time{}, make(chan struct{}))
	rep, err := j.waitAdvancing(t, e.clock, at("2026-11-25T12:01:10Z"))
	require.ErrorIs(t, err, collector.ErrJobTimeout)
	assert.Equal(t, collector.OutcomeTimeout, rep.Outcome)
	assert.Equal(t, 1, rep.Outstanding)
	require.Equal(t, 1, k.heldCount())
	k.releaseHeld(nil) // arrives after the job: fenced
	rec := e.record(key)
	assert.Equal(t, "2026-11-25T11:00:00Z", window.Format(rec.ScannedTo))
	assert.EqualValues(t, 1, rec.Rev, "a late ack writes nothing by itself")
}

func TestJobThatCommitsNothingHalvesTheNextSlice(t *testing.T) {
	// D5: a slice too big for job_timeout shrinks until it fits.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T10:00:00Z")
	e.cfg.JobTimeout = time.Minute
	e.cfg.DrainGrace = 10 * time.Second
	e.cfg.Slices.MinSlice = time.Minute
	e.feed.add(spread("a", 5, at("2026-11-25T10:00:00Z"), 50*time.Minute)...)
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()
	span := func(p api.ListParams) time.Duration {
		from, _ := time.Parse(time.RFC3339, p.CreatedAtGTE)
		to, _ := time.Parse(time.RFC3339, p.CreatedAtLT)
		return to.Sub(from)
	}
	_, err := startJob(c, time.Time{}, make(chan struct{})).waitAdvancing(t, e.clock, e.clock.Now().Add(2*time.Minute))
	require.ErrorIs(t, err, collector.ErrJobTimeout)
	first := sliceRequests(e.feed.requests())
	grown := span(first[len(first)-1]) // sparse data: the slices grew while job 1 ran
	before := len(e.feed.requests())
	// The held batches of job 1 are released (nacked) so that job 2 runs.
	k.releaseHeld(errors.New("output down"))
	_, err = startJob(c, time.Time{}, make(chan struct{})).waitAdvancing(t, e.clock, e.clock.Now().Add(2*time.Minute))
	require.ErrorIs(t, err, collector.ErrJobTimeout)
	assert.Equal(t, grown/2, span(sliceRequests(e.feed.requests()[before:])[0]), "the next job starts with half the last slice length")
}

func TestServerClockClampsACollectorClockRunningAhead(t *testing.T) {
	// L7: the local clock is an hour ahead of the API.
	e := newEnv(t, "2026-11-25T13:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.date = func() time.Time { return at("2026-11-25T12:00:00Z") }
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c) // learns the server date on its first response
	require.NoError(t, err)
	_, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, "2026-11-25T11:58:00Z", window.Format(e.record(key).ScannedTo), "never commits past server time - settle")
}

func TestIdentityMismatchIsRefusedUnlessAdopted(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	_, err := run(t, c)
	require.NoError(t, err)
	stop()

	e.cfg.Filters = collector.Filters{ExcludeActivityTypes: []string{"compliance_api_accessed"}}
	c2 := e.collector(key)
	_, stop2 := consume(t, c2, nil)
	defer stop2()
	_, err = run(t, c2)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "state.adopt")
	assert.Error(t, c2.Health())

	e.cfg.Adopt = true
	c3 := e.collector(key)
	_, stop3 := consume(t, c3, nil)
	defer stop3()
	_, err = run(t, c3)
	require.NoError(t, err)
	assert.Equal(t, e.cfg.Filters.Hash(), e.record(key).Identity.Filters)
}

func TestForeignWriteFailsTheJobLoudlyAndMarksUnhealthy(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 10, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	c := e.collector(key)
	_, stop := consume(t, c, func(collector.Batch) error {
		// An operator edit lands while the job runs.
		k := checkpoint.NewKeeper(e.store, key)
		if r, err := k.Load(context.Background()); err == nil && r != nil && r.Rev == 1 {
			_ = k.Save(context.Background(), r)
		}
		return nil
	})
	defer stop()
	_, err := run(t, c)
	var conflict *checkpoint.ConflictError
	require.ErrorAs(t, err, &conflict)
	assert.Error(t, c.Health())
	assert.EqualValues(t, 2, e.record(key).Rev, "the foreign write is kept")
}

func TestRepeatedFailuresMarkTheCollectorUnhealthyAndRecover(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	fail := true
	e.feed.fail = func(int, api.ListParams) error {
		if fail {
			return &api.Error{Status: 500, Type: "api_error", Message: "boom", RequestID: "req_x"}
		}
		return nil
	}
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	for i := 0; i < 3; i++ {
		assert.NoError(t, c.Health(), "healthy before the third failure (%d)", i)
		_, err := run(t, c)
		require.Error(t, err)
	}
	require.Error(t, c.Health())
	assert.Contains(t, c.Health().Error(), "3 consecutive jobs failed")
	fail = false
	_, err := run(t, c)
	require.NoError(t, err)
	assert.NoError(t, c.Health())
}

func TestAuthFailureMarksUnhealthyAtOnce(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.feed.fail = func(int, api.ListParams) error {
		return &api.Error{Status: 403, Type: "permission_error", Message: "Missing required scopes. Needed: ['read:compliance_activities']"}
	}
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.Error(t, err)
	require.Error(t, c.Health())
	assert.Contains(t, c.Health().Error(), "read:compliance_activities")
}

func TestStateTrackingOffCollectsItsOwnShiftedWindowAndPersistsNothing(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:05:00Z")
	e.cfg.StateTracking = false
	e.cfg.Earliest = timeexpr.MustParse("-5m@m")
	e.cfg.Latest = timeexpr.MustParse("@m")
	e.feed.add(
		api.Activity{ID: "in", Type: "x", CreatedAt: at("2026-11-25T11:58:30Z")},
		api.Activity{ID: "out", Type: "x", CreatedAt: at("2026-11-25T12:03:30Z")},
	)
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, "2026-11-25T11:58:00Z", rep.From)
	assert.Equal(t, "2026-11-25T12:03:00Z", rep.To)
	assert.Equal(t, []string{"in"}, k.ids())
	_, err = e.store.Load(context.Background(), key)
	assert.ErrorIs(t, err, checkpoint.ErrNotFound)
	_, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"in", "in"}, k.ids(), "tracking off re-collects the window")
}

func TestOnceCollectsExactlyItsRangeAndReportsCompletion(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Once = true
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T08:00:00Z")
	e.cfg.Latest = timeexpr.MustParse("2026-11-25T10:00:00Z")
	e.feed.add(
		api.Activity{ID: "before", Type: "x", CreatedAt: at("2026-11-25T07:59:59Z")},
		api.Activity{ID: "in", Type: "x", CreatedAt: at("2026-11-25T09:00:00Z")},
		api.Activity{ID: "after", Type: "x", CreatedAt: at("2026-11-25T10:00:00Z")},
	)
	c := e.collector("once-key")
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.True(t, rep.Complete)
	assert.Equal(t, []string{"in"}, k.ids())
	rec := e.record("once-key")
	assert.Equal(t, "once", rec.Identity.Mode)
	assert.Equal(t, "2026-11-25T10:00:00Z", window.Format(rec.Until))
}

func TestSoftStopCommitsWhatIsAckedAndRecordsNothingForUndelivered(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.cfg.BatchSize = 5
	e.feed.add(spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	c := e.collector(key)
	soft := make(chan struct{})
	var n int
	var mu sync.Mutex
	k, stop := consume(t, c, func(collector.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 2 {
			return errHold // never acked: dropped at shutdown
		}
		return nil
	})
	defer stop()
	done := make(chan error, 1)
	go func() { _, err := c.RunJob(context.Background(), time.Time{}, soft); done <- err }()
	require.Eventually(t, func() bool { return len(k.ids()) == 20 }, 10*time.Second, time.Millisecond)
	close(soft)
	err := <-done
	require.Error(t, err)
	rec := e.record(key)
	assert.Equal(t, "2026-11-25T11:00:00Z", window.Format(rec.ScannedTo))
	assert.Len(t, rec.Pending, 15, "acked ids are kept; the unacked batch will be delivered again")
}

func TestDefaultStateKeepsLatestTimeAndNeverMovesTheWindow(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(api.Activity{ID: "a", Type: "x", CreatedAt: at("2026-11-25T11:30:00.250Z")})
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	rec := e.record(key)
	assert.EqualValues(t, at("2026-11-25T11:30:00.250Z").UnixMilli(), rec.State["latestTime"])
}

// futureState is a user mapping that writes a latestTime far in the future
// (the "last run time" idiom, or microseconds read as milliseconds).
type futureState struct{ collector.DefaultState }

func (futureState) Update(s map[string]any, _ api.Activity) (map[string]any, error) {
	return map[string]any{"latestTime": float64(4102444800000000)}, nil
}

func TestCustomStateInTheFutureNeverSkipsData(t *testing.T) {
	// L5: user state never moves the window.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.state = futureState{}
	e.feed.add(api.Activity{ID: "a", Type: "x", CreatedAt: at("2026-11-25T11:30:00Z")})
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	e.feed.add(api.Activity{ID: "b", Type: "x", CreatedAt: at("2026-11-25T11:59:00Z")})
	e.clock.Set(at("2026-11-25T12:10:00Z"))
	_, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, k.ids())
	assert.Equal(t, float64(4102444800000000), e.record(key).State["latestTime"])
}

func TestGuardFailureEndsTheJobWithoutCommit(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 10, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	e.feed.perPage = 3
	e.feed.mutate = func(call int, p *api.Page) {
		if call == 2 {
			p.LastID = ""
		}
	}
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "last_id is null")
	assert.Equal(t, "2026-11-25T11:00:00Z", window.Format(e.record(key).ScannedTo))
}

func TestFirstSliceStartsAtMinSliceAndGrowsWithTheDensity(t *testing.T) {
	// D1/M3: a job's first slice must not be max_slice whatever the density,
	// or one slice (and what a crash re-delivers) is unbounded.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Slices = window.SliceConfig{MinSlice: time.Minute, MaxSlice: 24 * time.Hour, Target: 300}
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 3000, at("2026-11-25T11:00:00Z"), 50*time.Minute)...) // 60 a minute
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	assert.Len(t, k.ids(), 3000)
	reqs := sliceRequests(e.feed.requests())
	first, _ := time.Parse(time.RFC3339, reqs[0].CreatedAtLT)
	assert.Equal(t, at("2026-11-25T11:01:00Z"), first, "the first slice is min_slice long")
	for _, p := range reqs {
		from, _ := time.Parse(time.RFC3339, p.CreatedAtGTE)
		to, _ := time.Parse(time.RFC3339, p.CreatedAtLT)
		assert.LessOrEqual(t, to.Sub(from), 10*time.Minute, "slices follow the density (about 5 minutes for 300 at 60/min)")
	}
}
