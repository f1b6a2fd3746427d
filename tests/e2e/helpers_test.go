package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const apiKey = "sk-ant-api01-e2e-test-key-0123456789"

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// harness runs the real input, through the Benthos engine, against the fake API.
type harness struct {
	t     *testing.T
	clock *fakeapi.ManualClock
	api   *fakeapi.Server
	url   string
	dir   string
	env   *service.Environment

	mu        sync.Mutex
	got       []string            // activity ids in delivery order
	meta      []map[string]string // metadata of each delivered message
	onDeliver func(ids []string) error
}

func newHarness(t *testing.T, now time.Time, opts fakeapi.Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: fakeapi.NewManualClock(now), dir: t.TempDir()}
	opts.Clock = h.clock.Now
	if len(opts.APIKeys) == 0 && opts.Scopes == nil {
		opts.APIKeys = []string{apiKey}
	}
	running, err := fakeapi.Start(opts, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close() })
	h.api = running.Server
	h.url = running.URL()
	h.env = service.NewEnvironment()
	require.NoError(t, compliance.Register(h.env, compliance.WithClock(h.clock.Now)))
	return h
}

// inputYAML renders the input config with the fake's URL, the key and the
// state directory filled in; extra is appended under anthropic_compliance.
func (h *harness) inputYAML(extra string) string {
	return fmt.Sprintf(`
label: e2e
anthropic_compliance:
  api_key: %s
  base_url: %s
  state:
    path: %s
  retries:
    initial_interval: 0s
%s`, apiKey, h.url, h.dir, extra)
}

// run starts a stream and returns a stop function that stops it gracefully.
func (h *harness) run(inputYAML string) (stop func()) {
	h.t.Helper()
	sb := h.env.NewStreamBuilder()
	require.NoError(h.t, sb.SetLoggerYAML("level: "+logLevel()))
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
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(h.t, stream.Stop(ctx))
			<-done
		})
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) delivered() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func (h *harness) waitDelivered(n int) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.delivered()) >= n }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d activities", n)
}

// record reads the checkpoint the input keeps in its state directory.
func (h *harness) record(key string) *checkpoint.Record {
	h.t.Helper()
	store, err := atomicfile.Open(h.dir)
	require.NoError(h.t, err)
	data, err := store.Get(key)
	require.NoError(h.t, err, "checkpoint %s", filepath.Join(h.dir, key))
	rec, err := checkpoint.Decode(data)
	require.NoError(h.t, err)
	return rec
}

func ids(acts []fakeapi.Activity) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.ID
	}
	return out
}

// logLevel is OFF unless E2E_LOG_LEVEL is set (e.g. DEBUG when debugging a test).
func logLevel() string {
	if l := os.Getenv("E2E_LOG_LEVEL"); l != "" {
		return l
	}
	return "OFF"
}
