package e2e_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 16 with the HA lease: two instances share the checkpoint and its
// record of delivered ids; only the holder reconciles, the standby's
// reconciliation ticks are reports with outcome standby (kind reconcile),
// and the late activities are delivered once.
func TestReconcileRunsOnlyOnTheLeaseHolder(t *testing.T) {
	start := at("2026-11-25T12:00:00Z")
	onTime, late := lateData(4)
	r, tl := newTimedRig(t, start, fakeapi.Options{Dataset: append(onTime, late...)}, 0)
	cfg := r.render(inputConfig{
		state: `    cache: shared
    lease:
      enabled: true
      ttl: 1h
      renew_interval: 20ms`,
		extra: `  endpoints:
    - name: activities
      schedule: "@every 10m"
      earliest: "2026-11-25T10:00:00Z"
      reconcile:
        schedule: "@every 1h"
        lookback: 2h
        settle: 30m`,
	})
	resources := "cache_resources:\n  - label: shared\n    e2e_flaky_cache: {}\n"
	r.start(cfg, streamOptions{resources: resources})
	r.waitJobTo("2026-11-25T11:58:00Z")
	standby := r.start(cfg, streamOptions{resources: resources, metrics: true})
	standbyReports := func(kind string) int {
		code, body := standby.get("/compliance/e2e/jobs")
		if code != http.StatusOK {
			return -1
		}
		var answer jobsAnswer
		require.NoError(t, json.Unmarshal([]byte(body), &answer), body)
		n := 0
		for _, rep := range answer.Jobs {
			if rep.Outcome == collector.OutcomeStandby && rep.Kind == kind {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return standbyReports("") == 1 }, 30*time.Second, 5*time.Millisecond, r.logs.dump())
	for tick := start.Add(10 * time.Minute); !tick.After(start.Add(time.Hour)); tick = tick.Add(10 * time.Minute) {
		tl.waitBlocked(4) // both instances' regular and reconciliation schedules
		tl.set(tick)
		r.waitJobTo(tick.Add(-2 * time.Minute).Format(time.RFC3339))
	}
	rep := r.waitReconcile("the holder's reconciliation", func(rep report) bool { return rep["window_to"] == "2026-11-25T12:30:00Z" })
	assert.Equal(t, "4", rep["late_found"])
	require.Eventually(t, func() bool { return standbyReports(collector.KindReconcile) == 1 }, 30*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1.0, standby.scrape().must(t, "compliance_reconcile_jobs", "outcome", "standby"))
	assert.Len(t, r.logs.reconcileReports(), 1, "reconcile report lines come from the instance that holds the lease")
	requireEachAckedOnce(t, append(onTime, late...), r.sink.ackedIDs())
}
