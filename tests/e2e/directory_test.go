package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 13: a `once` run of users (emit: changes) and groups (emit:
// snapshot) ends the input by itself; run again an hour later (a restart),
// users emits exactly the users that joined and left, groups a new snapshot
// with its marker. Job reports, metrics and the checkpoints say so.
func TestDirectoryOnceRunsEmitChangesAndSnapshotsAcrossRestarts(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	results := make(onceResults, 2)
	r := newRig(t, now, fakeapi.Options{World: directoryWorld(t, 21, now)}, rigOptions{register: []compliance.Option{results.option()}})
	cfg := r.config(`
  endpoints:
    - name: users
      schedule: once
      emit: changes
    - name: groups
      schedule: once
`)
	runOnce := func() (users, groups []recordMsg, st *stream) {
		before := len(r.sink.metas())
		st = r.start(cfg, streamOptions{processors: copyBody, metrics: true})
		require.NoError(t, st.waitEnded())
		require.NoError(t, results.wait(t))
		require.NoError(t, results.wait(t))
		metas := r.sink.metas()[before:]
		return recordMsgs(metas, "users"), recordMsgs(metas, "groups"), st
	}

	first := r.api.Snapshot()
	users, groups, st := runOnce()
	assert.Equal(t, userKeysOf(first), changeKeys(users)[snapshot.Added], "the first run adds every user")
	require.NotEmpty(t, groups)
	marker := groups[len(groups)-1]
	assert.Equal(t, "true", marker.Meta[snapshot.MetaSnapshotComplete])
	for _, m := range groups[:len(groups)-1] {
		assert.Equal(t, marker.Meta[snapshot.MetaSnapshotID], m.Meta[snapshot.MetaSnapshotID])
		assert.Empty(t, m.Meta[snapshot.MetaSnapshotComplete])
	}
	_, body := st.get("/metrics")
	assert.Contains(t, body, `compliance_snapshots{endpoint="groups",label="e2e",outcome="complete",path="root.input"} 1`)
	assert.Contains(t, body, `compliance_records_emitted{endpoint="groups",label="e2e",path="root.input",record_type="snapshot_complete"} 1`)
	assert.Contains(t, body, `compliance_changes{change="added",endpoint="users",label="e2e",path="root.input"} `+itoa(len(userKeysOf(first))))

	r.clock.Advance(time.Hour)
	second := r.api.Snapshot()
	require.NotEmpty(t, without(userKeysOf(second), userKeysOf(first)))
	require.NotEmpty(t, without(userKeysOf(first), userKeysOf(second)))
	users, groups, _ = runOnce()
	got := changeKeys(users)
	assert.Equal(t, without(userKeysOf(second), userKeysOf(first)), got[snapshot.Added])
	assert.Equal(t, without(userKeysOf(first), userKeysOf(second)), got[snapshot.Removed])
	assert.Empty(t, got[snapshot.Changed])
	for _, m := range users {
		var b struct {
			Change            string
			Current, Previous json.RawMessage
		}
		require.NoError(t, json.Unmarshal(m.Body, &b), m.Meta["body"])
		if b.Change == snapshot.Removed {
			assert.NotEqual(t, "null", string(b.Previous), "a removed user carries its last version")
		}
	}
	newMarker := groups[len(groups)-1]
	assert.Equal(t, "true", newMarker.Meta[snapshot.MetaSnapshotComplete])
	assert.NotEqual(t, marker.Meta[snapshot.MetaSnapshotID], newMarker.Meta[snapshot.MetaSnapshotID], "a new snapshot id each run")

	var reports []report
	for _, rep := range r.logs.jobReports() {
		if rep["endpoint"] == "users" {
			reports = append(reports, rep)
		}
	}
	require.Len(t, reports, 2)
	assert.Equal(t, "success", reports[1]["outcome"])
	assert.Equal(t, itoa(len(got[snapshot.Added])), reports[1]["added"])
	assert.Equal(t, itoa(len(got[snapshot.Removed])), reports[1]["removed"])
	assert.Equal(t, itoa(len(userKeysOf(second))), reports[1]["records_user"])

	// The `once` checkpoint is the compact document of record hashes.
	sum := sha256.Sum256([]byte("....UTC")) // a snapshot has no earliest or latest
	ckpt := "anthropic_compliance/e2e/users/once/" + hex.EncodeToString(sum[:6])
	data, err := r.store.Get(ckpt)
	require.NoError(t, err)
	cp, err := snapshot.DecodeCheckpoint(data)
	require.NoError(t, err)
	assert.Len(t, cp.Hashes, len(userKeysOf(second)))
	assert.Equal(t, "changes", cp.Identity.Emit)
}

// Issue 13: the output refuses some batches of a changes run (every other
// one, auto_replay_nacks off): the job fails and records only the
// acknowledged changes; the input is stopped and restarted, and the next
// run emits exactly the rest. Every change is acknowledged exactly once,
// and no removed is emitted for a user who is still there.
func TestDirectoryChangesRefusedByTheOutputAreEmittedAgainAfterARestartAndOnlyThey(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	r := newRig(t, now, fakeapi.Options{World: directoryWorld(t, 22, now)}, rigOptions{})
	cfg := r.config(`
  batch_size: 3
  auto_replay_nacks: false
  endpoints:
    - name: users
      schedule: "@every 1h"
      emit: changes
`)
	st := r.start(cfg, streamOptions{processors: copyBody})
	r.waitJob("baseline", func(rep report) bool { return rep["endpoint"] == "users" && rep["outcome"] == "success" })
	require.NoError(t, st.stop())
	before := r.api.Snapshot()

	r.clock.Advance(2 * time.Hour)
	after := r.api.Snapshot()
	want := map[string][]string{
		snapshot.Added:   without(userKeysOf(after), userKeysOf(before)),
		snapshot.Removed: without(userKeysOf(before), userKeysOf(after)),
	}
	require.Greater(t, len(want[snapshot.Added])+len(want[snapshot.Removed]), 6, "several batches of 3")

	var mu sync.Mutex
	var acked []map[string]string
	n := 0
	r.sink.setPolicy(func(d delivery) verdict {
		mu.Lock()
		defer mu.Unlock()
		if n++; n%2 == 0 {
			return nackIt
		}
		acked = append(acked, d.Meta...)
		return ackIt
	})
	st = r.start(cfg, streamOptions{processors: copyBody})
	rep := r.waitJob("the run fails on the nack", func(rep report) bool { return rep["endpoint"] == "users" && rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "the output refused a batch")
	require.NoError(t, st.stop())

	r.sink.setPolicy(func(d delivery) verdict {
		mu.Lock()
		defer mu.Unlock()
		acked = append(acked, d.Meta...)
		return ackIt
	})
	reports := len(r.logs.jobReports())
	r.start(cfg, streamOptions{processors: copyBody})
	r.waitJob("the restarted run", func(rep report) bool {
		return rep["endpoint"] == "users" && rep["outcome"] == "success" && len(r.logs.jobReports()) > reports
	})
	mu.Lock()
	got := changeKeys(recordMsgs(acked, "users"))
	mu.Unlock()
	assert.Equal(t, want[snapshot.Added], got[snapshot.Added], "each user who joined, acknowledged once")
	assert.Equal(t, want[snapshot.Removed], got[snapshot.Removed], "each user who left, acknowledged once, and no other")
	assert.Empty(t, got[snapshot.Changed])
}

// Issue 13: a key without read:compliance_user_data: the users endpoint
// fails naming that scope and the input reports not ready with it, while
// the Activity Feed of the same input keeps being delivered.
func TestDirectoryForbiddenScopeIsNamedAndTheFeedKeepsFlowing(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	data := spread("a", 40, now.Add(-time.Hour), 50*time.Minute)
	r := newRig(t, now, fakeapi.Options{Dataset: data, World: directoryWorld(t, 23, now),
		Scopes: map[string][]string{apiKey: {fakeapi.ScopeActivities, fakeapi.ScopeOrgData}}}, rigOptions{})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      earliest: "2026-11-25T10:00:00Z"
    - name: users
`), streamOptions{})
	rep := r.waitJob("users fails", func(rep report) bool { return rep["endpoint"] == "users" && rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "403")
	assert.Contains(t, rep["error"], "endpoint users needs a Compliance Access Key with the scope read:compliance_user_data")
	body := st.waitReady(http.StatusServiceUnavailable, "endpoint users", "read:compliance_user_data")
	assert.NotContains(t, body, "endpoint activities")
	r.sink.waitUnique(t, len(data), 30*time.Second)
	assert.True(t, r.logs.contains(0, "refused the key (status 403", "read:compliance_user_data scope (users requests)"), r.logs.dump())
}

// Issue 13: the Activity Feed, users, groups and projects of one input
// share one budget: with 60 requests a minute and a headroom of 10%, no
// minute window of the fake sees more than 54 of their requests, and none
// is refused with 429. The test plays time like the feed's budget test: a
// pause of the input ends the fake's minute.
func TestDirectoryAndFeedTogetherStayWithinTheSharedBudget(t *testing.T) {
	const limit, maxPerWindow = 60, 54
	now := at("2026-11-25T12:00:00Z")
	w, err := fakeapi.NewWorld(fakeapi.WorldOptions{Seed: 24, To: now, Orgs: 2, Users: 400, Groups: 6, Projects: 12, Chats: 5})
	require.NoError(t, err)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 24, Count: 800, From: now.Add(-3 * time.Hour), To: now.Add(-3 * time.Minute), World: w})
	r := newRig(t, now, fakeapi.Options{Dataset: data, World: w, Lag: 30 * time.Second, RateLimit: limit}, rigOptions{})
	r.logs.setOnEntry(func(e logEntry) {
		if strings.HasPrefix(e.Msg, "pausing ") && strings.Contains(e.Msg, "for the shared rate budget") {
			r.clock.Set(r.clock.Now().Truncate(time.Minute).Add(time.Minute))
		}
	})
	r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T09:00:00Z"
      page_size: 25
    - name: users
      schedule: "@every 1h"
      page_size: 8
    - name: groups
      schedule: "@every 1h"
      page_size: 5
    - name: projects
      schedule: "@every 1h"
      page_size: 5
  rate_limit:
    headroom: 0.1
    max_wait: 50ms
`), streamOptions{})
	for _, e := range []string{"users", "groups", "projects"} {
		r.waitJob(e+" completes", func(rep report) bool { return rep["endpoint"] == e && rep["outcome"] == "success" })
	}
	r.sink.waitUnique(t, len(data), 60*time.Second)

	perWindow := map[time.Time]int{}
	paths := map[string]bool{}
	for _, rec := range r.api.Requests() {
		assert.NotEqual(t, http.StatusTooManyRequests, rec.Status, "request %d (%s) was rate limited", rec.Seq, rec.Path)
		perWindow[rec.Time.Truncate(time.Minute)]++
		paths[strings.SplitN(strings.TrimPrefix(rec.Path, "/v1/compliance/"), "/", 2)[0]] = true
	}
	for win, n := range perWindow {
		assert.LessOrEqual(t, n, maxPerWindow, "window %s", win.Format(time.TimeOnly))
	}
	require.GreaterOrEqual(t, len(perWindow), 3, "the run needed several windows")
	for _, p := range []string{"activities", "organizations", "groups", "apps"} {
		assert.True(t, paths[p], "requests to %s", p)
	}
	t.Logf("%d requests over %d windows", len(r.api.Requests()), len(perWindow))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Issue 13: projects with include_documents emit, through the engine, one
// document record per project_doc attachment, its body the document's
// content as the API serves it; the job report counts them.
func TestDirectoryProjectsWithIncludeDocumentsEmitTheDocuments(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	results := make(onceResults, 1)
	r := newRig(t, now, fakeapi.Options{World: directoryWorld(t, 21, now)}, rigOptions{register: []compliance.Option{results.option()}})
	st := r.start(r.config(`
  endpoints:
    - name: projects
      schedule: once
      include_documents: true
`), streamOptions{processors: copyBody})
	require.NoError(t, st.waitEnded())
	require.NoError(t, results.wait(t))
	var docAttachments, docs []string
	for _, m := range recordMsgs(r.sink.metas(), "projects") {
		var b struct{ Type, ID, Content string }
		switch m.Meta[snapshot.MetaRecordType] {
		case "attachment":
			require.NoError(t, json.Unmarshal(m.Body, &b))
			if b.Type == "project_doc" {
				docAttachments = append(docAttachments, strings.TrimPrefix(m.Meta[snapshot.MetaRecordKey], "attachment:"))
			}
		case snapshot.DocumentType:
			require.NoError(t, json.Unmarshal(m.Body, &b))
			assert.NotEmpty(t, b.Content)
			assert.True(t, strings.HasSuffix(m.Meta[snapshot.MetaRecordKey], "/"+b.ID))
			docs = append(docs, strings.TrimPrefix(m.Meta[snapshot.MetaRecordKey], snapshot.DocumentType+":"))
		}
	}
	require.NotEmpty(t, docAttachments, "the world has project documents")
	assert.ElementsMatch(t, docAttachments, docs)
	var rep report
	for _, x := range r.logs.jobReports() {
		if x["endpoint"] == "projects" {
			rep = x
		}
	}
	require.NotNil(t, rep)
	assert.Equal(t, itoa(len(docs)), rep["records_document"])
}
