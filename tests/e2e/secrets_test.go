package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Real keys are about 108 characters, longer than any snippet an error may
// quote, so a leak may be partial: every test key is that long and the check
// looks for any 12-character piece of it.
const (
	longKey      = "sk-ant-api03-LEAKCANARY0e2e" + "Zq8xV3mN7pR2tW5yB9cF4hJ6kL1sD0gA3eU8iO5nM2bX7vC4zQ9wE6rT1yU3iPlKjHgFdSaQ" + "-AA"
	longWrongKey = "sk-ant-api03-WRONGCANARY1e2e" + "Hg7Fd6Sa5Qw4Er3Ty2Ui1Op0Lk9Jh8Gf7Ds6Az5Xc4Vb3Nm2Mn1Bv0Cx9Zq8Wx7Ec6Rv5T" + "-AA"
	longScopeKey = "sk-ant-api03-SCOPECANARY2e2e" + "Pl0Ok9Ij8Uh7Yg6Tf5Rd4Es3Wa2Qz1Xs0Cd9Vf8Bg7Nh6Mj5Ku4Li3Oy2Pt1Re0Wq9Aa8S" + "-AA"
)

// echoGateway stands in front of the fake like a misbehaving proxy: some
// requests (by arrival number) get an answer that echoes the x-api-key back
// in every place a response can carry it; the others go to the fake.
type echoGateway struct {
	fake *fakeapi.Server
	n    atomic.Int64
	// then is called once, by the first request after the gateway's own
	// answers (to script the fake's faults only from there on).
	then func()
}

// The arrival numbers the gateway answers itself.
const (
	echo502       = 2  // 502 JSON error whose message and request-id echo the key (retried)
	echoMalformed = 4  // 200 whose created_at is the key (ends the job)
	echoRequestID = 6  // a good page from the fake with request-id "req_<key>" (delivered)
	echo429       = 8  // 429 whose retry-after, message and request-id echo the key (retried)
	echo404       = 10 // 404 whose message has the key across its 1 KiB cut (ends the job)
)

func (g *echoGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("x-api-key")
	n := g.n.Add(1)
	if n == echo404+1 && g.then != nil {
		g.then()
	}
	switch n {
	case echo502:
		w.Header().Set("request-id", "req_"+key)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"api_error","message":"upstream refused x-api-key %s"}}`, key)
	case echoMalformed:
		w.Header().Set("request-id", "req_"+key)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":[{"id":"activity_x","type":"t","created_at":%q}],"has_more":false,"first_id":null,"last_id":null}`, key)
	case echoRequestID:
		g.fake.ServeHTTP(&requestIDWriter{ResponseWriter: w, id: "req_" + key}, r)
	case echo429:
		w.Header().Set("request-id", "req_"+key)
		w.Header().Set("retry-after", key)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down, %s"}}`, key)
	case echo404:
		// error.message is cut to 1 KiB; the key straddles the cut.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"not_found_error","message":"%s x-api-key: %s"}}`,
			strings.Repeat("proxy error; ", 1000/13+1)[:1000], key)
	default:
		g.fake.ServeHTTP(w, r)
	}
}

// requestIDWriter replaces the request-id header of an answer.
type requestIDWriter struct {
	http.ResponseWriter
	id string
}

func (w *requestIDWriter) WriteHeader(code int) {
	w.Header().Set("request-id", w.id)
	w.ResponseWriter.WriteHeader(code)
}

func (w *requestIDWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// secretSources gathers every place a run exposes: all log lines at every
// level, the Prometheus scrape, /ready, message metadata and the state files.
func (r *rig) secretSources(t *testing.T, st *stream) map[string]string {
	t.Helper()
	texts := map[string]string{"logs": r.logs.dump()}
	_, texts["/metrics"] = st.get("/metrics")
	_, texts["/ready"] = st.get("/ready")
	var meta strings.Builder
	for _, m := range r.sink.metas() {
		fmt.Fprintln(&meta, m)
	}
	texts["metadata"] = meta.String()
	var files strings.Builder
	require.NoError(t, filepath.WalkDir(r.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		fmt.Fprintf(&files, "%s:\n%s\n", path, b)
		return err
	}))
	texts["state files"] = files.String()
	return texts
}

