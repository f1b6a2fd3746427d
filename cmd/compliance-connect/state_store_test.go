package main_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipelineWithStateCache is a pipeline whose input keeps its checkpoint in
// the cache resource declared by caches.
func pipelineWithStateCache(t *testing.T, state, caches string) string {
	t.Helper()
	return writeConfig(t, `
http:
  address: 127.0.0.1:0
input:
  label: siem
  anthropic_compliance:
    api_key: k
    base_url: http://127.0.0.1:1
    state:
`+state+`
cache_resources:
`+caches+`
output:
  drop: {}
shutdown_timeout: 5s
`)
}

// Issue 12 §6: the core file cache cannot hold a checkpoint (its key has
// slashes, it writes without fsync). `run` and `lint` refuse it and name the
// way out.
func TestTheCoreFileCacheIsRefusedAtStartUpAndInLint(t *testing.T) {
	cfg := pipelineWithStateCache(t, "      cache: files", "  - label: files\n    file:\n      directory: "+t.TempDir())
	for _, cmd := range []string{"run", "lint"} {
		out, errOut, code := runBinary(t, nil, cmd, cfg)
		assert.NotEqual(t, 0, code, "%s: %s%s", cmd, out, errOut)
		assert.Contains(t, out+errOut, `cache resource "files" is a core `+"`file`"+` cache`, cmd)
		assert.Contains(t, out+errOut, "state.path", cmd)
		assert.Contains(t, out+errOut, "atomic_file", cmd)
	}
	res := filepath.Join(t.TempDir(), "resources.yaml")
	require.NoError(t, os.WriteFile(res, []byte("cache_resources:\n  - label: files\n    file:\n      directory: /tmp\n"), 0o600))
	main := writeConfig(t, "input:\n  label: siem\n  anthropic_compliance:\n    api_key: k\n    state:\n      cache: files\noutput:\n  drop: {}\n")
	out, errOut, code := runBinary(t, nil, "lint", "-r", res, main)
	assert.NotEqual(t, 0, code, "the cache in a resource file (-r): %s%s", out, errOut)
	assert.Contains(t, out+errOut, "core `file` cache")
}

// Issue 11: a cache's default TTL must not expire the checkpoint. The
// binary sees the cache's config and refuses one that would, naming the
// field; our redis cache writes checkpoints with no TTL whatever its
// default_ttl.
func TestACacheWhoseDefaultTTLWouldExpireTheCheckpointIsRefused(t *testing.T) {
	cfg := pipelineWithStateCache(t, "      cache: mem\n      allow_volatile: true", "  - label: mem\n    memory: {}")
	out, errOut, code := runBinary(t, nil, "run", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, "default_ttl")
	assert.Contains(t, out+errOut, `compaction_interval: ""`)
	_, _, code = runBinary(t, nil, "lint", cfg)
	assert.NotEqual(t, 0, code, "lint reports it too")
}

// Issue 12 §1: state writes over HTTP on a server listening on every
// interface without basic auth refuse to start, saying how to fix it.
func TestStateWritesOnAnOpenHTTPServerRefuseToStart(t *testing.T) {
	cfg := writeConfig(t, `
http:
  address: 0.0.0.0:0
input:
  label: siem
  anthropic_compliance:
    api_key: k
    base_url: http://127.0.0.1:1
    admin:
      state_writes: true
    state:
      path: `+t.TempDir()+`
output:
  drop: {}
shutdown_timeout: 5s
`)
	out, errOut, code := runBinary(t, nil, "run", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, `admin.state_writes: the HTTP server listens on "0.0.0.0:0" without http.basic_auth`)
}

// Issue 12 §5: `state` commands warn about a state directory other users can
// write, as the input does.
func TestStateCommandsWarnAboutAStateDirectoryOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	cfg := stateConfig(t, dir)
	_, errOut, _ := runState(t, nil, "show", "-c", cfg)
	assert.Contains(t, errOut, "warning: ")
	assert.Contains(t, errOut, "world-writable")
}

// Root flags before `lint` (-r resources) are understood too.
func TestLintChecksTheStateCacheWithRootFlags(t *testing.T) {
	res := filepath.Join(t.TempDir(), "resources.yaml")
	require.NoError(t, os.WriteFile(res, []byte("cache_resources:\n  - label: files\n    file:\n      directory: /tmp\n"), 0o600))
	main := writeConfig(t, "input:\n  label: siem\n  anthropic_compliance:\n    api_key: k\n    state:\n      cache: files\noutput:\n  drop: {}\n")
	out, errOut, code := runBinary(t, nil, "-r", res, "lint", main)
	assert.NotEqual(t, 0, code, "%s%s", out, errOut)
	assert.Contains(t, out+errOut, "core `file` cache")
}

// Issue 12 §2: `state set` refuses a scanned_to in the future (every later
// job would be empty, a silent hole), with or without --force.
func TestStateSetRefusesAScannedToInTheFuture(t *testing.T) {
	dir := t.TempDir()
	cfg := stateConfig(t, dir)
	for _, extra := range [][]string{nil, {"--force"}} {
		args := append([]string{"set", "-c", cfg, "-f", writeDoc(t, stateDoc(t, "2099-01-01T00:00:00Z", nil))}, extra...)
		_, errOut, code := runState(t, nil, args...)
		assert.NotEqual(t, 0, code)
		assert.Contains(t, errOut, "2099-01-01T00:00:00Z is later than the API's clock plus settle")
	}
	_, err := os.Stat(filepath.Join(dir, stateFileName))
	assert.True(t, os.IsNotExist(err), "nothing was written")
}
