package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Jeffail/shutdown"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	pmFieldPrefix             = "prefix"
	pmFieldAddProcessMetrics  = "add_process_metrics"
	pmFieldAddGoMetrics       = "add_go_metrics"
	pmFieldUseHistogramTiming = "use_histogram_timing"
	pmFieldHistogramBuckets   = "histogram_buckets"
	pmFieldFileOutputPath     = "file_output_path"
	pmFieldPushURL            = "push_url"
	pmFieldPushInterval       = "push_interval"
	pmFieldPushJobName        = "push_job_name"
	pmFieldPushBasicAuth      = "push_basic_auth"
	pmFieldPushUsername       = "username"
	pmFieldPushPassword       = "password"
)

// pushTimeout bounds every Pushgateway request, including the last one made
// by Close (Benthos closes metrics exporters without a deadline).
const pushTimeout = 10 * time.Second

// defaultBuckets are histogram upper bounds in seconds, from a millisecond
// (processor latency) to five minutes (a long collection job).
var defaultBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Spec returns the config spec of the prometheus metrics exporter.
func Spec() *service.ConfigSpec {
	bucketDefault := make([]any, len(defaultBuckets))
	for i, b := range defaultBuckets {
		bucketDefault[i] = b
	}
	return service.NewConfigSpec().
		Beta().
		Categories("Observability").
		Version("0.1.0").
		Summary("Serves metrics in the Prometheus text format on the HTTP server's `/metrics` and `/stats` endpoints.").
		Description(`
Every Benthos metric is kept in a registry private to this exporter and served by the service-wide HTTP server (`+"`http.address`"+`, default `+"`0.0.0.0:4195`"+`) at `+"`/metrics`"+` and `+"`/stats`"+`, also under `+"`http.root_path`"+`. Point a Prometheus scrape job at `+"`http://<host>:4195/metrics`"+`.

== Metric names

Names follow Prometheus rules: the `+"`prefix`"+` (if set) is joined with `+"`_`"+`, every character outside `+"`[a-zA-Z0-9_]`"+` (dots, dashes, colons, spaces) becomes `+"`_`"+`, and a leading digit gets a `+"`_`"+` in front. Label keys, including the `+"`label`"+` and `+"`path`"+` labels Benthos adds to every component metric, keep their names under the same rules (leading `+"`__`"+` is cut to `+"`_`"+`). Invalid UTF-8 in label values is replaced with U+FFFD.

== Counters, gauges and timers

Counters become Prometheus counters (negative increments are ignored), gauges become gauges. Timers are recorded in seconds: a name ending in `+"`_ns`"+` ends in `+"`_seconds`"+` instead (`+"`input_latency_ns`"+` is exported as `+"`input_latency_seconds`"+`) and other timer names get `+"`_seconds`"+` appended. With `+"`use_histogram_timing`"+` (the default) timers are histograms over `+"`histogram_buckets`"+`; otherwise they are summaries reporting the 0.5, 0.9 and 0.99 quantiles (errors 0.05, 0.01, 0.001) over a sliding ten minutes. Histograms can be aggregated across instances; summaries cannot.

== Clashing registrations

Components that register the same name with the same label keys share one series set. A name registered again with other label keys is exported with both label sets and a warning is logged. A name registered again as another type (a counter and a gauge), or one taken by the Go or process metrics, is not exported the second time, and a warning names it; nothing panics.

== Batch jobs

For runs that end by themselves, `+"`file_output_path`"+` writes the final values when the exporter closes, for example for the node_exporter textfile collector, and `+"`push_url`"+` pushes them to a Prometheus Pushgateway (every `+"`push_interval`"+` and once more on close). Each push replaces the metrics of its job name and is bounded by 10 seconds.`).
		Fields(
			service.NewStringField(pmFieldPrefix).
				Description("Prepended with `_` to every Benthos metric name, e.g. `compliance` turns `input_received` into `compliance_input_received`. Empty adds nothing. The Go and process metrics are never prefixed.").
				Examples("compliance_connect").
				Default(""),
			service.NewBoolField(pmFieldAddProcessMetrics).
				Description("Also export the `process_*` metrics of this process (CPU seconds, resident memory, open file descriptors, start time).").
				Default(true),
			service.NewBoolField(pmFieldAddGoMetrics).
				Description("Also export the `go_*` runtime metrics (goroutines, heap, garbage collection).").
				Default(true),
			service.NewBoolField(pmFieldUseHistogramTiming).
				Description("Export timers as histograms over `histogram_buckets`. When false, timers are summaries with the 0.5, 0.9 and 0.99 quantiles, which are cheaper per series but cannot be aggregated across instances.").
				Default(true),
			service.NewFloatListField(pmFieldHistogramBuckets).
				Description("Upper bounds of the timer histogram buckets, in seconds, strictly increasing and finite; a `+Inf` bucket is always added. Ignored when `use_histogram_timing` is false. Must not be empty.").
				Examples([]any{0.01, 0.1, 1, 10}).
				Default(bucketDefault).
				Advanced(),
			service.NewStringField(pmFieldFileOutputPath).
				Description("When set, the text exposition of every metric is written to this file when the exporter closes (the file is replaced atomically). Useful for runs that end by themselves. For the node_exporter textfile collector end the name in `.prom` and set `add_go_metrics` and `add_process_metrics` to false, since node_exporter exports its own. Empty writes nothing.").
				Examples("/var/lib/node_exporter/textfile/compliance_connect.prom").
				Default("").
				Advanced(),
			service.NewStringField(pmFieldPushURL).
				Description("Base URL of a Prometheus Pushgateway to push all metrics to, replacing those of `push_job_name`. Credentials go in `push_basic_auth`, not in the URL. Empty disables pushing.").
				Examples("http://pushgateway:9091").
				Default("").
				Advanced(),
			service.NewDurationField(pmFieldPushInterval).
				Description("How often to push while running, e.g. `30s`. Empty pushes only once, when the exporter closes. Ignored without `push_url`.").
				Examples("30s", "5m").
				Optional().
				Advanced(),
			service.NewStringField(pmFieldPushJobName).
				Description("The `job` label the pushed metrics are grouped under on the Pushgateway.").
				Default("compliance_connect").
				Advanced(),
			service.NewObjectField(pmFieldPushBasicAuth,
				service.NewStringField(pmFieldPushUsername).
					Description("User name for HTTP basic authentication with the Pushgateway. Empty sends no credentials.").
					Default(""),
				service.NewStringField(pmFieldPushPassword).
					Description("Password for HTTP basic authentication with the Pushgateway.").
					Default("").
					Secret(),
			).
				Description("HTTP basic authentication for `push_url`.").
				Advanced(),
		).
		Example("Scrape endpoint", "Serve `/metrics` on port 4195 for a Prometheus scrape job.", `
http:
  address: 0.0.0.0:4195
metrics:
  prometheus: {}
`).
		Example("Batch job", "Push the final values of a run that ends by itself to a Pushgateway and keep a copy on disk.", `
metrics:
  prometheus:
    add_go_metrics: false
    add_process_metrics: false
    push_url: http://pushgateway:9091
    push_job_name: compliance_backfill
    file_output_path: ./metrics.prom
`)
}

