package fakeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestCurlSeesEnvelopeHeadersAndErrors drives the fake with curl, as an
// operator would: raw bracket keys, the documented headers, an error body.
func TestCurlSeesEnvelopeHeadersAndErrors(t *testing.T) {
	curl, err := exec.LookPath("curl")
	require.NoError(t, err, "curl must be installed for this test (apt-get install curl); it is not skipped on purpose")
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 40, Count: 500}, func(o *fakeapi.Options) { o.RateLimit = 600 })
	dir := t.TempDir()

	run := func(key string, query string) (int, string, []byte) {
		hdrFile, bodyFile := filepath.Join(dir, "h"), filepath.Join(dir, "b")
		args := []string{"-sS", "--globoff", "-D", hdrFile, "-o", bodyFile, "-w", "%{http_code}",
			"-H", "anthropic-version: 2023-06-01"}
		if key != "" {
			args = append(args, "-H", "x-api-key: "+key)
		}
		out, err := exec.CommandContext(t.Context(), curl, append(args, r.URL()+fakeapi.ActivitiesPath+"?"+query)...).Output()
		require.NoError(t, err)
		hdr, err := os.ReadFile(hdrFile)
		require.NoError(t, err)
		body, err := os.ReadFile(bodyFile)
		require.NoError(t, err)
		code, err := strconv.Atoi(strings.TrimSpace(string(out)))
		require.NoError(t, err)
		return code, strings.ToLower(string(hdr)), body
	}

	code, hdr, body := run(testKey, "limit=3&activity_types[]=claude_chat_viewed&order=desc")
	require.Equal(t, 200, code, "body: %s", body)
	assert.Regexp(t, `(?m)^request-id: req_[0-9a-z]{24}\r?$`, hdr)
	assert.Contains(t, hdr, "date: ")
	assert.Contains(t, hdr, "content-type: application/json")
	assert.Contains(t, hdr, "anthropic-ratelimit-requests-limit: 600")
	assert.Contains(t, hdr, "anthropic-ratelimit-requests-remaining: 599")
	assert.Contains(t, hdr, "anthropic-ratelimit-requests-reset: ")
	var env envelope
	require.NoError(t, json.Unmarshal(body, &env))
	require.Len(t, env.Data, 3)
	assert.True(t, *env.HasMore)
	var want []string
	for _, a := range visible {
		if a.Type == "claude_chat_viewed" && len(want) < 3 {
			want = append(want, a.ID)
		}
	}
	assert.Equal(t, want, ids(t, env))
	assert.Equal(t, want[0], *env.FirstID)
	assert.Equal(t, want[2], *env.LastID)

	code, hdr, body = run("", "limit=3")
	require.Equal(t, 401, code)
	assert.Contains(t, hdr, "request-id: req_")
	var e errorBody
	require.NoError(t, json.Unmarshal(body, &e))
	assert.Equal(t, "error", e.Type)
	assert.Equal(t, "authentication_error", e.Error.Type)
	assert.Equal(t, "The API key provided is invalid or has been revoked.", e.Error.Message)
}

// syncBuffer is a goroutine-safe bytes.Buffer for RunCLI's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunCLIServesUntilCancelled: the CLI prints its URL, serves the seeded
// dataset with the given key, and returns nil once ctx is cancelled.
func TestRunCLIServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- fakeapi.RunCLI(ctx, []string{"--addr", "127.0.0.1:0", "--api-key", "cli-key-1", "--api-key", "cli-key-2",
			"--count", "250", "--lag", "0s", "--growth", "0", "--seed", "3", "--self-events"}, &stdout, &stderr)
	}()
	urlRe := regexp.MustCompile(`listening on (http://\S+)` + regexp.QuoteMeta(fakeapi.ActivitiesPath))
	require.Eventually(t, func() bool { return urlRe.MatchString(stdout.String()) }, 30*time.Second, 10*time.Millisecond)
	base := urlRe.FindStringSubmatch(stdout.String())[1]
	assert.NotContains(t, stdout.String(), "cli-key")

	a := get(t, base, "limit=5000", "cli-key-2")
	require.Equal(t, 200, a.status, "body: %s", a.body)
	var env envelope
	require.NoError(t, json.Unmarshal(a.body, &env))
	assert.Len(t, env.Data, 250)
	assert.Equal(t, 401, get(t, base, "", testKey).status, "explicit keys replace the default")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("RunCLI did not return after cancel")
	}
}

// TestRunCLIRejectsBadFlags with errors naming the flag.
func TestRunCLIRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--fault-kinds", "429,nope"}, "--fault-kinds"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"--span", "-1h"}, "--span"},
		{[]string{"--lag", "-1s", "--count", "1"}, "Lag"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		var out, errOut syncBuffer
		err := fakeapi.RunCLI(t.Context(), tc.args, &out, &errOut)
		require.Error(t, err, "%v", tc.args)
		assert.Contains(t, err.Error(), tc.msg)
	}
}
