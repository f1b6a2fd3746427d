package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// statePath is the state endpoint of the input labelled e2e.
const statePath = "/compliance/e2e/state"

// everyJobOverTheHour is the endpoint of the state tests: a job every 20ms
// over the fixed window [11:00, 11:58) of the fake clock (12:00, settle 2m),
// so that every job after the first re-reads the overlap and commits; state
// writes over HTTP are on (the requests come from loopback).
const everyJobOverTheHour = `
  admin:
    state_writes: true
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`

// stateRig runs everyJobOverTheHour on data, with slices a fixed hour.
func stateRig(t *testing.T, data []fakeapi.Activity) (*rig, *stream) {
	t.Helper()
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	return r, r.start(r.config("  min_slice: 1h"+everyJobOverTheHour), streamOptions{})
}

// idleRig runs everyJobOverTheHour on data with the input's own slicing and
// the deliveries in hand-out order; pauseAfterCollecting can pause its
// collector between two jobs.
func idleRig(t *testing.T, data []fakeapi.Activity) (*rig, *stream) {
	t.Helper()
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	return r, r.start(r.config(everyJobOverTheHour), streamOptions{maxInFlight: 1})
}

// jobPause holds the collector's job goroutine right after it logged a job
// report: between two jobs, with nothing being written.
type jobPause struct {
	once, releaseOnce sync.Once
	paused, resume    chan struct{}
}

// pauseAfterCollecting pauses the collector of r once, after the first
// successful job that ends with n activities delivered. It must be called
// after the stream started (the release then runs before the stream is
// stopped).
func pauseAfterCollecting(r *rig, n int) *jobPause {
	p := &jobPause{paused: make(chan struct{}), resume: make(chan struct{})}
	r.logs.setOnEntry(func(e logEntry) {
		if e.Msg != "job report" || e.Attrs["outcome"] != "success" || len(r.sink.delivered()) < n {
			return
		}
		p.once.Do(func() {
			close(p.paused)
			<-p.resume
		})
	})
	r.t.Cleanup(p.release)
	return p
}

func (p *jobPause) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.paused:
	case <-time.After(30 * time.Second):
		t.Fatal("no successful job delivered everything within 30s")
	}
}

func (p *jobPause) release() { p.releaseOnce.Do(func() { close(p.resume) }) }

// requireRedelivered waits until want has been delivered again after the
// first `before` deliveries and three more jobs ran, then requires exactly
// want there, once each.
func requireRedelivered(t *testing.T, r *rig, before int, want []fakeapi.Activity) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.sink.delivered()) >= before+len(want) }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d activities delivered again:\n%s", len(want), r.logs.dump())
	jobs := len(r.logs.jobReports())
	require.Eventually(t, func() bool { return len(r.logs.jobReports()) >= jobs+3 }, 30*time.Second, 5*time.Millisecond)
	requireExactlyOnce(t, ids(want), r.sink.delivered()[before:])
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
	r, st := stateRig(t, data)
	r.waitJobTo("2026-11-25T11:58:00Z")

	code, body := st.call(http.MethodGet, statePath, "")
	require.Equal(t, http.StatusOK, code, body)
	got := decodeRecord(t, body)
	stored := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T11:58:00Z", window.Format(got.ScannedTo))
	assert.Equal(t, stored.Identity, got.Identity)
	assert.LessOrEqual(t, got.Rev, stored.Rev, "a newer job may have committed since")

	code, body = st.call(http.MethodGet, statePath+"?endpoint=activities", "")
	require.Equal(t, http.StatusOK, code, body)

	jobs := st.jobs().Jobs
	require.NotEmpty(t, jobs)
	oldest := jobs[len(jobs)-1]
	assert.Equal(t, "success", oldest.Outcome, "newest first: the last one is the first job")
	assert.Equal(t, len(data), oldest.Emitted)
	assert.Equal(t, "2026-11-25T11:58:00Z", oldest.To)

	code, body = st.call(http.MethodGet, statePath+"?endpoint=messages", "")
	assert.Equal(t, http.StatusNotFound, code, body)
	assert.Contains(t, body, "messages")
	code, body = st.call(http.MethodPatch, statePath, "")
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
	r, st := idleRig(t, data)
	pause := pauseAfterCollecting(r, len(data))
	pause.wait(t)
	base := r.mustCheckpoint(stateKey)

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
			before := r.raw(stateKey)
			code, body := st.call(http.MethodPut, statePath, tt.doc)
			assert.Equal(t, http.StatusBadRequest, code, body)
			assert.Contains(t, body, tt.want)
			assert.Equal(t, before, r.raw(stateKey), "a refused document changed the stored checkpoint")
		})
	}

	// Valid: move scanned_to back to 11:30 with an empty seen set; the input
	// resumes from there and delivers the activities of [11:30, 11:58) again.
	doc := edit(func(m map[string]any) {
		m["scanned_to"], m["seen_from"], m["seen"], m["pending"] = "2026-11-25T11:30:00Z", "2026-11-25T11:30:00Z", map[string]any{}, map[string]any{}
	})
	code, body := st.call(http.MethodPut, statePath, doc)
	require.Equal(t, http.StatusOK, code, body)
	put := decodeRecord(t, body)
	assert.Equal(t, base.Rev+1, put.Rev)
	assert.Equal(t, "2026-11-25T11:30:00Z", window.Format(put.ScannedTo))
	assert.Equal(t, put.Rev, r.mustCheckpoint(stateKey).Rev)
	pause.release()

	requireRedelivered(t, r, len(data), after(data, "2026-11-25T11:30:00Z"))
	assert.NotContains(t, r.logs.dump(), "changed by someone else", "the PUT between jobs made a job fail")
}

