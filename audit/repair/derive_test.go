package repair_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/repair"
)

var target = repair.Target{
	Label: "siem", Endpoint: "activities",
	Range:    audit.Window{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 2, 3, 4, 5, 0, time.UTC)},
	IDsFile:  "/tmp/r/ids.txt",
	StateDir: "/tmp/r/state", JobTimeout: 90 * time.Second, MaxSlice: 27 * time.Hour,
}

func derive(t *testing.T, pipeline string) map[string]any {
	t.Helper()
	out, err := repair.Derive([]byte(pipeline), target)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(out, &m), string(out))
	return m
}

func path(m any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m = m.(map[string]any)[k]
		case int:
			m = m.([]any)[k]
		}
	}
	return m
}

// The derived run is the pipeline with only the input's walk changed: its
// processors and output are untouched, ${VAR} references stay for the stream
// to expand, and only the chosen endpoint runs, as a once over the range
// restricted to the ids, with nothing of the collector's state.
func TestDeriveTurnsTheInputIntoAOnceRunOfTheIDsAndKeepsThePipeline(t *testing.T) {
	m := derive(t, `
http: { address: 0.0.0.0:4195 }
input:
  label: siem
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    state: { cache: redis, lease: { enabled: true } }
    auto_replay_nacks: true
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
        earliest: -7d@d
        filters: { exclude_activity_types: [compliance_api_accessed] }
        state_tracking: { update: 'root = @state' }
      - name: other
        enabled: false
  processors:
    - mapping: 'root = this'
pipeline:
  processors:
    - anthropic_compliance_ecs: {}
output:
  kafka: { seed_brokers: [ "${BROKERS}" ], topic: activities }
cache_resources:
  - label: redis
    redis: { url: "${REDIS_URL}" }
input_resources:
  - label: backfill
    anthropic_compliance: { api_key: x }
tests:
  - name: a config test
`)
	in := path(m, "input").(map[string]any)
	assert.Equal(t, "siem", in["label"])
	assert.Equal(t, []any{map[string]any{"mapping": "root = this"}}, in["processors"])
	ac := in["anthropic_compliance"].(map[string]any)
	assert.Equal(t, "${ANTHROPIC_COMPLIANCE_API_KEY}", ac["api_key"])
	assert.Equal(t, map[string]any{"path": "/tmp/r/state"}, ac["state"], "no cache, no lease: nothing of the running collector")
	assert.Equal(t, false, ac["auto_replay_nacks"])
	assert.Equal(t, "97200s", ac["max_slice"])
	eps := ac["endpoints"].([]any)
	require.Len(t, eps, 1)
	assert.Equal(t, map[string]any{
		"name": "activities", "enabled": true, "schedule": "once", "run_on_start": true,
		"earliest": "2026-04-01T00:00:00Z", "latest": "2026-04-02T03:04:05Z", "timezone": "UTC", "job_timeout": "90s",
		"only_ids_file":  "/tmp/r/ids.txt",
		"filters":        map[string]any{"exclude_activity_types": []any{"compliance_api_accessed"}},
		"state_tracking": map[string]any{"update": "root = @state", "enabled": false},
	}, eps[0])
	assert.Equal(t, []any{map[string]any{"anthropic_compliance_ecs": map[string]any{}}}, path(m, "pipeline", "processors"))
	assert.Equal(t, "${BROKERS}", path(m, "output", "kafka", "seed_brokers", 0))
	assert.Equal(t, "${REDIS_URL}", path(m, "cache_resources", 0, "redis", "url"), "resources stay for processors and outputs")
	assert.NotContains(t, m, "input_resources", "an input resource would start collecting too")
	assert.NotContains(t, m, "tests")
}

// An input resource named by the pipeline's input runs alone, with the
// wrapper's processors after its own (as Benthos applies them); one used any
// other way is refused, as is a label or endpoint the config does not have.
func TestDeriveTakesAnInputResourceNamedByTheInputAndRefusesOtherWrappers(t *testing.T) {
	m := derive(t, `
input:
  resource: siem
  processors: [ { mapping: 'root.b = 2' } ]
input_resources:
  - label: siem
    anthropic_compliance: { api_key: k }
    processors: [ { mapping: 'root.a = 1' } ]
`)
	assert.Equal(t, "siem", path(m, "input", "label"))
	assert.Equal(t, []any{map[string]any{"mapping": "root.a = 1"}, map[string]any{"mapping": "root.b = 2"}}, path(m, "input", "processors"))
	assert.Equal(t, "once", path(m, "input", "anthropic_compliance", "endpoints", 0, "schedule"), "the default endpoint list")
	assert.NotContains(t, m, "input_resources")

	for name, tc := range map[string]struct{ pipeline, want string }{
		"a broker": {`
input:
  broker: { inputs: [ { resource: siem }, { generate: { mapping: 'root = {}' } } ] }
input_resources:
  - label: siem
    anthropic_compliance: { api_key: k }
`, "used another way"},
		"another label": {`
input:
  label: other
  anthropic_compliance: { api_key: k }
`, `no anthropic_compliance input labelled "siem"`},
		"another endpoint": {`
input:
  label: siem
  anthropic_compliance: { api_key: k, endpoints: [ { name: users } ] }
`, `no endpoint "activities"`},
		"not a mapping": {"- a\n- b\n", "not a YAML mapping"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := repair.Derive([]byte(tc.pipeline), target)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
