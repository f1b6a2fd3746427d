package main_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// repairRig is a fake API whose late activities a `once` run of the binary
// missed, into an NDJSON file through a processor that marks every document.
type repairRig struct {
	dir, out, state string
	late            []string
	total           int
	window          []string
	env             []string
	pipeline        func(output string) string // output: the lines under `output:`
}

// file is an output block writing NDJSON to path.
func file(path string) string { return "  file: { path: " + path + ", codec: lines }" }

func newRepairRig(t *testing.T) *repairRig {
	var shift atomic.Int64 // the fake's clock runs ahead of the binary's by this much
	clock := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	now := time.Now().UTC().Truncate(time.Second)
	from, to := now.Add(-2*time.Hour), now.Add(-10*time.Minute)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 4, Count: 600, From: from, To: to})
	r := &repairRig{dir: t.TempDir(), total: len(data), env: []string{"AUDIT_TEST_KEY=test-key"},
		window: []string{"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}}
	for i := 5; i < len(data); i += 101 {
		data[i].VisibleAt = now.Add(time.Hour) // indexed an hour late
		r.late = append(r.late, data[i].ID)
	}
	slices.Sort(r.late)
	fake, err := fakeapi.New(fakeapi.Options{Clock: clock, Dataset: data})
	require.NoError(t, err)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	r.out, r.state = filepath.Join(r.dir, "activities.ndjson"), filepath.Join(r.dir, "state")
	r.pipeline = func(output string) string {
		return fmt.Sprintf(`http: { enabled: true, address: 127.0.0.1:1 }
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
pipeline:
  processors:
    - mapping: |
        root = this
        root.pipeline_mark = "processed"
output:
%s
`, srv.URL, r.state, from.Format(time.RFC3339), to.Format(time.RFC3339), output)
	}
	cfg := writeConfig(t, strings.Replace(r.pipeline(file(r.out)), "http: { enabled: true, address: 127.0.0.1:1 }", "http: { enabled: false }", 1))
	_, stderr, code := runBinary(t, r.env, "run", cfg)
	require.Equal(t, 0, code, stderr)
	shift.Store(int64(2 * time.Hour)) // the late activities are indexed now
	return r
}

// documents reads the output file: id -> documents with that id.
func (r *repairRig) documents(t *testing.T) map[string][]map[string]any {
	t.Helper()
	b, err := os.ReadFile(r.out)
	require.NoError(t, err)
	docs := map[string][]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &d))
		docs[d["id"].(string)] = append(docs[d["id"].(string)], d)
	}
	return docs
}

