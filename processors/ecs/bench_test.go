package ecs_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/processors/internal/enginetest"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
)

// BenchmarkECS maps the golden activities, compacted as the API sends them,
// round-robin and reports events/s; run with -cpu 1 for a per-core figure.
func BenchmarkECS(b *testing.B) {
	var inputs [][]byte
	var bytesIn int64
	for _, c := range goldentest.Load(b, goldenDir) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Input); err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, buf.Bytes())
		bytesIn += int64(buf.Len())
	}
	m := goldenMapper(b)
	b.SetBytes(bytesIn / int64(len(inputs)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := m.Map(inputs[n%len(inputs)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkECSProcessor runs the registered processor's Process (message
// copy and metadata included), the path a pipeline takes.
func BenchmarkECSProcessor(b *testing.B) {
	p, err := enginetest.Processor(b, `anthropic_compliance_ecs: {}`)
	if err != nil {
		b.Fatal(err)
	}
	var msgs []*service.Message
	for _, c := range goldentest.Load(b, goldenDir) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Input); err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, service.NewMessage(buf.Bytes()))
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		batch, err := p.Process(b.Context(), msgs[n%len(msgs)])
		if err != nil || len(batch) != 1 || batch[0].GetError() != nil {
			b.Fatalf("process: %v", err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
