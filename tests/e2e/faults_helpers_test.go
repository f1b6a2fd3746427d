package e2e_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// The checkpoint key of the input labelled e2e, endpoint activities.
const e2eKey = "anthropic_compliance/e2e/activities"

// ---------------------------------------------------------------------------
// Configs and streams.

// configYAML renders the input config with the given key, the fake's URL and
// the state directory; extra (indented by two spaces) is appended under
// anthropic_compliance and must set everything else, retries included.
func (h *harness) configYAML(key, extra string) string {
	return h.configYAMLAt(h.url, key, extra)
}

// configYAMLAt is configYAML with another base URL (e.g. a gateway in front
// of the fake).
func (h *harness) configYAMLAt(baseURL, key, extra string) string {
	return fmt.Sprintf(`
label: e2e
anthropic_compliance:
  api_key: %s
  base_url: %s
  state:
    path: %s
%s`, key, baseURL, h.dir, extra)
}

// streamOpts are the extras of startStream.
type streamOpts struct {
	logs      *logSink       // nil: a fresh sink
	mux       *http.ServeMux // nil: a fresh mux
	metrics   string         // metrics YAML; empty: none
	resources string         // resources YAML; empty: none
}

// running is a stream started by startStream.
type running struct {
	logs *logSink
	mux  *http.ServeMux
	stop func()
}

// startStream is like harness.run, with every log line captured, the HTTP
// endpoints (/ready, /metrics) on a mux of the test's and optional metrics
// and resources.
func (h *harness) startStream(inputYAML string, o streamOpts) *running {
	h.t.Helper()
	if o.logs == nil {
		o.logs = newLogSink()
	}
	if o.mux == nil {
		o.mux = http.NewServeMux()
	}
	sb := h.env.NewStreamBuilder()
	sb.SetLogger(o.logs.logger())
	sb.SetHTTPMux(o.mux)
	if o.metrics != "" {
		require.NoError(h.t, sb.SetMetricsYAML(o.metrics))
	}
	if o.resources != "" {
		require.NoError(h.t, sb.AddResourcesYAML(o.resources))
	}
	require.NoError(h.t, sb.AddInputYAML(inputYAML))
	require.NoError(h.t, sb.AddBatchConsumerFunc(func(_ context.Context, b service.MessageBatch) error {
		ids := make([]string, len(b))
		metas := make([]map[string]string, len(b))
		for i, m := range b {
			ids[i], _ = m.MetaGet("activity_id")
			metas[i] = map[string]string{}
			_ = m.MetaWalk(func(k, v string) error { metas[i][k] = v; return nil })
		}
		h.mu.Lock()
		fn := h.onDeliver
		h.mu.Unlock()
		if fn != nil {
			if err := fn(ids); err != nil {
				return err
			}
		}
		h.mu.Lock()
		h.got = append(h.got, ids...)
		h.meta = append(h.meta, metas...)
		h.mu.Unlock()
		return nil
	}))
	stream, err := sb.Build()
	require.NoError(h.t, err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(h.t, stream.Stop(ctx))
			<-done
		})
	}
	h.t.Cleanup(stop)
	return &running{logs: o.logs, mux: o.mux, stop: stop}
}

// get serves one GET on the stream's mux and returns status and body.
func (r *running) get(path string) (int, string) {
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// ---------------------------------------------------------------------------
// Delivery and checkpoint checks.

// deliveryCount compares what was delivered with the expected ids.
type deliveryCount struct {
	missing    []string // expected, never delivered
	unexpected []string // delivered, not expected
	duplicates int      // deliveries beyond the first of an id
}

func countDelivery(want, got []string) deliveryCount {
	var c deliveryCount
	seen := make(map[string]int, len(got))
	for _, id := range got {
		seen[id]++
		if seen[id] > 1 {
			c.duplicates++
		}
	}
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		wanted[id] = true
		if seen[id] == 0 {
			c.missing = append(c.missing, id)
		}
	}
	for id := range seen {
		if !wanted[id] {
			c.unexpected = append(c.unexpected, id)
		}
	}
	return c
}

