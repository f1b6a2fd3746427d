package snapshot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// The project documents of include_documents: their content as records of
// type document, keyed document:<project id>/<document id>.

// docsConfig is a projects config with include_documents.
func docsConfig(mode string) snapshot.Config {
	cfg := config(snapshot.Projects, mode)
	cfg.IncludeDocuments = true
	return cfg
}

// docKeys are the document keys the project_doc attachments among msgs
// name (snapshot bodies or change currents), sorted.
func docKeys(t *testing.T, msgs []msg) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		if m.Meta[snapshot.MetaRecordType] != "attachment" {
			continue
		}
		body := m.Body
		if m.Meta[snapshot.MetaChange] != "" {
			var ch struct{ Current json.RawMessage }
			require.NoError(t, json.Unmarshal(body, &ch))
			body = ch.Current
		}
		var a struct{ Type, ID string }
		require.NoError(t, json.Unmarshal(body, &a))
		if a.Type == "project_doc" {
			project, _, _ := strings.Cut(strings.TrimPrefix(m.Meta[snapshot.MetaRecordKey], "attachment:"), "/")
			out = append(out, "document:"+project+"/"+a.ID)
		}
	}
	slices.Sort(out)
	return out
}

// documentRequests counts the requests to the documents' content route.
func (r *rig) documentRequests() int {
	n := 0
	for _, rec := range r.api.Requests() {
		if strings.HasPrefix(rec.Path, "/v1/compliance/apps/projects/documents/") {
			n++
		}
	}
	return n
}

// TestDocumentsAreEmittedWithTheirContent: with include_documents and emit:
// snapshot, every project_doc attachment is followed by one document record
// whose body is the document as the API serves it, content included; the
// marker counts them and each took one request.
func TestDocumentsAreEmittedWithTheirContent(t *testing.T) {
	r := newRig(t, small(21), nil)
	rep := mustRun(t, r.collector(docsConfig(snapshot.EmitSnapshot)))
	got := r.sink.received()
	want := docKeys(t, got)
	require.NotEmpty(t, want, "the world has project documents")
	assert.Equal(t, len(want), r.documentRequests(), "one request per document")
	var docs []string
	for _, m := range got {
		if m.Meta[snapshot.MetaRecordType] != snapshot.DocumentType {
			continue
		}
		key := m.Meta[snapshot.MetaRecordKey]
		docs = append(docs, key)
		doc, err := r.client.GetProjectDocument(context.Background(), key[strings.LastIndex(key, "/")+1:])
		require.NoError(t, err)
		assert.JSONEq(t, string(doc.Raw), string(m.Body), "the document as the API returned it")
		var body map[string]any
		require.NoError(t, json.Unmarshal(m.Body, &body))
		assert.NotEmpty(t, body["content"], key)
		for _, f := range []string{"id", "created_at", "filename", "user"} {
			assert.Contains(t, body, f, key)
		}
		assert.Equal(t, rep.JobID, m.Meta[snapshot.MetaSnapshotID])
	}
	slices.Sort(docs)
	assert.Equal(t, want, docs, "one document record per project_doc attachment")
	assert.Equal(t, len(want), rep.Counts["records_document"])
	var marker struct {
		ByType map[string]int `json:"by_type"`
	}
	require.NoError(t, json.Unmarshal(got[len(got)-1].Body, &marker))
	assert.Equal(t, len(want), marker.ByType[snapshot.DocumentType])
	assert.Zero(t, rep.Counts["documents_unavailable"])
}

// TestWithoutIncludeDocumentsNoDocumentIsRequested: the default collects
// the attachments' metadata only, with no request to the documents route,
// in either mode.
func TestWithoutIncludeDocumentsNoDocumentIsRequested(t *testing.T) {
	for _, mode := range []string{snapshot.EmitSnapshot, snapshot.EmitChanges} {
		r := newRig(t, small(22), nil)
		mustRun(t, r.collector(config(snapshot.Projects, mode)))
		require.NotEmpty(t, docKeys(t, r.sink.received()), "%s: the world has project documents", mode)
		for _, m := range r.sink.received() {
			assert.NotEqual(t, snapshot.DocumentType, m.Meta[snapshot.MetaRecordType], mode)
		}
		assert.Zero(t, r.documentRequests(), mode)
	}
}

