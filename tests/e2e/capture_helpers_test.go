package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// ---------------------------------------------------------------------------
// Log capture.

// logEntry is one captured log line with its attributes flattened to text.
type logEntry struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// text is the entry as one line, every attribute included.
func (e logEntry) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Level, e.Msg)
	keys := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Attrs[k])
	}
	return b.String()
}

// logSink is an slog.Handler that keeps every record at every level (and
// echoes it to stderr when E2E_LOG_LEVEL is set). onEntry, when set, is called
// synchronously on the logging goroutine: a test can react to a log line
// before the code that logged it continues.
type logSink struct {
	mu      sync.Mutex
	entries []logEntry
	onEntry func(logEntry)
	echo    bool
}

func newLogSink() *logSink { return &logSink{echo: os.Getenv("E2E_LOG_LEVEL") != ""} }

func (s *logSink) logger() *slog.Logger { return slog.New(&sinkHandler{sink: s}) }

func (s *logSink) all() []logEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

func (s *logSink) setOnEntry(fn func(logEntry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEntry = fn
}

// matching returns the entries whose message contains substr.
func (s *logSink) matching(substr string) []logEntry {
	var out []logEntry
	for _, e := range s.all() {
		if strings.Contains(e.Msg, substr) {
			out = append(out, e)
		}
	}
	return out
}

// contains reports whether a line at level or above contains every part, in
// its message or its attributes (written as k=v).
func (s *logSink) contains(level slog.Level, parts ...string) bool {
	for _, e := range s.all() {
		if e.Level < level {
			continue
		}
		text := e.Msg
		for k, v := range e.Attrs {
			text += " " + k + "=" + v
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(text, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// dump is every captured line, for failure messages and greps.
func (s *logSink) dump() string {
	var b strings.Builder
	for _, e := range s.all() {
		b.WriteString(e.text())
		b.WriteByte('\n')
	}
	return b.String()
}

// report is the attributes of one "job report" log line.
type report map[string]string

// jobReports lists the job report lines in order.
func (s *logSink) jobReports() []report {
	var out []report
	for _, e := range s.all() {
		if e.Msg == "job report" {
			out = append(out, report(e.Attrs))
		}
	}
	return out
}

// waitJob waits for a job report matching fn and returns it.
func (s *logSink) waitJob(t *testing.T, what string, fn func(report) bool) report {
	t.Helper()
	var found report
	require.Eventually(t, func() bool {
		for _, rep := range s.jobReports() {
			if fn(rep) {
				found = rep
				return true
			}
		}
		return false
	}, 30*time.Second, 5*time.Millisecond, "waiting for a job report: %s; logs:\n%s", what, s.dump())
	return found
}

// waitSuccess waits for the n-th (1-based) successful job report.
func (s *logSink) waitSuccess(t *testing.T, n int) report {
	t.Helper()
	var found report
	require.Eventually(t, func() bool {
		k := 0
		for _, rep := range s.jobReports() {
			if rep["outcome"] == collector.OutcomeSuccess {
				if k++; k == n {
					found = rep
					return true
				}
			}
		}
		return false
	}, 30*time.Second, 5*time.Millisecond, "waiting for successful job report #%d; logs:\n%s", n, s.dump())
	return found
}

type sinkHandler struct {
	sink  *logSink
	attrs []slog.Attr
}

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		e.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		e.Attrs[a.Key] = a.Value.String()
		return true
	})
	s := h.sink
	s.mu.Lock()
	s.entries = append(s.entries, e)
	fn := s.onEntry
	s.mu.Unlock()
	if s.echo {
		fmt.Fprintln(os.Stderr, e.text())
	}
	if fn != nil {
		fn(e)
	}
	return nil
}

func (h *sinkHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sinkHandler{sink: h.sink, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *sinkHandler) WithGroup(string) slog.Handler { return h }

// ---------------------------------------------------------------------------
// The output.

// verdict is what the sink does with one batch.
type verdict int

const (
	ackIt  verdict = iota // write succeeds: ack
	nackIt                // write fails: nack
	holdIt                // wait for release: the ack is held
)

// delivery is one batch as the sink received it.
type delivery struct {
	N    int // 1-based arrival number
	IDs  []string
	Meta []map[string]string
}

type heldBatch struct {
	d    delivery
	done chan error
}

// sink is the output of a rig's streams (the output type e2e_sink). Each
// batch is recorded as delivered when it arrives; policy decides whether it
// is acked, nacked or held.
type sink struct {
	mu     sync.Mutex
	n      int
	got    []string
	meta   []map[string]string
	acked  map[string]int
	nacked int
	held   []*heldBatch
	policy func(delivery) verdict
}

var errNack = errors.New("e2e sink refused the batch")

func newSink() *sink { return &sink{acked: map[string]int{}} }

// registerSink registers s on env as the output type e2e_sink.
func registerSink(env *service.Environment, s *sink) error {
	return env.RegisterBatchOutput("e2e_sink", service.NewConfigSpec().Field(service.NewOutputMaxInFlightField()),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			n, err := conf.FieldMaxInFlight()
			return s, service.BatchPolicy{}, n, err
		})
}

func (s *sink) Connect(context.Context) error { return nil }
func (s *sink) Close(context.Context) error   { return nil }

func (s *sink) WriteBatch(ctx context.Context, b service.MessageBatch) error {
	d := delivery{IDs: make([]string, len(b)), Meta: make([]map[string]string, len(b))}
	for i, m := range b {
		d.IDs[i], _ = m.MetaGet("activity_id")
		d.Meta[i] = map[string]string{}
		_ = m.MetaWalk(func(k, v string) error { d.Meta[i][k] = v; return nil })
	}
	s.mu.Lock()
	s.n++
	d.N = s.n
	s.got = append(s.got, d.IDs...)
	s.meta = append(s.meta, d.Meta...)
	v := ackIt
	if s.policy != nil {
		v = s.policy(d)
	}
	var hb *heldBatch
	switch v {
	case nackIt:
		s.nacked++
		s.mu.Unlock()
		return errNack
	case holdIt:
		hb = &heldBatch{d: d, done: make(chan error, 1)}
		s.held = append(s.held, hb)
	}
	s.mu.Unlock()
	var err error
	if hb != nil {
		select {
		case err = <-hb.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		s.mu.Lock()
		for _, id := range d.IDs {
			s.acked[id]++
		}
		s.mu.Unlock()
	}
	return err
}

func (s *sink) setPolicy(fn func(delivery) verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = fn
}

// delivered returns every id received, in arrival order (repeats included).
func (s *sink) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// metas returns the metadata of every message received.
func (s *sink) metas() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]string(nil), s.meta...)
}