// Issue 16, repair: `audit --repair` re-sends exactly the missing activities
// through the pipeline's own processor and output (a `once` run of its input
// restricted to their ids, without the pipeline's HTTP server: its address
// here cannot be bound), then audits again; a second run finds nothing to
// repair and sends nothing. An output that refuses the activities makes the
// repair exit 3, and the gaps stay reported.
func TestAuditRepairFillsExactlyTheMissingActivitiesThroughThePipeline(t *testing.T) {
	r := newRepairRig(t)
	cfg := writeConfig(t, r.pipeline(file(r.out)))
	before := r.documents(t)
	require.Len(t, before, r.total-len(r.late))

	// The outputs fail every write (their paths are directories): exit 3,
	// nothing written, the gaps still reported.
	broken := writeConfig(t, r.pipeline(fmt.Sprintf(`  fallback:
    - file: { path: %s, codec: lines }
    - file: { path: %s, codec: lines }`, t.TempDir(), t.TempDir())))
	args := append([]string{"audit", "-c", broken, "--against", "file://" + r.out, "--repair"}, r.window...)
	stdout, stderr, code := runBinary(t, r.env, args...)
	require.Equal(t, 3, code, stderr)
	assert.Contains(t, stderr, "the pipeline has 2 outputs (output.fallback[0].file, output.fallback[1].file)")
	assert.Contains(t, stderr, "delivery failed downstream (nack)")
	assert.Contains(t, stdout, fmt.Sprintf("GAPS: %d of %d activities are missing", len(r.late), r.total))
	assert.Contains(t, stdout, "FAILED")
	assert.Equal(t, before, r.documents(t))

	stdout, stderr, code = runBinary(t, r.env, append([]string{"audit", "-c", cfg, "--repair", "--json"}, r.window...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "repair: API cost: the walk returns about")
	var out struct {
		Audit struct {
			Complete bool
			Missing  []struct{ ID string }
		}
		Repair struct {
			IDs               int64 `json:"ids"`
			EstimatedRequests int64 `json:"estimated_requests"`
			Requests          int64 `json:"requests"`
			Job               struct {
				Emitted  int    `json:"activities_emitted"`
				Filtered int    `json:"activities_filtered"`
				Outcome  string `json:"outcome"`
			}
		}
		Reaudit struct {
			Complete bool
			Counts   struct{ Expected, Present, Missing, Duplicated int }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), stdout)
	assert.False(t, out.Audit.Complete)
	assert.Len(t, out.Audit.Missing, len(r.late))
	assert.EqualValues(t, len(r.late), out.Repair.IDs)
	assert.Equal(t, len(r.late), out.Repair.Job.Emitted)
	assert.Positive(t, out.Repair.Job.Filtered)
	assert.Equal(t, "success", out.Repair.Job.Outcome)
	assert.LessOrEqual(t, out.Repair.Requests, out.Repair.EstimatedRequests, "the plan's estimate is an upper one")
	assert.True(t, out.Reaudit.Complete)
	assert.Equal(t, r.total, out.Reaudit.Counts.Present)
	assert.Zero(t, out.Reaudit.Counts.Duplicated)

	after := r.documents(t)
	assert.Len(t, after, r.total)
	for id, docs := range after {
		require.Len(t, docs, 1, "%s is at the destination once", id)
		assert.Equal(t, "processed", docs[0]["pipeline_mark"], "%s went through the pipeline's processor", id)
	}

	// Nothing left to repair: nothing is sent.
	stdout, stderr, code = runBinary(t, r.env, append([]string{"audit", "-c", cfg, "--repair"}, r.window...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "COMPLETE")
	assert.Contains(t, stderr, "nothing to repair")
	assert.Equal(t, after, r.documents(t))
	assert.NotContains(t, stderr+stdout, "test-key", "the API key never appears")
}

// `audit --repair` refuses, before any request, what it cannot repair
// without duplicating: a window the input has not settled yet, and a config
// with several inputs and no --label.
func TestAuditRepairRefusesWhatItCannotRepairSafely(t *testing.T) {
	r := newRepairRig(t)

	// A scheduled input whose checkpoint reached the window's end: its next
	// job re-reads the last `overlap` and may deliver late activities itself.
	scheduled := writeConfig(t, strings.Replace(r.pipeline(file(r.out)), "schedule: once", `schedule: "@every 1h"`, 1))
	once := writeConfig(t, r.pipeline(file(r.out)))
	doc, stderr, code := runBinary(t, r.env, "state", "show", "-c", once)
	require.Equal(t, 0, code, stderr)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &rec))
	delete(rec["identity"].(map[string]any), "mode")
	delete(rec, "until")
	recFile := filepath.Join(t.TempDir(), "checkpoint.json")
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(recFile, b, 0o600))
	_, stderr, code = runBinary(t, r.env, "state", "set", "-c", scheduled, "-f", recFile)
	require.Equal(t, 0, code, stderr)

	_, stderr, code = runBinary(t, r.env, append([]string{"audit", "-c", scheduled, "--repair"}, r.window...)...)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "up to which input \"audited\" has settled")
	assert.Contains(t, stderr, "a repair would duplicate them")
	assert.NotContains(t, stderr, "plan:", "refused before the audit spends a request")

	two := writeConfig(t, r.pipeline(file(r.out))+`input_resources:
  - label: other
    anthropic_compliance: { api_key: x }
`)
	_, stderr, code = runBinary(t, r.env, append([]string{"audit", "-c", two, "--repair"}, r.window...)...)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "choose one with --label")
}
