package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// The admin endpoints of the input labelled e2e.
const (
	statePath = "/compliance/e2e/state"
	jobsPath  = "/compliance/e2e/jobs"
)

// stateRig runs the input labelled e2e with a job every 20ms over the fixed
// window [11:00, 11:58) of the fake clock (12:00, settle 2m), so that every
// job after the first re-reads the overlap and commits.
func stateRig(t *testing.T, data []fakeapi.Activity) *rig {
	t.Helper()
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.start(r.config("", `
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{})
	return r
}

// decodeRecord reads a checkpoint returned by the state endpoint.
func decodeRecord(t *testing.T, body string) *checkpoint.Record {
	t.Helper()
	rec, err := checkpoint.Decode([]byte(body))
	require.NoError(t, err, "body: %s", body)
	return rec
}

func TestStateEndpointServesTheStoredCheckpointAndJobsListsTheReports(t *testing.T) {
	data := spread("a", 50, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := stateRig(t, data)
	r.waitJobTo("2026-11-25T11:58:00Z")

	code, body := adminCall(r.mux, http.MethodGet, statePath, "")
	require.Equal(t, http.StatusOK, code, body)
	got := decodeRecord(t, body)
	stored := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T11:58:00Z", got.ScannedTo)
	assert.Equal(t, stored.Identity, got.Identity)
	assert.LessOrEqual(t, got.Rev, stored.Rev, "a newer job may have committed since")

	code, body = adminCall(r.mux, http.MethodGet, statePath+"?endpoint=activities", "")
	require.Equal(t, http.StatusOK, code, body)

	code, body = adminCall(r.mux, http.MethodGet, jobsPath, "")
	require.Equal(t, http.StatusOK, code, body)
	var jobs struct {
		Jobs []struct {
			JobID   string `json:"job_id"`
			Outcome string `json:"outcome"`
			Emitted int    `json:"activities_emitted"`
			To      string `json:"window_to"`
		} `json:"jobs"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &jobs), body)
	require.NotEmpty(t, jobs.Jobs)
	oldest := jobs.Jobs[len(jobs.Jobs)-1]
	assert.Equal(t, "success", oldest.Outcome, "newest first: the last one is the first job")
	assert.Equal(t, len(data), oldest.Emitted)
	assert.Equal(t, "2026-11-25T11:58:00Z", oldest.To)

	code, body = adminCall(r.mux, http.MethodGet, statePath+"?endpoint=messages", "")
	assert.Equal(t, http.StatusNotFound, code, body)
	assert.Contains(t, body, "messages")
	code, body = adminCall(r.mux, http.MethodPatch, statePath, "")
	assert.Equal(t, http.StatusMethodNotAllowed, code, body)
}