// ackedIDs returns the ids whose batch was acknowledged with nil.
func (s *sink) ackedIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.acked))
	for k, v := range s.acked {
		out[k] = v
	}
	return out
}

// nackedCount is the number of batches nacked so far.
func (s *sink) nackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nacked
}

// heldCount is the number of batches held right now.
func (s *sink) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// heldIDs returns the ids of the batches held right now.
func (s *sink) heldIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, hb := range s.held {
		out = append(out, hb.d.IDs...)
	}
	return out
}

// release resolves the held batches matching fn with err (nil acks).
func (s *sink) release(fn func(delivery) bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.held[:0]
	for _, hb := range s.held {
		if fn == nil || fn(hb.d) {
			hb.done <- err
			continue
		}
		kept = append(kept, hb)
	}
	s.held = kept
}

// releaseAll resolves every held batch with err.
func (s *sink) releaseAll(err error) { s.release(nil, err) }

func (s *sink) waitDelivered(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.delivered()) >= n }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d activities", n)
}

func (s *sink) waitHeld(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.heldCount() >= n }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d held batches", n)
}

// waitUnique waits until n distinct activities were delivered, counting
// new deliveries only at each check (a soak delivers tens of thousands).
func (s *sink) waitUnique(t *testing.T, n int, within time.Duration) {
	t.Helper()
	seen := map[string]struct{}{}
	folded := 0
	require.Eventually(t, func() bool {
		s.mu.Lock()
		fresh := slices.Clone(s.got[folded:])
		folded = len(s.got)
		s.mu.Unlock()
		for _, id := range fresh {
			seen[id] = struct{}{}
		}
		return len(seen) >= n
	}, within, 10*time.Millisecond, "waiting for %d distinct activities", n)
}

// ---------------------------------------------------------------------------
// Prometheus scrapes.

// scrape is one parsed answer of /metrics.
type scrape map[string]*dto.MetricFamily

// scrape GETs /metrics from the stream's mux and parses the text format.
func (st *stream) scrape() scrape {
	st.t.Helper()
	code, body := st.get("/metrics")
	require.Equal(st.t, http.StatusOK, code, body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(st.t, err, "parsing /metrics")
	return fams
}

// series returns the series of name whose labels include every pair of kv
// ("name", "value", ...).
func (s scrape) series(name string, kv ...string) []*dto.Metric {
	fam := s[name]
	if fam == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && labels[kv[i]] == kv[i+1]
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value is the sum of the counter or gauge series of name matching kv;
// found is false when there is none.
func (s scrape) value(name string, kv ...string) (v float64, found bool) {
	for _, m := range s.series(name, kv...) {
		found = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, found
}

// must is value for a metric that must exist.
func (s scrape) must(t *testing.T, name string, kv ...string) float64 {
	t.Helper()
	v, ok := s.value(name, kv...)
	require.True(t, ok, "metric %s%v is not exported; compliance metrics present: %v", name, kv, s.names("compliance_"))
	return v
}

// histogram returns the sample count and sum of the histogram series of
// name matching kv.
func (s scrape) histogram(t *testing.T, name string, kv ...string) (count uint64, sum float64) {
	t.Helper()
	list := s.series(name, kv...)
	require.NotEmpty(t, list, "histogram %s%v is not exported; compliance metrics present: %v", name, kv, s.names("compliance_"))
	for _, m := range list {
		require.NotNil(t, m.Histogram, "%s is a %s, not a histogram", name, s[name].GetType())
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

// names lists the exported metric names with the prefix.
func (s scrape) names(prefix string) []string {
	var out []string
	for name := range s {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}

// gauges lists the compliance gauges of a scrape, for failure messages.
func (s scrape) gauges() map[string]float64 {
	out := map[string]float64{}
	for name, fam := range s {
		if strings.HasPrefix(name, "compliance_") && fam.GetType().String() == "GAUGE" {
			out[name], _ = s.value(name)
		}
	}
	return out
}
