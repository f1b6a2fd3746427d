// Package enginetest runs the normalization processors through the real
// Benthos engine for the ocsf and ecs tests: it builds a registered processor
// from YAML, runs a generate input → processor → consumer stream while
// capturing custom metrics, and lints the example configs. Test-only; nothing
// else imports it.
package enginetest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	// generate input and the counter() Bloblang function.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// Processor builds the processor described by yaml (e.g.
// "anthropic_compliance_ocsf: {keep_raw: true}") through the registered spec
// and constructor, as a pipeline would.
func Processor(t testing.TB, yaml string) (*service.OwnedProcessor, error) {
	t.Helper()
	spec := service.NewConfigSpec().Field(service.NewProcessorField("proc"))
	conf, err := spec.ParseYAML("proc:\n  "+yaml, nil)
	if err != nil {
		return nil, err
	}
	return conf.FieldProcessor("proc")
}

// Output is one message that reached the consumer.
type Output struct {
	Content []byte
	Meta    map[string]any
	Err     error
}

// Run builds a stream of the given generate input and processor YAML, runs
// it to the end of the input, and returns what the consumer received (in
// arrival order) and the totals of every custom counter by name.
func Run(t testing.TB, generateYAML, processorYAML string) ([]Output, map[string]int64) {
	t.Helper()
	metrics := &capture{counters: map[string]int64{}}
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterMetricsExporter("enginetest_capture", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return metrics, nil }))

	b := env.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	require.NoError(t, b.SetMetricsYAML("enginetest_capture: {}"))
	require.NoError(t, b.AddInputYAML(generateYAML))
	require.NoError(t, b.AddProcessorYAML(processorYAML))

	var mu sync.Mutex
	var outs []Output
	require.NoError(t, b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		content, err := m.AsBytes()
		if err != nil {
			return err
		}
		meta := map[string]any{}
		_ = m.MetaWalkMut(func(k string, v any) error { meta[k] = v; return nil })
		mu.Lock()
		defer mu.Unlock()
		outs = append(outs, Output{Content: append([]byte(nil), content...), Meta: meta, Err: m.GetError()})
		return nil
	}))
	stream, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, stream.Run(ctx))

	mu.Lock()
	defer mu.Unlock()
	return outs, metrics.totals()
}

// capture is a metrics exporter that sums counters by name.
type capture struct {
	mu       sync.Mutex
	counters map[string]int64
}

func (c *capture) NewCounterCtor(name string, _ ...string) service.MetricsExporterCounterCtor {
	return func(...string) service.MetricsExporterCounter { return counter{c: c, name: name} }
}

func (c *capture) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return noop{} }
}

func (c *capture) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return noop{} }
}

func (c *capture) Close(context.Context) error { return nil }

func (c *capture) totals() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.counters))
	for k, v := range c.counters {
		out[k] = v
	}
	return out
}

type counter struct {
	c    *capture
	name string
}

func (k counter) Incr(n int64) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	k.c.counters[k.name] += n
}

type noop struct{}

func (noop) Timing(int64) {}
func (noop) Set(int64)    {}

// ComplianceInput is the input block every example config must carry verbatim.
const ComplianceInput = `input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
`

// LintExample lints the example config at path with every plugin the caller
// has registered (input and output packages included), resolving environment
// variables from env, and builds the stream without running it.
func LintExample(t testing.TB, path string, env map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), ComplianceInput, "the example must use the standard input block")
	lookup := func(key string) (string, bool) { v, ok := env[key]; return v, ok }

	lints, err := service.GlobalEnvironment().FullConfigSchema("", "").NewStreamConfigLinter().
		SetEnvVarLookupFunc(func(_ context.Context, key string) (string, bool) { return lookup(key) }).
		LintYAML(raw)
	require.NoError(t, err)
	require.Empty(t, lints, "%s does not lint", path)

	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookup)
	require.NoError(t, b.SetYAML(string(raw)))
	_, err = b.Build()
	require.NoError(t, err)
}
