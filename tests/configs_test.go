package tests_test

// Every example config and resource file must lint clean with the binary's
// full environment, and the processing example must do what its comments
// say when the built binary runs it against the fake API.

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// binary builds cmd/compliance-connect once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "compliance-connect-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "compliance-connect")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/compliance-connect")
		cmd.Dir = ".."
		buildOut, buildErr = cmd.CombinedOutput()
	})
	require.NoError(t, buildErr, "go build: %s", buildOut)
	return binPath
}

// requiredEnv matches ${NAME} without a default: lint fails unless NAME is set.
var requiredEnv = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// lintEnv returns the environment for linting file: every variable it needs
// without a default set to a dummy value (never a real secret).
func lintEnv(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	env := os.Environ()
	for _, m := range requiredEnv.FindAllStringSubmatch(string(data), -1) {
		env = append(env, m[1]+"=dummy-"+strings.ToLower(m[1]))
	}
	return env
}

func TestEveryConfigAndResourceFileLintsClean(t *testing.T) {
	bin := binary(t)
	configs, err := filepath.Glob("../config/*.yaml")
	require.NoError(t, err)
	resources, err := filepath.Glob("../resources/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, configs)
	require.NotEmpty(t, resources)
	for _, file := range slices.Concat(configs, resources) {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			args := []string{"lint", "--deprecated"}
			if filepath.Base(filepath.Dir(file)) == "config" {
				for _, r := range resources {
					args = append(args, "-r", r)
				}
			}
			cmd := exec.Command(bin, append(args, file)...)
			cmd.Env = lintEnv(t, file)
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s", out)
			assert.Empty(t, strings.TrimSpace(string(out)))
		})
	}
}

// TestEveryConfigLintsWithoutItsSecrets: CI lints the shipped configs with
// `lint --skip-env-var-check` and no secrets in the environment, which turns
// every unset ${VAR} into an empty string. Secrets (api_key, token,
// hash_key, passwords) are therefore checked at start-up, not by lint, and
// every config must lint clean this way.
func TestEveryConfigLintsWithoutItsSecrets(t *testing.T) {
	bin := binary(t)
	configs, err := filepath.Glob("../config/*.yaml")
	require.NoError(t, err)
	resources, err := filepath.Glob("../resources/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, configs)
	for _, file := range configs {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			unset := map[string]bool{}
			for _, m := range requiredEnv.FindAllStringSubmatch(string(data), -1) {
				unset[m[1]] = true
			}
			var env []string
			for _, kv := range os.Environ() {
				if name, _, _ := strings.Cut(kv, "="); !unset[name] {
					env = append(env, kv)
				}
			}
			args := []string{"lint", "--skip-env-var-check"}
			for _, r := range resources {
				args = append(args, "-r", r)
			}
			cmd := exec.Command(bin, append(args, file)...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s", out)
			assert.Empty(t, strings.TrimSpace(string(out)))
		})
	}
}

// TestEveryInputInTheConfigsHasALabel: the derived checkpoint key contains
// the input's label; two unlabelled inputs would share "default".
func TestEveryInputInTheConfigsHasALabel(t *testing.T) {
	configs, err := filepath.Glob("../config/*.yaml")
	require.NoError(t, err)
	for _, file := range configs {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		var doc struct {
			Input map[string]any `yaml:"input"`
		}
		require.NoError(t, yaml.Unmarshal(data, &doc), file)
		if _, ok := doc.Input["anthropic_compliance"]; !ok {
			continue
		}
		label, _ := doc.Input["label"].(string)
		assert.NotEmpty(t, label, "%s: the input has no label", file)
	}
}