// waitUnique waits until n distinct activities were delivered, counting
// new deliveries only at each check (a soak delivers tens of thousands).
func (h *harness) waitUnique(n int, within time.Duration) {
	h.t.Helper()
	seen := map[string]struct{}{}
	folded := 0
	require.Eventually(h.t, func() bool {
		h.mu.Lock()
		fresh := slices.Clone(h.got[folded:])
		folded = len(h.got)
		h.mu.Unlock()
		for _, id := range fresh {
			seen[id] = struct{}{}
		}
		return len(seen) >= n
	}, within, 10*time.Millisecond, "waiting for %d distinct activities", n)
}

// readRecord reads the checkpoint from store without failing the test; nil
// when there is none (yet) or it cannot be read. The store must be opened
// before the stream starts: atomicfile.Open removes temporary files, which
// would break a write in flight.
func readRecord(store *atomicfile.Store, key string) *checkpoint.Record {
	data, err := store.Get(key)
	if err != nil {
		return nil
	}
	rec, err := checkpoint.Decode(data)
	if err != nil {
		return nil
	}
	return rec
}

// checkpointWatch polls the checkpoint while a stream runs and checks the
// collection model's promise at every revision it sees: every activity of
// the dataset created in [floor, scanned_to) has already been delivered.
type checkpointWatch struct {
	stopOnce   sync.Once
	done       chan struct{}
	finished   chan struct{}
	revs       atomic.Int64
	violations []string
}

func (h *harness) watchCheckpoint(data []fakeapi.Activity) *checkpointWatch {
	store, err := atomicfile.Open(h.dir)
	require.NoError(h.t, err)
	sorted := slices.Clone(data)
	slices.SortFunc(sorted, func(a, b fakeapi.Activity) int { return a.CreatedAt.Compare(b.CreatedAt) })
	w := &checkpointWatch{done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(w.finished)
		lastRev := int64(-1)
		var lastStat os.FileInfo
		delivered := map[string]bool{}
		seen := 0     // deliveries folded into delivered
		verified := 0 // sorted[:verified] are below a checked scanned_to and delivered
		for {
			select {
			case <-w.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			// Decode only a file that changed (every write is a rename, so
			// a new revision is a new file).
			st, err := os.Stat(store.Path(e2eKey))
			if err != nil || (lastStat != nil && os.SameFile(st, lastStat) && st.ModTime().Equal(lastStat.ModTime())) {
				continue
			}
			lastStat = st
			rec := readRecord(store, e2eKey)
			if rec == nil || rec.Rev == lastRev {
				continue
			}
			lastRev = rec.Rev
			w.revs.Add(1)
			got := h.delivered() // read after the checkpoint: deliveries only grow
			for _, id := range got[seen:] {
				delivered[id] = true
			}
			seen = len(got)
			floor, scanned := rec.FloorTime(), rec.ScannedToTime()
			for verified < len(sorted) && sorted[verified].CreatedAt.Before(scanned) {
				a := sorted[verified]
				if !a.CreatedAt.Before(floor) && !delivered[a.ID] {
					if len(w.violations) < 10 {
						w.violations = append(w.violations, fmt.Sprintf("rev %d scanned_to %s passed undelivered activity %s created %s",
							rec.Rev, rec.ScannedTo, a.ID, a.CreatedAt.UTC().Format(time.RFC3339Nano)))
					}
					break
				}
				verified++
			}
		}
	}()
	return w
}

// stop ends the watch and returns what it found.
func (w *checkpointWatch) stop() (revisions int64, violations []string) {
	w.stopOnce.Do(func() { close(w.done) })
	<-w.finished
	return w.revs.Load(), w.violations
}

// grepDir returns the files below dir whose content contains secret.
func grepDir(t *testing.T, dir, secret string) []string {
	t.Helper()
	var hits []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			hits = append(hits, path)
		}
		return nil
	}))
	return hits
}
