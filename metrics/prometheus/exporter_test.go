package prometheus_test

import (
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Benthos builds a counter through the ctor on every Incr of a plugin's
// MetricCounter, so each call with the same label values must land on the
// same series.
func TestCounterIncrementsTheSeriesOfItsLabelValues(t *testing.T) {
	e, _ := newExporter(t, quietYAML)
	ctor := e.NewCounterCtor("input_received", "label", "path")

	ctor("gen", "root.input").Incr(3)
	ctor("gen", "root.input").Incr(2)
	ctor("other", "root.input").Incr(1)
	ctor("gen", "root.input").Incr(-4) // counters only go up: ignored
	ctor("gen", "root.input").Incr(0)
	ctor("gen", "root.input").(interface{ IncrFloat64(float64) }).IncrFloat64(0.5)
	ctor("gen", "root.input").(interface{ IncrFloat64(float64) }).IncrFloat64(math.NaN())

	mfs := scrapeExporter(t, e)
	require.Equal(t, dto.MetricType_COUNTER, mfs["input_received"].GetType())
	assert.Equal(t, 5.5, series(t, mfs, "input_received", map[string]string{"label": "gen", "path": "root.input"}).GetCounter().GetValue())
	assert.Equal(t, 1.0, series(t, mfs, "input_received", map[string]string{"label": "other", "path": "root.input"}).GetCounter().GetValue())
}

func TestCounterWithoutLabels(t *testing.T) {
	e, _ := newExporter(t, quietYAML)
	e.NewCounterCtor("jobs")().Incr(2)

	mfs := scrapeExporter(t, e)
	assert.Equal(t, 2.0, series(t, mfs, "jobs", map[string]string{}).GetCounter().GetValue())
}

func TestGaugeSetReplacesTheValue(t *testing.T) {
	e, _ := newExporter(t, quietYAML)
	ctor := e.NewGaugeCtor("open_slices", "label", "path")

	ctor("in", "root.input").Set(7)
	ctor("in", "root.input").Set(3)
	ctor("in", "root.input").(interface{ SetFloat64(float64) }).SetFloat64(-2.5)
	ctor("other", "root.input").Set(9)

	mfs := scrapeExporter(t, e)
	require.Equal(t, dto.MetricType_GAUGE, mfs["open_slices"].GetType())
	assert.Equal(t, -2.5, series(t, mfs, "open_slices", map[string]string{"label": "in", "path": "root.input"}).GetGauge().GetValue())
	assert.Equal(t, 9.0, series(t, mfs, "open_slices", map[string]string{"label": "other", "path": "root.input"}).GetGauge().GetValue())
}

func TestTimerObservesSecondsInDefaultHistogram(t *testing.T) {
	e, _ := newExporter(t, quietYAML)
	ctor := e.NewTimerCtor("processor_latency_ns", "label", "path")

	ctor("p", "root.pipeline.processors.0").Timing(2_000_000)     // 2ms
	ctor("p", "root.pipeline.processors.0").Timing(1_500_000_000) // 1.5s

	mfs := scrapeExporter(t, e)
	require.NotContains(t, mfs, "processor_latency_ns")
	require.Equal(t, dto.MetricType_HISTOGRAM, mfs["processor_latency_seconds"].GetType())
	h := series(t, mfs, "processor_latency_seconds", map[string]string{"label": "p", "path": "root.pipeline.processors.0"}).GetHistogram()
	assert.Equal(t, uint64(2), h.GetSampleCount())
	assert.InDelta(t, 1.502, h.GetSampleSum(), 1e-9)

	cumulative := map[float64]uint64{}
	var bounds []float64
	for _, b := range h.GetBucket() {
		cumulative[b.GetUpperBound()] = b.GetCumulativeCount()
		bounds = append(bounds, b.GetUpperBound())
	}
	assert.Equal(t, []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, math.Inf(1)}, bounds)
	assert.Equal(t, uint64(0), cumulative[0.001])
	assert.Equal(t, uint64(1), cumulative[0.005])
	assert.Equal(t, uint64(1), cumulative[1])
	assert.Equal(t, uint64(2), cumulative[2.5])
}