// TestDocumentChangesFollowTheirContent: with emit: changes, the first run
// adds every document; editing one document's content makes the next run
// emit exactly one change, that document changed with both contents;
// deleting another emits its attachment and its document removed, with
// their last versions; turning include_documents off forgets the documents
// without emitting them removed, and turning it on again adds them.
func TestDocumentChangesFollowTheirContent(t *testing.T) {
	r := newRig(t, small(23), nil)
	c := r.collector(docsConfig(snapshot.EmitChanges))
	rep := mustRun(t, c)
	docs := docKeys(t, r.sink.received())
	require.GreaterOrEqual(t, len(docs), 2, "the world has two project documents")
	assert.Equal(t, docs, ofType(byChange(r.sink.received())[snapshot.Added], snapshot.DocumentType))
	assert.Equal(t, len(docs), rep.Counts["records_document"])
	docID := func(key string) string { return key[strings.LastIndex(key, "/")+1:] }

	// An edit.
	edited := docs[0]
	require.NoError(t, r.api.EditProjectDocument(docID(edited), "the edited content"))
	r.sink.reset()
	mustRun(t, c)
	got := r.sink.received()
	require.Len(t, got, 1, "exactly one change: %v", keys(got))
	assert.Equal(t, snapshot.Changed, got[0].Meta[snapshot.MetaChange])
	assert.Equal(t, edited, got[0].Meta[snapshot.MetaRecordKey])
	assert.Equal(t, snapshot.DocumentType, got[0].Meta[snapshot.MetaRecordType])
	var body struct{ Current, Previous struct{ ID, Content string } }
	require.NoError(t, json.Unmarshal(got[0].Body, &body))
	assert.Equal(t, "the edited content", body.Current.Content)
	assert.NotEmpty(t, body.Previous.Content)
	assert.NotEqual(t, body.Current.Content, body.Previous.Content)
	assert.Equal(t, docID(edited), body.Current.ID)

	// A deletion.
	deleted := docs[1]
	require.NoError(t, r.api.RemoveProjectDocument(docID(deleted)))
	r.sink.reset()
	mustRun(t, c)
	got = r.sink.received()
	attachment := "attachment:" + strings.TrimPrefix(deleted, "document:")
	assert.Equal(t, map[string][]string{snapshot.Removed: {attachment, deleted}}, byChange(got))
	for _, m := range got {
		var b struct{ Current, Previous json.RawMessage }
		require.NoError(t, json.Unmarshal(m.Body, &b))
		assert.Equal(t, "null", string(b.Current))
		assert.Contains(t, string(b.Previous), docID(deleted), "removed carries the last version")
	}
	if m := got[len(got)-1]; m.Meta[snapshot.MetaRecordKey] == deleted {
		var b struct{ Previous struct{ Content string } }
		require.NoError(t, json.Unmarshal(m.Body, &b))
		assert.NotEmpty(t, b.Previous.Content, "the removed document's last content")
	}

	// include_documents off, then on again.
	left := minus(docs, []string{deleted})
	r.sink.reset()
	requests := r.documentRequests()
	mustRun(t, r.collector(config(snapshot.Projects, snapshot.EmitChanges)))
	assert.Empty(t, keys(r.sink.received()), "turning include_documents off removes nothing")
	assert.Equal(t, requests, r.documentRequests())
	assert.Empty(t, ofType(slices.Collect(maps.Keys(r.stored(snapshot.Projects).Hashes)), snapshot.DocumentType))
	data, err := r.store.Load(context.Background(), r.stored(snapshot.Projects).RecordsDoc)
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"document:`, "the documents' content leaves the previous-versions document")
	r.sink.reset()
	mustRun(t, r.collector(docsConfig(snapshot.EmitChanges)))
	assert.Equal(t, map[string][]string{snapshot.Added: left}, byChange(r.sink.received()))
}

// deletingAPI deletes a project document from the fake right after the
// attachments page that lists it was served: between listing and fetch.
type deletingAPI struct {
	*api.Client
	fake   *fakeapi.Server
	mu     sync.Mutex
	target string // a document id; "" deletes nothing
}

func (d *deletingAPI) ListProjectAttachments(ctx context.Context, projectID string, p api.PageParams) (*api.PageOf[api.ProjectAttachment], error) {
	pg, err := d.Client.ListProjectAttachments(ctx, projectID, p)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && d.target != "" && slices.ContainsFunc(pg.Items, func(a api.ProjectAttachment) bool { return a.ID == d.target }) {
		if rerr := d.fake.RemoveProjectDocument(d.target); rerr != nil {
			return nil, rerr
		}
		d.target = ""
	}
	return pg, err
}