func init() {
	service.MustRegisterMetricsExporter("prometheus", Spec(),
		func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
			return New(conf, log)
		})
}

//------------------------------------------------------------------------------

// config holds the parsed fields of the exporter.
type config struct {
	prefix             string
	addProcessMetrics  bool
	addGoMetrics       bool
	useHistogramTiming bool
	histogramBuckets   []float64
	fileOutputPath     string
	pushURL            string
	pushInterval       time.Duration // zero: push only on close
	pushJobName        string
	pushUsername       string
	pushPassword       string
}

func parseConfig(conf *service.ParsedConfig) (config, error) {
	var c config
	var err error
	if c.prefix, err = conf.FieldString(pmFieldPrefix); err != nil {
		return c, err
	}
	if c.addProcessMetrics, err = conf.FieldBool(pmFieldAddProcessMetrics); err != nil {
		return c, err
	}
	if c.addGoMetrics, err = conf.FieldBool(pmFieldAddGoMetrics); err != nil {
		return c, err
	}
	if c.useHistogramTiming, err = conf.FieldBool(pmFieldUseHistogramTiming); err != nil {
		return c, err
	}
	if c.histogramBuckets, err = conf.FieldFloatList(pmFieldHistogramBuckets); err != nil {
		return c, err
	}
	if c.fileOutputPath, err = conf.FieldString(pmFieldFileOutputPath); err != nil {
		return c, err
	}
	if c.pushURL, err = conf.FieldString(pmFieldPushURL); err != nil {
		return c, err
	}
	if conf.Contains(pmFieldPushInterval) {
		if c.pushInterval, err = conf.FieldDuration(pmFieldPushInterval); err != nil {
			return c, err
		}
		if c.pushInterval <= 0 {
			return c, fmt.Errorf("%s: must be positive, got %v", pmFieldPushInterval, c.pushInterval)
		}
	}
	if c.pushJobName, err = conf.FieldString(pmFieldPushJobName); err != nil {
		return c, err
	}
	if c.pushUsername, err = conf.FieldString(pmFieldPushBasicAuth, pmFieldPushUsername); err != nil {
		return c, err
	}
	if c.pushPassword, err = conf.FieldString(pmFieldPushBasicAuth, pmFieldPushPassword); err != nil {
		return c, err
	}
	return c, c.validate()
}

