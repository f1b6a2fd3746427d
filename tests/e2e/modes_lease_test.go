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

// Issue 11 item 4, continuous mode: the start-up job waits for the lease's
// first refresh instead of being skipped because the lease was not taken
// yet; a second instance stands by, and its skipped ticks are visible: the
// outcome standby in its job history and in compliance_jobs, and one INFO
// line when it starts standing by (not a job report per tick).
func TestModesLeaseStartupJobCollectsAndStandbyTicksAreVisible(t *testing.T) {
	data := spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r, tl := newTimedRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, 0)
	cfg := r.render(inputConfig{
		state: `    cache: shared
    lease:
      enabled: true
      ttl: 1h
      renew_interval: 20ms`,
		extra: `  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 5m"
      earliest: "2026-11-25T11:00:00Z"`,
	})
	resources := "cache_resources:\n  - label: shared\n    e2e_flaky_cache: {}\n"

	r.start(cfg, streamOptions{resources: resources})
	r.waitJobTo("2026-11-25T11:58:00Z") // the start-up job, with no tick needed
	requireExactlyOnce(t, ids(data), r.sink.delivered())

	standby := r.start(cfg, streamOptions{resources: resources, metrics: true})
	standbyJobs := func() int {
		code, body := standby.get("/compliance/e2e/jobs")
		if code != http.StatusOK { // the input is not built yet
			return -1
		}
		var answer jobsAnswer
		require.NoError(t, json.Unmarshal([]byte(body), &answer), body)
		n := 0
		for _, rep := range answer.Jobs {
			if rep.Outcome == collector.OutcomeStandby {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return standbyJobs() == 1 }, 30*time.Second, 5*time.Millisecond, r.logs.dump())
	tl.waitBlocked(2) // both schedules wait for 12:05
	tl.set(at("2026-11-25T12:05:00Z"))
	r.waitJobTo("2026-11-25T12:03:00Z")
	require.Eventually(t, func() bool { return standbyJobs() == 2 }, 30*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2.0, standby.scrape().must(t, "compliance_jobs", "outcome", "standby"))
	assert.Len(t, r.logs.matching("jobs are skipped"), 1, "standing by is logged when it starts, not on every tick")
	assert.Len(t, r.logs.jobReports(), 2, "job report lines come from the instance that collects")
	assert.Equal(t, 200, standby.ready(), "a standby is ready")
}
