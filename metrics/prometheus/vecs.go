package prometheus

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
)

// kind is the Benthos metric type a family was first registered as.
type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindTimer
)

func (k kind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	default:
		return "timer"
	}
}

// timerStyle says how timers are exported.
type timerStyle struct {
	histogram bool      // false: summaries
	buckets   []float64 // histogram upper bounds in seconds
}

// summaryObjectives are the quantiles (and their tolerated error) every
// summary reports when histogram timing is off.
var summaryObjectives = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}

// families hands out one client_golang vec per (name, kind, label set) and
// registers it in the exporter's private registry. Its mutex guards the two
// maps; the vecs themselves are safe for concurrent use.
//
// Every vec is registered unchecked (its Describe yields nothing), which lets
// one metric name carry series with different label sets: the registry only
// requires that all series of a name share type and help text, which the
// kinds map guarantees. Names owned by the Go and process collectors are
// refused, since their help text differs.
type families struct {
	reg      *prom.Registry
	timers   timerStyle
	reserved map[string]struct{}

	mu    sync.Mutex
	kinds map[string]kind           // family name -> kind it was registered as
	vecs  map[string]prom.Collector // vecKey -> vec
	sets  map[string][]string       // family name -> label sets seen, for warnings
}

func newFamilies(reg *prom.Registry, timers timerStyle, reserved map[string]struct{}) *families {
	return &families{
		reg:      reg,
		timers:   timers,
		reserved: reserved,
		kinds:    map[string]kind{},
		vecs:     map[string]prom.Collector{},
		sets:     map[string][]string{},
	}
}

// vec returns the vec for name, kind k and the sorted, sanitised label names.
// A name first registered with another label set is shared: the returned
// merged text describes the earlier label sets so the caller can warn. An
// error means the metric cannot be exported at all.
func (f *families) vec(name string, k kind, sortedLabels []string) (c prom.Collector, merged string, err error) {
	if _, ok := f.reserved[name]; ok {
		return nil, "", fmt.Errorf("the name is taken by the Go or process metrics (set add_go_metrics or add_process_metrics to false, or rename it with a metrics mapping)")
	}
	if k == kindTimer {
		reservedLabel := "quantile"
		if f.timers.histogram {
			reservedLabel = "le"
		}
		if slices.Contains(sortedLabels, reservedLabel) {
			return nil, "", fmt.Errorf("label %q is reserved by Prometheus for this timer type", reservedLabel)
		}
	}

	set := strings.Join(sortedLabels, ",")
	key := name + "\xff" + k.String() + "\xff" + set

	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.kinds[name]; ok && prev != k {
		return nil, "", fmt.Errorf("the name is already registered as a %s", prev)
	}
	if v, ok := f.vecs[key]; ok {
		return v, "", nil
	}

	v := f.newVec(name, k, sortedLabels)
	if err := f.reg.Register(unchecked{v}); err != nil {
		return nil, "", fmt.Errorf("registering with the Prometheus registry: %w", err)
	}
	f.kinds[name] = k
	f.vecs[key] = v
	if prev := f.sets[name]; len(prev) > 0 {
		merged = "[" + strings.Join(prev, "] [") + "]"
	}
	f.sets[name] = append(f.sets[name], set)
	return v, merged, nil
}

func (f *families) newVec(name string, k kind, labels []string) prom.Collector {
	help := fmt.Sprintf("Benthos %s %s.", k, name)
	switch k {
	case kindCounter:
		return prom.NewCounterVec(prom.CounterOpts{Name: name, Help: help}, labels)
	case kindGauge:
		return prom.NewGaugeVec(prom.GaugeOpts{Name: name, Help: help}, labels)
	default:
		if f.timers.histogram {
			return prom.NewHistogramVec(prom.HistogramOpts{
				Name: name, Help: help, Buckets: f.timers.buckets,
			}, labels)
		}
		return prom.NewSummaryVec(prom.SummaryOpts{
			Name: name, Help: help, Objectives: summaryObjectives,
		}, labels)
	}
}

// unchecked hides a collector's descriptors from the registry, so that vecs
// of one name with different label sets can be registered side by side.
type unchecked struct {
	prom.Collector
}

func (unchecked) Describe(chan<- *prom.Desc) {}

//------------------------------------------------------------------------------

type counter struct{ c prom.Counter }

// Incr adds n; Prometheus counters only go up, so n <= 0 is ignored.
func (c counter) Incr(n int64) {
	if n > 0 {
		c.c.Add(float64(n))
	}
}

// IncrFloat64 adds n; n <= 0 and NaN are ignored.
func (c counter) IncrFloat64(n float64) {
	if n > 0 {
		c.c.Add(n)
	}
}

type gauge struct{ g prom.Gauge }

func (g gauge) Set(v int64)          { g.g.Set(float64(v)) }
func (g gauge) SetFloat64(v float64) { g.g.Set(v) }

type timer struct{ o prom.Observer }

// Timing records a duration given in nanoseconds, in seconds.
func (t timer) Timing(ns int64) { t.o.Observe(float64(ns) / float64(time.Second)) }

// noop stands in for a metric that is not exported.
type noop struct{}

func (noop) Incr(int64)          {}
func (noop) IncrFloat64(float64) {}
func (noop) Set(int64)           {}
func (noop) SetFloat64(float64)  {}
func (noop) Timing(int64)        {}