// TestAPIKeyAppearsInNoLogMetricMetadataOrStateFile runs jobs through every
// log path, with every log level captured and the Prometheus exporter on:
// success, 429 (capped retry-after), 500 with and without x-should-retry,
// truncated and non-JSON bodies, a slow answer past request_timeout, and a
// gateway that echoes the key in error messages, request-id and retry-after
// headers and in a malformed page. No piece of the key may appear anywhere.
func TestAPIKeyAppearsInNoLogMetricMetadataOrStateFile(t *testing.T) {
	data := faultDataset()
	r := newRig(t, faultNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second, APIKeys: []string{longKey}}, rigOptions{})
	gw := &echoGateway{fake: r.api, then: func() {
		r.api.Script(
			fakeapi.Fault{Kind: fakeapi.FaultRateLimited, RetryAfter: 5 * time.Second},
			fakeapi.Fault{Kind: fakeapi.FaultServerError},
			fakeapi.Fault{Kind: fakeapi.FaultTruncatedBody},
			fakeapi.Fault{Kind: fakeapi.FaultSlow, Delay: 5 * time.Second},
			fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry},
			fakeapi.Fault{Kind: fakeapi.FaultHTMLBody},
		)
	}}
	gwSrv := httptest.NewServer(gw)
	t.Cleanup(gwSrv.Close)
	st := r.start(r.render(inputConfig{baseURL: gwSrv.URL, key: longKey, retries: fastRetries,
		extra: faultEndpoint + "  request_timeout: 500ms\n"}), streamOptions{metrics: true, maxInFlight: 1})
	r.sink.waitUnique(t, len(data), 30*time.Second)
	require.Eventually(t, func() bool {
		reps := r.logs.jobReports()
		return gw.n.Load() > echo404 && r.api.Stats().FaultsPending == 0 && len(reps) > 0 && reps[len(reps)-1]["outcome"] == "success"
	}, 30*time.Second, 5*time.Millisecond)
	texts := r.secretSources(t, st)
	require.NoError(t, st.stop())

	outcomes := map[string]int{}
	for _, rep := range r.logs.jobReports() {
		outcomes[rep["outcome"]]++
	}
	require.Positive(t, outcomes["failed"], "some jobs failed and were reported")
	require.Positive(t, outcomes["success"])
	assert.True(t, strings.Contains(texts["logs"], "[redacted]"), "echoes were scrubbed, not missed")
	assert.True(t, strings.Contains(texts["/metrics"], "compliance_requests"), "metrics were scraped")
	assert.True(t, strings.Contains(texts["metadata"], "compliance_request_id:req_[redacted]"), "the echoing request-id reached metadata scrubbed")
	assert.Empty(t, leaks(longKey, texts))
	t.Logf("jobs %v; %d log lines; faults %v", outcomes, len(r.logs.all()), r.api.Stats().Faults)
}

// TestRefusedKeysAppearNowhere: a wrong key (401) and a key without the
// scope (403) are secrets too; they appear in no log line (every level),
// metric, /ready answer or state file.
func TestRefusedKeysAppearNowhere(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		opts      fakeapi.Options
		reason    string
	}{
		{"401", longWrongKey, fakeapi.Options{APIKeys: []string{longKey}}, "401 authentication_error"},
		{"403", longScopeKey, fakeapi.Options{Scopes: map[string][]string{longScopeKey: {"read:compliance_user_data"}}},
			"Missing required scopes. Got: ['read:compliance_user_data'] Needed: ['read:compliance_activities']"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, faultNow, tc.opts, rigOptions{})
			st := r.start(r.render(inputConfig{key: tc.key, extra: faultEndpoint, retries: fastRetries}), streamOptions{metrics: true, maxInFlight: 1})
			require.Eventually(t, func() bool {
				code, body := st.get("/ready")
				return code == http.StatusServiceUnavailable && strings.Contains(body, tc.reason) && len(r.logs.jobReports()) >= 3
			}, 30*time.Second, 10*time.Millisecond)
			texts := r.secretSources(t, st)
			require.NoError(t, st.stop())
			assert.Contains(t, texts["logs"], tc.reason)
			assert.Empty(t, leaks(tc.key, texts))
		})
	}
}

