package e2e_test

// One end-to-end test per collection rule of the collection model, each
// through the real Benthos engine, the input's config and the fake API. The
// comment of each test names the scenario of design-review.md it closes
// (L loss, D duplicate, S stall, M memory/budget, O operator surprise).
// Unless a test studies slice adaptation, its slices are a fixed hour
// (min_slice: 1h; the input's default starts at min_slice and grows), so
// that scenarios read as "slice 1, slice 2".

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

var wholeSecond = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// L8: every bound sent is a whole second, adjacent slices share the identical
// string as one's created_at.lt and the next one's created_at.gte (no
// sub-second gap), every cursor request resends the slice's bounds and
// filters, and the job's end is now - settle truncated to the second.
func TestSliceBoundsAreWholeSecondsAndAdjacentSlicesShareTheIdenticalString(t *testing.T) {
	now := at("2026-11-25T12:00:00Z").Add(789 * time.Millisecond)
	data := spread("a", 2000, at("2026-11-25T06:00:00Z"), 5*time.Hour+50*time.Minute)
	// Sub-second created_at values right at slice edges.
	data = append(data,
		act("activity_01ms0001", "claude_chat_created", at("2026-11-25T07:59:59Z").Add(999*time.Millisecond)),
		act("activity_01ms0002", "claude_chat_created", at("2026-11-25T08:00:00Z").Add(1*time.Millisecond)),
	)
	r := newRig(t, now, fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  target_per_slice: 300
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T06:00:00Z"
      page_size: 200
      filters:
        exclude_activity_types: [compliance_api_accessed]
`), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")

	requireExactlyOnce(t, ids(data), r.sink.delivered())
	bounds := map[string]string{} // gte -> lt of every slice
	var slices []url.Values
	for _, rec := range r.api.Requests() {
		q := rec.Query
		if q.Get("created_at.gte") == "" {
			continue // the one clock probe (limit=1) has no bounds
		}
		assert.Regexp(t, wholeSecond, q.Get("created_at.gte"))
		assert.Regexp(t, wholeSecond, q.Get("created_at.lt"))
		assert.Equal(t, []string{"compliance_api_accessed"}, q["exclude_activity_types[]"], "filters are resent on every page")
		if q.Get("after_id") == "" {
			slices = append(slices, q)
			bounds[q.Get("created_at.gte")] = q.Get("created_at.lt")
		} else {
			assert.Equal(t, bounds[q.Get("created_at.gte")], q.Get("created_at.lt"), "a cursor request keeps its slice's bounds")
		}
	}
	require.Greater(t, len(slices), 3)
	assert.Equal(t, "2026-11-25T06:00:00Z", slices[0].Get("created_at.gte"))
	for i := 1; i < len(slices); i++ {
		assert.Equal(t, slices[i-1].Get("created_at.lt"), slices[i].Get("created_at.gte"), "slice %d starts where slice %d ends", i, i-1)
	}
	assert.Equal(t, "2026-11-25T11:58:00Z", slices[len(slices)-1].Get("created_at.lt"), "to = now - settle, truncated to the second")
	assert.Equal(t, "2026-11-25T11:58:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo))
}

// L7: the collector's clock runs an hour ahead of the API's. Bounds follow the
// API's Date header (now = min(local, server + elapsed)), so the checkpoint
// never passes server time - settle and activities created after the local
// clock's "now - settle" are still collected.
func TestCollectorClockAheadOfTheAPINeverCommitsPastServerTimeMinusSettle(t *testing.T) {
	data := spread("a", 50, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{inputAhead: time.Hour})
	st := r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{metrics: true})
	r.waitJobTo("2026-11-25T11:58:00Z")
	assert.Equal(t, "2026-11-25T11:58:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo), "server 12:00 - settle, not local 13:00 - settle")
	assert.True(t, r.logs.contains(0, "differs from the Compliance API's Date header"), "the skew is warned about:\n%s", r.logs.dump())
	assert.EqualValues(t, 3600, st.scrape().must(t, "compliance_clock_skew_seconds"))

	// Created at 12:03 by the API's clock: with the local clock trusted the
	// checkpoint would already be at 12:58 and this activity lost.
	later := act("activity_01later", "claude_chat_created", at("2026-11-25T12:03:00Z"))
	require.NoError(t, r.api.Add(later))
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.waitJobTo("2026-11-25T12:08:00Z")
	requireExactlyOnce(t, append(ids(data), later.ID), r.sink.delivered())
}

// M2: slice length adapts to density: a dense hour shrinks the next slice to
// max_slice × target / seen; empty slices then double it up to max_slice, so
// sparse history costs few requests.
func TestDenseDataShrinksSlicesAndEmptySlicesDoubleThemUpToMaxSlice(t *testing.T) {
	data := spread("a", 2000, at("2026-11-25T09:00:00Z"), time.Hour)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  target_per_slice: 200
  min_slice: 1m
  max_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
`), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, ids(data), r.sink.delivered())

	var spans []time.Duration
	for _, q := range r.sliceRequests() {
		from, _ := time.Parse(time.RFC3339, q.Get("created_at.gte"))
		to, _ := time.Parse(time.RFC3339, q.Get("created_at.lt"))
		spans = append(spans, to.Sub(from))
	}
	require.Greater(t, len(spans), 5)
	assert.Equal(t, time.Minute, spans[0], "the first slice is min_slice long")
	// 2000 activities in 09:00–10:00 (about 33 a minute): slices of about
	// 200 activities are about 6 minutes long.
	dense := 0
	for _, d := range spans[1:] {
		if d >= 5*time.Minute && d <= 7*time.Minute {
			dense++
		}
	}
	assert.GreaterOrEqual(t, dense, 8, "slices in the dense hour hold about target_per_slice: %v", spans)
	// After 10:00 the feed is empty: each slice doubles, up to max_slice.
	for i := len(spans) - 4; i < len(spans)-2; i++ {
		assert.InDelta(t, float64(2*spans[i]), float64(spans[i+1]), float64(2*time.Second), "empty slices double: %v", spans)
	}
	for _, d := range spans {
		assert.LessOrEqual(t, d, time.Hour, "never above max_slice")
	}
}

