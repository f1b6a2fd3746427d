package against_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/audit/against"
)

func TestOutputsFindEveryOutputOfTheKindsAsked(t *testing.T) {
	pipeline := []byte(`
output:
  fallback:
    - switch:
        cases:
          - check: this.type == "a"
            output:
              splunk_hec: { url: "https://hec.example.com:8088", token: t0k3n, tls: { enabled: true, skip_cert_verify: true } }
          - output:
              kafka: { seed_brokers: [ "k1:9092,k2:9092" ], topic: acts, client_id: cc, sasl: [ { mechanism: PLAIN, username: u, password: p } ] }
    - file: { path: '/var/log/dead/${! @activity_id }.json', codec: lines }
output_resources:
  - label: es
    elasticsearch: { urls: [ "http://es1:9200", "http://es2:9200" ], index: 'audit-${! now() }', basic_auth: { enabled: true, username: u, password: p } }
`)
	outs, err := against.Outputs(pipeline, "splunk_hec", "kafka", "file", "elasticsearch")
	require.NoError(t, err)
	var where []string
	for _, o := range outs {
		where = append(where, o.Where)
	}
	assert.Equal(t, []string{
		"output.fallback[0].switch.cases[0].output.splunk_hec",
		"output.fallback[0].switch.cases[1].output.kafka",
		"output.fallback[1].file",
		"output_resources[0].elasticsearch",
	}, where)

	hec, err := outs[0].SplunkHEC()
	require.NoError(t, err)
	assert.Equal(t, "https://hec.example.com:8088/services/collector/event", hec.URL, "a URL without a path gets the event path")
	assert.Equal(t, "t0k3n", hec.Token)

	k, err := outs[1].Kafka()
	require.NoError(t, err)
	assert.Equal(t, []string{"k1:9092", "k2:9092"}, k.Brokers)
	assert.Equal(t, "acts", k.Topic)
	assert.Equal(t, "cc", k.ClientID)

	f, err := outs[2].File()
	require.NoError(t, err)
	assert.Equal(t, "/var/log/dead", f.Dir)
	assert.True(t, f.Match.MatchString("activity_1.json"))

	es, err := outs[3].Elasticsearch()
	require.NoError(t, err)
	assert.Equal(t, "audit-*", es.Index)
	assert.Equal(t, "Basic dTpw", es.Header.Get("Authorization"))

	only, err := against.Outputs(pipeline, against.Auditable...)
	require.NoError(t, err)
	assert.Len(t, only, 3, "splunk_hec is not auditable")

	t.Setenv("AWS_REGION", "eu-west-1")
	s3, err := against.Output{Kind: "aws_s3", Block: map[string]any{"bucket": "b", "path": "x/${! uuid_v4() }.gz"}}.S3(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "b", s3.Bucket)
	assert.Equal(t, "x/", s3.Prefix)
}
