package ecs_test

import (
	"testing"

	_ "github.com/compliance-connect/compliance-connect/input/compliance"
	_ "github.com/compliance-connect/compliance-connect/outputs/elasticsearch"

	"github.com/compliance-connect/compliance-connect/processors/internal/enginetest"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus" // the example configs export Prometheus metrics
)

// TestExampleConfigECSToElasticsearchLints lints and builds
// config/ecs-elasticsearch.yaml with the real anthropic_compliance input and
// elasticsearch output.
func TestExampleConfigECSToElasticsearchLints(t *testing.T) {
	enginetest.LintExample(t, "../../config/ecs-elasticsearch.yaml", map[string]string{
		"ANTHROPIC_COMPLIANCE_API_KEY": "sk-ant-api01-example",
		"EMAIL_HASH_KEY":               "example-hash-key",
	})
}