// D1: with outputs holding every ack, at most max_open_slices slices are
// fetched and delivered; nothing else is read until a slice commits. A crash
// at that point re-delivers at most those slices.
func TestHeldAcksBoundLookAheadToMaxOpenSlices(t *testing.T) {
	data := spread("a", 110, at("2026-11-25T00:00:00Z"), 11*time.Hour) // 10 per hour
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	st := r.start(r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  max_open_slices: 2
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T00:00:00Z"
`), streamOptions{metrics: true})
	r.sink.waitHeld(t, 2)
	require.Eventually(t, func() bool { open, _ := st.scrape().value("compliance_open_slices"); return open == 2 }, 10*time.Second, 5*time.Millisecond)
	// A bounded look: nothing more may be fetched while both slices wait.
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 2, r.sink.heldCount())
	assert.Len(t, r.sink.delivered(), 20, "two one-hour slices of 10 activities, nothing beyond")
	assert.Len(t, r.sliceRequests(), 2, "no third slice is requested")
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T00:00:00Z", ts(rec.ScannedTo))

	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)
	r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, ids(data), r.sink.delivered())
}

// L2: slice k waits for its ack while slice k+1 is nacked. k commits when
// its ack comes; nothing of k+1 reaches the checkpoint (its ids are neither
// seen nor pending), so the next run delivers k+1 again instead of dropping
// it as already seen.
func TestNackedSliceNeverLeaksIntoSeenWhileTheSliceBeforeItCommits(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T09:00:00Z"), 3*time.Hour) // 10 per hour-long slice
	// Inside slice k's last overlap (5m): kept in seen when k commits.
	data = append(data, act("activity_01edge1", "claude_chat_created", at("2026-11-25T09:58:00Z")))
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	var once sync.Once
	r.sink.setPolicy(func(d delivery) verdict {
		switch d.Meta[0]["compliance_slice_from"] {
		case "2026-11-25T09:00:00Z":
			return holdIt
		case "2026-11-25T10:00:00Z":
			v := ackIt
			once.Do(func() { v = nackIt })
			return v
		}
		return ackIt
	})
	cfg := r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  max_open_slices: 2
  drain_grace: 20s
  auto_replay_nacks: false
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
`)
	first := r.start(cfg, streamOptions{})
	r.sink.waitHeld(t, 1)
	require.Eventually(t, func() bool { return r.sink.nackedCount() == 1 }, 10*time.Second, 5*time.Millisecond)
	r.sink.releaseAll(nil) // slice k is acked after k+1 failed
	rep := r.waitJob("the job fails on the nack", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "nack")

	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T10:00:00Z", ts(rec.ScannedTo), "slice k committed")
	for _, a := range data {
		seen := rec.Seen.Has(a.ID)
		_, pending := rec.Pending[a.ID]
		switch {
		case !a.CreatedAt.Before(at("2026-11-25T10:00:00Z")):
			assert.False(t, seen || pending, "%s of slice k+1 leaked into the checkpoint", a.ID)
		case !a.CreatedAt.Before(at("2026-11-25T09:55:00Z")):
			assert.True(t, seen, "%s of slice k, inside the overlap, is seen", a.ID)
		}
	}
	assert.Equal(t, "2026-11-25T09:55:00Z", ts(rec.SeenFrom))
	require.NoError(t, first.stop())

	r.sink.setPolicy(nil)
	r.start(cfg, streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	acked := r.sink.ackedIDs()
	for _, a := range data {
		assert.Equal(t, 1, acked[a.ID], "%s acknowledged exactly once over both runs", a.ID)
	}
}

// L3: acks of the first pages, arriving while the walk is still fetching,
// never commit the slice: a crash then would lose its rest. The slice
// commits once its walk ended (has_more=false) and every batch is acked.
func TestAcksBeforeTheWalkEndsDoNotCommitTheSlice(t *testing.T) {
	data := spread("a", 50, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	var cursorRequests int
	r.gate.holdWhen(func(q url.Values) bool {
		if q.Get("after_id") == "" {
			return false
		}
		cursorRequests++
		return cursorRequests == 3 // page 4 of 5
	})
	r.start(r.config(`
  min_slice: 1h
  batch_size: 5
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"
      page_size: 10
`), streamOptions{})
	require.Eventually(t, func() bool { return r.gate.held() == 1 && len(r.sink.ackedIDs()) == 30 }, 10*time.Second, 5*time.Millisecond)
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T11:00:00Z", ts(rec.ScannedTo), "30 activities acked, but the walk has not ended")
	assert.EqualValues(t, 1, rec.Rev, "only the initial checkpoint was written")
	assert.Zero(t, rec.Seen.Len())

	r.gate.releaseAll()
	r.waitJobTo("2026-11-25T11:58:00Z")
	assert.Equal(t, "2026-11-25T11:58:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo))
	requireExactlyOnce(t, ids(data), r.sink.delivered())
}

// L3: slices that emit nothing (empty, or every activity already seen) have
// no ack to wait for; they commit at once, and later slices are never stuck
// behind them.
func TestEmptyAndFullyDeduplicatedSlicesCommitWithoutAnAck(t *testing.T) {
	data := []fakeapi.Activity{
		act("activity_01only1", "claude_chat_created", at("2026-11-25T11:30:00Z")),
		act("activity_01only2", "claude_chat_created", at("2026-11-25T11:55:00Z")),
	}
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	cfg := r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T06:00:00Z"
`)
	first := r.start(cfg, streamOptions{})
	r.sink.waitHeld(t, 1)
	// Five empty one-hour slices commit while the last slice's batch is held.
	r.waitScannedTo(stateKey, "2026-11-25T11:00:00Z")
	assert.Equal(t, "2026-11-25T11:00:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo), "the held slice does not commit")
	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)
	r.waitJobTo("2026-11-25T11:58:00Z")
	require.NoError(t, first.stop())

	// The next job re-reads the overlap [11:53, 12:08): its only activity was
	// delivered already, so the slice is fully deduplicated and still commits.
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.start(cfg, streamOptions{})
	rep := r.waitJobTo("2026-11-25T12:08:00Z")
	assert.Equal(t, "0", rep["activities_emitted"])
	assert.Equal(t, "1", rep["activities_deduplicated"])
	assert.Equal(t, "2026-11-25T12:08:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo))
	requireExactlyOnce(t, ids(data), r.sink.delivered())
}

// D5: a nacked batch with auto_replay_nacks: false fails the job; the slice
// does not commit, but the ids of its acked batches are kept as pending, so
// the next job delivers only what was not acked (no endless re-delivery of
// the acked prefix).
func TestNackWithoutReplayKeepsAckedIDsPendingAndTheNextJobDeliversOnlyTheRest(t *testing.T) {
	data := spread("a", 40, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(d delivery) verdict {
		if d.N == 3 {
			return nackIt
		}
		return ackIt
	})
	cfg := r.config(`
  min_slice: 1h
  batch_size: 10
  auto_replay_nacks: false
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"
`)
	first := r.start(cfg, streamOptions{maxInFlight: 1})
	r.waitJob("the nack fails the job", func(rep report) bool { return rep["outcome"] == "failed" })
	require.NoError(t, first.stop())
	ackedBefore := r.sink.ackedIDs()
	require.GreaterOrEqual(t, len(ackedBefore), 20, "the two batches before the nack were acked")
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T11:00:00Z", ts(rec.ScannedTo), "a nacked slice never commits")
	pending := make([]string, 0, len(rec.Pending))
	for id := range rec.Pending {
		pending = append(pending, id)
	}
	assert.ElementsMatch(t, keys(ackedBefore), pending, "pending = the acked ids of the failed slice")

	r.sink.setPolicy(nil)
	deliveredBefore := len(r.sink.delivered())
	r.start(cfg, streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, unacked(data, ackedBefore), r.sink.delivered()[deliveredBefore:])
	rec = r.mustCheckpoint(stateKey)
	assert.Empty(t, rec.Pending, "pending is dropped once scanned_to passes it")
	assert.Equal(t, "2026-11-25T11:58:00Z", ts(rec.ScannedTo))
}

// D6: a job that reached job_timeout while its batches were held ends after
// drain_grace; acks that arrive afterwards belong to an ended generation and
// never commit (nor become pending).
func TestAcksArrivingAfterAJobTimedOutNeverCommit(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T09:00:00Z"), 3*time.Hour)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	st := r.start(r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  drain_grace: 100ms
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
      job_timeout: 1s
`), streamOptions{})
	r.waitJob("job_timeout", func(rep report) bool { return rep["outcome"] == "timeout" })
	require.Equal(t, 2, r.sink.heldCount())
	r.sink.releaseAll(nil) // late acks of the ended job
	// A graceful stop waits until Benthos has called every AckFunc.
	require.NoError(t, st.stop())
	assert.Len(t, r.sink.ackedIDs(), 20, "the late acks did happen")
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T09:00:00Z", ts(rec.ScannedTo), "late acks never commit")
	assert.EqualValues(t, 1, rec.Rev, "nothing was written after the initial checkpoint")
	assert.Empty(t, rec.Pending)
}

// unacked returns the ids of data that acked does not count.
func unacked(data []fakeapi.Activity, acked map[string]int) []string {
	var out []string
	for _, a := range data {
		if acked[a.ID] == 0 {
			out = append(out, a.ID)
		}
	}
	return out
}

// L9: an operator edit (or another instance) changes the checkpoint while a
// job runs. The job's next write re-reads the rev, fails loudly and leaves the
// foreign record in place; the input reports not ready.
func TestCheckpointEditedWhileRunningFailsTheJobInsteadOfBeingOverwritten(t *testing.T) {
	data := spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.gate.holdWhen(func(q url.Values) bool { return q.Get("created_at.gte") != "" }) // the first slice request
	st := r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{})
	require.Eventually(t, func() bool { return r.gate.held() == 1 }, 10*time.Second, 5*time.Millisecond)

	edited := r.mustCheckpoint(stateKey)
	require.EqualValues(t, 1, edited.Rev)
	edited.Rev = 7
	edited.State = map[string]any{"operator": "edited"}
	doc, err := edited.Encode()
	require.NoError(t, err)
	require.NoError(t, r.store.Set(stateKey, doc))
	r.gate.releaseAll()

	rep := r.waitJob("the conflicting write fails the job", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "changed by someone else")
	rec := r.mustCheckpoint(stateKey)
	assert.EqualValues(t, 7, rec.Rev, "the foreign write is kept")
	assert.Equal(t, "edited", rec.State["operator"])
	assert.Equal(t, "2026-11-25T11:00:00Z", ts(rec.ScannedTo))
	assert.True(t, r.logs.contains(0, "checkpoint write failed"), "logged:\n%s", r.logs.dump())
	require.Eventually(t, func() bool { return st.ready() == 503 }, 30*time.Second, 10*time.Millisecond, "the input reports not ready")
}

