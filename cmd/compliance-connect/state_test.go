package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// stateBaseURL is the base_url of the configs below; the state commands
// never contact it.
const stateBaseURL = "http://127.0.0.1:1"

// stateFileName is the atomic_file name of anthropic_compliance/siem/activities.
const stateFileName = "anthropic_compliance%2Fsiem%2Factivities"

// stateConfig is a pipeline with one anthropic_compliance input labelled
// siem keeping its checkpoint in dir. The key comes from an unset variable:
// the state commands do not need it.
func stateConfig(t *testing.T, dir string) string {
	t.Helper()
	return writeConfig(t, `
input:
  label: siem
  anthropic_compliance:
    api_key: ${STATE_TEST_UNSET_KEY}
    base_url: `+stateBaseURL+`
    state:
      path: `+dir+`
output:
  drop: {}
`)
}

// stateDoc is a valid checkpoint document for the siem input.
func stateDoc(t *testing.T, scannedTo string, edit func(m map[string]any)) []byte {
	t.Helper()
	id := checkpoint.Identity{Endpoint: "activities", BaseURL: stateBaseURL, Filters: collector.Filters{}.Hash()}
	rec := checkpoint.New(id, time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC))
	to, err := time.Parse(time.RFC3339, scannedTo)
	require.NoError(t, err)
	rec.ScannedTo = to
	rec.Seen.Add("activity_01seen", time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC))
	rec.State = map[string]any{"latestTime": 1764028740000}
	out, err := rec.Encode()
	require.NoError(t, err)
	if edit == nil {
		return out
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	edit(m)
	out, err = json.Marshal(m)
	require.NoError(t, err)
	return out
}

// rfc3339 formats a checkpoint time as the document does.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func writeDoc(t *testing.T, doc []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.json")
	require.NoError(t, os.WriteFile(p, doc, 0o600))
	return p
}

// runState runs `compliance-connect state <args>` with stdin.
func runState(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"state"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

func showRecord(t *testing.T, cfg string, extra ...string) *checkpoint.Record {
	t.Helper()
	out, errOut, code := runState(t, nil, append([]string{"show", "-c", cfg}, extra...)...)
	require.Equal(t, 0, code, errOut)
	rec, err := checkpoint.Decode([]byte(out))
	require.NoError(t, err, "show printed: %s", out)
	return rec
}

func TestStateCommandsShowSetRewindAndDeleteTheConfiguredCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := stateConfig(t, dir)
	file := filepath.Join(dir, stateFileName)

	_, errOut, code := runState(t, nil, "show", "-c", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no checkpoint stored yet")
	assert.Contains(t, errOut, file)

	out, errOut, code := runState(t, nil, "set", "-c", cfg, "-f", writeDoc(t, stateDoc(t, "2026-11-25T00:00:00Z", nil)))
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "stored rev 1 in file "+file+"\n", out)
	rec := showRecord(t, cfg)
	assert.EqualValues(t, 1, rec.Rev)
	assert.Equal(t, "2026-11-25T00:00:00Z", rfc3339(rec.ScannedTo))
	assert.True(t, rec.Known("activity_01seen"))
	assert.EqualValues(t, 1764028740000, rec.State["latestTime"])

	out, errOut, code = runState(t, stateDoc(t, "2026-11-25T06:00:00Z", nil), "set", "-c", cfg, "--endpoint", "activities", "-f", "-")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "stored rev 2")
	assert.Equal(t, "2026-11-25T06:00:00Z", rfc3339(showRecord(t, cfg, "--label", "siem").ScannedTo))

	_, errOut, code = runState(t, nil, "rewind", "-c", cfg, "--to", "2026-11-17T12:00:00Z")
	assert.NotEqual(t, 0, code, "a rewind below the floor (the resolved earliest) re-sends everything since: it needs --force")
	assert.Contains(t, errOut, "before earliest (the checkpoint's floor, 2026-11-18T00:00:00Z)")
	assert.Contains(t, errOut, "--force")
	assert.EqualValues(t, 2, showRecord(t, cfg).Rev, "the refused rewind changed nothing")

	out, errOut, code = runState(t, nil, "rewind", "-c", cfg, "--to", "2026-11-17T12:00:00Z", "--force")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "rewound file "+file+" to 2026-11-17T12:00:00Z (rev 3)\n", out)
	rec = showRecord(t, cfg)
	assert.Equal(t, "2026-11-17T12:00:00Z", rfc3339(rec.ScannedTo))
	assert.Equal(t, "2026-11-17T12:00:00Z", rfc3339(rec.Floor), "rewinding below the floor lowers it")
	assert.Zero(t, rec.Seen.Len())
	assert.Empty(t, rec.Pending)

	_, errOut, code = runState(t, nil, "rewind", "-c", cfg, "--to", "the day before")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "the day before")
	assert.EqualValues(t, 3, showRecord(t, cfg).Rev, "a bad rewind changed the checkpoint")

	out, errOut, code = runState(t, nil, "delete", "-c", cfg)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "deleted file "+file+"\n", out)
	tomb, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(tomb), `"deleted_at"`, "a delete leaves a tombstone, so that no late write brings the checkpoint back")
	assert.Contains(t, string(tomb), `"rev": 4`)
	_, errOut, code = runState(t, nil, "show", "-c", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no checkpoint stored")
	assert.Contains(t, errOut, "deleted by an operator")

	_, errOut, code = runState(t, nil, "delete", "-c", cfg)
	assert.NotEqual(t, 0, code, "nothing left to delete")
	assert.Contains(t, errOut, "no checkpoint stored")

	out, errOut, code = runState(t, nil, "set", "-c", cfg, "-f", writeDoc(t, stateDoc(t, "2026-11-25T00:00:00Z", nil)))
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "stored rev 5 in file "+file+"\n", out, "revisions continue after the tombstone")
}

