package ocsf_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/enginetest"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
	"github.com/compliance-connect/compliance-connect/processors/ocsf"
)

// BenchmarkOCSF maps the golden activities, compacted as the API sends them,
// round-robin and reports events/s; run with -cpu 1 for a per-core figure.
func BenchmarkOCSF(b *testing.B) {
	inputs := compactInputs(b)
	m := goldenMapper(b)
	benchmarkMapper(b, inputs, m.Map)
}

func benchmarkMapper(b *testing.B, inputs [][]byte, mapFn func([]byte) ([]byte, error)) {
	var bytesIn int64
	for _, in := range inputs {
		bytesIn += int64(len(in))
	}
	b.SetBytes(bytesIn / int64(len(inputs)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := mapFn(inputs[n%len(inputs)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func compactInputs(b *testing.B) [][]byte {
	var inputs [][]byte
	for _, c := range goldentest.Load(b, goldenDir) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Input); err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, buf.Bytes())
	}
	return inputs
}

// BenchmarkOCSFProcessor runs the registered processor's Process (message
// copy and metadata included), the path a pipeline takes.
func BenchmarkOCSFProcessor(b *testing.B) {
	p, err := enginetest.Processor(b, `anthropic_compliance_ocsf: {}`)
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

// BenchmarkOCSFOptions is BenchmarkOCSF with the raw copy and with
// redaction (drop; hash with the raw copy, the costliest).
func BenchmarkOCSFOptions(b *testing.B) {
	inputs := compactInputs(b)
	all := activity.Redaction{RequestBody: true, Emails: true, IPs: true}
	hashed := all
	hashed.Hash, hashed.Key = true, []byte("bench-key")
	for _, o := range []struct {
		name string
		opts ocsf.Options
	}{
		{"keep_raw", ocsf.Options{KeepRaw: true}},
		{"redact_drop", ocsf.Options{Redaction: all}},
		{"redact_hash_keep_raw", ocsf.Options{KeepRaw: true, Redaction: hashed}},
	} {
		b.Run(o.name, func(b *testing.B) {
			m, err := ocsf.NewMapper(o.opts)
			if err != nil {
				b.Fatal(err)
			}
			benchmarkMapper(b, inputs, m.Map)
		})
	}
}