// L9: the checkpoint records endpoint, base URL and a hash of the filters.
// Changing the filters between runs is refused with a message saying how to
// adopt or reset it; state.adopt: true adopts it and resumes where it was.
func TestChangedFiltersAreRefusedUntilTheCheckpointIsAdopted(t *testing.T) {
	data := spread("a", 10, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	endpoint := func(filters string) string {
		return `
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"` + filters + "\n"
	}
	const exclude = `
      filters:
        exclude_activity_types: [compliance_api_accessed]`

	first := r.start(r.config(endpoint("")), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	require.NoError(t, first.stop())
	before := r.mustCheckpoint(stateKey)

	refused := r.start(r.config(endpoint(exclude)), streamOptions{})
	rep := r.waitJob("identity mismatch", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "belongs to another collector")
	assert.Contains(t, rep["error"], "state.adopt: true")
	assert.Contains(t, rep["error"], "state delete")
	require.Eventually(t, func() bool { return refused.ready() == 503 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, refused.stop())
	assert.Equal(t, before, r.mustCheckpoint(stateKey), "a refused checkpoint is left untouched")

	later := act("activity_01later", "claude_chat_created", at("2026-11-25T12:01:00Z"))
	require.NoError(t, r.api.Add(later))
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	deliveredBefore := len(r.sink.delivered())
	r.start(r.render(inputConfig{state: "    adopt: true", extra: endpoint(exclude)}), streamOptions{})
	r.waitJobTo("2026-11-25T12:08:00Z")
	assert.Equal(t, []string{later.ID}, r.sink.delivered()[deliveredBefore:], "adopted: resumes, nothing re-delivered")
	rec := r.mustCheckpoint(stateKey)
	assert.NotEqual(t, before.Identity.Filters, rec.Identity.Filters, "the identity now records the new filters")
	assert.True(t, r.logs.contains(0, "adopting checkpoint"))
}

// L6: a volatile cache (memory, lru, ttlru, noop) loses the checkpoint and
// restarts collection from earliest; it is refused unless allow_volatile is
// set. Benthos does not tell plugins a resource's type: the binary passes it
// with compliance.WithCacheTypes, which this test does the same way.
func TestVolatileCacheIsRefusedUnlessAllowed(t *testing.T) {
	types := compliance.WithCacheTypes(func(name string) (string, bool) {
		if name == "state_mem" {
			return "memory", true
		}
		return "", false
	})
	data := spread("a", 5, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	const resources = `
cache_resources:
  - label: state_mem
    memory:
      compaction_interval: ""
`
	cacheEndpoint := `
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"
`
	t.Run("refused", func(t *testing.T) {
		r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{types}})
		st := r.start(r.render(inputConfig{state: "    cache: state_mem", extra: cacheEndpoint}), streamOptions{resources: resources})
		err := st.waitEnded()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `state.cache: cache resource "state_mem" is a memory cache`)
		assert.Contains(t, err.Error(), "state.allow_volatile: true")
		assert.Empty(t, r.sink.delivered())
	})
	t.Run("allowed", func(t *testing.T) {
		r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{types}})
		r.start(r.render(inputConfig{state: "    cache: state_mem\n    allow_volatile: true", extra: cacheEndpoint}), streamOptions{resources: resources})
		r.waitJobTo("2026-11-25T11:58:00Z")
		requireExactlyOnce(t, ids(data), r.sink.delivered())
		assert.True(t, r.logs.contains(0, "volatile memory cache"), "a warning is logged:\n%s", r.logs.dump())
		_, onDisk := r.checkpoint(stateKey)
		assert.False(t, onDisk, "the checkpoint lives in the cache, not the state directory")
	})
	t.Run("type unknown", func(t *testing.T) {
		r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
		r.start(r.render(inputConfig{state: "    cache: state_mem", extra: cacheEndpoint}), streamOptions{resources: resources})
		r.waitJobTo("2026-11-25T11:58:00Z")
		assert.True(t, r.logs.contains(0, `cannot verify that cache resource "state_mem" is durable`), "logged:\n%s", r.logs.dump())
	})
}

