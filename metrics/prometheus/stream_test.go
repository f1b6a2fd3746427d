package prometheus_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const generated = 7

// A stream built with `metrics: prometheus: {}` and the caller's mux serves
// the engine's own counters at /metrics and /stats.
func TestStreamServesComponentMetricsOnTheMux(t *testing.T) {
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	require.NoError(t, b.SetMetricsYAML("prometheus: {}"))
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	require.NoError(t, b.AddInputYAML(fmt.Sprintf(`
label: gen
generate:
  count: %d
  interval: ""
  mapping: 'root = {"n": counter()}'
`, generated)))
	require.NoError(t, b.AddOutputYAML("drop: {}"))
	strm, err := b.Build()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, strm.Run(ctx), "the stream ends when generate has sent its count")

	for _, path := range []string{"/metrics", "/stats"} {
		mfs := scrape(t, mux, path)
		assert.Equal(t, float64(generated),
			series(t, mfs, "input_received", map[string]string{"label": "gen", "path": "root.input"}).GetCounter().GetValue(), path)
		assert.Equal(t, float64(generated),
			series(t, mfs, "output_sent", map[string]string{"label": "", "path": "root.output"}).GetCounter().GetValue(), path)
		assert.Equal(t, dto.MetricType_HISTOGRAM, mfs["output_latency_seconds"].GetType(), path)
		assert.Contains(t, mfs, "go_goroutines", path)
		assert.Contains(t, mfs, "process_resident_memory_bytes", path)
	}
}

// counterValue returns the value of the only series of a counter family, or
// -1 if there is not exactly one.
func counterValue(mf *dto.MetricFamily) float64 {
	if len(mf.GetMetric()) != 1 {
		return -1
	}
	return mf.GetMetric()[0].GetCounter().GetValue()
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// runCLI runs the Benthos CLI (as the distribution binary does) on a config
// file. started is closed once the stream is built; done yields the exit
// code.
//
// shutdown_timeout is an hour because Benthos starts a goroutine on
// shutdown that calls os.Exit(1) once shutdown_timeout+1s has passed, even
// after a clean exit; it must not fire while the test binary still runs.
func runCLI(ctx context.Context, t *testing.T, config string) (started <-chan struct{}, done <-chan int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(config+"\nshutdown_timeout: 1h\nlogger:\n  level: OFF\n"), 0o600))
	startedCh, doneCh := make(chan struct{}), make(chan int, 1)
	go func() {
		code, _ := service.RunCLIToCode(ctx,
			service.CLIOptSetArgs("compliance-connect", "run", path),
			service.CLIOptOnStreamStart(func(*service.RunningStreamSummary) error {
				close(startedCh)
				return nil
			}))
		doneCh <- code
	}()
	return startedCh, doneCh
}

func TestCLIServesMetricsOnTheHTTPAddress(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// shutdown_delay keeps the HTTP server up after generate has finished,
	// so the scrape sees final counts; cancelling ctx ends the delay.
	started, done := runCLI(ctx, t, fmt.Sprintf(`
http:
  address: %s
shutdown_delay: 1h
input:
  label: gen
  generate:
    count: %d
    interval: ""
    mapping: 'root = "x"'
output:
  drop: {}
metrics:
  prometheus:
    prefix: cc
`, addr, generated))

	// Benthos v4.60.0 serves HTTP while the stream still adds routes to its
	// gorilla mux (a data race in core), so scrape only once it is built.
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not start")
	}
	var last float64
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return false
		}
		sent, received := counterValue(mfs["cc_output_sent"]), counterValue(mfs["cc_input_received"])
		last = sent
		return sent == generated && received == generated
	}, 30*time.Second, 10*time.Millisecond, "cc_output_sent never reached %d", generated)
	t.Logf("cc_output_sent reached %v", last)

	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the CLI did not return after its context was cancelled")
	}
}

func TestCLIWritesTheMetricsFileWhenARunEnds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "metrics.prom")
	_, done := runCLI(t.Context(), t, fmt.Sprintf(`
http:
  enabled: false
input:
  label: gen
  generate:
    count: %d
    interval: ""
    mapping: 'root = "x"'
output:
  drop: {}
metrics:
  prometheus:
    add_go_metrics: false
    add_process_metrics: false
    file_output_path: %s
`, generated, out))

	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(30 * time.Second):
		t.Fatal("the CLI did not exit after generate finished")
	}
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	mfs := parseText(t, f)
	assert.Equal(t, float64(generated),
		series(t, mfs, "input_received", map[string]string{"label": "gen", "path": "root.input"}).GetCounter().GetValue())
	assert.Equal(t, float64(generated),
		series(t, mfs, "output_sent", map[string]string{"label": "", "path": "root.output"}).GetCounter().GetValue())
	assert.NotContains(t, mfs, "go_goroutines")
}