func (d *deletingAPI) deleteOnListing(id string) {
	d.mu.Lock()
	d.target = id
	d.mu.Unlock()
}

// logs records the collector's log lines.
type logs struct {
	mu    sync.Mutex
	warns []string
}

func (l *logs) Debugf(string, ...any) {}
func (l *logs) Infof(string, ...any)  {}
func (l *logs) Errorf(string, ...any) {}
func (l *logs) Warnf(f string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warns = append(l.warns, fmt.Sprintf(f, args...))
}

func (l *logs) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.warns)
}

// TestADocumentDeletedBetweenListingAndFetchIsSkipped: a document that
// answers 404 after its project listed it is skipped, counted in
// documents_unavailable and named in a warning, and the run succeeds. With
// emit: snapshot it is simply missing; with emit: changes it keeps its
// recorded hash (no removed from a 404), and the next run, whose listing no
// longer has it, emits its attachment and document removed.
func TestADocumentDeletedBetweenListingAndFetchIsSkipped(t *testing.T) {
	for _, mode := range []string{snapshot.EmitSnapshot, snapshot.EmitChanges} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, small(24), nil)
			wrapped := &deletingAPI{Client: r.client, fake: r.api}
			log := &logs{}
			c := r.collector(docsConfig(mode), func(d *snapshot.Deps) { d.API = wrapped; d.Log = log })
			mustRun(t, c)
			docs := docKeys(t, r.sink.received())
			require.NotEmpty(t, docs)
			victim := docs[0]
			id := victim[strings.LastIndex(victim, "/")+1:]

			wrapped.deleteOnListing(id)
			r.sink.reset()
			rep := mustRun(t, c)
			assert.Equal(t, 1, rep.Counts["documents_unavailable"])
			assert.Equal(t, len(docs)-1, rep.Counts["records_document"])
			require.Len(t, log.warnings(), 1)
			assert.Contains(t, log.warnings()[0], strings.TrimPrefix(victim, "document:"))
			assert.Contains(t, log.warnings()[0], "404")
			got := r.sink.received()
			assert.NotContains(t, keys(got), victim)
			if mode == snapshot.EmitSnapshot {
				assert.Contains(t, keys(got), "attachment:"+strings.TrimPrefix(victim, "document:"), "its attachment was listed")
				return
			}
			assert.Empty(t, keys(got), "a 404 removes nothing")
			assert.Contains(t, r.stored(snapshot.Projects).Hashes, victim, "its hash is kept")

			r.sink.reset()
			rep = mustRun(t, c)
			assert.Zero(t, rep.Counts["documents_unavailable"])
			assert.Equal(t, map[string][]string{snapshot.Removed: {"attachment:" + strings.TrimPrefix(victim, "document:"), victim}}, byChange(r.sink.received()))
			for _, m := range r.sink.received() {
				var b struct{ Previous json.RawMessage }
				require.NoError(t, json.Unmarshal(m.Body, &b))
				assert.Contains(t, string(b.Previous), id, "removed carries the last version, kept through the 404 run")
			}
		})
	}
}

// refusingAPI answers every document fetch with err.
type refusingAPI struct {
	*api.Client
	err error
}

func (d refusingAPI) GetProjectDocument(context.Context, string) (*api.ProjectDocument, error) {
	return nil, d.err
}

// TestADocumentFetchErrorFailsTheRun: an error other than 404 fails the
// run like any other walk error, naming the document and, for a 403, the
// scope the request needs; emit: changes emits nothing.
func TestADocumentFetchErrorFailsTheRun(t *testing.T) {
	r := newRig(t, small(25), nil)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"server error", &api.Error{Status: 500, Type: "api_error", Message: "Internal server error"}, "reading document claude_proj_doc_"},
		{"refused scope", &api.Error{Status: 403, Type: "permission_error", Message: "Missing required scopes"},
			"endpoint projects needs a Compliance Access Key with the scope " + fakeapi.ScopeUserData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.sink.reset()
			c := r.collector(docsConfig(snapshot.EmitChanges), func(d *snapshot.Deps) { d.API = refusingAPI{Client: r.client, err: tc.err} })
			rep, err := run(t, c)
			require.Error(t, err)
			assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "of project claude_proj_")
			assert.Empty(t, keys(r.sink.received()), "a failed walk emits nothing")
		})
	}
}