// L1: the first job resolves earliest once and saves it before its first
// request. A first job that fails (here: the key is refused) keeps that
// floor, so a relative earliest that would now resolve a day later never
// drops the oldest day.
func TestFailedFirstJobKeepsTheResolvedEarliest(t *testing.T) {
	old := act("activity_01oldday", "claude_chat_created", at("2026-11-24T06:00:00Z"))
	r := newRig(t, at("2026-11-25T23:50:00Z"), fakeapi.Options{Dataset: []fakeapi.Activity{old}}, rigOptions{})
	cfg := r.config(`
  min_slice: 1h
  max_slice: 24h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: -1d@d
`)
	r.gate.refuseAll(true)
	first := r.start(cfg, streamOptions{})
	r.waitJob("the refused key fails the first job", func(rep report) bool { return rep["outcome"] == "failed" })
	require.NoError(t, first.stop())
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-24T00:00:00Z", ts(rec.Floor))
	assert.Equal(t, "2026-11-24T00:00:00Z", ts(rec.ScannedTo))

	r.gate.refuseAll(false)
	r.clock.Set(at("2026-11-26T00:20:00Z")) // -1d@d now means 2026-11-25T00:00:00Z
	r.start(cfg, streamOptions{})
	r.waitJobTo("2026-11-26T00:18:00Z")
	assert.Equal(t, []string{old.ID}, r.sink.delivered())
	assert.Equal(t, "2026-11-24T00:00:00Z", r.sliceRequests()[0].Get("created_at.gte"))
	assert.True(t, r.logs.contains(0, "resuming from checkpoint", `earliest "-1d@d" ignored`), "logged:\n%s", r.logs.dump())
}