// TestEchoOutputScrubsTheKey: `compliance-connect echo` prints the config
// without the key, whether it is written in the file or comes from an
// environment variable, and without the proxy's credentials.
func TestEchoOutputScrubsTheKey(t *testing.T) {
	r := newRig(t, faultNow, fakeapi.Options{}, rigOptions{})
	t.Setenv("E2E_COMPLIANCE_KEY", longKey)
	for name, keyValue := range map[string]string{"literal": longKey, "env": "${E2E_COMPLIANCE_KEY}"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			input := r.render(inputConfig{key: keyValue, extra: "  proxy_url: http://user:proxyPASSWORDcanary@proxy.invalid:3128"})
			conf := "input:\n" + indent(input, "  ") + "output:\n  drop: {}\n"
			require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
			out, code := captureStdout(t, func() (int, error) {
				return service.RunCLIToCode(context.Background(),
					service.CLIOptSetArgs("compliance-connect", "echo", path),
					service.CLIOptSetEnvironment(r.env))
			})
			require.Equal(t, 0, code, "echo output: %s", out)
			assert.Contains(t, out, "anthropic_compliance:")
			assert.Contains(t, out, "api_key:")
			assert.NotContains(t, out, "proxyPASSWORDcanary")
			assert.Empty(t, leaks(longKey, map[string]string{"echo": out}))
			t.Logf("echo shows: %s", lineWith(out, "api_key:"))
		})
	}
}

// captureStdout runs fn with os.Stdout redirected to a pipe (Benthos' CLI
// writes echo output to os.Stdout) and returns what it wrote. Tests of this
// package do not run in parallel, so the swap is seen by nobody else.
func captureStdout(t *testing.T, fn func() (int, error)) (string, int) {
	t.Helper()
	rd, wr, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stdout
	os.Stdout = wr
	outc := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(rd)
		outc <- string(b)
	}()
	code, runErr := fn()
	os.Stdout = saved
	require.NoError(t, wr.Close())
	out := <-outc
	require.NoError(t, rd.Close())
	if runErr != nil {
		out += "\nerror: " + runErr.Error()
	}
	return out, code
}

func lineWith(text, substr string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// TestLogLinesKeepPercentSignsVerbatim: log lines quote file names and URLs
// that contain '%' (the checkpoint file anthropic_compliance%2Fe2e%2F...,
// query keys activity_types%5B%5D); they must reach the log as they are, not
// be read as printf verbs ("%!F(MISSING)").
func TestLogLinesKeepPercentSignsVerbatim(t *testing.T) {
	r := newRig(t, faultNow, fakeapi.Options{Dataset: faultDataset()}, rigOptions{})
	st := r.start(r.render(inputConfig{retries: fastRetries, extra: `
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T08:00:00Z"
      filters:
        activity_types: [claude_chat_created]
`}), streamOptions{maxInFlight: 1})
	require.Eventually(t, func() bool { return len(r.logs.jobReports()) > 0 }, 30*time.Second, 5*time.Millisecond)
	require.NoError(t, st.stop())
	logs := r.logs.dump()
	var mangled []string
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, "%!") {
			mangled = append(mangled, line)
		}
	}
	assert.Empty(t, mangled, "log lines with printf damage")
	assert.True(t, strings.Contains(logs, "anthropic_compliance%2Fe2e%2Factivities"), "the checkpoint file is named as it is")
}