func TestTimerUsesConfiguredHistogramBuckets(t *testing.T) {
	e, _ := newExporter(t, quietYAML+"histogram_buckets: [0.1, 1, 10]\n")
	e.NewTimerCtor("job_duration")().Timing(3_000_000_000)

	mfs := scrapeExporter(t, e)
	h := series(t, mfs, "job_duration_seconds", map[string]string{}).GetHistogram()
	var bounds []float64
	var counts []uint64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		counts = append(counts, b.GetCumulativeCount())
	}
	assert.Equal(t, []float64{0.1, 1, 10, math.Inf(1)}, bounds)
	assert.Equal(t, []uint64{0, 0, 1, 1}, counts)
}

func TestTimerIsSummaryWhenHistogramTimingIsOff(t *testing.T) {
	e, _ := newExporter(t, quietYAML+"use_histogram_timing: false\n")
	ctor := e.NewTimerCtor("output_latency_ns", "label", "path")
	for range 10 {
		ctor("out", "root.output").Timing(250_000_000)
	}

	mfs := scrapeExporter(t, e)
	require.Equal(t, dto.MetricType_SUMMARY, mfs["output_latency_seconds"].GetType())
	s := series(t, mfs, "output_latency_seconds", map[string]string{"label": "out", "path": "root.output"}).GetSummary()
	assert.Equal(t, uint64(10), s.GetSampleCount())
	assert.InDelta(t, 2.5, s.GetSampleSum(), 1e-9)
	var quantiles []float64
	for _, q := range s.GetQuantile() {
		quantiles = append(quantiles, q.GetQuantile())
		assert.InDelta(t, 0.25, q.GetValue(), 1e-9)
	}
	assert.Equal(t, []float64{0.5, 0.9, 0.99}, quantiles)
}

func TestNamesAreSanitisedToPrometheusRules(t *testing.T) {
	tests := []struct {
		name      string
		prefix    string
		kind      string
		metric    string
		labelKeys []string
		want      string
		wantLabel []string
	}{
		{name: "benthos names pass", kind: "counter", metric: "input_received", labelKeys: []string{"label", "path"}, want: "input_received", wantLabel: []string{"label", "path"}},
		{name: "dots and dashes", kind: "counter", metric: "foo.bar-baz", want: "foo_bar_baz"},
		{name: "colons and spaces", kind: "gauge", metric: "a:b c", want: "a_b_c"},
		{name: "leading digit", kind: "gauge", metric: "9lives", want: "_9lives"},
		{name: "non ascii", kind: "counter", metric: "héllo", want: "h_llo"},
		{name: "prefix joined with underscore", prefix: "compliance_connect", kind: "counter", metric: "input_received", want: "compliance_connect_input_received"},
		{name: "prefix sanitised", prefix: "my-app", kind: "gauge", metric: "x", want: "my_app_x"},
		{name: "timer ns becomes seconds", kind: "timer", metric: "input_latency_ns", want: "input_latency_seconds"},
		{name: "timer gains seconds", kind: "timer", metric: "job_duration", want: "job_duration_seconds"},
		{name: "timer keeps seconds", kind: "timer", metric: "wait_seconds", want: "wait_seconds"},
		{name: "label keys sanitised", kind: "counter", metric: "x", labelKeys: []string{"my.key", "__reserved", "1st"}, want: "x", wantLabel: []string{"_1st", "_reserved", "my_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := quietYAML
			if tt.prefix != "" {
				yaml += "prefix: " + tt.prefix + "\n"
			}
			e, logs := newExporter(t, yaml)
			values := make([]string, len(tt.labelKeys))
			for i := range values {
				values[i] = "v"
			}
			switch tt.kind {
			case "counter":
				e.NewCounterCtor(tt.metric, tt.labelKeys...)(values...).Incr(1)
			case "gauge":
				e.NewGaugeCtor(tt.metric, tt.labelKeys...)(values...).Set(1)
			case "timer":
				e.NewTimerCtor(tt.metric, tt.labelKeys...)(values...).Timing(1)
			}

			mfs := scrapeExporter(t, e)
			require.Len(t, mfs, 1, "families: %v", mfs)
			mf, ok := mfs[tt.want]
			require.True(t, ok, "want family %q, got %v", tt.want, mfs)
			var gotLabels []string
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				gotLabels = append(gotLabels, lp.GetName())
			}
			assert.Equal(t, tt.wantLabel, gotLabels)
			assert.Empty(t, logs.String())
		})
	}
}

