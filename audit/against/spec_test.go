package against_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/audit/against"
)

func TestSpecsNameTheirDestination(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	fallback := []byte(`
output:
  fallback:
    - aws_s3:
        bucket: archive
        path: 'anthropic/activities/${! now().ts_format("2006/01/02") }/${! uuid_v4() }.ndjson.gz'
    - file:
        path: ./dead-letter/${! @activity_id }.json
        codec: lines
`)
	tests := []struct {
		spec, pipeline string
		want, err      string
	}{
		{spec: "file:///var/log/acts.ndjson", want: "file:///var/log/acts.ndjson"},
		{spec: "s3://archive/anthropic/", want: "s3://archive/anthropic/"},
		{spec: "es://es1:9200,es2:9200/audit-*", want: "elasticsearch http://es1:9200,http://es2:9200 index audit-* (time field created_at)"},
		{spec: "es+https://es1:9200/audit", want: "elasticsearch https://es1:9200 index audit (time field created_at)"},
		{spec: "kafka://k1:9092,k2:9092/acts?by=key", want: "kafka://k1:9092,k2:9092/acts (by key)"},
		{spec: "output:0", pipeline: string(fallback), want: "s3://archive/anthropic/activities/"},
		{spec: "output:1", pipeline: string(fallback), want: "file://./dead-letter"},
		{spec: "output", pipeline: string(fallback), err: "choose one with --against output:N"},
		{spec: "output", pipeline: "output:\n  kafka: { seed_brokers: [k:9092], topic: 'a-${! @activity_type }' }\n", err: "name the topic with --against kafka://k:9092/<topic>"},
		{spec: "output", pipeline: "output:\n  drop: {}\n", err: "no output the audit can read"},
		{spec: "output", pipeline: "output:\n  file: { path: x.txt, codec: all-bytes }\n", err: "only the lines codec"},
		{spec: "ftp://x/y", err: "unknown kind"},
		{spec: "es://host:9200", err: "needs a host and an index"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			d, err := against.Open(context.Background(), tt.spec, against.Options{Pipeline: []byte(tt.pipeline)})
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.String())
		})
	}
}