// set validates the document before writing: every refusal names the
// problem, and the stored checkpoint stays exactly as it was.
func TestStateSetRefusesInvalidDocumentsAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := stateConfig(t, dir)
	file := filepath.Join(dir, stateFileName)
	_, errOut, code := runState(t, nil, "set", "-c", cfg, "-f", writeDoc(t, stateDoc(t, "2026-11-25T00:00:00Z", nil)))
	require.Equal(t, 0, code, errOut)
	stored, err := os.ReadFile(file)
	require.NoError(t, err)

	identity := func(field, value string) func(m map[string]any) {
		return func(m map[string]any) { m["identity"].(map[string]any)[field] = value }
	}
	tests := []struct {
		name string
		doc  []byte
		want []string
	}{
		{"not JSON", []byte(`{"version": 1, "identity": `), []string{"not a checkpoint document"}},
		{"empty", []byte(``), []string{"not a checkpoint document"}},
		{"another base URL", stateDoc(t, "2026-11-25T00:00:00Z", identity("base_url", "https://api.anthropic.com")), []string{"identity", "does not match", "state.adopt"}},
		{"other filters", stateDoc(t, "2026-11-25T00:00:00Z", identity("filters", "sha256:00")), []string{"identity", "does not match"}},
		{"another endpoint", stateDoc(t, "2026-11-25T00:00:00Z", identity("endpoint", "messages")), []string{"identity", "does not match"}},
		{"no endpoint", stateDoc(t, "2026-11-25T00:00:00Z", identity("endpoint", "")), []string{"identity.endpoint: missing"}},
		{"unsupported version", stateDoc(t, "2026-11-25T00:00:00Z", func(m map[string]any) { m["version"] = 9 }), []string{"version", "9"}},
		{"scanned_to before floor", stateDoc(t, "2026-11-01T00:00:00Z", nil), []string{"scanned_to", "before floor"}},
		{"scanned_to not a time", stateDoc(t, "2026-11-25T00:00:00Z", func(m map[string]any) { m["scanned_to"] = "tomorrow" }), []string{"scanned_to", "tomorrow"}},
		{"negative rev", stateDoc(t, "2026-11-25T00:00:00Z", func(m map[string]any) { m["rev"] = -1 }), []string{"rev"}},
		{"seen key not a time", stateDoc(t, "2026-11-25T00:00:00Z", func(m map[string]any) { m["seen"] = map[string]any{"noon": []string{"activity_01x"}} }), []string{"noon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runState(t, nil, "set", "-c", cfg, "-f", writeDoc(t, tt.doc))
			assert.NotEqual(t, 0, code, out)
			for _, w := range tt.want {
				assert.Contains(t, errOut, w)
			}
			now, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.Equal(t, string(stored), string(now), "a refused document changed the checkpoint")
		})
	}

	_, errOut, code = runState(t, nil, "set", "-c", cfg, "-f", filepath.Join(t.TempDir(), "missing.json"))
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "missing.json")
}

