package compliance_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const readerKey = "sk-ant-api01-reader-test-key-0123456789"

var readerNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// readerRun is one stream of the input against the fake API, with every
// message and log line recorded.
type readerRun struct {
	mu     sync.Mutex
	raw    map[string][]byte // activity id -> message bytes
	order  []string
	logs   []string
	mux    *http.ServeMux
	stream *service.Stream
	done   chan error
}

func (r *readerRun) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

func (r *readerRun) logged(part string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}

func (r *readerRun) ready() int {
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
	return rec.Code
}

// startReader registers the input with a fixed clock (and opts) in a fresh
// environment, and runs inputYAML (with resources) into a recording consumer.
// The stream is stopped when the test ends.
func startReader(t *testing.T, inputYAML, resources string, opts ...compliance.Option) *readerRun {
	t.Helper()
	env := service.NewEnvironment()
	require.NoError(t, compliance.Register(env, append([]compliance.Option{compliance.WithClock(func() time.Time { return readerNow })}, opts...)...))
	run := &readerRun{raw: map[string][]byte{}, mux: http.NewServeMux(), done: make(chan error, 1)}
	sb := env.NewStreamBuilder()
	sb.SetLogger(slog.New(&recordLogs{run: run}))
	sb.SetHTTPMux(run.mux)
	if resources != "" {
		require.NoError(t, sb.AddResourcesYAML(resources))
	}
	require.NoError(t, sb.AddInputYAML(inputYAML))
	require.NoError(t, sb.AddBatchConsumerFunc(func(_ context.Context, b service.MessageBatch) error {
		run.mu.Lock()
		defer run.mu.Unlock()
		for _, m := range b {
			id, _ := m.MetaGet("activity_id")
			raw, err := m.AsBytes()
			if err != nil {
				return err
			}
			run.raw[id] = append([]byte(nil), raw...)
			run.order = append(run.order, id)
		}
		return nil
	}))
	stream, err := sb.Build()
	require.NoError(t, err)
	run.stream = stream
	go func() { run.done <- stream.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = stream.Stop(ctx)
		<-run.done
	})
	return run
}

// recordLogs is a slog handler that keeps each line as "msg k=v ...".
type recordLogs struct {
	run   *readerRun
	attrs []slog.Attr
}

func (h *recordLogs) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordLogs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.run.mu.Lock()
	h.run.logs = append(h.run.logs, b.String())
	h.run.mu.Unlock()
	return nil
}

func (h *recordLogs) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordLogs{run: h.run, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *recordLogs) WithGroup(string) slog.Handler { return h }

// fakeAPI serves data at readerNow and returns its URL.
func fakeAPI(t *testing.T, data []fakeapi.Activity, keys ...string) string {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{readerKey}
	}
	running, err := fakeapi.Start(fakeapi.Options{Dataset: data, APIKeys: keys, Clock: func() time.Time { return readerNow }}, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close() })
	return running.URL()
}

// readerInput renders an input config; label "" leaves the input unlabelled.
func readerInput(label, url, state string) string {
	y := ""
	if label != "" {
		y = "label: " + label + "\n"
	}
	return y + `anthropic_compliance:
  api_key: ` + readerKey + `
  base_url: ` + url + `
  state:
` + state + `
  retries:
    initial_interval: 0s
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T06:00:00Z"
`
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 30*time.Second, 5*time.Millisecond, "waiting for %s", what)
}

// TestMessagesCarryEachActivitysBytesUnchanged: the message body is the
// activity object exactly as the API sent it (unicode, escapes, key order
// and numbers untouched), never a re-encoding.
func TestMessagesCarryEachActivitysBytesUnchanged(t *testing.T) {
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 3, Count: 400, From: readerNow.Add(-5 * time.Hour), To: readerNow.Add(-3 * time.Minute), Millis: true})
	run := startReader(t, readerInput("bytes", fakeAPI(t, data), "    path: "+t.TempDir()), "")
	waitFor(t, "every activity", func() bool { return len(run.ids()) == len(data) })
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, a := range data {
		assert.Equal(t, string(a.JSON), string(run.raw[a.ID]), "activity %s", a.ID)
	}
}

