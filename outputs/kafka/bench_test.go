package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// BenchmarkThroughput pushes ~700-byte activities through the real engine into
// an in-process kfake cluster (1 broker, 4 partitions), 8 producers of
// 500-message batches, and reports messages per second.
//
//	go test -run '^$' -bench Throughput -benchtime 200000x ./outputs/kafka/
func BenchmarkThroughput(b *testing.B) {
	for _, compression := range []string{"none", "zstd"} {
		b.Run("compression="+compression, func(b *testing.B) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "bench"))
			if err != nil {
				b.Fatal(err)
			}
			defer cluster.Close()

			sb := service.NewStreamBuilder()
			_ = sb.SetLoggerYAML("level: OFF")
			produce, err := sb.AddBatchProducerFunc()
			if err != nil {
				b.Fatal(err)
			}
			if err := sb.AddOutputYAML(fmt.Sprintf(`
kafka:
  seed_brokers: [ %s ]
  topic: bench
  compression: %s
  batching: { count: 500, period: 10ms }
  max_in_flight: 8
`, strings.Join(cluster.ListenAddrs(), ","), compression)); err != nil {
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
							m := service.NewMessage(fmt.Appendf(nil, `{"id":"activity_%09d","type":"claude_chat_created","pad":%q}`, i, padding))
							m.MetaSetMut("activity_id", fmt.Sprintf("activity_%09d", i))
							batch = append(batch, m)
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
		})
	}
}
