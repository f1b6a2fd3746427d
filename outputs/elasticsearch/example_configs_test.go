package elasticsearch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/outputs/splunk"
)

// complianceInput is the input block every example config must use.
const complianceInput = `input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
`

// standInInput replaces it here (the input lives in another package): one
// generated message that dropDocs deletes, so a run constructs every
// component, sends nothing and ends.
const standInInput = `input:
  generate:
    count: 1
    interval: ""
    mapping: 'root = {}'
`

const dropDocs = `
pipeline:
  processors:
    - mapping: 'root = deleted()'
`

// exampleEnv resolves the variables the examples require; others use the
// defaults written in the configs.
func exampleEnv(_ context.Context, key string) (string, bool) {
	v, ok := map[string]string{
		"ANTHROPIC_COMPLIANCE_API_KEY": "sk-ant-api01-example",
		"SPLUNK_HEC_TOKEN":             "00000000-0000-0000-0000-000000000000",
	}[key]
	return v, ok
}

func TestExampleConfigsLintCleanAndBuild(t *testing.T) {
	for _, name := range []string{"elasticsearch.yaml", "splunk-hec.yaml", "routing.yaml"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "config", name))
			require.NoError(t, err)
			conf := string(raw)
			require.Contains(t, conf, complianceInput, "the example must use the standard input block")
			conf = strings.Replace(conf, complianceInput, standInInput, 1)
			require.NotContains(t, conf, "\npipeline:")

			linter := service.NewEnvironment().FullConfigSchema("", "").NewStreamConfigLinter().
				SetEnvVarLookupFunc(exampleEnv)
			lints, err := linter.LintYAML([]byte(conf))
			require.NoError(t, err)
			assert.Empty(t, lints)

			b := service.NewStreamBuilder()
			b.SetEnvVarLookupFunc(func(key string) (string, bool) { return exampleEnv(context.Background(), key) })
			require.NoError(t, b.SetYAML(conf+dropDocs))
			require.NoError(t, b.SetLoggerYAML("level: OFF"))
			stream, err := b.Build()
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, stream.Run(ctx), "every component of the example must construct")
		})
	}
}
