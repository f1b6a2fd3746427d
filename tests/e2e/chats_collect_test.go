package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// chatsWorld is an organisation whose chats end 10 minutes before the rig's
// clock (past settle), with files on a third of the user messages.
func chatsWorld(t *testing.T, now time.Time, chats int) *fakeapi.World {
	t.Helper()
	w, err := fakeapi.NewWorld(fakeapi.WorldOptions{Seed: 17, Chats: chats, MaxMessages: 10, FileFraction: 0.3,
		From: now.Add(-6 * time.Hour), To: now.Add(-10 * time.Minute)})
	require.NoError(t, err)
	return w
}

// worldTotals counts what a backfill of a snapshot delivers: every chat,
// and the messages and files of those not deleted in claude.ai (a chat
// deleted before it was first collected is a tombstone: its content is
// gone).
func worldTotals(s fakeapi.Snapshot) (chats, messages, files int) {
	seen := map[string]bool{}
	for _, c := range s.Chats {
		chats++
		if c.Deleted {
			continue
		}
		messages += len(c.MessageIDs)
		for _, f := range c.FileIDs {
			if !seen[f] {
				seen[f] = true
				files++
			}
		}
	}
	return chats, messages, files
}

// byType counts the records delivered per compliance_record_type, and the
// distinct ids per type.
func byType(metas []map[string]string) (counts map[string]int, distinct map[string]map[string]bool) {
	counts, distinct = map[string]int{}, map[string]map[string]bool{}
	idKey := map[string]string{"chat": "chat_id", "chat_message": "chat_message_id", "file": "compliance_file_id"}
	for _, m := range metas {
		typ := m["compliance_record_type"]
		if typ == "" {
			typ = "activity"
		}
		counts[typ]++
		if distinct[typ] == nil {
			distinct[typ] = map[string]bool{}
		}
		distinct[typ][m[cmpOr(idKey[typ], "activity_id")]] = true
	}
	return counts, distinct
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestChatsWithMessagesAndFilesThroughTheEngineAreDeliveredOnceAndCommitted(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	world := chatsWorld(t, now, 60)
	r := newRig(t, now, fakeapi.Options{World: world}, rigOptions{})
	chats, messages, files := worldTotals(r.api.Snapshot())
	st := r.start(r.config(`
  endpoints:
    - name: chats
      schedule: "@every 20ms"
      earliest: "2026-11-25T05:00:00Z"
      include_messages: true
    - name: files
      schedule: "@every 20ms"
      earliest: "2026-11-25T05:00:00Z"
      file_workers: 2
`), streamOptions{maxInFlight: 4})
	for _, ep := range []string{"chats", "files"} {
		r.waitJob(ep+" up to 11:58", func(rep report) bool {
			return rep["endpoint"] == ep && rep["scanned_to"] == "2026-11-25T11:58:00Z" && rep["outcome"] == "success"
		})
	}
	require.NoError(t, st.stop())

	counts, distinct := byType(r.sink.metas())
	assert.Equal(t, map[string]int{"chat": chats, "chat_message": messages, "file": files}, counts, "each exactly once")
	assert.Len(t, distinct["chat"], chats)
	assert.Len(t, distinct["chat_message"], messages)
	assert.Len(t, distinct["file"], files)
	for _, m := range r.sink.metas() {
		assert.Equal(t, m["compliance_endpoint"], map[string]string{"chat": "chats", "chat_message": "chats", "file": "files"}[m["compliance_record_type"]])
		for _, k := range []string{"compliance_job_id", "compliance_slice_from", "compliance_slice_to", "compliance_request_id", "chat_id", "chat_user_id"} {
			assert.NotEmpty(t, m[k], "%s of a %s", k, m["compliance_record_type"])
		}
		if m["compliance_record_type"] == "file" {
			assert.Equal(t, "true", m["compliance_file_md5_verified"])
		}
	}
	for _, ep := range []string{"chats", "files"} {
		rec := r.mustCheckpoint("anthropic_compliance/e2e/" + ep)
		assert.Equal(t, checkpoint.VersionKeyed, rec.Version, ep)
		assert.Equal(t, "updated_at", rec.Identity.Key, ep)
		assert.Equal(t, "2026-11-25T11:58:00Z", ts(rec.ScannedTo), ep)
		assert.NotEmpty(t, rec.Marks, ep)
	}
	raw := r.raw("anthropic_compliance/e2e/chats")
	assert.True(t, strings.HasPrefix(raw, "{\n  \"rev\": "), "rev first, as every checkpoint")
	assert.Contains(t, raw, `"version": 2`)
}

func TestAnEditedChatComesAgainWithItsNewMessagesOnly(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	w, err := fakeapi.NewWorld(fakeapi.WorldOptions{Seed: 23, Chats: 30, From: now.Add(-3 * time.Hour), To: now.Add(-10 * time.Minute),
		Growth: fakeapi.WorldGrowth{EditsPerHour: 600}})
	require.NoError(t, err)
	r := newRig(t, now, fakeapi.Options{World: w}, rigOptions{})
	st := r.start(r.config(`
  endpoints:
    - name: chats
      schedule: "@every 20ms"
      earliest: "2026-11-25T08:00:00Z"
      include_messages: true
`), streamOptions{maxInFlight: 1})
	// Ten minutes of edits, collected as they settle.
	for range 10 {
		r.waitJobTo(ts(r.clock.Now().Add(-2 * time.Minute).Truncate(time.Second)))
		r.clock.Advance(time.Minute)
	}
	to := ts(r.clock.Now().Add(-2 * time.Minute).Truncate(time.Second))
	r.waitJobTo(to)
	require.NoError(t, st.stop())

	snap := r.api.Snapshot()
	versions := map[string]int{}
	messagesSeen := map[string]int{}
	for _, m := range r.sink.metas() {
		switch m["compliance_record_type"] {
		case "chat":
			versions[m["chat_id"]]++
		case "chat_message":
			messagesSeen[m["chat_message_id"]]++
		}
	}
	edited := 0
	for _, c := range snap.Chats {
		if ts(c.UpdatedAt) >= to {
			continue
		}
		if versions[c.ID] > 1 {
			edited++
		}
		if c.Deleted {
			continue // a tombstone: what it said after its last collection is gone
		}
		for _, id := range c.MessageIDs {
			assert.Equal(t, 1, messagesSeen[id], "message %s of chat %s", id, c.ID)
		}
	}
	assert.Greater(t, edited, 5, "chats edited after their first collection came again")
	t.Logf("%d chats delivered again after edits, %d messages each delivered once", edited, len(messagesSeen))
}
