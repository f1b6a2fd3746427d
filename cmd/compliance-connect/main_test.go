package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// binary builds compliance-connect once per test binary run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cc-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "compliance-connect")
		out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9 -X main.commit=abc1234", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err, string(out)}
		}
	})
	require.NoError(t, binErr)
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	// A hung binary is killed rather than left behind by a timed-out test.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pipeline.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

func TestVersionPrintsModuleVersionAndCommit(t *testing.T) {
	out, _, code := runBinary(t, nil, "--version")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "v9.9.9")
	assert.Contains(t, out, "abc1234")
}

func TestListShowsThisProjectsPlugins(t *testing.T) {
	out, _, code := runBinary(t, nil, "list")
	require.Equal(t, 0, code)
	for _, name := range []string{"anthropic_compliance", "kafka", "aws_s3", "elasticsearch", "splunk_hec", "atomic_file", "redis", "prometheus", "anthropic_compliance_ocsf", "anthropic_compliance_ecs"} {
		assert.Contains(t, out, name)
	}
}

func TestCreatePrintsTheInputDefaults(t *testing.T) {
	out, _, code := runBinary(t, nil, "create", "anthropic_compliance//drop")
	require.Equal(t, 0, code)
	for _, field := range []string{"api_key", "settle: 2m", "overlap: 5m", "schedule: '*/5 * * * *'", "earliest: -7d@d", "page_size: 5000", "auto_replay_nacks: true"} {
		assert.Contains(t, out, field)
	}
}

func TestEchoNeverPrintsTheAPIKey(t *testing.T) {
	cfg := writeConfig(t, `
input:
  anthropic_compliance:
    api_key: sk-ant-api01-literal-secret-value
output:
  drop: {}
`)
	out, _, code := runBinary(t, nil, "echo", cfg)
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "literal-secret-value")
	assert.Contains(t, out, "SECRET_SCRUBBED")
}

func TestLintReportsBadEndpointSettingsNamingTheField(t *testing.T) {
	cfg := writeConfig(t, `
input:
  anthropic_compliance:
    api_key: k
    endpoints:
      - name: activities
        schedule: "*/5 * *"
        earliest: -7x@d
        page_size: 9000
output:
  drop: {}
`)
	out, errOut, code := runBinary(t, nil, "lint", cfg)
	assert.NotEqual(t, 0, code)
	all := out + errOut
	assert.Contains(t, all, "endpoints[0].schedule")
	assert.Contains(t, all, "endpoints[0].earliest")
	assert.Contains(t, all, "endpoints[0].page_size")
}

// TestSecretsAreCheckedAtStartUpNotByLint: CI lints without secrets (`lint
// --skip-env-var-check` makes an unset variable empty), so an empty key
// passes lint and is refused at start-up, naming the field; a plain-HTTP
// base_url to another host is refused by both, in the same words.
func TestSecretsAreCheckedAtStartUpNotByLint(t *testing.T) {
	secret := writeConfig(t, `
input:
  label: secrets
  anthropic_compliance:
    api_key: ${COMPLIANCE_CONNECT_TEST_UNSET_KEY}
    state:
      path: `+t.TempDir()+`
output:
  drop: {}
shutdown_timeout: 5s
`)
	out, errOut, code := runBinary(t, nil, "lint", "--skip-env-var-check", secret)
	assert.Equal(t, 0, code, out+errOut)
	assert.Empty(t, strings.TrimSpace(out+errOut))
	out, errOut, code = runBinary(t, []string{"COMPLIANCE_CONNECT_TEST_UNSET_KEY="}, "run", secret)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, "api_key: must not be empty")

	plain := writeConfig(t, `
input:
  label: plain
  anthropic_compliance:
    api_key: k
    base_url: http://compliance-gateway.example.com
    state:
      path: `+t.TempDir()+`
output:
  drop: {}
shutdown_timeout: 5s
`)
	const want = `base_url: "http://compliance-gateway.example.com" would send the API key in clear text`
	out, errOut, code = runBinary(t, nil, "lint", plain)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, want)
	out, errOut, code = runBinary(t, nil, "run", "--chilled", plain)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, want)
}

func TestLintAcceptsTheDemoConfig(t *testing.T) {
	out, errOut, code := runBinary(t, nil, "lint", "../../config/demo.yaml")
	assert.Equal(t, 0, code, out+errOut)
}

func TestRunRefusesAVolatileCheckpointCache(t *testing.T) {
	cfg := writeConfig(t, `
input:
  anthropic_compliance:
    api_key: k
    base_url: http://127.0.0.1:1
    state:
      cache: mem
cache_resources:
  - label: mem
    memory: {}
output:
  drop: {}
shutdown_timeout: 5s
`)
	out, errOut, code := runBinary(t, nil, "run", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, "memory cache")
	assert.Contains(t, out+errOut, "allow_volatile")
}

func TestFailedOnceBackfillExitsNonZero(t *testing.T) {
	now := time.Now().UTC()
	fake, err := fakeapi.Start(fakeapi.Options{APIKeys: []string{"k"}, Clock: func() time.Time { return now }}, "127.0.0.1:0")
	require.NoError(t, err)
	defer fake.Close()
	fake.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry}, fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry})
	cfg := writeConfig(t, `
input:
  label: backfill
  anthropic_compliance:
    api_key: k
    base_url: `+fake.URL()+`
    state:
      path: `+t.TempDir()+`
    endpoints:
      - name: activities
        schedule: once
        earliest: -1h
output:
  drop: {}
shutdown_timeout: 5s
`)
	out, errOut, code := runBinary(t, nil, "run", cfg)
	assert.Equal(t, 1, code, out+errOut)
	assert.Contains(t, out+errOut, "backfill failed")
}

func TestSuccessfulOnceBackfillExitsZero(t *testing.T) {
	now := time.Now().UTC()
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 3, Count: 200, From: now.Add(-50 * time.Minute), To: now.Add(-5 * time.Minute)})
	fake, err := fakeapi.Start(fakeapi.Options{APIKeys: []string{"k"}, Dataset: data}, "127.0.0.1:0")
	require.NoError(t, err)
	defer fake.Close()
	outFile := filepath.Join(t.TempDir(), "out.ndjson")
	cfg := writeConfig(t, `
input:
  label: backfill
  anthropic_compliance:
    api_key: k
    base_url: `+fake.URL()+`
    state:
      path: `+t.TempDir()+`
    endpoints:
      - name: activities
        schedule: once
        earliest: -1h
        latest: -3m # settled already: a latest inside the settle margin makes a once job wait
output:
  file:
    path: `+outFile+`
    codec: lines
shutdown_timeout: 5s
`)
	out, errOut, code := runBinary(t, nil, "run", cfg)
	require.Equal(t, 0, code, out+errOut)
	got, err := os.ReadFile(outFile)
	require.NoError(t, err)
	assert.Equal(t, len(data), strings.Count(string(got), "\n"))
}