// validate checks what the field types cannot, with errors naming the field.
// Values of push_basic_auth never appear in them.
func (c config) validate() error {
	if len(c.histogramBuckets) == 0 {
		return fmt.Errorf("%s: must hold at least one bucket", pmFieldHistogramBuckets)
	}
	for i, b := range c.histogramBuckets {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("%s[%d]: must be finite, got %v", pmFieldHistogramBuckets, i, b)
		}
		if i > 0 && b <= c.histogramBuckets[i-1] {
			return fmt.Errorf("%s[%d]: must be greater than the bucket before it (%v), got %v",
				pmFieldHistogramBuckets, i, c.histogramBuckets[i-1], b)
		}
	}
	if c.pushURL != "" {
		u, err := url.Parse(c.pushURL)
		if err != nil {
			return fmt.Errorf("%s: not a URL", pmFieldPushURL)
		}
		if u.User != nil {
			return fmt.Errorf("%s: must not carry credentials; use %s", pmFieldPushURL, pmFieldPushBasicAuth)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: must be an http or https URL with a host, got %q", pmFieldPushURL, c.pushURL)
		}
		if c.pushJobName == "" {
			return fmt.Errorf("%s: must not be empty when %s is set", pmFieldPushJobName, pmFieldPushURL)
		}
	}
	if c.pushPassword != "" && c.pushUsername == "" {
		return fmt.Errorf("%s.%s: must be set when %s.%s is", pmFieldPushBasicAuth, pmFieldPushUsername,
			pmFieldPushBasicAuth, pmFieldPushPassword)
	}
	return nil
}

//------------------------------------------------------------------------------

// Exporter is the prometheus metrics exporter. It implements
// service.MetricsExporter, and HandlerFunc serves its metrics; Benthos mounts
// that handler at /metrics and /stats. Its methods are safe for concurrent use.
type Exporter struct {
	log      *service.Logger
	conf     config
	reg      *prom.Registry
	families *families
	handler  http.Handler

	pusher  *push.Pusher // nil without push_url; used by the push loop, then by Close
	shutSig *shutdown.Signaller

	closeOnce sync.Once
	closeErr  error
}

// New builds an exporter from a config parsed with Spec. Without push_url it
// starts no goroutine; with push_url and push_interval it starts one push
// loop, which Close stops.
func New(conf *service.ParsedConfig, log *service.Logger) (*Exporter, error) {
	c, err := parseConfig(conf)
	if err != nil {
		return nil, err
	}
	return newExporter(c, log)
}

func newExporter(c config, log *service.Logger) (*Exporter, error) {
	reg := prom.NewRegistry()
	if c.addGoMetrics {
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, fmt.Errorf("registering Go metrics: %w", err)
		}
	}
	if c.addProcessMetrics {
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("registering process metrics: %w", err)
		}
	}
	// The names the Go and process collectors own: a Benthos metric of the
	// same name would make every scrape fail on inconsistent help text.
	reserved := map[string]struct{}{}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("gathering Go and process metrics: %w", err)
	}
	for _, mf := range mfs {
		reserved[mf.GetName()] = struct{}{}
	}

	e := &Exporter{
		log:  log,
		conf: c,
		reg:  reg,
		families: newFamilies(reg, timerStyle{
			histogram: c.useHistogramTiming,
			buckets:   slices.Clone(c.histogramBuckets),
		}, reserved),
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog:      promLogger{log},
			ErrorHandling: promhttp.ContinueOnError,
		}),
		shutSig: shutdown.NewSignaller(),
	}
	if c.pushURL != "" {
		e.pusher = push.New(c.pushURL, c.pushJobName).Gatherer(reg)
		if c.pushUsername != "" {
			e.pusher = e.pusher.BasicAuth(c.pushUsername, c.pushPassword)
		}
	}
	if e.pusher != nil && c.pushInterval > 0 {
		go e.pushLoop()
	} else {
		e.shutSig.TriggerHasStopped()
	}
	return e, nil
}

// NewCounterCtor returns a constructor of counters named name with the given
// label keys. It never fails: a metric that cannot be exported is logged once
// here and its counters do nothing.
func (e *Exporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	vec, lab := e.lookup(name, kindCounter, labelKeys)
	if vec == nil {
		return func(...string) service.MetricsExporterCounter { return noop{} }
	}
	cv := vec.(*prom.CounterVec)
	return func(labelValues ...string) service.MetricsExporterCounter {
		values, ok := lab.arrange(labelValues)
		if !ok {
			return noop{}
		}
		c, err := cv.GetMetricWithLabelValues(values...)
		if err != nil {
			lab.warnOnce(err)
			return noop{}
		}
		return counter{c}
	}
}