// TestPreprocessingExampleAddsFieldsAndRunsThePreprocessResource runs
// config/preprocessing.yaml with resources/preprocess.yaml through the built
// binary against the fake API, and checks every activity carries the Fields
// (mutation) and the pre-processing resource's changes.
func TestPreprocessingExampleAddsFieldsAndRunsThePreprocessResource(t *testing.T) {
	bin := binary(t)
	now := time.Now().UTC()
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 4, Count: 60, From: now.Add(-2 * time.Hour), To: now.Add(-10 * time.Minute)})
	var want []fakeapi.Activity
	for _, a := range data {
		if a.Type != "compliance_api_accessed" { // excluded by the example's filter
			want = append(want, a)
		}
	}
	fake, err := fakeapi.Start(fakeapi.Options{Dataset: data, APIKeys: []string{"test-key"}}, "127.0.0.1:0")
	require.NoError(t, err)
	defer fake.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "-s", "http.enabled=false",
		"-r", "../resources/preprocess.yaml", "../config/preprocessing.yaml")
	cmd.Env = append(os.Environ(),
		"ANTHROPIC_COMPLIANCE_API_KEY=test-key",
		"ANTHROPIC_BASE_URL="+fake.URL(),
		"COMPLIANCE_STATE_DIR="+t.TempDir(),
		"REDACT_IP=true",
		"DEPLOY_ENV=ci",
	)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	got := map[string]map[string]any{}
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for len(got) < len(want) && scanner.Scan() {
		line := scanner.Bytes()
		var doc map[string]any
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &doc) != nil {
			continue // a log line
		}
		id, _ := doc["id"].(string)
		got[id] = doc
	}
	require.Len(t, got, len(want), "stderr:\n%s", stderr.String())

	hostname, err := os.Hostname()
	require.NoError(t, err)
	for _, a := range want {
		doc := got[a.ID]
		require.NotNil(t, doc, a.ID)
		// Fields (the input's mutation).
		assert.Equal(t, "compliance-connect", doc["collector"])
		assert.Equal(t, hostname, doc["collector_host"])
		assert.Equal(t, "ci", doc["environment"])
		assert.NotEmpty(t, doc["collection_job"], "metadata is readable in Fields")
		// The pre-processing resource.
		assert.InDelta(t, float64(a.CreatedAt.UnixMilli())/1000, doc["_time"], 0.0005)
		assert.Equal(t, strings.SplitN(a.Type, "_", 2)[0], doc["event_category"])
		actor, _ := doc["actor"].(map[string]any)
		require.NotNil(t, actor)
		assert.NotContains(t, actor, "ip_address", "REDACT_IP=true removes it")
		if email, ok := actor["email_address"].(string); ok {
			assert.Equal(t, strings.ToLower(email), email)
		}
		var orig map[string]any
		require.NoError(t, json.Unmarshal(a.JSON, &orig))
		assert.Equal(t, orig["id"], doc["id"])
		assert.Equal(t, orig["created_at"], doc["created_at"])
		assert.Equal(t, orig["type"], doc["type"])
	}
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBinaryRefusesAVolatileCheckpointCacheUnlessAllowed: the binary reads
// the cache resource types from the config (Benthos does not tell plugins),
// so a memory cache as checkpoint store is refused at start-up with a
// non-zero exit, and accepted with state.allow_volatile.
func TestBinaryRefusesAVolatileCheckpointCacheUnlessAllowed(t *testing.T) {
	bin := binary(t)
	now := time.Now().UTC()
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 8, Count: 20, From: now.Add(-2 * time.Hour), To: now.Add(-90 * time.Minute)})
	fake, err := fakeapi.Start(fakeapi.Options{Dataset: data, APIKeys: []string{"test-key"}}, "127.0.0.1:0")
	require.NoError(t, err)
	defer fake.Close()
	config := func(allow bool) string {
		path := filepath.Join(t.TempDir(), "volatile.yaml")
		text := `
input:
  label: volatile
  anthropic_compliance:
    api_key: test-key
    base_url: ` + fake.URL() + `
    state:
      cache: checkpoints
      allow_volatile: ` + map[bool]string{true: "true", false: "false"}[allow] + `
    endpoints:
      - name: activities
        schedule: once
        earliest: -3h
        latest: -1h
cache_resources:
  - label: checkpoints
    memory:
      compaction_interval: ""
output:
  drop: {}
http:
  enabled: false
shutdown_timeout: 10s
`
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return path
	}
	for _, allow := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, bin, "run", config(allow)).CombinedOutput()
		cancel()
		if !allow {
			require.Error(t, err, "%s", out)
			assert.Contains(t, string(out), `cache resource "checkpoints" is a memory cache`)
			assert.Contains(t, string(out), "allow_volatile")
			continue
		}
		assert.NoError(t, err, "allowed: the once backfill completes and exits 0\n%s", out)
		assert.Contains(t, string(out), "volatile memory cache")
	}
}
