package prometheus_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/metrics/prometheus"
)

// logBuffer collects what the exporter logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// quietYAML turns off the Go and process metrics so scrapes hold only what a
// test registered.
const quietYAML = "add_go_metrics: false\nadd_process_metrics: false\n"

// newExporter parses yaml through the real spec and builds an exporter whose
// logs go to the returned buffer. It is closed when the test ends.
func newExporter(t testing.TB, yaml string) (*prometheus.Exporter, *logBuffer) {
	t.Helper()
	conf, err := prometheus.Spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	logs := &logBuffer{}
	log := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	e, err := prometheus.New(conf, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e, logs
}

// scrape GETs path from h and parses the text exposition it serves.
func scrape(t *testing.T, h http.Handler, path string) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain"), rec.Header().Get("Content-Type"))
	return parseText(t, rec.Body)
}

func parseText(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(r)
	require.NoError(t, err)
	return mfs
}

// scrapeExporter scrapes the exporter's handler directly.
func scrapeExporter(t *testing.T, e *prometheus.Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	return scrape(t, e.HandlerFunc(), "/metrics")
}

// series returns the metric of family name whose labels are exactly labels,
// failing the test when there is none.
func series(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mf, ok := mfs[name]
	require.Truef(t, ok, "no metric family %q in %v", name, slices.Sorted(maps.Keys(mfs)))
	var seen []map[string]string
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if maps.Equal(got, labels) {
			return m
		}
		seen = append(seen, got)
	}
	require.Failf(t, "series not found", "%s%v not among %v", name, labels, seen)
	return nil
}
