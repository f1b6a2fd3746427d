package preflight_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

const checkpointKey = "anthropic_compliance/compliance/activities"

// writeCheckpoint stores a checkpoint for base URL baseURL in dir.
func writeCheckpoint(t *testing.T, dir, baseURL string, scannedTo time.Time) []byte {
	t.Helper()
	id := collector.Config{Endpoint: "activities", BaseURL: baseURL, Filters: collector.Filters{}}.Identity()
	rec := checkpoint.New(id, scannedTo.Add(-time.Hour))
	rec.ScannedTo = scannedTo.UTC().Truncate(time.Second)
	rec.Rev = 7
	data, err := rec.Encode()
	require.NoError(t, err)
	writeRaw(t, dir, data)
	return data
}

func writeRaw(t *testing.T, dir string, data []byte) {
	t.Helper()
	s, err := atomicfile.Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.Set(checkpointKey, data))
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestStoreCheck(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, r *rig)
		want  expect
	}{
		{name: "a writable directory passes after a probe write",
			setup: func(t *testing.T, r *rig) { require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "state"), 0o700)) },
			want:  expect{status: preflight.OK, contains: []string{"is writable (a probe document was written through the checkpoint's compare-and-swap and read back", "anthropic_compliance%2F.preflight-probe"}}},
		{name: "a missing directory is reported, not created",
			want: expect{status: preflight.OK, contains: []string{"does not exist yet; the input creates it"}}},
		{name: "a relative state.path says it depends on the service's working directory",
			setup: func(t *testing.T, r *rig) { r.state = "path: ./no-such-preflight-state" },
			want:  expect{status: preflight.OK, contains: []string{"state.path is relative"}}},
		{name: "a directory that cannot be created fails",
			setup: func(t *testing.T, r *rig) {
				require.NoError(t, os.WriteFile(filepath.Join(r.dir, "file"), nil, 0o600))
				r.state = "path: " + filepath.Join(r.dir, "file", "state")
			},
			want: expect{status: preflight.Fail, contains: []string{"not a directory"}}},
		{name: "a state.path that is a file fails",
			setup: func(t *testing.T, r *rig) {
				require.NoError(t, os.WriteFile(filepath.Join(r.dir, "state"), nil, 0o600))
			},
			want: expect{status: preflight.Fail, contains: []string{"is not a directory"}, fix: "state.path"}},
		{name: "a directory others can write warns",
			setup: func(t *testing.T, r *rig) {
				require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "state"), 0o700))
				require.NoError(t, os.Chmod(filepath.Join(r.dir, "state"), 0o777))
			},
			want: expect{status: preflight.Warn, contains: []string{"writable by group or others (-rwxrwxrwx)"}, fix: "chmod 700"}},
		{name: "a directory on tmpfs fails: it is lost at reboot",
			setup: func(t *testing.T, r *rig) { r.fsType = func(string) (string, error) { return "tmpfs", nil } },
			want:  expect{status: preflight.Fail, contains: []string{"is in memory (tmpfs)", "restarts from earliest"}, fix: "persistent storage"}},
		{name: "a directory on tmpfs allowed by state.allow_volatile warns",
			setup: func(t *testing.T, r *rig) {
				r.fsType = func(string) (string, error) { return "tmpfs", nil }
				r.state += "\nallow_volatile: true"
			},
			want: expect{status: preflight.Warn, contains: []string{"allowed by state.allow_volatile"}}},
		{name: "a directory in a container's writable layer fails",
			setup: func(t *testing.T, r *rig) { r.fsType = func(string) (string, error) { return "overlay", nil } },
			want:  expect{status: preflight.Fail, contains: []string{"lost when the container is recreated"}, fix: "volume"}},
		{name: "a memory cache fails: the input refuses it",
			setup: func(t *testing.T, r *rig) {
				r.state = "cache: mem"
				r.extra = "cache_resources:\n  - label: mem\n    memory: {}"
			},
			want: expect{status: preflight.Fail, contains: []string{`state.cache "mem" is a memory cache`}, fix: "allow_volatile"}},
		{name: "a noop cache fails its probe even when volatile caches are allowed",
			setup: func(t *testing.T, r *rig) {
				r.state = "cache: nothing\nallow_volatile: true"
				r.extra = "cache_resources:\n  - label: nothing\n    noop: {}"
			},
			want: expect{status: preflight.Fail, contains: []string{"gone right after the write"}}},
		{name: "an atomic_file cache passes after a probe write",
			setup: func(t *testing.T, r *rig) {
				r.state = "cache: durable"
				r.extra = "cache_resources:\n  - label: durable\n    atomic_file: { directory: " + filepath.Join(r.dir, "cache") + " }"
			},
			want: expect{status: preflight.OK, contains: []string{`state.cache "durable" is writable`}}},
		{name: "an undeclared cache fails",
			setup: func(t *testing.T, r *rig) { r.state = "cache: missing" },
			want:  expect{status: preflight.Fail, contains: []string{`cache resource "missing" was not found`}, fix: "cache_resources"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1)
			if tt.setup != nil {
				tt.setup(t, r)
			}
			rep := r.check()
			tt.want.assert(t, result(t, rep, preflight.CheckStore, "compliance"))
			assert.Equal(t, tt.want.status == preflight.Fail, rep.Failed())
		})
	}
}

