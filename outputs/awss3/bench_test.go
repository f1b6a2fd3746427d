package awss3_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// BenchmarkThroughput pushes ~700-byte activities through the real engine into
// the in-memory S3 fake as gzipped NDJSON objects of 1000 activities, from 8
// producers of 500-message batches, and reports messages per second.
//
//	go test -run '^$' -bench Throughput -benchtime 200000x ./outputs/awss3/
func BenchmarkThroughput(b *testing.B) {
	fake := newFakeS3(b)
	sb := service.NewStreamBuilder()
	_ = sb.SetLoggerYAML("level: OFF")
	produce, err := sb.AddBatchProducerFunc()
	if err != nil {
		b.Fatal(err)
	}
	if err := sb.AddOutputYAML(fake.outputYAML("  batching: { count: 1000, period: 10ms }\n  max_in_flight: 8\n")); err != nil {
		b.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = stream.Run(context.Background()) }()
	defer func() { _ = stream.Stop(context.Background()) }()

	padding := strings.Repeat("x", 600)
	const producers, perBatch = 8, 500
	b.SetBytes(700)
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for start := p * perBatch; start < b.N; start += producers * perBatch {
				batch := make(service.MessageBatch, 0, perBatch)
				for i := start; i < min(start+perBatch, b.N); i++ {
					batch = append(batch, service.NewMessage(fmt.Appendf(nil, `{"id":"activity_%09d","type":"claude_chat_created","pad":%q}`, i, padding)))
				}
				if err := produce(context.Background(), batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
