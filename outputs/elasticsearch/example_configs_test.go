package elasticsearch_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/outputs/splunk"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus" // the example configs export Prometheus metrics
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

func TestRoutingExampleSendsEachActivityTypeWhereItBelongs(t *testing.T) {
	bulkFake := newFakeBulk()
	esSrv := httptest.NewServer(bulkFake)
	defer esSrv.Close()

	const token = "routing-token"
	var hecMu sync.Mutex
	var hecEvents []map[string]any
	hecSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Splunk "+token || r.URL.Path != "/services/collector/event" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"text":"Invalid token","code":4}`)
			return
		}
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = zr
		}
		dec := json.NewDecoder(body)
		hecMu.Lock()
		defer hecMu.Unlock()
		for {
			var env map[string]any
			if err := dec.Decode(&env); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"text":"Invalid data format","code":6}`)
				return
			}
			hecEvents = append(hecEvents, env)
		}
		_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer hecSrv.Close()

	archive := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "routing.yaml"))
	require.NoError(t, err)
	conf := string(raw)
	require.Contains(t, conf, complianceInput)
	require.Contains(t, conf, "'./archive/")
	conf = strings.Replace(conf, "'./archive/", "'"+archive+"/", 1)
	conf = strings.ReplaceAll(conf, "period: 5s", "period: 50ms") // flush the last batches sooner
	// Nine activities, three of each routed kind, as the input would emit them.
	conf = strings.Replace(conf, complianceInput, `input:
  generate:
    count: 9
    interval: ""
    mapping: |
      let n = count("routing-example")
      root.id = "activity_%03d".format($n)
      root.type = ["sso_login_succeeded", "compliance_api_accessed", "claude_chat_created"].index($n % 3)
      root.created_at = "2026-04-10T08:09:10Z"
      meta activity_id = root.id
      meta activity_type = root.type
      meta activity_created_at = root.created_at
`, 1)
	env := map[string]string{"SPLUNK_HEC_URL": hecSrv.URL, "SPLUNK_HEC_TOKEN": token, "ES_URL": esSrv.URL}

	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(key string) (string, bool) { v, ok := env[key]; return v, ok })
	require.NoError(t, b.SetYAML(conf))
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	stream, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, stream.Run(ctx), "the stream ends once all nine activities are acknowledged")

	hecMu.Lock()
	defer hecMu.Unlock()
	require.Len(t, hecEvents, 3)
	for _, env := range hecEvents {
		event := env["event"].(map[string]any)
		assert.Equal(t, "sso_login_succeeded", event["type"])
		assert.Equal(t, "compliance-connect", event["collector"], "the input's mutation adds fields")
		assert.Equal(t, "auth", env["index"])
	}

	docs, _, violations := bulkFake.snapshot()
	require.Empty(t, violations)
	require.Len(t, docs, 3)
	for key, d := range docs {
		assert.True(t, strings.HasPrefix(key, "anthropic-audit-2026.04.10/activity_"), key)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(d.Source, &doc))
		assert.Equal(t, "claude_chat_created", doc["type"])
		assert.Equal(t, "compliance-connect", doc["collector"])
	}

	archived, err := os.ReadFile(filepath.Join(archive, "compliance_api_accessed-2026-04-10.ndjson"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(archived)), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		assert.Contains(t, l, `"type":"compliance_api_accessed"`)
	}
}