// A malformed id set is refused (above); the message must also say which
// field it is in, seen or pending, as every other invalid field's does.
func TestStatePutNamesTheFieldOfAMalformedIDSet(t *testing.T) {
	r, st := stateRig(t, spread("a", 5, at("2026-11-25T11:00:00Z"), 50*time.Minute))
	r.waitJobTo("2026-11-25T11:58:00Z")
	doc, err := r.mustCheckpoint(stateKey).Encode()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(doc, &m))
	m["pending"] = map[string]any{"activity_01x": "2026-11-25T11:00:00Z"}
	bad, err := json.Marshal(m)
	require.NoError(t, err)
	code, body := st.call(http.MethodPut, statePath, string(bad))
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
	st := r.start(r.config("  min_slice: 1h"+everyJobOverTheHour), streamOptions{})
	r.sink.waitHeld(t, 1)

	rec := r.mustCheckpoint(stateKey)
	rec.State = map[string]any{"operator": "edited"}
	doc, err := rec.Encode()
	require.NoError(t, err)
	code, body := st.call(http.MethodPut, statePath, string(doc))
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
	assert.Equal(t, window.Format(put.ScannedTo), rep["scanned_to"], "the report shows the scanned_to of a write that was refused")
}

// DELETE between two jobs replaces the checkpoint with a tombstone; the
// running input starts again from earliest (it delivers everything again)
// without reporting the checkpoint as vanished and stays ready.
func TestStateDeleteMakesTheRunningInputStartAgainFromEarliest(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r, st := idleRig(t, data)
	pause := pauseAfterCollecting(r, len(data))
	pause.wait(t)

	code, body := st.call(http.MethodDelete, statePath, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, r.store.Path(stateKey))
	tomb, err := r.store.Get(stateKey)
	require.NoError(t, err)
	_, err = checkpoint.Decode(tomb)
	require.ErrorIs(t, err, checkpoint.ErrDeleted)
	pause.release()

	requireRedelivered(t, r, len(data), data)
	assert.Empty(t, r.logs.matching("vanished"), r.logs.dump())
	assert.Len(t, r.logs.matching("fresh start from earliest"), 2, "one fresh start at first, one after the delete")
	code, body = st.get("/ready")
	assert.Equal(t, http.StatusOK, code, body)
}

// DELETE while a job is delivering: that job must not commit into the void
// nor report "vanished"; the input starts again from earliest and stays
// ready.
func TestStateDeleteDuringAJobStartsAgainFromEarliestWithoutReportingVanished(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	st := r.start(r.config("  min_slice: 1h"+everyJobOverTheHour), streamOptions{})
	r.sink.waitHeld(t, 1)

	code, body := st.call(http.MethodDelete, statePath, "")
	require.Equal(t, http.StatusOK, code, body)
	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)

	r.sink.waitDelivered(t, 2*len(data))
	r.waitScannedTo(stateKey, "2026-11-25T11:58:00Z")
	assert.False(t, r.logs.contains(0, "vanished"), "logged:\n%s", r.logs.dump())
	require.Eventually(t, func() bool { return st.ready() == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
}

// POST ?rewind_to moves scanned_to back (clearing seen and pending): the
// running input collects again from there. A missing or bad rewind_to is a
// 400 that says what is expected, and changes nothing.
func TestStateRewindRecollectsFromTheGivenTime(t *testing.T) {
	data := spread("a", 60, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r, st := idleRig(t, data)
	pause := pauseAfterCollecting(r, len(data))
	pause.wait(t)

	for bad, want := range map[string]string{"": "rewind_to is required", "?rewind_to=": "rewind_to is required", "?rewind_to=" + url.QueryEscape("last tuesday"): "last tuesday"} {
		before := r.raw(stateKey)
		code, body := st.call(http.MethodPost, statePath+bad, "")
		assert.Equal(t, http.StatusBadRequest, code, "%q: %s", bad, body)
		assert.Contains(t, body, want, "%q", bad)
		assert.Equal(t, before, r.raw(stateKey))
	}

	code, body := st.call(http.MethodPost, statePath+"?rewind_to="+url.QueryEscape("2026-11-25T11:40:00Z"), "")
	require.Equal(t, http.StatusOK, code, body)
	rec := decodeRecord(t, body)
	assert.Equal(t, "2026-11-25T11:40:00Z", window.Format(rec.ScannedTo))
	assert.Zero(t, rec.Seen.Len())
	assert.Equal(t, rec.Rev, r.mustCheckpoint(stateKey).Rev)
	pause.release()

	requireRedelivered(t, r, len(data), after(data, "2026-11-25T11:40:00Z"))
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
	st := r.start(r.config("  min_slice: 1h"+everyJobOverTheHour), streamOptions{})

	rep := r.waitJob("a job failed on the corrupt file", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], path)
	assert.Contains(t, rep["error"], "compliance-connect state delete")
	assert.Contains(t, rep["error"], "compliance-connect state set")
	require.Eventually(t, func() bool { return st.ready() == http.StatusServiceUnavailable }, 10*time.Second, 10*time.Millisecond)
	r.waitJob("a second failed job", func(rep report) bool { return len(r.logs.jobReports()) >= 2 })

	code, body := st.call(http.MethodGet, statePath, "")
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