// Two components registering the same name with the same label keys (in any
// order) share one vec, so their series add up.
func TestSameNameAndLabelsShareTheSeries(t *testing.T) {
	e, logs := newExporter(t, quietYAML)
	first := e.NewCounterCtor("output_sent", "label", "path")
	second := e.NewCounterCtor("output_sent", "label", "path")
	reordered := e.NewCounterCtor("output_sent", "path", "label")

	first("out", "root.output").Incr(1)
	second("out", "root.output").Incr(2)
	reordered("root.output", "out").Incr(4)

	mfs := scrapeExporter(t, e)
	require.Len(t, mfs["output_sent"].GetMetric(), 1)
	assert.Equal(t, 7.0, series(t, mfs, "output_sent", map[string]string{"label": "out", "path": "root.output"}).GetCounter().GetValue())
	assert.Empty(t, logs.String())
}

func TestSameNameWithOtherLabelsExportsBothSetsAndWarns(t *testing.T) {
	e, logs := newExporter(t, quietYAML)
	e.NewCounterCtor("retries", "label", "path")("in", "root.input").Incr(2)
	e.NewCounterCtor("retries", "reason")("429").Incr(3)

	mfs := scrapeExporter(t, e)
	assert.Equal(t, 2.0, series(t, mfs, "retries", map[string]string{"label": "in", "path": "root.input"}).GetCounter().GetValue())
	assert.Equal(t, 3.0, series(t, mfs, "retries", map[string]string{"reason": "429"}).GetCounter().GetValue())
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "retries is registered with labels [reason] after labels [label,path]")
}

func TestSameNameAsAnotherTypeIsNotExportedAndWarns(t *testing.T) {
	e, logs := newExporter(t, quietYAML)
	e.NewCounterCtor("jobs", "outcome")("ok").Incr(1)
	require.NotPanics(t, func() {
		e.NewGaugeCtor("jobs", "outcome")("ok").Set(42)
		e.NewTimerCtor("jobs_seconds")().Timing(1)
		e.NewCounterCtor("jobs_seconds")().Incr(1)
	})

	mfs := scrapeExporter(t, e)
	require.Equal(t, dto.MetricType_COUNTER, mfs["jobs"].GetType())
	assert.Equal(t, 1.0, series(t, mfs, "jobs", map[string]string{"outcome": "ok"}).GetCounter().GetValue())
	assert.Equal(t, dto.MetricType_HISTOGRAM, mfs["jobs_seconds"].GetType())
	assert.Contains(t, logs.String(), `Prometheus metric jobs (gauge \"jobs\", labels [outcome]) is not exported: the name is already registered as a counter`)
	assert.Contains(t, logs.String(), `Prometheus metric jobs_seconds (counter \"jobs_seconds\", labels []) is not exported: the name is already registered as a timer`)
}

func TestGoMetricNamesAreNotTaken(t *testing.T) {
	e, logs := newExporter(t, "add_process_metrics: false\n")
	e.NewGaugeCtor("go_goroutines")().Set(-1)

	mfs := scrapeExporter(t, e)
	g := series(t, mfs, "go_goroutines", map[string]string{}).GetGauge()
	assert.Positive(t, g.GetValue(), "go_goroutines must still be the runtime's value")
	assert.Contains(t, logs.String(), "go_goroutines (gauge \\\"go_goroutines\\\", labels []) is not exported: the name is taken by the Go or process metrics")

	// Without the Go metrics the name is free.
	quiet, quietLogs := newExporter(t, quietYAML)
	quiet.NewGaugeCtor("go_goroutines")().Set(-1)
	assert.Equal(t, -1.0, series(t, scrapeExporter(t, quiet), "go_goroutines", map[string]string{}).GetGauge().GetValue())
	assert.Empty(t, quietLogs.String())
}

