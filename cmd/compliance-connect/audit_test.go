package main_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

func TestAuditExitsOneWithTheActivitiesTheInputMissedAndZeroOnceTheyAreDelivered(t *testing.T) {
	var shift atomic.Int64 // the fake's clock runs ahead of the binary's by this much
	clock := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	now := time.Now().UTC().Truncate(time.Second)
	from, to := now.Add(-2*time.Hour), now.Add(-10*time.Minute)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 3, Count: 800, From: from, To: to})
	var late []string
	var lateDocs []byte
	for i := 11; i < len(data); i += 97 {
		data[i].VisibleAt = now.Add(time.Hour) // indexed an hour late
		late = append(late, data[i].ID)
		lateDocs = append(append(lateDocs, data[i].JSON...), '\n')
	}
	slices.Sort(late)
	fake, err := fakeapi.New(fakeapi.Options{Clock: clock, Dataset: data})
	require.NoError(t, err)
	srv := httptest.NewServer(fake)
	defer srv.Close()

	dir := t.TempDir()
	out := filepath.Join(dir, "activities.ndjson")
	cfg := writeConfig(t, fmt.Sprintf(`http: { enabled: false }
logger: { level: WARN }
input:
  label: audited
  anthropic_compliance:
    api_key: ${AUDIT_TEST_KEY}
    base_url: %s
    state: { path: %s }
    endpoints:
      - name: activities
        schedule: once
        earliest: %s
        latest: %s
output:
  file: { path: %s, codec: lines }
`, srv.URL, filepath.Join(dir, "state"), from.Format(time.RFC3339), to.Format(time.RFC3339), out))
	env := []string{"AUDIT_TEST_KEY=test-key"}
	_, stderr, code := runBinary(t, env, "run", cfg)
	require.Equal(t, 0, code, stderr)

	shift.Store(int64(2 * time.Hour)) // the late activities are indexed now
	window := []string{"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}
	stdout, stderr, code := runBinary(t, env, append([]string{"audit", "-c", cfg, "--json"}, window...)...)
	require.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "plan: the window holds 800 activities: 1 request")
	var rep struct {
		Complete bool `json:"complete"`
		Counts   struct {
			Expected, Present, Missing int
		} `json:"counts"`
		Missing []struct{ ID, CreatedAt, Type string } `json:"missing"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	assert.False(t, rep.Complete)
	assert.Equal(t, 800, rep.Counts.Expected)
	assert.Equal(t, 800-len(late), rep.Counts.Present)
	var ids []string
	for _, m := range rep.Missing {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, late, ids)

	// Delivered at last (here by hand): the re-audit is clean.
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(lateDocs)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	stdout, stderr, code = runBinary(t, env, append([]string{"audit", "-c", cfg, "--against", "file://" + out}, window...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "COMPLETE")

	// A destination that cannot be read is exit 2, not a clean audit.
	_, stderr, code = runBinary(t, env, append([]string{"audit", "-c", cfg, "--against", "file://" + filepath.Join(dir, "nope")}, window...)...)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no such file")
	_, stderr, code = runBinary(t, env, append([]string{"audit", "-c", cfg, "--against", "ftp://x"}, window...)...)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "unknown kind")
	assert.NotContains(t, stderr+stdout, "test-key", "the API key never appears")
}
