package ocsf_test

import (
	"testing"

	_ "github.com/compliance-connect/compliance-connect/input/compliance"
	_ "github.com/compliance-connect/compliance-connect/outputs/awss3"

	"github.com/compliance-connect/compliance-connect/processors/internal/enginetest"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus" // the example configs export Prometheus metrics
)

// TestExampleConfigOCSFToS3Lints lints and builds config/ocsf-s3.yaml with
// the real anthropic_compliance input and aws_s3 output.
func TestExampleConfigOCSFToS3Lints(t *testing.T) {
	enginetest.LintExample(t, "../../config/ocsf-s3.yaml", map[string]string{
		"ANTHROPIC_COMPLIANCE_API_KEY": "sk-ant-api01-example",
	})
}