func TestGoAndProcessMetricsFollowTheirToggles(t *testing.T) {
	tests := []struct {
		yaml        string
		wantGo      bool
		wantProcess bool
	}{
		{yaml: "{}", wantGo: true, wantProcess: true},
		{yaml: "add_process_metrics: false", wantGo: true},
		{yaml: "add_go_metrics: false", wantProcess: true},
		{yaml: quietYAML},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			e, _ := newExporter(t, tt.yaml)
			mfs := scrapeExporter(t, e)
			// These two exist on every platform the Go runtime and
			// client_golang's process collector support; CI is Linux.
			assert.Equal(t, tt.wantGo, mfs["go_goroutines"] != nil)
			assert.Equal(t, tt.wantProcess, mfs["process_cpu_seconds_total"] != nil)
		})
	}
}

func TestUnexportableRegistrationsDoNothingAndWarn(t *testing.T) {
	t.Run("label keys collide after sanitising", func(t *testing.T) {
		e, logs := newExporter(t, quietYAML)
		e.NewCounterCtor("x", "a.b", "a_b")("1", "2").Incr(1)
		assert.NotContains(t, scrapeExporter(t, e), "x")
		assert.Contains(t, logs.String(), `label \"a_b\" appears twice after sanitising`)
	})
	t.Run("histogram timer with an le label", func(t *testing.T) {
		e, logs := newExporter(t, quietYAML)
		e.NewTimerCtor("t", "le")("1").Timing(1)
		assert.NotContains(t, scrapeExporter(t, e), "t_seconds")
		assert.Contains(t, logs.String(), `label \"le\" is reserved by Prometheus for this timer type`)
	})
	t.Run("summary timer with a quantile label", func(t *testing.T) {
		e, logs := newExporter(t, quietYAML+"use_histogram_timing: false\n")
		e.NewTimerCtor("t", "quantile")("1").Timing(1)
		assert.NotContains(t, scrapeExporter(t, e), "t_seconds")
		assert.Contains(t, logs.String(), `label \"quantile\" is reserved by Prometheus for this timer type`)
	})
}

func TestWrongNumberOfLabelValuesIsDroppedOnceWarned(t *testing.T) {
	e, logs := newExporter(t, quietYAML)
	ctor := e.NewCounterCtor("x", "a", "b")
	require.NotPanics(t, func() {
		ctor("only-one").Incr(1)
		ctor("1", "2", "3").Incr(1)
	})
	ctor("1", "2").Incr(1)

	mfs := scrapeExporter(t, e)
	require.Len(t, mfs["x"].GetMetric(), 1)
	assert.Equal(t, 1.0, series(t, mfs, "x", map[string]string{"a": "1", "b": "2"}).GetCounter().GetValue())
	assert.Contains(t, logs.String(), "got 1 label values for the 2 label keys [a b]")
	assert.NotContains(t, logs.String(), "got 3 label values", "a ctor warns once")
}

func TestInvalidUTF8LabelValuesAreRepaired(t *testing.T) {
	e, _ := newExporter(t, quietYAML)
	e.NewCounterCtor("x", "b", "a")("ok", "bad\xff").Incr(1)

	mfs := scrapeExporter(t, e)
	assert.Equal(t, 1.0, series(t, mfs, "x", map[string]string{"a": "bad\uFFFD", "b": "ok"}).GetCounter().GetValue())
}

func TestStatsAndMetricsServeTheSameHandler(t *testing.T) {
	e, _ := newExporter(t, quietYAML)
	e.NewCounterCtor("x")().Incr(1)
	// The handler does not route: Benthos mounts it at both paths.
	assert.Equal(t, scrape(t, e.HandlerFunc(), "/stats")["x"].String(), scrape(t, e.HandlerFunc(), "/metrics")["x"].String())
}
