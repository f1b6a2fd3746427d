package elasticsearch_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"
)

// BenchmarkOutputThroughput pushes activities through the engine into the
// elasticsearch output (daily index and activity id interpolated per message,
// batches of 500, 8 requests in flight) against the fake bulk endpoint, which
// parses and checks every request. Reports messages per second.
//
//	go test -run '^$' -bench OutputThroughput -benchtime 200000x ./outputs/elasticsearch/
func BenchmarkOutputThroughput(b *testing.B) {
	fake := newFakeBulk()
	fake.discard = true
	srv := httptest.NewServer(fake)
	defer srv.Close()

	builder := service.NewStreamBuilder()
	require.NoError(b, builder.SetLoggerYAML("level: OFF"))
	require.NoError(b, builder.AddOutputYAML(`
elasticsearch:
  urls: [ `+srv.URL+` ]
  index: 'anthropic-audit-${! @activity_created_at.ts_format("2006.01.02", "UTC") }'
  max_in_flight: 8
  batching:
    count: 500
    period: 100ms
`))
	produce, err := builder.AddBatchProducerFunc()
	require.NoError(b, err)
	stream, err := builder.Build()
	require.NoError(b, err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	defer func() {
		require.NoError(b, stream.StopWithin(20*time.Second))
		<-done
	}()

	const batchSize = 500
	template := activities(batchSize)
	batches := (b.N + batchSize - 1) / batchSize
	work := make(chan int, batches)
	for i := range batches {
		work <- min(batchSize, b.N-i*batchSize)
	}
	close(work)

	b.ResetTimer()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := produce(context.Background(), service.MessageBatch(template[:n]).Copy()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()

	_, received := fake.count()
	require.Equal(b, b.N, received, "every message reaches the endpoint once")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