// NewTimerCtor returns a constructor of timers (histograms or summaries in
// seconds) named name with the given label keys; see NewCounterCtor.
func (e *Exporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	vec, lab := e.lookup(name, kindTimer, labelKeys)
	if vec == nil {
		return func(...string) service.MetricsExporterTimer { return noop{} }
	}
	var get func(...string) (prom.Observer, error)
	switch v := vec.(type) {
	case *prom.HistogramVec:
		get = v.GetMetricWithLabelValues
	case *prom.SummaryVec:
		get = v.GetMetricWithLabelValues
	}
	return func(labelValues ...string) service.MetricsExporterTimer {
		values, ok := lab.arrange(labelValues)
		if !ok {
			return noop{}
		}
		o, err := get(values...)
		if err != nil {
			lab.warnOnce(err)
			return noop{}
		}
		return timer{o}
	}
}

// NewGaugeCtor returns a constructor of gauges named name with the given
// label keys; see NewCounterCtor.
func (e *Exporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	vec, lab := e.lookup(name, kindGauge, labelKeys)
	if vec == nil {
		return func(...string) service.MetricsExporterGauge { return noop{} }
	}
	gv := vec.(*prom.GaugeVec)
	return func(labelValues ...string) service.MetricsExporterGauge {
		values, ok := lab.arrange(labelValues)
		if !ok {
			return noop{}
		}
		g, err := gv.GetMetricWithLabelValues(values...)
		if err != nil {
			lab.warnOnce(err)
			return noop{}
		}
		return gauge{g}
	}
}

// HandlerFunc serves every metric in the Prometheus exposition format the
// scraper asks for (text by default). Benthos mounts it at /metrics and
// /stats. It keeps working after Close.
func (e *Exporter) HandlerFunc() http.HandlerFunc {
	return e.handler.ServeHTTP
}

// Close stops the push loop, pushes the final values once more (bounded by
// 10s) and writes file_output_path. It is idempotent; later calls return the
// first result.
func (e *Exporter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.closeErr = e.close(ctx)
	})
	return e.closeErr
}

func (e *Exporter) close(ctx context.Context) error {
	e.shutSig.TriggerSoftStop()
	select {
	case <-e.shutSig.HasStoppedChan():
	case <-ctx.Done():
		e.shutSig.TriggerHardStop()
		<-e.shutSig.HasStoppedChan()
	}

	var errs []error
	if e.pusher != nil {
		if err := e.push(ctx); err != nil {
			errs = append(errs, fmt.Errorf("final push to %s: %w", pmFieldPushURL, err))
		}
	}
	if e.conf.fileOutputPath != "" {
		if err := prom.WriteToTextfile(e.conf.fileOutputPath, e.reg); err != nil {
			errs = append(errs, fmt.Errorf("writing %s %q: %w", pmFieldFileOutputPath, e.conf.fileOutputPath, err))
		}
	}
	return errors.Join(errs...)
}

//------------------------------------------------------------------------------

// lookup resolves the Prometheus name and label names of a Benthos metric
// and fetches its vec. A nil vec means the metric is not exported; the reason
// has been logged.
func (e *Exporter) lookup(name string, k kind, labelKeys []string) (prom.Collector, *labelling) {
	lab := &labelling{
		log:  e.log,
		name: metricName(e.conf.prefix, name, k),
		kind: k,
		keys: make([]string, len(labelKeys)),
	}
	for i, key := range labelKeys {
		lab.keys[i] = labelName(key)
	}
	sorted, order, err := sortLabels(lab.keys)
	if err != nil {
		e.log.Warnf("Prometheus metric %s (%s %q, labels %v) is not exported: %v", lab.name, k, name, labelKeys, err)
		return nil, nil
	}
	lab.order = order
	vec, merged, err := e.families.vec(lab.name, k, sorted)
	if err != nil {
		e.log.Warnf("Prometheus metric %s (%s %q, labels %v) is not exported: %v", lab.name, k, name, labelKeys, err)
		return nil, nil
	}
	if merged != "" {
		e.log.Warnf("Prometheus metric %s is registered with labels [%s] after labels %s: its series carry different label sets",
			lab.name, strings.Join(sorted, ","), merged)
	}
	return vec, lab
}

//------------------------------------------------------------------------------

// promLogger reports scrape errors through the Benthos logger.
type promLogger struct{ log *service.Logger }

func (p promLogger) Println(v ...any) { p.log.Warn(fmt.Sprint(v...)) }