// L1a: earliest: now makes the first window empty (from > now - settle). The
// floor is saved anyway, so later jobs collect from it instead of treating
// every job as a first one forever.
func TestEarliestNowStartsCollectingOnceTheWindowOpens(t *testing.T) {
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: now
`), streamOptions{})
	r.waitJob("an empty first job", func(rep report) bool { return rep["outcome"] == "empty" })
	assert.Equal(t, "2026-11-25T12:00:00Z", ts(r.mustCheckpoint(stateKey).Floor))

	first := act("activity_01first", "claude_chat_created", at("2026-11-25T12:01:00Z"))
	require.NoError(t, r.api.Add(first))
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.waitJobTo("2026-11-25T12:08:00Z")
	assert.Equal(t, []string{first.ID}, r.sink.delivered())
}

// L5: a custom state update that writes a latestTime far in the future (the
// "last run time" idiom, or microseconds read as milliseconds) is saved and
// exposed, but never moves the window: the next job still reads from
// scanned_to - overlap.
func TestUserStateInTheFutureNeverMovesTheWindow(t *testing.T) {
	data := []fakeapi.Activity{act("activity_01first", "claude_chat_created", at("2026-11-25T11:30:00Z"))}
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T11:00:00Z"
      state_tracking:
        update: |
          root = @state
          root.latestTime = 4102444800000000
`), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	assert.EqualValues(t, 4102444800000000, r.mustCheckpoint(stateKey).State["latestTime"])

	next := act("activity_01next", "claude_chat_created", at("2026-11-25T11:59:00Z"))
	require.NoError(t, r.api.Add(next))
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.waitJobTo("2026-11-25T12:08:00Z")
	assert.Equal(t, []string{data[0].ID, next.ID}, r.sink.delivered())
	var windows []string
	for _, q := range r.sliceRequests() {
		windows = append(windows, q.Get("created_at.gte")+".."+q.Get("created_at.lt"))
	}
	assert.Contains(t, windows, "2026-11-25T11:53:00Z..2026-11-25T12:08:00Z",
		"the job after the clock moved read from scanned_to - overlap, not from the saved latestTime")
	metas := r.sink.metas()
	assert.JSONEq(t, `{"latestTime":4102444800000000}`, metas[len(metas)-1]["compliance_state"], "the saved state is exposed as metadata")
}

// L4: with state tracking off every job collects [earliest - settle,
// latest - settle) on its own and saves nothing, so tiling windows such as
// -5m@m..@m every five minutes leave no gap, and a window is collected again
// by every job that covers it.
func TestStateTrackingOffShiftsTheWindowBySettleAndRecollectsIt(t *testing.T) {
	data := []fakeapi.Activity{
		act("activity_01before", "claude_chat_created", at("2026-11-25T11:57:59Z")),
		act("activity_01in", "claude_chat_created", at("2026-11-25T11:58:30Z")),
		act("activity_01next", "claude_chat_created", at("2026-11-25T12:03:30Z")),
	}
	r := newRig(t, at("2026-11-25T12:05:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: -5m@m
      latest: "@m"
      state_tracking:
        enabled: false
`), streamOptions{})
	require.Eventually(t, func() bool { return count(r.sink.delivered())["activity_01in"] >= 2 }, 30*time.Second, 5*time.Millisecond,
		"every job re-collects its window")
	qs := r.sliceRequests()
	assert.Equal(t, "2026-11-25T11:58:00Z", qs[0].Get("created_at.gte"), "12:00 - settle")
	var ends []string
	for _, q := range qs {
		ends = append(ends, q.Get("created_at.lt"))
	}
	assert.Contains(t, ends, "2026-11-25T12:03:00Z", "12:05 - settle ends the window (slices start at min_slice)")
	for _, end := range ends {
		assert.LessOrEqual(t, end, "2026-11-25T12:03:00Z", "no slice reads past latest - settle")
	}

	r.clock.Set(at("2026-11-25T12:10:00Z")) // the next tiling window: [12:03, 12:08)
	require.Eventually(t, func() bool { return count(r.sink.delivered())["activity_01next"] >= 1 }, 30*time.Second, 5*time.Millisecond)
	assert.Zero(t, count(r.sink.delivered())["activity_01before"], "outside both windows")
	entries, err := os.ReadDir(r.dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is saved")
}

// O1: schedule: once collects exactly [earliest, latest) under its own key
// (…/once/<hash>, never the continuous checkpoint), then ends the input: the
// stream's Run returns by itself, and WithOnceResult (the binary's exit code)
// learns how it ended.
func TestOnceBackfillCollectsItsRangeUnderItsOwnKeyAndEndsTheInput(t *testing.T) {
	inRange := spread("a", 120, at("2026-11-25T08:00:00Z"), 2*time.Hour)
	data := append([]fakeapi.Activity{
		act("activity_01before", "claude_chat_created", at("2026-11-25T07:59:59Z")),
		act("activity_01after", "claude_chat_created", at("2026-11-25T10:00:00Z")),
	}, inRange...)
	cfg := `
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: once
      earliest: "2026-11-25T08:00:00Z"
      latest: "2026-11-25T10:00:00Z"
      page_size: 50
`
	type result struct {
		label string
		err   error
	}
	t.Run("success", func(t *testing.T) {
		results := make(chan result, 2)
		onceResult := compliance.WithOnceResult(func(label string, err error) { results <- result{label, err} })
		r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{onceResult}})
		st := r.start(r.config(cfg), streamOptions{})
		require.NoError(t, st.waitEnded(), "the input ends and the stream with it")
		res := <-results
		assert.Equal(t, "e2e", res.label)
		assert.NoError(t, res.err)
		requireExactlyOnce(t, ids(inRange), r.sink.delivered())

		all, err := os.ReadDir(r.dir)
		require.NoError(t, err)
		var entries []os.DirEntry
		for _, e := range all {
			if !strings.HasPrefix(e.Name(), ".lock-") { // the key's write lock
				entries = append(entries, e)
			}
		}
		require.Len(t, entries, 1, "one checkpoint, and not the continuous one")
		key, err := url.PathUnescape(entries[0].Name())
		require.NoError(t, err)
		assert.Regexp(t, `^anthropic_compliance/e2e/activities/once/[0-9a-f]{12}$`, key)
		rec := r.mustCheckpoint(key)
		assert.Equal(t, "once", rec.Identity.Mode)
		assert.Equal(t, "2026-11-25T10:00:00Z", ts(rec.Until))
		assert.Equal(t, "2026-11-25T10:00:00Z", ts(rec.ScannedTo))
		_, continuous := r.checkpoint(stateKey)
		assert.False(t, continuous)
	})
	t.Run("failure", func(t *testing.T) {
		results := make(chan result, 2)
		onceResult := compliance.WithOnceResult(func(label string, err error) { results <- result{label, err} })
		r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{onceResult}})
		r.gate.refuseAll(true)
		st := r.start(r.config(cfg), streamOptions{})
		require.NoError(t, st.waitEnded())
		res := <-results
		require.Error(t, res.err, "a failed backfill is reported (the binary exits non-zero)")
		assert.Contains(t, res.err.Error(), "401")
	})
}

// A window of several adaptive slices, each walked over several pages:
// every activity arrives once, with metadata that places it in its slice and
// page.
func TestMultiPageMultiSliceWindowDeliversEveryActivityOnceWithItsOrigin(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 11, Count: 3000, From: now.Add(-6 * time.Hour), To: now.Add(-3 * time.Minute), Millis: true})
	r := newRig(t, now, fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  target_per_slice: 400
  batch_size: 60
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: -6h
      page_size: 100
`), streamOptions{threads: 2})
	rep := r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, ids(data), r.sink.delivered())
	assert.Equal(t, "3000", rep["activities_emitted"])

	slices := map[string]bool{}
	maxPage := 0
	for _, m := range r.sink.metas() {
		created, err := time.Parse(time.RFC3339Nano, m["activity_created_at"])
		require.NoError(t, err)
		from, _ := time.Parse(time.RFC3339, m["compliance_slice_from"])
		to, _ := time.Parse(time.RFC3339, m["compliance_slice_to"])
		assert.False(t, created.Before(from) || !created.Before(to), "%s at %s outside its slice [%s, %s)", m["activity_id"], created, from, to)
		slices[m["compliance_slice_from"]] = true
		var page int
		require.NoError(t, json.Unmarshal([]byte(m["compliance_page"]), &page))
		maxPage = max(maxPage, page)
		assert.Equal(t, "activities", m["compliance_endpoint"])
		assert.NotEmpty(t, m["compliance_job_id"])
		assert.True(t, strings.HasPrefix(m["compliance_request_id"], "req_"), m["compliance_request_id"])
	}
	assert.Greater(t, len(slices), 3, "several slices")
	assert.Greater(t, maxPage, 2, "several pages in a slice")
}