// A checkpoint file that is not a checkpoint is never read as "no
// checkpoint": show names the file and how to fix or reset it; set replaces
// it on purpose; delete removes it.
func TestStateCommandsReportACorruptFileWithItsPathAndHowToResetIt(t *testing.T) {
	dir := t.TempDir()
	cfg := stateConfig(t, dir)
	file := filepath.Join(dir, stateFileName)
	require.NoError(t, os.WriteFile(file, []byte("\x00\x00garbage"), 0o600))

	_, errOut, code := runState(t, nil, "show", "-c", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, file)
	assert.Contains(t, errOut, "unreadable")
	assert.Contains(t, errOut, "compliance-connect state delete")
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "\x00\x00garbage", string(got))

	_, errOut, code = runState(t, nil, "rewind", "-c", cfg, "--to", "2026-11-20T00:00:00Z")
	assert.NotEqual(t, 0, code, "rewinding an unreadable checkpoint")
	assert.Contains(t, errOut, "unreadable")

	out, errOut, code := runState(t, nil, "set", "-c", cfg, "-f", writeDoc(t, stateDoc(t, "2026-11-25T00:00:00Z", nil)))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "stored rev 1")
	assert.Equal(t, "2026-11-25T00:00:00Z", rfc3339(showRecord(t, cfg).ScannedTo))

	require.NoError(t, os.WriteFile(file, []byte("{}"), 0o600))
	_, errOut, code = runState(t, nil, "delete", "-c", cfg)
	require.Equal(t, 0, code, errOut)
	_, errOut, code = runState(t, nil, "show", "-c", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "deleted by an operator", "the unreadable file was replaced by a tombstone")
}

// The commands find the checkpoint of each anthropic_compliance input of the
// config (input and input_resources, ${VAR:default} expanded) and refuse
// ambiguous or unknown choices with the list of what the config has.
func TestStateCommandsChooseTheInputByLabelAndEndpoint(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	cfg := writeConfig(t, `
input:
  label: a
  anthropic_compliance:
    api_key: k
    base_url: `+stateBaseURL+`
    state:
      path: ${STATE_TEST_UNSET_DIR:`+dirA+`}
input_resources:
  - label: b
    anthropic_compliance:
      api_key: k
      base_url: `+stateBaseURL+`
      state:
        path: `+dirB+`
output:
  drop: {}
`)
	_, errOut, code := runState(t, nil, "show", "-c", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "several inputs match")
	assert.Contains(t, errOut, `label "a"`)
	assert.Contains(t, errOut, `label "b"`)

	out, errOut, code := runState(t, stateDoc(t, "2026-11-25T00:00:00Z", nil), "set", "-c", cfg, "--label", "b", "-f", "-")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, filepath.Join(dirB, "anthropic_compliance%2Fb%2Factivities"))
	_, err := os.Stat(filepath.Join(dirA, "anthropic_compliance%2Fa%2Factivities"))
	assert.True(t, os.IsNotExist(err), "input a's checkpoint was written")

	_, errOut, code = runState(t, nil, "show", "-c", cfg, "--label", "c")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no checkpoint matches")
	_, errOut, code = runState(t, nil, "show", "-c", cfg, "--label", "a", "--endpoint", "messages")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no checkpoint matches")

	noInput := writeConfig(t, "input:\n  stdin: {}\noutput:\n  drop: {}\n")
	_, errOut, code = runState(t, nil, "show", "-c", noInput)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no anthropic_compliance input")

	noCache := writeConfig(t, `
input:
  label: siem
  anthropic_compliance:
    api_key: k
    state:
      cache: nowhere
output:
  drop: {}
`)
	_, errOut, code = runState(t, nil, "show", "-c", noCache)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `cache resource "nowhere" was not found`)
}