func TestStoreCheckNeverCreatesNorChangesTheStore(t *testing.T) {
	t.Run("a missing state.path stays missing", func(t *testing.T) {
		r := newRig(t, 1)
		r.check()
		assert.NoDirExists(t, filepath.Join(r.dir, "state"))
	})
	t.Run("the probe leaves the checkpoint and the directory as they were", func(t *testing.T) {
		r := newRig(t, 1)
		dir := filepath.Join(r.dir, "state")
		data := writeCheckpoint(t, dir, r.url, r.clock.Now().Add(-10*time.Minute))
		before := listDir(t, dir)
		info, err := os.Stat(filepath.Join(dir, "anthropic_compliance%2Fcompliance%2Factivities"))
		require.NoError(t, err)
		rep := r.check()
		require.Equal(t, preflight.OK, result(t, rep, preflight.CheckStore, "compliance").Status)
		// The store's only write is a swap (no delete): the probe leaves its
		// one small document, and the per-key lock file of the swap.
		var left []string
		for _, name := range listDir(t, dir) {
			if name != "anthropic_compliance%2F.preflight-probe" && !strings.HasPrefix(name, ".lock-") {
				left = append(left, name)
			}
		}
		assert.Equal(t, before, left, "nothing but the probe document and its lock file is added")
		got, err := os.ReadFile(filepath.Join(dir, "anthropic_compliance%2Fcompliance%2Factivities"))
		require.NoError(t, err)
		assert.Equal(t, data, got)
		after, err := os.Stat(filepath.Join(dir, "anthropic_compliance%2Fcompliance%2Factivities"))
		require.NoError(t, err)
		assert.Equal(t, info.ModTime(), after.ModTime())
	})
}

func TestCheckpointCheck(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, r *rig, dir string)
		want  expect
	}{
		{name: "no checkpoint yet passes and names earliest",
			setup: func(t *testing.T, _ *rig, dir string) { require.NoError(t, os.MkdirAll(dir, 0o700)) },
			want:  expect{status: preflight.OK, contains: []string{"no checkpoint yet", `earliest "-7d@d"`}}},
		{name: "a checkpoint of this config passes",
			setup: func(t *testing.T, r *rig, dir string) {
				writeCheckpoint(t, dir, r.url, r.clock.Now().Add(-10*time.Minute))
			},
			want: expect{status: preflight.OK, contains: []string{"matches this config (rev 7", "10m0s ago"}}},
		{name: "a checkpoint written for another base URL fails",
			setup: func(t *testing.T, r *rig, dir string) {
				writeCheckpoint(t, dir, "https://api.anthropic.com", r.clock.Now().Add(-10*time.Minute))
			},
			want: expect{status: preflight.Fail, contains: []string{"written for another configuration", `base_url "https://api.anthropic.com", this config "http://127.0.0.1`}, fix: "state.adopt"}},
		{name: "a checkpoint of another config warns when state.adopt is set",
			setup: func(t *testing.T, r *rig, dir string) {
				writeCheckpoint(t, dir, "https://api.anthropic.com", r.clock.Now().Add(-10*time.Minute))
				r.state += "\nadopt: true"
			},
			want: expect{status: preflight.Warn, contains: []string{"state.adopt is set"}, fix: "remove state.adopt"}},
		{name: "a corrupt checkpoint fails",
			setup: func(t *testing.T, _ *rig, dir string) { writeRaw(t, dir, []byte(`{"version":1,"scanned_to":`)) },
			want:  expect{status: preflight.Fail, contains: []string{"anthropic_compliance%2Fcompliance%2Factivities"}, fix: "state delete"}},
		{name: "a checkpoint in the future warns: nothing is collected until then",
			setup: func(t *testing.T, r *rig, dir string) { writeCheckpoint(t, dir, r.url, r.clock.Now().Add(2*time.Hour)) },
			want:  expect{status: preflight.Warn, contains: []string{"in the future"}, fix: "state rewind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1)
			tt.setup(t, r, filepath.Join(r.dir, "state"))
			rep := r.check()
			tt.want.assert(t, result(t, rep, preflight.CheckCheckpoint, "endpoint activities"))
		})
	}
}
