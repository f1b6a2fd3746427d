package awss3_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus" // the example configs export Prometheus metrics
)

// complianceInput is the input block every example config must carry verbatim.
const complianceInput = `input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
`

// The anthropic_compliance input is built in another package, so the example's
// input block is swapped for generate; everything else lints and builds as is.
func TestExampleConfigLintsAndBuilds(t *testing.T) {
	raw, err := os.ReadFile("../../config/s3.yaml")
	require.NoError(t, err)
	require.Contains(t, string(raw), complianceInput, "the example must use the standard input block")
	conf := strings.Replace(string(raw), complianceInput, "input:\n  generate:\n    mapping: 'root = {}'\n", 1)

	env := service.NewEnvironment()
	lints, err := env.FullConfigSchema("", "").NewStreamConfigLinter().
		SetEnvVarLookupFunc(func(context.Context, string) (string, bool) { return "", false }).
		LintYAML([]byte(conf))
	require.NoError(t, err)
	assert.Empty(t, lints)

	b := env.NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(string) (string, bool) { return "", false })
	require.NoError(t, b.SetYAML(conf))
	_, err = b.Build()
	require.NoError(t, err)
}