// With state.cache the commands work on the cache resource of the config:
// here the redis cache several instances would share.
func TestStateCommandsWorkOnTheConfiguredRedisCache(t *testing.T) {
	url := os.Getenv("COMPLIANCE_TEST_REDIS_URL")
	if url == "" {
		if testing.Short() {
			t.Skip("COMPLIANCE_TEST_REDIS_URL is unset: skipping a test that needs redis-server (-short)")
		}
		t.Fatal("set COMPLIANCE_TEST_REDIS_URL or run ./.ci/test")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "cmd-state-test/" + hex.EncodeToString(b) + "/"
	opts, err := goredis.ParseURL(url)
	require.NoError(t, err)
	raw := goredis.NewClient(opts)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := raw.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			_ = raw.Del(ctx, iter.Val()).Err()
		}
		_ = raw.Close()
	})
	cfg := writeConfig(t, `
cache_resources:
  - label: shared
    redis:
      url: `+url+`
      prefix: `+prefix+`
input:
  label: siem
  anthropic_compliance:
    api_key: k
    base_url: `+stateBaseURL+`
    state:
      cache: shared
output:
  drop: {}
`)
	out, errOut, code := runState(t, stateDoc(t, "2026-11-25T00:00:00Z", nil), "set", "-c", cfg, "-f", "-")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, `stored rev 1 in cache resource "shared" key "anthropic_compliance/siem/activities"`+"\n", out)
	v, err := raw.Get(context.Background(), prefix+"anthropic_compliance/siem/activities").Result()
	require.NoError(t, err)
	rec, err := checkpoint.Decode([]byte(v))
	require.NoError(t, err)
	assert.Equal(t, "2026-11-25T00:00:00Z", rfc3339(rec.ScannedTo))
	ttl, err := raw.TTL(context.Background(), prefix+"anthropic_compliance/siem/activities").Result()
	require.NoError(t, err)
	assert.Less(t, ttl, time.Duration(0), "a checkpoint must not expire")

	assert.Equal(t, "2026-11-25T00:00:00Z", rfc3339(showRecord(t, cfg).ScannedTo))
	_, errOut, code = runState(t, nil, "delete", "-c", cfg)
	require.Equal(t, 0, code, errOut)
	v, err = raw.Get(context.Background(), prefix+"anthropic_compliance/siem/activities").Result()
	require.NoError(t, err)
	assert.Contains(t, v, `"deleted_at"`, "a tombstone")
	_, errOut, code = runState(t, nil, "show", "-c", cfg)
	assert.NotEqual(t, 0, code)
	assert.True(t, strings.Contains(errOut, "deleted by an operator"), errOut)
}

// The state commands run next to a live instance that owns the directory.
// Even a read-only `show` must leave the temporary file of a checkpoint
// write in flight alone: removing it makes that instance's rename fail, its
// job fail and the input report not ready.
func TestStateShowLeavesTheTemporaryFileOfAWriteInFlightAlone(t *testing.T) {
	dir := t.TempDir()
	cfg := stateConfig(t, dir)
	_, errOut, code := runState(t, stateDoc(t, "2026-11-25T00:00:00Z", nil), "set", "-c", cfg, "-f", "-")
	require.Equal(t, 0, code, errOut)
	inFlight := filepath.Join(dir, ".tmp-1234567890") // the name atomicfile gives a temporary file
	require.NoError(t, os.WriteFile(inFlight, stateDoc(t, "2026-11-25T01:00:00Z", nil), 0o600))

	showRecord(t, cfg)
	_, err := os.Stat(inFlight)
	assert.NoError(t, err, "`state show` removed the temporary file of another process's write")
}