// L10: hundreds of activities share a second, at page boundaries (page_size
// 7) and right at a slice boundary (10:00:00 belongs to [10:00, 11:00), not
// to the slice before it). Nothing is skipped or repeated.
func TestSameSecondBurstsAcrossPageAndSliceBoundariesAreDeliveredOnce(t *testing.T) {
	var data []fakeapi.Activity
	burst := func(name string, n int, t time.Time) {
		for i := range n {
			data = append(data, act(name+"_"+string(rune('a'+i/26))+string(rune('a'+i%26)), "claude_chat_created", t))
		}
	}
	burst("activity_01b0959", 50, at("2026-11-25T09:59:59Z"))
	burst("activity_01b0959ms", 6, at("2026-11-25T09:59:59Z").Add(999*time.Millisecond))
	burst("activity_01b1000", 50, at("2026-11-25T10:00:00Z"))
	burst("activity_01b1030", 43, at("2026-11-25T10:30:00Z"))
	burst("activity_01b1100", 29, at("2026-11-25T11:00:00Z"))
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
      page_size: 7
`), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, ids(data), r.sink.delivered())
	for _, m := range r.sink.metas() {
		created, _ := time.Parse(time.RFC3339Nano, m["activity_created_at"])
		want := created.Truncate(time.Hour).UTC().Format(time.RFC3339)
		assert.Equal(t, want, m["compliance_slice_from"], "%s created %s", m["activity_id"], m["activity_created_at"])
	}
	assert.Greater(t, len(r.api.Requests()), 178/7, "walked page by page")
}

// Growth between jobs: five jobs, the clock advancing five minutes before
// each, the feed growing every second with a 30s indexing lag. Every
// activity of the scanned range is delivered exactly once.
func TestGrowthAcrossFiveJobsDeliversEveryActivityExactlyOnce(t *testing.T) {
	start := at("2026-11-25T12:00:00Z")
	r := newRig(t, start, fakeapi.Options{Lag: 30 * time.Second, Growth: fakeapi.Growth{PerSecond: 2, Seed: 5}}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T12:00:00Z"
`), streamOptions{})
	for range 5 {
		now := r.clock.Advance(5 * time.Minute)
		r.waitJobTo(now.Add(-2 * time.Minute).Format(time.RFC3339))
	}
	end := at("2026-11-25T12:23:00Z")
	var want []string
	for _, a := range r.api.All() {
		if a.CreatedAt.Before(end) {
			want = append(want, a.ID)
		}
	}
	require.Greater(t, len(want), 2500)
	requireExactlyOnce(t, want, r.sink.delivered())
}