// TestVolatileCacheTypesAreRefusedAndDurableOnesAccepted: with the resource
// types known (the binary passes them with WithCacheTypes), a checkpoint in a
// memory, lru, ttlru or noop cache is refused at start-up, naming the
// resource, its type and the way out; a durable cache is used.
func TestVolatileCacheTypesAreRefusedAndDurableOnesAccepted(t *testing.T) {
	url := fakeAPI(t, []fakeapi.Activity{activity("activity_01one", readerNow.Add(-time.Hour))})
	for _, tc := range []struct {
		typ, conf string
		refused   bool
	}{
		{"memory", "memory: {}", true},
		{"lru", "lru: {}", true},
		{"ttlru", "ttlru: {}", true},
		{"noop", "noop: {}", true},
		{"atomic_file", "atomic_file:\n      directory: %DIR%", false},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			dir := t.TempDir()
			resources := "cache_resources:\n  - label: checkpoints\n    " + strings.ReplaceAll(tc.conf, "%DIR%", dir) + "\n"
			types := compliance.WithCacheTypes(func(name string) (string, bool) { return tc.typ, name == "checkpoints" })
			run := startReader(t, readerInput("caches", url, "    cache: checkpoints"), resources, types)
			if tc.refused {
				var err error
				select {
				case err = <-run.done:
					run.done <- err // for the cleanup
				case <-time.After(30 * time.Second):
					t.Fatal("the stream ran with a volatile cache")
				}
				require.Error(t, err)
				assert.Contains(t, err.Error(), `state.cache: cache resource "checkpoints" is a `+tc.typ+` cache`)
				assert.Contains(t, err.Error(), "state.allow_volatile: true")
				assert.Empty(t, run.ids())
				return
			}
			waitFor(t, "the activity", func() bool { return len(run.ids()) == 1 })
			// Read the file directly: opening a second store on the directory
			// would remove the temporary file of a write in flight.
			waitFor(t, "the checkpoint in the cache", func() bool {
				_, err := os.Stat(filepath.Join(dir, "anthropic_compliance%2Fcaches%2Factivities"))
				return err == nil
			})
		})
	}
}

// TestUnlabelledInputKeysItsCheckpointDefaultAndWarns: without a label the
// derived key uses "default" (two unlabelled inputs would share it), which is
// logged as a warning.
func TestUnlabelledInputKeysItsCheckpointDefaultAndWarns(t *testing.T) {
	dir := t.TempDir()
	run := startReader(t, readerInput("", fakeAPI(t, nil), "    path: "+dir), "")
	waitFor(t, "the initial checkpoint", func() bool {
		_, err := os.Stat(filepath.Join(dir, "anthropic_compliance%2Fdefault%2Factivities"))
		return err == nil
	})
	assert.True(t, run.logged(`its checkpoint key uses "default"`))
}

// TestExplicitStateKeyIsUsedVerbatim: state.key names the checkpoint exactly
// (one endpoint), independent of the label.
func TestExplicitStateKeyIsUsedVerbatim(t *testing.T) {
	dir := t.TempDir()
	startReader(t, readerInput("anything", fakeAPI(t, nil), "    path: "+dir+"\n    key: prod/compliance"), "")
	waitFor(t, "the checkpoint under state.key", func() bool {
		_, err := os.Stat(filepath.Join(dir, "prod%2Fcompliance"))
		return err == nil
	})
	var names []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") && !strings.HasPrefix(e.Name(), ".lock-") { // a write in flight, the key's write lock
			names = append(names, e.Name())
		}
	}
	assert.Equal(t, []string{"prod%2Fcompliance"}, names)
}

// TestRefusedKeyMarksTheInputNotReady: a key the API refuses (401) makes
// /ready answer 503 at once, and the log says what to check without the key.
func TestRefusedKeyMarksTheInputNotReady(t *testing.T) {
	run := startReader(t, readerInput("refused", fakeAPI(t, nil, "sk-ant-api01-another-key"), "    path: "+t.TempDir()), "")
	waitFor(t, "/ready to answer 503", func() bool { return run.ready() == http.StatusServiceUnavailable })
	waitFor(t, "the refusal in the log", func() bool { return run.logged("refused the key") })
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, l := range run.logs {
		assert.NotContains(t, l, readerKey)
	}
}

// TestHealthyInputIsReady: the counterpart of the test above, so that a
// /ready that always answers 503 cannot pass it.
func TestHealthyInputIsReady(t *testing.T) {
	run := startReader(t, readerInput("healthy", fakeAPI(t, []fakeapi.Activity{activity("activity_01one", readerNow.Add(-time.Hour))}), "    path: "+t.TempDir()), "")
	waitFor(t, "the activity", func() bool { return len(run.ids()) == 1 })
	waitFor(t, "/ready to answer 200", func() bool { return run.ready() == http.StatusOK })
}

func activity(id string, at time.Time) fakeapi.Activity {
	ts := at.UTC().Format(time.RFC3339)
	return fakeapi.Activity{
		ID: id, Type: "claude_chat_created", CreatedAt: at,
		JSON: []byte(`{"id":"` + id + `","created_at":"` + ts + `","type":"claude_chat_created","actor":{"type":"user_actor","user_id":"user_1"}}`),
	}
}
