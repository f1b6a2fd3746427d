package prometheus_test

import (
	"testing"
)

// A plugin's MetricCounter.Incr calls the ctor on every increment, so the ctor
// is on the hot path. Record figures with:
//
//	go test -run '^$' -bench . -benchmem ./metrics/prometheus/
func BenchmarkCounterCtorAndIncr(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys []string
		vals []string
	}{
		{name: "sorted labels", keys: []string{"label", "path"}, vals: []string{"in", "root.input"}},
		{name: "unsorted labels", keys: []string{"path", "label", "endpoint"}, vals: []string{"root.input", "in", "activities"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, _ := newExporter(b, quietYAML)
			ctor := e.NewCounterCtor("input_received", bc.keys...)
			b.ReportAllocs()
			for b.Loop() {
				ctor(bc.vals...).Incr(1)
			}
		})
	}
}

func BenchmarkTimerCtorAndTiming(b *testing.B) {
	e, _ := newExporter(b, quietYAML)
	ctor := e.NewTimerCtor("processor_latency_ns", "label", "path")
	b.ReportAllocs()
	for b.Loop() {
		ctor("p", "root.pipeline.processors.0").Timing(1_500_000)
	}
}