// L11: activities indexed late, but within settle + overlap, are collected
// by the overlap re-read exactly once, and counted (compliance_late_catches)
// so operators see how much of the margin is used.
func TestLateArrivalsInsideTheOverlapAreDeliveredOnceAndCounted(t *testing.T) {
	start := at("2026-11-25T12:00:00Z")
	growth := fakeapi.Growth{PerSecond: 1, LateFraction: 0.3, MaxLateness: 4 * time.Minute, Seed: 9}
	r := newRig(t, start, fakeapi.Options{Lag: 30 * time.Second, Growth: growth}, rigOptions{})
	st := r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T11:50:00Z"
`), streamOptions{metrics: true})
	var now time.Time
	for range 10 {
		now = r.clock.Advance(time.Minute)
		r.waitJobTo(now.Add(-2 * time.Minute).Format(time.RFC3339))
	}
	end := now.Add(-2 * time.Minute)
	var want []string
	for _, a := range r.api.All() {
		// Late arrivals visible only after the last job are not due yet.
		if a.CreatedAt.Before(end) && !a.VisibleAt.After(now) {
			want = append(want, a.ID)
		}
	}
	requireExactlyOnce(t, want, r.sink.delivered())
	assert.Positive(t, st.scrape().must(t, "compliance_late_catches"), "late catches are counted")
}

// L11, known limit: an activity indexed later than settle + overlap (7
// minutes by default) after it happened is never collected by this model;
// it is missing here on purpose. One indexed 7 minutes late, inside the
// margin, is collected once and counted as a late catch.
func TestLateArrivalBeyondSettlePlusOverlapIsMissedAsAKnownLimit(t *testing.T) {
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{}, rigOptions{})
	st := r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{metrics: true})
	r.waitJobTo("2026-11-25T11:58:00Z")

	inside := act("activity_01inside", "claude_chat_created", at("2026-11-25T11:56:00Z"))
	inside.VisibleAt = at("2026-11-25T12:03:00Z")
	tooLate := act("activity_01toolate", "claude_chat_created", at("2026-11-25T11:40:00Z"))
	tooLate.VisibleAt = at("2026-11-25T12:04:00Z") // 24 minutes after it happened
	require.NoError(t, r.api.Add(inside, tooLate))
	r.clock.Set(at("2026-11-25T12:05:00Z"))
	// A job that read the clock before the move may find `inside` in its
	// overlap already: which job counts the late catch is luck, so the
	// metric (summed over jobs) is what is checked below.
	r.waitJobTo("2026-11-25T12:03:00Z")
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.waitJobTo("2026-11-25T12:08:00Z")

	assert.Equal(t, []string{inside.ID}, r.sink.delivered(), "the too-late activity is not collected (documented limit)")
	assert.EqualValues(t, 1, st.scrape().must(t, "compliance_late_catches"))
}

// A new process on the same state directory resumes from the checkpoint:
// it reads from scanned_to - overlap and delivers only what is new.
func TestRestartResumesFromTheCheckpoint(t *testing.T) {
	data := spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	cfg := r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: -1h
`)
	first := r.start(cfg, streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	require.NoError(t, first.stop())
	deliveredBefore := len(r.sink.delivered())
	requestsBefore := len(r.sliceRequests())

	fresh := spread("b", 5, at("2026-11-25T11:59:00Z"), time.Minute)
	require.NoError(t, r.api.Add(fresh...))
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.start(cfg, streamOptions{})
	r.waitJobTo("2026-11-25T12:08:00Z")
	requireExactlyOnce(t, ids(fresh), r.sink.delivered()[deliveredBefore:])
	assert.Equal(t, "2026-11-25T11:53:00Z", r.sliceRequests()[requestsBefore].Get("created_at.gte"), "from = scanned_to - overlap")
	assert.True(t, r.logs.contains(0, "resuming from checkpoint"))
}

// D1/L2: four pipeline threads and an output that holds every batch of the
// oldest slice while later slices are acked out of order. The checkpoint
// never passes the unacked slice; once it is acked, the commits cascade.
func TestOutOfOrderAcksNeverMoveTheCheckpointPastAnUnackedSlice(t *testing.T) {
	data := spread("a", 60, at("2026-11-25T09:00:00Z"), 3*time.Hour) // 20 per slice
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(d delivery) verdict {
		if d.Meta[0]["compliance_slice_from"] == "2026-11-25T09:00:00Z" {
			return holdIt
		}
		return ackIt
	})
	stopWatch := make(chan struct{})
	var watched sync.Map
	go func() { // record every scanned_to the checkpoint ever shows
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(time.Millisecond):
			}
			if data, err := r.store.Get(stateKey); err == nil {
				var doc struct {
					ScannedTo string `json:"scanned_to"`
				}
				if json.Unmarshal(data, &doc) == nil {
					watched.Store(doc.ScannedTo, true)
				}
			}
		}
	}()
	defer close(stopWatch)
	r.start(r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  max_open_slices: 3
  batch_size: 5
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
`), streamOptions{threads: 4, processors: "mapping: root = this", maxInFlight: 16})
	require.Eventually(t, func() bool { return len(r.sink.ackedIDs()) == 40 && r.sink.heldCount() == 4 }, 10*time.Second, 5*time.Millisecond)
	held := r.sink.heldIDs()
	for i := 3; i > 0; i-- { // release all but one held batch, newest first
		last := held[i*5]
		r.sink.release(func(d delivery) bool { return d.IDs[0] == last }, nil)
	}
	require.Eventually(t, func() bool { return len(r.sink.ackedIDs()) == 55 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, "2026-11-25T09:00:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo), "one batch of the oldest slice is still unacked")
	r.sink.releaseAll(nil)
	r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, ids(data), r.sink.delivered())
	require.Eventually(t, func() bool { _, ok := watched.Load("2026-11-25T11:58:00Z"); return ok }, 10*time.Second, time.Millisecond,
		"the watcher polls the store: wait until it has seen the final write")
	var values []string
	watched.Range(func(k, _ any) bool { values = append(values, k.(string)); return true })
	slices.Sort(values)
	assert.Equal(t, []string{"2026-11-25T09:00:00Z", "2026-11-25T11:58:00Z"}, values,
		"the checkpoint went from the floor straight to the end: slices 2 and 3 waited for slice 1")
}

// §4: the default state mappings keep latestTime (the largest created_at in
// epoch milliseconds of committed slices) in the checkpoint, and the next
// job's messages carry the saved state as metadata.
func TestDefaultStateMappingsKeepLatestTime(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T09:00:00Z"), 2*time.Hour+30*time.Minute)
	data = append(data, act("activity_01ms", "claude_chat_created", at("2026-11-25T11:40:00.250Z")))
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  target_per_slice: 5
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T09:00:00Z"
`), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	latest := at("2026-11-25T11:40:00.250Z").UnixMilli()
	assert.EqualValues(t, latest, r.mustCheckpoint(stateKey).State["latestTime"])

	next := act("activity_01next", "claude_chat_created", at("2026-11-25T11:59:00Z"))
	require.NoError(t, r.api.Add(next))
	r.clock.Set(at("2026-11-25T12:10:00Z"))
	r.waitJobTo("2026-11-25T12:08:00Z")
	metas := r.sink.metas()
	last := metas[len(metas)-1]
	require.Equal(t, next.ID, last["activity_id"])
	assert.JSONEq(t, fmt.Sprintf(`{"latestTime":%d}`, latest), last["compliance_state"])
	assert.EqualValues(t, next.CreatedAt.UnixMilli(), r.mustCheckpoint(stateKey).State["latestTime"])
}

