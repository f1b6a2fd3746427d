package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// soak runs a backfill of count activities through the engine while the fake
// answers 20% of the requests with a random fault of any kind (retried ones
// and job-ending ones; slow ones wait 20ms), with a job every 10ms. Every
// activity must be delivered and the checkpoint must never pass an
// undelivered one; duplicates are counted and reported.
func soak(t *testing.T, count int) {
	now := at("2026-11-25T12:00:00Z")
	from := now.Add(-24 * time.Hour)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 20, Count: count, From: from, To: now.Add(-3 * time.Minute)})
	r := newRig(t, now, fakeapi.Options{
		Dataset: data, Lag: 30 * time.Second,
		FaultRate: 0.2, FaultKinds: fakeapi.AllFaultKinds(), FaultSeed: 20, FaultDelay: 20 * time.Millisecond,
		MaxRecords: -1,
	}, rigOptions{})
	watch := r.watchCheckpoint(data)
	start := time.Now()
	st := r.start(r.render(inputConfig{retries: "    honor_retry_after: false", extra: fmt.Sprintf(`
  endpoints:
    - name: activities
      schedule: "@every 10ms"
      earliest: "%s"
      page_size: 100
`, from.Format(time.RFC3339))}), streamOptions{maxInFlight: 1})
	r.sink.waitUnique(t, len(data), 120*time.Second)
	took := time.Since(start)
	require.NoError(t, st.stop())
	revs, violations := watch.stop()

	c := countDelivery(ids(data), r.sink.delivered())
	assert.Empty(t, c.missing, "zero missing")
	assert.Empty(t, c.unexpected)
	assert.Empty(t, violations, "the checkpoint never passes undelivered data")
	stats := r.api.Stats()
	outcomes := map[string]int{}
	for _, rep := range r.logs.jobReports() {
		outcomes[rep["outcome"]]++
	}
	var faults int
	for _, n := range stats.Faults {
		faults += n
	}
	require.Positive(t, outcomes["failed"], "job-ending faults did end jobs")
	require.Greater(t, faults, stats.Requests/10, "about a fifth of the requests were faulted")
	t.Logf("soak %d activities: %v to deliver all; %d requests, %d faults %v; jobs %v; %d checkpoint revisions; %d duplicates (%.2f%%); %d retries logged",
		count, took.Round(time.Millisecond), stats.Requests, faults, stats.Faults, outcomes, revs,
		c.duplicates, 100*float64(c.duplicates)/float64(count), len(r.logs.matching("retrying request")))
}

// TestSoakRandomFaults10kDeliversEverything always runs.
func TestSoakRandomFaults10kDeliversEverything(t *testing.T) { soak(t, 10_000) }

// TestSoakRandomFaults50kDeliversEverything is the full-size soak;
// with -short it reports itself skipped (the 10k soak still runs).
func TestSoakRandomFaults50kDeliversEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 50,000-activity soak is skipped; TestSoakRandomFaults10kDeliversEverything ran instead")
	}
	soak(t, 50_000)
}
