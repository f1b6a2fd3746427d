package e2e_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 16, scheduled reconciliation, through the engine against the fake
// API: the feed grows at 0.5 activities a second, 4% of them indexed up to
// 40 minutes after their created_at, far beyond settle + overlap (7 minutes).
// The regular jobs (every 10 minutes) miss some of them; the hourly
// reconciliation (lookback 2h, settle 45m) finds exactly those and emits
// nothing that was delivered before, and the next reconciliation, whose
// window overlaps the first one's by an hour, repeats none of what the
// first found. Over both reconciled windows every activity is acknowledged
// exactly once.
func TestReconcileCatchesLateArrivalsTheRegularJobsMissWithNoDuplicates(t *testing.T) {
	start := at("2026-11-25T12:00:00Z")
	growth := fakeapi.Growth{PerSecond: 0.5, LateFraction: 0.04, MaxLateness: 40 * time.Minute, Seed: 16, Start: start.Add(-2 * time.Hour)}
	r, tl := newTimedRig(t, start, fakeapi.Options{Growth: growth}, 0)
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 10m"
      earliest: "2026-11-25T10:00:00Z"
      page_size: 1000
      reconcile:
        schedule: "@every 1h"
        lookback: 2h
        settle: 45m
`), streamOptions{metrics: true})

	regular := func(tick time.Time) {
		to := tick.Add(-2 * time.Minute).Format(time.RFC3339)
		r.waitJob("regular job up to "+to, func(rep report) bool { return rep["window_to"] == to && rep["outcome"] == "success" })
	}
	reconciled := func(tick time.Time) report {
		to := tick.Add(-45 * time.Minute).Format(time.RFC3339)
		return r.waitReconcile("reconciliation up to "+to, func(rep report) bool { return rep["window_to"] == to })
	}
	regular(start)
	var first, second report
	var missedBefore []fakeapi.Activity
	for tick := start.Add(10 * time.Minute); !tick.After(start.Add(2 * time.Hour)); tick = tick.Add(10 * time.Minute) {
		if tick.Equal(start.Add(time.Hour)) {
			// Everything created in the first window is indexed by now
			// (40 minutes at most); the regular jobs missed some of it.
			r.api.Sync()
			window := between(r.api.Visible(tick.Add(-5*time.Minute)), at("2026-11-25T10:15:00Z"), at("2026-11-25T12:15:00Z"))
			missedBefore = missing(window, r.sink.ackedIDs())
			require.NotEmpty(t, missedBefore, "the seed must produce late arrivals beyond the margin")
		}
		tl.set(tick)
		regular(tick)
		switch tick {
		case start.Add(time.Hour):
			first = reconciled(tick)
		case start.Add(2 * time.Hour):
			second = reconciled(tick)
		}
	}

	assert.Equal(t, "success", first["outcome"], first["error"])
	assert.Equal(t, "2026-11-25T10:15:00Z", first["window_from"])
	assert.Equal(t, strconv.Itoa(len(missedBefore)), first["late_found"], "it finds exactly what the regular jobs missed")
	assert.Empty(t, first["unreconciled"], "the record covers everything the regular jobs collected")
	assert.NotEqual(t, "0", first["already_delivered"])
	// One request per covered part of a 10-minute bucket here (about 300
	// activities each, page_size 1000): [10:15, 10:20), eleven whole
	// buckets, [12:10, 12:15).
	assert.Equal(t, "13", first["pages"])
	assert.Equal(t, "success", second["outcome"], second["error"])
	assert.Equal(t, "2026-11-25T11:15:00Z", second["window_from"])

	// Who delivered what: every activity the reconciliations delivered was
	// indexed later than settle + overlap, and was never delivered before.
	late := map[string]bool{}
	for _, a := range r.api.All() {
		if a.VisibleAt.Sub(a.CreatedAt) > 7*time.Minute {
			late[a.ID] = true
		}
	}
	byReconcile := 0
	for _, m := range r.sink.metas() {
		if m["compliance_job_id"] != "" && isReconcile(delivery{Meta: []map[string]string{m}}) {
			byReconcile++
			assert.True(t, late[m["activity_id"]], "%s was not late, yet the regular jobs missed it", m["activity_id"])
		}
	}
	lateFound, _ := strconv.Atoi(first["late_found"])
	secondFound, _ := strconv.Atoi(second["late_found"])
	t.Logf("the regular jobs missed %d activities of the first window; the reconciliations found %d and %d (%d activities acknowledged by the regular jobs; %d of the fake's were indexed more than 7 minutes late)",
		len(missedBefore), lateFound, secondFound, len(r.sink.ackedIDs())-byReconcile, len(late))
	assert.Equal(t, lateFound+secondFound, byReconcile)
	assert.Equal(t, float64(byReconcile), st.scrape().must(t, "compliance_reconcile_late_found", "endpoint", "activities"))
	assert.Equal(t, 2.0, st.scrape().must(t, "compliance_reconcile_jobs", "outcome", "success"))

	// Both windows, [10:15, 13:15), are complete: every activity created
	// there is acknowledged exactly once; nothing at all twice.
	r.api.Sync()
	acked := r.sink.ackedIDs()
	requireEachAckedOnce(t, between(r.api.Visible(tl.now()), at("2026-11-25T10:15:00Z"), at("2026-11-25T13:15:00Z")), acked)
	for id, n := range acked {
		require.Equal(t, 1, n, "%s acknowledged %d times", id, n)
	}

	// The job history serves the reconciliation reports beside the
	// regular ones.
	kinds := map[string]int{}
	for _, rep := range st.jobs().Jobs {
		kinds[rep.Kind]++
	}
	assert.Equal(t, 2, kinds["reconcile"])
	assert.Equal(t, 13, kinds[""])
}
