package e2e_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 11 "Also": a guard that trips on the same page of every job keeps
// the input failing loudly; /ready then says which slice, page, request and
// how to skip past it (and what that gives up).
func TestModesGuardFailingEveryJobPutsTheWayOutInReady(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	faults := make([]fakeapi.Fault, 1000)
	for i := range faults {
		faults[i] = fakeapi.Fault{Kind: fakeapi.FaultNullCursor, OnlyIfCursor: true}
	}
	r.api.Script(faults...)
	st := r.start(r.config(`
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 25ms"
      earliest: "2026-11-25T11:00:00Z"
      page_size: 10
`), streamOptions{})
	st.waitReady(503,
		"consecutive jobs failed",
		"slice [2026-11-25T11:00:00Z, 2026-11-25T11:58:00Z)",
		"page 2",
		"request-id",
		"state rewind -c", // (the JSON body escapes the <this config> placeholder)
		"--to 2026-11-25T11:58:00Z",
		"giving up the activities of [2026-11-25T11:00:00Z, 2026-11-25T11:58:00Z) not delivered yet",
	)
}

// Issue 12 item 2: a stored checkpoint whose scanned_to lies beyond the
// API's clock plus settle (written by another tool, or by hand) would make
// every job empty and successful while nothing is collected: the input is
// not ready and says why from its first job.
func TestModesCheckpointInTheFutureMakesTheInputNotReadyWithTheReason(t *testing.T) {
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{}, rigOptions{})
	cfg := collector.Config{Endpoint: "activities", BaseURL: r.url}
	rec := checkpoint.New(cfg.Identity(), at("2026-11-25T00:00:00Z"))
	rec.Rewind(at("2099-01-01T00:00:00Z"), at("2026-11-25T12:00:00Z"))
	rec.Rev = 3
	doc, err := rec.Encode()
	require.NoError(t, err)
	require.NoError(t, r.store.Set(stateKey, doc))
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 1h"
`), streamOptions{})
	st.waitReady(503, "scanned_to 2099-01-01T00:00:00Z, later than the API's clock (2026-11-25T12:00:00Z) + settle", "state rewind")
	rep := r.waitJob("the job refuses the checkpoint", func(rep report) bool { return rep["outcome"] == "failed" })
	require.Contains(t, rep["error"], "2099-01-01T00:00:00Z")
}
