//go:build unix

package enginetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"

	// generate, drop and counter(); the processors under test register themselves.
	_ "github.com/compliance-connect/compliance-connect/processors/ecs"
	_ "github.com/compliance-connect/compliance-connect/processors/ocsf"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// pipelineThreads is the pipeline's processor threads in every variant: the
// 2 cores of the machine the figures were taken on.
const pipelineThreads = 2

// BenchmarkPipeline runs the same stream through the Benthos engine with and
// without a normalization processor: a generate input emitting the golden
// activities (compacted, round-robin, in batches of 500 like an API page),
// pipeline threads 2, output drop. b.N is the number of activities; run it
// with a fixed count, e.g.
//
//	go test ./processors/internal/enginetest -run xxx -bench Pipeline -benchtime 300000x -count 3
//
// It reports events/s (wall) and cpu-µs/event (user+system CPU of the whole
// process per activity); the processor's own cost is the difference between
// a processor variant and generate-drop. generate-passthrough-drop runs a
// plugin processor that only copies the message as ours do: the engine's own
// per-message cost for a processor plugin.
func BenchmarkPipeline(b *testing.B) {
	mapping := generateMapping(b)
	for _, v := range []struct{ name, processor string }{
		{"generate-drop", ""},
		{"generate-passthrough-drop", passthroughName + ": {}"},
		{"generate-ocsf-drop", "anthropic_compliance_ocsf: {}"},
		{"generate-ecs-drop", "anthropic_compliance_ecs: {}"},
	} {
		b.Run(v.name, func(b *testing.B) {
			stream := buildStream(b, mapping, v.processor, b.N, nil)
			cpu0 := cpuTime(b)
			start := time.Now()
			b.ResetTimer()
			ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
			defer cancel()
			if err := stream.Run(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			wall := time.Since(start)
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(b.N)/wall.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}

// generateMapping picks the golden activities round-robin by counter().
func generateMapping(b testing.TB) string {
	var docs []string
	for _, c := range goldentest.Load(b, "../../testdata/golden") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Input); err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte(`"""`)) {
			b.Fatalf("%s: cannot be a Bloblang raw string", c.Name)
		}
		docs = append(docs, `"""`+buf.String()+`"""`)
	}
	return fmt.Sprintf("root = [%s].index(counter() %% %d)", strings.Join(docs, ","), len(docs))
}

// TestPipelineBenchmarkMapsEveryActivity checks what the benchmark measures:
// every generated activity reaches the output mapped, none flagged.
func TestPipelineBenchmarkMapsEveryActivity(t *testing.T) {
	mapping := generateMapping(t)
	for _, processor := range []string{"anthropic_compliance_ocsf: {}", "anthropic_compliance_ecs: {}"} {
		var mu sync.Mutex
		var got, failed, unmapped int
		stream := buildStream(t, mapping, processor, 1200, func(_ context.Context, m *service.Message) error {
			content, err := m.AsBytes()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			got++
			if m.GetError() != nil {
				failed++
			}
			if !bytes.Contains(content, []byte(`"metadata":`)) && !bytes.Contains(content, []byte(`"@timestamp":`)) {
				unmapped++
			}
			return nil
		})
		require.NoError(t, stream.Run(t.Context()))
		assert.Equal(t, 1200, got, processor)
		assert.Zero(t, failed, processor)
		assert.Zero(t, unmapped, processor)
	}
}

// buildStream builds generate → processor (if any) → drop, or → consume when
// it is set.
func buildStream(b testing.TB, mapping, processor string, n int, consume func(context.Context, *service.Message) error) *service.Stream {
	b.Helper()
	sb := benchEnv(b).NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: OFF"); err != nil {
		b.Fatal(err)
	}
	if err := sb.SetMetricsYAML("none: {}"); err != nil {
		b.Fatal(err)
	}
	sb.SetThreads(pipelineThreads)
	input, err := json.Marshal(map[string]any{"generate": map[string]any{
		"mapping": mapping, "interval": "", "count": n, "batch_size": 500,
	}})
	if err != nil {
		b.Fatal(err)
	}
	if err := sb.AddInputYAML(string(input)); err != nil {
		b.Fatal(err)
	}
	if processor != "" {
		if err := sb.AddProcessorYAML(processor); err != nil {
			b.Fatal(err)
		}
	}
	if consume != nil {
		err = sb.AddConsumerFunc(consume)
	} else {
		err = sb.AddOutputYAML("drop: {}")
	}
	if err != nil {
		b.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	return stream
}

// passthroughName is a processor plugin that copies each message and keeps
// its content, the framework part of what the normalization processors do.
const passthroughName = "bench_passthrough"

// benchEnv is the global environment (with the processors under test) plus
// the passthrough processor.
func benchEnv(b testing.TB) *service.Environment {
	env := service.NewEnvironment()
	err := env.RegisterProcessor(passthroughName, service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Processor, error) { return passthrough{}, nil })
	if err != nil {
		b.Fatal(err)
	}
	return env
}

type passthrough struct{}

func (passthrough) Process(_ context.Context, msg *service.Message) (service.MessageBatch, error) {
	in, err := msg.AsBytes()
	if err != nil {
		return nil, err
	}
	out := msg.Copy()
	out.SetBytes(in)
	return service.MessageBatch{out}, nil
}

func (passthrough) Close(context.Context) error { return nil }

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
