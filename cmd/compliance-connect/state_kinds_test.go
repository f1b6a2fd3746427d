package main_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
)

// kindsConfig is the siem input with an endpoint of each kind: the feed,
// chats (content), users (a snapshot, emit: changes) and roles without state
// tracking.
func kindsConfig(t *testing.T, dir string) string {
	t.Helper()
	return writeConfig(t, `
input:
  label: siem
  anthropic_compliance:
    api_key: ${STATE_TEST_UNSET_KEY}
    base_url: `+stateBaseURL+`
    state:
      path: `+dir+`
    endpoints:
      - name: activities
      - name: chats
      - name: users
        emit: changes
      - name: roles
        state_tracking: { enabled: false }
output:
  drop: {}
`)
}

// chatsDoc is a checkpoint of the chats collector of kindsConfig: a window
// on updated_at, its identity the content filters'.
func chatsDoc(t *testing.T, scannedTo string) []byte {
	t.Helper()
	id := checkpoint.Identity{Endpoint: "chats", BaseURL: stateBaseURL, Filters: content.Filters{}.Hash(), Key: "updated_at"}
	rec := checkpoint.New(id, time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC))
	to, err := time.Parse(time.RFC3339, scannedTo)
	require.NoError(t, err)
	rec.ScannedTo = to
	rec.Seen.Add("claude_chat_01", to.Add(-time.Minute))
	rec.Marks = map[string]time.Time{"claude_chat_01": to.Add(-time.Minute)}
	out, err := rec.Encode()
	require.NoError(t, err)
	return out
}

func TestStateCommandsWorkOnAChatsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := kindsConfig(t, dir)
	file := filepath.Join(dir, "anthropic_compliance%2Fsiem%2Fchats")

	out, errOut, code := runState(t, nil, "set", "-c", cfg, "--endpoint", "chats", "-f", writeDoc(t, chatsDoc(t, "2026-11-25T00:00:00Z")))
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "stored rev 1 in file "+file+"\n", out)
	rec := showRecord(t, cfg, "--endpoint", "chats")
	assert.Equal(t, "updated_at", rec.Identity.Key)
	assert.Equal(t, "2026-11-25T00:00:00Z", rfc3339(rec.ScannedTo))
	assert.Len(t, rec.Marks, 1)

	_, errOut, code = runState(t, nil, "set", "-c", cfg, "--endpoint", "chats", "-f", writeDoc(t, stateDoc(t, "2026-11-25T00:00:00Z", nil)))
	assert.NotEqual(t, 0, code, "the feed's record is not the chats collector's")
	assert.Contains(t, errOut, "does not match this input's")

	out, errOut, code = runState(t, nil, "rewind", "-c", cfg, "--endpoint", "chats", "--to", "2026-11-20T00:00:00Z")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "rewound file "+file+" to 2026-11-20T00:00:00Z (rev 2)\n", out)
	rec = showRecord(t, cfg, "--endpoint", "chats")
	assert.Equal(t, "2026-11-20T00:00:00Z", rfc3339(rec.ScannedTo))
	assert.Zero(t, rec.Seen.Len())
	assert.Empty(t, rec.Marks, "a rewind clears the chats' marks: their messages are read again from the horizon")
	_, err := os.Stat(filepath.Join(dir, stateFileName))
	assert.True(t, os.IsNotExist(err), "the feed's checkpoint was not touched")

	out, errOut, code = runState(t, nil, "delete", "-c", cfg, "--endpoint", "chats")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "deleted file "+file+"\n", out)
}

func TestStateCommandsShowAndDeleteASnapshotCheckpointAndRefuseTheRest(t *testing.T) {
	dir := t.TempDir()
	cfg := kindsConfig(t, dir)
	file := filepath.Join(dir, "anthropic_compliance%2Fsiem%2Fusers")

	_, errOut, code := runState(t, nil, "show", "-c", cfg, "--endpoint", "users")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no checkpoint stored yet")

	cp := &snapshot.Checkpoint{Identity: snapshot.Identity{Endpoint: "users", BaseURL: stateBaseURL, Emit: "changes", Filters: collector.Filters{}.Hash()},
		SnapshotID: "users-1", CompletedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Records: 1, Hashes: map[string]uint64{"user:o/u1": 7},
		RecordsDoc: "anthropic_compliance/siem/users/records/a", RecordsID: "users-1/1", Rev: 1}
	doc, err := cp.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, doc, 0o600))

	out, errOut, code := runState(t, nil, "show", "-c", cfg, "--endpoint", "users")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, string(doc)+"\n", out, "show prints the document as stored")

	for _, args := range [][]string{
		{"set", "-c", cfg, "--endpoint", "users", "-f", writeDoc(t, doc)},
		{"rewind", "-c", cfg, "--endpoint", "users", "--to", "-1d"},
	} {
		_, errOut, code = runState(t, nil, args...)
		assert.NotEqual(t, 0, code, args[0])
		assert.Contains(t, errOut, "refused: input \"siem\" endpoint \"users\" is a directory or projects endpoint")
		assert.Contains(t, errOut, "`state "+args[0]+"` does not apply to it")
	}
	stored, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, doc, stored, "the refusals wrote nothing")

	out, errOut, code = runState(t, nil, "delete", "-c", cfg, "--endpoint", "users")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deleted file "+file+": endpoint users starts over, its next run takes a new baseline: every record is emitted again as `added`")
	assert.Contains(t, out, "anthropic_compliance/siem/users/records/a")
	tomb, err := os.ReadFile(file)
	require.NoError(t, err)
	_, err = checkpoint.Decode(tomb)
	assert.ErrorIs(t, err, checkpoint.ErrDeleted, "a tombstone, which the snapshot collector takes as: start over")
	assert.Contains(t, string(tomb), `"rev": 2`)

	_, errOut, code = runState(t, nil, "show", "-c", cfg, "--endpoint", "users")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "deleted by an operator")
	assert.Contains(t, errOut, "the next run starts over")
}

// The error names every endpoint of the config, and what each keeps.
func TestStateCommandsListEveryEndpointWhenNoneMatches(t *testing.T) {
	cfg := kindsConfig(t, t.TempDir())
	_, errOut, code := runState(t, nil, "show", "-c", cfg, "--endpoint", "messages")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `no checkpoint matches --endpoint "messages"`)
	assert.Contains(t, errOut, `label "siem" endpoint "activities"; label "siem" endpoint "chats"; label "siem" endpoint "users" (snapshot: show, delete); `+
		`label "siem" endpoint "roles" (state tracking off)`)

	_, errOut, code = runState(t, nil, "show", "-c", cfg, "--endpoint", "roles")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `endpoint "roles" keeps no checkpoint: its state tracking is off`)
}