// An operator's document goes through the same checks as `state set`: bad
// JSON, another collector's identity and invalid fields are refused with
// 400 and a message naming the problem, and nothing is written. A valid
// document is stored as the next revision and the running input resumes
// from it. (The collector is paused between two jobs while the documents
// are sent, so that no commit of its own changes the file meanwhile.)
func TestStatePutRefusesInvalidDocumentsAndStoresAValidOneAsTheNextRev(t *testing.T) {
	data := spread("a", 60, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	ir := newIdleRig(t, data)
	pause := ir.pauseAfterCollecting(len(data))
	pause.wait(t)
	base := ir.record(t)

	edit := func(fn func(m map[string]any)) string {
		doc, err := base.Encode()
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(doc, &m))
		fn(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return string(out)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{"version":1,`, "not a checkpoint document"},
		{"wrong identity", edit(func(m map[string]any) { m["identity"].(map[string]any)["base_url"] = "https://elsewhere.example" }), "identity"},
		{"unsupported version", edit(func(m map[string]any) { m["version"] = 2 }), "version"},
		{"scanned_to before floor", edit(func(m map[string]any) { m["scanned_to"] = "2026-11-25T10:00:00Z" }), "scanned_to"},
		{"scanned_to not a time", edit(func(m map[string]any) { m["scanned_to"] = "yesterday" }), "scanned_to"},
		{"no endpoint", edit(func(m map[string]any) { delete(m["identity"].(map[string]any), "endpoint") }), "identity"},
		{"seen not grouped by second", edit(func(m map[string]any) { m["seen"] = map[string]any{"activity_01x": "2026-11-25T11:00:00Z"} }), "id set"},
		{"pending key not a time", edit(func(m map[string]any) { m["pending"] = map[string]any{"soon": []string{"activity_01x"}} }), "soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ir.raw(t)
			code, body := adminCall(ir.mux, http.MethodPut, statePath, tt.doc)
			assert.Equal(t, http.StatusBadRequest, code, body)
			assert.Contains(t, body, tt.want)
			assert.Equal(t, before, ir.raw(t), "a refused document changed the stored checkpoint")
		})
	}

	// Valid: move scanned_to back to 11:30 with an empty seen set; the input
	// resumes from there and delivers the activities of [11:30, 11:58) again.
	doc := edit(func(m map[string]any) {
		m["scanned_to"], m["seen_from"], m["seen"], m["pending"] = "2026-11-25T11:30:00Z", "2026-11-25T11:30:00Z", map[string]any{}, map[string]any{}
	})
	code, body := adminCall(ir.mux, http.MethodPut, statePath, doc)
	require.Equal(t, http.StatusOK, code, body)
	put := decodeRecord(t, body)
	assert.Equal(t, base.Rev+1, put.Rev)
	assert.Equal(t, "2026-11-25T11:30:00Z", put.ScannedTo)
	assert.Equal(t, put.Rev, ir.record(t).Rev)
	pause.release()

	ir.requireRedelivered(t, len(data), after(data, "2026-11-25T11:30:00Z"))
	assert.NotContains(t, ir.logs.dump(), "changed by someone else", "the PUT between jobs made a job fail")
}

// A malformed id set is refused (above); the message must also say which
// field it is in, seen or pending, as every other invalid field's does.
func TestStatePutNamesTheFieldOfAMalformedIDSet(t *testing.T) {
	r := stateRig(t, spread("a", 5, at("2026-11-25T11:00:00Z"), 50*time.Minute))
	r.waitJobTo("2026-11-25T11:58:00Z")
	doc, err := r.mustCheckpoint(stateKey).Encode()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(doc, &m))
	m["pending"] = map[string]any{"activity_01x": "2026-11-25T11:00:00Z"}
	bad, err := json.Marshal(m)
	require.NoError(t, err)
	code, body := adminCall(r.mux, http.MethodPut, statePath, string(bad))
	require.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, "pending", "the error does not name the field")
}

// A job in progress when an operator PUTs a document fails without writing
// (its commit sees the foreign rev), and its job report says so: no slice
// committed, scanned_to as stored. The next job resumes from the document.
func TestStatePutDuringAJobFailsThatJobWithoutWritingAndItsReportShowsNoCommit(t *testing.T) {
	data := spread("a", 40, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	r.start(r.config("", `
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{})
	r.sink.waitHeld(t, 1)

	rec := r.mustCheckpoint(stateKey)
	rec.State = map[string]any{"operator": "edited"}
	doc, err := rec.Encode()
	require.NoError(t, err)
	code, body := adminCall(r.mux, http.MethodPut, statePath, string(doc))
	require.Equal(t, http.StatusOK, code, body)
	put := decodeRecord(t, body)
	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)

	rep := r.waitJob("the job that saw the foreign write", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "changed by someone else")
	// The next job resumes from the document: scanned_to at the floor and
	// nothing seen, so it delivers everything again.
	r.sink.waitDelivered(t, 2*len(data))
	r.waitScannedTo(stateKey, "2026-11-25T11:58:00Z")
	assert.Greater(t, r.mustCheckpoint(stateKey).Rev, put.Rev)

	assert.Equal(t, "0", rep["slices_committed"], "the report counts a commit whose write was refused")
	assert.Equal(t, put.ScannedTo, rep["scanned_to"], "the report shows the scanned_to of a write that was refused")
}

// DELETE between two jobs removes the checkpoint; the running input starts
// again from earliest (it delivers everything again) without reporting the
// checkpoint as vanished and stays ready.
func TestStateDeleteMakesTheRunningInputStartAgainFromEarliest(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	ir := newIdleRig(t, data)
	pause := ir.pauseAfterCollecting(len(data))
	pause.wait(t)

	code, body := adminCall(ir.mux, http.MethodDelete, statePath, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, ir.store.Path(stateKey))
	_, err := ir.store.Get(stateKey)
	require.ErrorIs(t, err, atomicfile.ErrNotFound)
	pause.release()

	ir.requireRedelivered(t, len(data), data)
	assert.Empty(t, ir.logs.matching("vanished"), ir.logs.dump())
	assert.Len(t, ir.logs.matching("fresh start from earliest"), 2, "one fresh start at first, one after the delete")
	code, body = adminCall(ir.mux, http.MethodGet, "/ready", "")
	assert.Equal(t, http.StatusOK, code, body)
}

// DELETE while a job is delivering: that job must not commit into the void
// nor report "vanished"; the input starts again from earliest and stays
// ready.
func TestStateDeleteDuringAJobStartsAgainFromEarliestWithoutReportingVanished(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	r.start(r.config("", `
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{})
	r.sink.waitHeld(t, 1)

	code, body := adminCall(r.mux, http.MethodDelete, statePath, "")
	require.Equal(t, http.StatusOK, code, body)
	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)

	r.sink.waitDelivered(t, 2*len(data))
	r.waitScannedTo(stateKey, "2026-11-25T11:58:00Z")
	assert.False(t, r.logs.contains(0, "vanished"), "logged:\n%s", r.logs.dump())
	require.Eventually(t, func() bool { return r.ready() == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
}

// POST ?rewind_to moves scanned_to back (clearing seen and pending): the
// running input collects again from there. A missing or bad rewind_to is a
// 400 that says what is expected, and changes nothing.
func TestStateRewindRecollectsFromTheGivenTime(t *testing.T) {
	data := spread("a", 60, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	ir := newIdleRig(t, data)
	pause := ir.pauseAfterCollecting(len(data))
	pause.wait(t)

	for bad, want := range map[string]string{"": "rewind_to is required", "?rewind_to=": "rewind_to is required", "?rewind_to=" + url.QueryEscape("last tuesday"): "last tuesday"} {
		before := ir.raw(t)
		code, body := adminCall(ir.mux, http.MethodPost, statePath+bad, "")
		assert.Equal(t, http.StatusBadRequest, code, "%q: %s", bad, body)
		assert.Contains(t, body, want, "%q", bad)
		assert.Equal(t, before, ir.raw(t))
	}

	code, body := adminCall(ir.mux, http.MethodPost, statePath+"?rewind_to="+url.QueryEscape("2026-11-25T11:40:00Z"), "")
	require.Equal(t, http.StatusOK, code, body)
	rec := decodeRecord(t, body)
	assert.Equal(t, "2026-11-25T11:40:00Z", rec.ScannedTo)
	assert.Empty(t, rec.Seen)
	assert.Equal(t, rec.Rev, ir.record(t).Rev)
	pause.release()

	ir.requireRedelivered(t, len(data), after(data, "2026-11-25T11:40:00Z"))
}

// A state file that is not a checkpoint is reported with its path and how
// to reset it; the input never starts over by itself, never replaces the
// file, delivers nothing and reports not ready. GET on the state endpoint
// says the same.
func TestCorruptStateFileIsReportedWithItsPathAndHowToResetItAndNeverReplaced(t *testing.T) {
	data := spread("a", 10, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	path := r.store.Path(stateKey)
	garbage := []byte("{\"version\":1,\"scanned_to\":\x00\x01 truncated by a bad disk")
	require.NoError(t, os.WriteFile(path, garbage, 0o600))
	r.start(r.config("", `
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{})

	rep := r.waitJob("a job failed on the corrupt file", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], path)
	assert.Contains(t, rep["error"], "compliance-connect state delete")
	assert.Contains(t, rep["error"], "compliance-connect state set")
	require.Eventually(t, func() bool { return r.ready() == http.StatusServiceUnavailable }, 10*time.Second, 10*time.Millisecond)
	r.waitJob("a second failed job", func(rep report) bool { return len(r.logs.jobReports()) >= 2 })

	code, body := adminCall(r.mux, http.MethodGet, statePath, "")
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, "unreadable")
	assert.Contains(t, body, path)

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, garbage, got, "the corrupt file was replaced")
	assert.Empty(t, r.sink.delivered())
	assert.False(t, r.logs.contains(0, "fresh start"), "logged:\n%s", r.logs.dump())
	for _, rq := range r.api.Requests() {
		assert.Empty(t, rq.Query.Get("created_at.gte"), "a slice was requested despite the corrupt checkpoint")
	}
}
