package e2e_test

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// runStateCLI runs `compliance-connect state <args> -c <config of r's
// input>` in another process, as an operator would next to the running
// pipeline.
func runStateCLI(t *testing.T, r *rig, args ...string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "pipeline.yaml")
	pipeline := "input:\n" + indent(r.config("  min_slice: 1h"+everyJobOverTheHour), "  ") + "output:\n  drop: {}\n"
	require.NoError(t, os.WriteFile(cfg, []byte(pipeline), 0o600))
	cmd := exec.Command(haBinary(t), append([]string{"state"}, append(args, "-c", cfg)...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "compliance-connect state %v:\n%s", args, out.String())
	return out.String()
}

// Issue 11 §6: an operator's rewind or delete that lands after a job read the
// checkpoint and before it writes is never overwritten by that job's commit
// (seen before: a delete resurrected by the job's next write). The edit is
// made while the job's batches are held by the output, through the HTTP
// endpoint in the pipeline's process or through the CLI in another process;
// then the job's acks arrive and it tries to commit. The next job must
// resume from the edit: after a rewind it delivers again what lies after the
// rewind point, after a delete everything from earliest.
func TestAnEditDuringAJobIsNeverOverwrittenByThatJob(t *testing.T) {
	data := spread("a", 40, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	rewindTo := "2026-11-25T11:40:00Z"
	tests := []struct {
		name        string
		edit        func(t *testing.T, r *rig, st *stream)
		outcome     string
		redelivered []fakeapi.Activity
	}{
		{"rewind over HTTP", func(t *testing.T, r *rig, st *stream) {
			code, body := st.call(http.MethodPost, statePath+"?rewind_to="+url.QueryEscape(rewindTo), "")
			require.Equal(t, http.StatusOK, code, body)
		}, "failed", after(data, rewindTo)},
		{"delete over HTTP", func(t *testing.T, r *rig, st *stream) {
			code, body := st.call(http.MethodDelete, statePath, "")
			require.Equal(t, http.StatusOK, code, body)
		}, "stopped", data},
		{"rewind with the CLI", func(t *testing.T, r *rig, _ *stream) {
			assert.Contains(t, runStateCLI(t, r, "rewind", "--to", rewindTo), "rewound")
		}, "failed", after(data, rewindTo)},
		{"delete with the CLI", func(t *testing.T, r *rig, _ *stream) {
			assert.Contains(t, runStateCLI(t, r, "delete"), "deleted")
		}, "stopped", data},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
			r.sink.setPolicy(func(delivery) verdict { return holdIt })
			st := r.start(r.config("  min_slice: 1h"+everyJobOverTheHour), streamOptions{})
			r.sink.waitHeld(t, 1) // the first job has read the checkpoint and delivers

			tc.edit(t, r, st)
			edited := r.raw(stateKey)
			editRev := revOf(t, edited)
			r.sink.setPolicy(nil)
			r.sink.releaseAll(nil)

			rep := r.waitJob("the job that was running during the edit", func(rep report) bool { return rep["outcome"] != "success" })
			assert.Equal(t, tc.outcome, rep["outcome"], "%v", rep)
			assert.Equal(t, "0", rep["slices_committed"], "the job committed over the edit")
			requireRedelivered(t, r, len(data), tc.redelivered)
			assert.Greater(t, r.mustCheckpoint(stateKey).Rev, editRev, "later jobs continue from the edit's revision")
			assert.False(t, r.logs.contains(0, "vanished"), "logged:\n%s", r.logs.dump())
		})
	}
}

// revOf reads the revision of a stored document (a record or a tombstone).
func revOf(t *testing.T, doc string) int64 {
	t.Helper()
	rec, err := checkpoint.Decode([]byte(doc))
	if deleted, ok := err.(*checkpoint.DeletedError); ok {
		return deleted.Rev
	}
	require.NoError(t, err)
	return rec.Rev
}