// §4: a custom update/merge pair (events per type) folds each slice's own
// activities and merges slice states at each commit, across jobs.
func TestCustomStateMappingsCountEventsPerType(t *testing.T) {
	data := spread("a", 41, at("2026-11-25T09:00:00Z"), 2*time.Hour+50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config(`
  min_slice: 1h
  target_per_slice: 5
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
      state_tracking:
        update: |
          let t = this.type
          root = @state
          root.counts = @state.counts.or({}).assign({($t): @state.counts.get($t).or(0) + 1})
        merge: |
          let nc = this.new.counts.or({})
          root = this.prev
          root.counts = $nc.keys().fold(this.prev.counts.or({}), item -> item.tally.assign({(item.value): item.tally.get(item.value).or(0) + $nc.get(item.value)}))
`), streamOptions{})
	rep := r.waitJobTo("2026-11-25T11:58:00Z")
	require.NotEqual(t, "1", rep["slices"], "several slices, so the merge runs")
	want := map[string]any{}
	for _, m := range r.sink.metas() {
		n, _ := want[m["activity_type"]].(float64)
		want[m["activity_type"]] = n + 1
	}
	got, err := json.Marshal(r.mustCheckpoint(stateKey).State["counts"])
	require.NoError(t, err)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(got))
}

// Shutdown: a soft stop while a batch is in flight waits for its ack,
// commits what is complete, records the acked part of the open slice as
// pending and ends cleanly; the next run delivers exactly the rest.
func TestSoftStopWithMessagesInFlightCommitsWhatIsAckedAndRestartDeliversTheRest(t *testing.T) {
	data := spread("a", 60, at("2026-11-25T09:00:00Z"), 2*time.Hour+50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	var once sync.Once
	r.sink.setPolicy(func(d delivery) verdict {
		v := ackIt
		if d.Meta[0]["compliance_slice_from"] == "2026-11-25T10:00:00Z" {
			once.Do(func() { v = holdIt })
		}
		return v
	})
	cfg := r.config(`
  min_slice: 1h
  target_per_slice: 1000000
  batch_size: 5
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
      page_size: 10
`)
	first := r.start(cfg, streamOptions{})
	r.sink.waitHeld(t, 1)
	r.waitScannedTo(stateKey, "2026-11-25T10:00:00Z")
	stopped := make(chan error, 1)
	go func() { stopped <- first.stop() }()
	time.Sleep(50 * time.Millisecond) // let the stop begin; either order is correct
	r.sink.releaseAll(nil)
	select {
	case err := <-stopped:
		require.NoError(t, err, "a clean exit")
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not stop")
	}
	rec := r.mustCheckpoint(stateKey)
	assert.GreaterOrEqual(t, ts(rec.ScannedTo), "2026-11-25T10:00:00Z", "slice 1 is committed")
	acked := r.sink.ackedIDs()
	for id := range rec.Pending {
		assert.Equal(t, 1, acked[id], "pending %s was acked", id)
	}

	deliveredBefore := len(r.sink.delivered())
	r.sink.setPolicy(nil)
	r.start(cfg, streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	requireExactlyOnce(t, unacked(data, acked), r.sink.delivered()[deliveredBefore:])
	requireExactlyOnce(t, ids(data), keys(r.sink.ackedIDs()))
}

// Guards: a page with has_more and a null cursor, a cursor that repeats, or a
// body that is not the documented envelope ends the job with a clear error
// and commits nothing of the slice.
func TestGuardsEndTheJobWithoutCommit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakeapi.Fault
		error string
	}{
		{"null cursor", fakeapi.Fault{Kind: fakeapi.FaultNullCursor, OnlyIfCursor: true}, "null"},
		{"repeated cursor", fakeapi.Fault{Kind: fakeapi.FaultRepeatedCursor}, "cursor already seen"},
		{"not the envelope", fakeapi.Fault{Kind: fakeapi.FaultBadEnvelope, OnlyIfCursor: true}, "data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := spread("a", 30, at("2026-11-25T11:00:00Z"), 50*time.Minute)
			r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
			r.api.Script(tc.fault, tc.fault, tc.fault, tc.fault, tc.fault, tc.fault)
			r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"
      page_size: 10
`), streamOptions{})
			rep := r.waitJob("the guard trips", func(rep report) bool { return rep["outcome"] == "failed" })
			assert.Contains(t, strings.ToLower(rep["error"]), tc.error)
			rec := r.mustCheckpoint(stateKey)
			assert.Equal(t, "2026-11-25T11:00:00Z", ts(rec.ScannedTo))
			assert.Zero(t, rec.Seen.Len())
		})
	}
}
