package main_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

func TestCheckExitCodesAndJSONThroughTheBinary(t *testing.T) {
	const key = "sk-ant-api01-check-binary-SECRET"
	now := time.Now().UTC()
	fake, err := fakeapi.New(fakeapi.Options{
		APIKeys:   []string{key},
		RateLimit: 600,
		Dataset:   fakeapi.Generate(fakeapi.GenOptions{Seed: 5, Count: 500, From: now.Add(-2 * time.Hour), To: now.Add(-time.Minute)}),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`http: { address: 127.0.0.1:4195 }
input:
  label: checked
  anthropic_compliance:
    api_key: ${CHECK_TEST_KEY}
    base_url: %s
    state: { path: %s }
output:
  file: { path: %s, codec: lines }
`, srv.URL, filepath.Join(dir, "state"), filepath.Join(dir, "out", "acts.ndjson")))

	type report struct {
		Failed      bool `json:"failed"`
		APIRequests int  `json:"api_requests"`
		Checks      []struct {
			Check, Subject, Status, Message, Fix string
		} `json:"checks"`
	}
	statuses := func(r report) map[string]string {
		m := map[string]string{}
		for _, c := range r.Checks {
			m[c.Check] = c.Status
		}
		return m
	}

	t.Run("every check passes: exit 0, one API request", func(t *testing.T) {
		stdout, stderr, code := runBinary(t, []string{"CHECK_TEST_KEY=" + key}, "check", "-c", cfg)
		require.Equal(t, 0, code, stdout+stderr)
		assert.Regexp(t, `(?m)^ok +api\.key +input "checked": the key is accepted`, stdout)
		assert.Contains(t, stdout, "0 failed, 0 warnings, 9 ok, 0 skipped; 1 Compliance API request(s)")
		assert.NotContains(t, stdout+stderr, key)
	})

	t.Run("--json reports each check; a refused key exits 1", func(t *testing.T) {
		stdout, stderr, code := runBinary(t, []string{"CHECK_TEST_KEY=sk-ant-api01-revoked-SECRET"}, "check", "-c", cfg, "--json")
		require.Equal(t, 1, code, stdout+stderr)
		var r report
		require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
		assert.True(t, r.Failed)
		assert.Equal(t, 1, r.APIRequests)
		s := statuses(r)
		assert.Equal(t, "fail", s["api.key"])
		assert.Equal(t, "skip", s["api.scope"])
		assert.Equal(t, "ok", s["state.store"])
		assert.Equal(t, "ok", s["http.server"])
		assert.Equal(t, "ok", s["output"])
		assert.NotContains(t, stdout+stderr, "sk-ant-api01-revoked-SECRET")
	})

	t.Run("an unset key fails without a request", func(t *testing.T) {
		before := fake.Stats().Requests
		stdout, _, code := runBinary(t, nil, "check", "-c", cfg, "--json")
		require.Equal(t, 1, code)
		var r report
		require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
		assert.Equal(t, 0, r.APIRequests)
		assert.Equal(t, before, fake.Stats().Requests)
	})

	t.Run("warnings only exit 0", func(t *testing.T) {
		exposed := writeConfig(t, fmt.Sprintf(`input:
  anthropic_compliance:
    api_key: ${CHECK_TEST_KEY}
    base_url: %s
    state: { path: %s }
output:
  drop: {}
`, srv.URL, filepath.Join(dir, "state")))
		stdout, stderr, code := runBinary(t, []string{"CHECK_TEST_KEY=" + key}, "check", "-c", exposed)
		require.Equal(t, 0, code, stdout+stderr)
		assert.Regexp(t, `(?m)^warn +http\.server +http: http://0\.0\.0\.0:4195, basic auth off`, stdout)
		assert.Regexp(t, `(?m)^ +fix: bind it to 127\.0\.0\.1:4195`, stdout)
	})

	t.Run("a config that cannot be read or parsed exits 2", func(t *testing.T) {
		_, stderr, code := runBinary(t, nil, "check", "-c", filepath.Join(dir, "nope.yaml"))
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "no such file")
		bad := writeConfig(t, "input:\n  anthropic_compliance:\n    api_key: x\n    endpoints: [ { name: activities, page_size: 0 } ]\n")
		_, stderr, code = runBinary(t, nil, "check", "-c", bad)
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "page_size: must be between 1 and 5000")
		_, stderr, code = runBinary(t, nil, "check", "-c", writeConfig(t, "output:\n  drop: {}\n"))
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "no anthropic_compliance input")
		_, stderr, code = runBinary(t, nil, "check")
		assert.Equal(t, 2, code, "a usage error is not a failed check")
		assert.Contains(t, stderr, "-c/--config is required")
		_, _, code = runBinary(t, nil, "check", "-c", bad, "--no-such-flag")
		assert.Equal(t, 2, code)
	})

	t.Run("the help says how many API requests a check costs", func(t *testing.T) {
		stdout, _, code := runBinary(t, nil, "check", "--help")
		require.Equal(t, 0, code)
		assert.Contains(t, stdout, "per anthropic_compliance input, one for the Activity Feed plus one per other key scope its other endpoints need (1 for the usual config, 3 at most), never retried")
	})
}
