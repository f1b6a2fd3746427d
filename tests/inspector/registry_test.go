package inspector_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestInspectorListsEveryInputAndLeavesTheirEndpointsAlone builds two
// anthropic_compliance inputs in one stream (a broker of alpha and beta),
// on both routers Benthos can mount endpoints on: its own HTTP server
// (gorilla/mux: first registered route wins, a path ending in / is a
// prefix) and a ServeMux given to the stream builder (a path registered
// twice panics). The one /compliance page must list both inputs, and each
// input's /compliance/<label>/jobs must still answer its own JSON. After the
// stream stops, the page lists no input.
func TestInspectorListsEveryInputAndLeavesTheirEndpointsAlone(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	manual := fakeapi.NewManualClock(t0)
	_, _, apiURL := newAPI(t, manual.Now, 24, 50, t0.Add(-time.Hour), t0.Add(-3*time.Minute))
	for _, router := range []string{"benthos http server", "ServeMux"} {
		t.Run(router, func(t *testing.T) {
			env := service.NewEnvironment()
			require.NoError(t, compliance.Register(env, compliance.WithClock(manual.Now)))
			child := func(label string) string {
				return fmt.Sprintf(`
      - label: %s
        anthropic_compliance:
          api_key: %s
          base_url: %s
          state:
            path: %s
          endpoints:
            - name: activities
              schedule: "@every 1h"
              earliest: "%s"`, label, apiKey, apiURL, t.TempDir(), t0.Add(-time.Hour).Format(time.RFC3339))
			}
			config := "input:\n  broker:\n    inputs:" + child("alpha") + child("beta") + "\noutput:\n  drop: {}\n"
			var s *server
			if router == "ServeMux" {
				s = startOnMux(t, env, config)
			} else {
				s = startServer(t, env, config, "")
			}
			for _, label := range []string{"alpha", "beta"} {
				jobs := s.waitJobs(t, label, 1)
				assert.Equal(t, "success", jobs[0].Outcome, "%s: %s", label, jobs[0].Error)
			}
			code, body := s.get(t, "/compliance")
			require.Equal(t, http.StatusOK, code, body)
			doc, err := html.Parse(strings.NewReader(body))
			require.NoError(t, err)
			for _, label := range []string{"alpha", "beta"} {
				_, ep := section(t, doc, label, "activities")
				assert.Len(t, findAll(ep, func(n *html.Node) bool { _, ok := attr(n, "data-job"); return ok && n.Data == "tr" }), 1, label)
				code, body := s.get(t, "/compliance/"+label+"/jobs")
				require.Equal(t, http.StatusOK, code, label)
				assert.True(t, json.Valid([]byte(body)), "%s/jobs answers JSON, not the page: %.80s", label, body)
			}
			noKey(t, body, "the page")
			if router == "ServeMux" { // the Benthos server closes with the stream
				s.stop(t)
				_, body = s.get(t, "/compliance")
				assert.Contains(t, body, "No anthropic_compliance input is running", "a stopped input leaves the page")
			}
		})
	}
}
