package content_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// growingWorld has chats whose messages span more than a slice, and an hour
// of new, edited and deleted chats after worldTo.
var growingWorld = fakeapi.WorldOptions{Seed: 7, Chats: 60, MaxMessages: 16,
	Growth: fakeapi.WorldGrowth{ChatsPerHour: 30, EditsPerHour: 240, DeletesPerHour: 12}}

func chatsSource(t *testing.T, r *rig, cfg content.ChatsConfig) *content.Chats {
	t.Helper()
	if cfg.PageSize == 0 {
		cfg.PageSize = 50
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 7
	}
	if cfg.MessageMode == "" {
		cfg.MessageMode = content.PerMessage
	}
	if cfg.MessagesSince == "" {
		cfg.MessagesSince = content.SinceNew
	}
	src, err := content.NewChats(cfg, r.client, content.Hooks{})
	require.NoError(t, err)
	return src
}

// collectFor runs a backfill, then a job every 5 minutes of the fake's
// clock for the given time, and returns the end of the last job's window.
func collectFor(t *testing.T, r *rig, c *collector.Collector, d time.Duration) time.Time {
	t.Helper()
	for elapsed := time.Duration(0); ; elapsed += 5 * time.Minute {
		rep, err := runJob(t, c)
		require.NoError(t, err)
		if elapsed >= d {
			return rep.ScannedToTime
		}
		r.clock.Advance(5 * time.Minute)
	}
}

func TestChatsWithMessagesDeliverEveryVersionAndEveryMessageExactlyOnceWhileChatsAreEdited(t *testing.T) {
	for _, mode := range []string{content.PerMessage, content.PerChat} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, growingWorld, nil)
			c := r.collector(r.engine("chats", content.Filters{}), chatsSource(t, r, content.ChatsConfig{IncludeMessages: true, MessageMode: mode}))
			s := r.sink(c)
			to := collectFor(t, r, c, 30*time.Minute)
			snap := r.srv.Snapshot()

			chatsByID := map[string]fakeapi.ChatInfo{}
			messageChat := map[string]string{}
			for _, ch := range snap.Chats {
				chatsByID[ch.ID] = ch
				for _, m := range ch.MessageIDs {
					messageChat[m] = ch.ID
				}
			}
			versions := map[string]int{}
			perChat := map[string]int{} // versions delivered per chat
			messages := map[string]int{}
			var tombstones []string
			byChat := map[string][][]string{}
			for _, d := range s.all() {
				switch d.typ() {
				case content.RecordChat:
					id := d.meta["chat_id"]
					versions[id+"@"+d.meta["chat_updated_at"]]++
					perChat[id]++
					if d.meta["compliance_chat_deleted"] == "true" {
						tombstones = append(tombstones, id)
					}
					if mode == content.PerChat {
						ms := messagesOf(t, d)
						byChat[id] = append(byChat[id], ms)
						for _, m := range ms {
							messages[m]++
						}
					}
				case content.RecordMessage:
					messages[d.meta["chat_message_id"]]++
					assert.Equal(t, messageChat[d.meta["chat_message_id"]], d.meta["chat_id"])
				default:
					t.Fatalf("unexpected record type %q", d.typ())
				}
			}
			for k, n := range versions {
				assert.Equal(t, 1, n, "chat version %s delivered %d times", k, n)
			}
			for m, n := range messages {
				assert.Equal(t, 1, n, "message %s delivered %d times", m, n)
				assert.Contains(t, messageChat, m, "message %s is not in the world", m)
			}
			missing, checked := 0, 0
			for _, ch := range snap.Chats {
				if !ch.UpdatedAt.Before(to) {
					continue // its latest version is not settled yet
				}
				checked++
				key := ch.ID + "@" + ch.UpdatedAt.UTC().Format(time.RFC3339Nano)
				assert.Equal(t, 1, versions[key], "the latest version of chat %s (%s)", ch.ID, key)
				if ch.Deleted {
					continue // what it said after its last collection was deleted with it
				}
				for _, m := range ch.MessageIDs {
					if messages[m] == 0 {
						missing++
					}
				}
			}
			assert.Zero(t, missing, "messages of settled chats never delivered")
			assert.Greater(t, checked, 55)
			assert.NotEmpty(t, tombstones, "chats were deleted meanwhile")
			for _, id := range tombstones {
				assert.True(t, chatsByID[id].Deleted)
			}
			twice := 0
			for _, n := range perChat {
				if n > 1 {
					twice++
				}
			}
			assert.Greater(t, twice, 5, "edited chats are delivered again as new versions")
			if mode == content.PerChat {
				for id, vs := range byChat {
					if len(vs) < 2 || chatsByID[id].Deleted {
						continue
					}
					assert.NotEmpty(t, vs[len(vs)-1], "chat %s: a later version carries its new messages", id)
				}
			}
		})
	}
}

func TestAChatDeletedInClaudeAIIsATombstoneAndItsMessagesAreNotFetched(t *testing.T) {
	r := newRig(t, fakeapi.WorldOptions{Seed: 11, Chats: 60, Growth: fakeapi.WorldGrowth{DeletesPerHour: 60}}, nil)
	c := r.collector(r.engine("chats", content.Filters{}), chatsSource(t, r, content.ChatsConfig{IncludeMessages: true}))
	s := r.sink(c)
	collectFor(t, r, c, 30*time.Minute)
	deleted := map[string]bool{}
	for _, d := range s.all() {
		if d.meta["compliance_chat_deleted"] == "true" {
			deleted[d.meta["chat_id"]] = true
			assert.Equal(t, content.RecordChat, d.typ())
		} else if deleted[d.meta["chat_id"]] {
			t.Errorf("a record of chat %s after its tombstone: %v", d.meta["chat_id"], d.meta)
		}
	}
	require.NotEmpty(t, deleted)
	for _, rec := range r.srv.Requests() {
		for id := range deleted {
			if strings.Contains(rec.Path, id+"/messages") {
				for _, d := range s.all() {
					// Messages of a chat deleted later were fetched before.
					if d.meta["chat_id"] == id && d.meta["compliance_chat_deleted"] == "true" {
						assert.True(t, rec.Time.Before(timeOf(t, d.meta["chat_updated_at"])), "messages of %s fetched after it was deleted", id)
					}
				}
			}
		}
	}
}

func timeOf(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v
}

func TestAChatGoneBetweenTheListingAndItsMessagesIsEmittedAsUnavailable(t *testing.T) {
	r := newRig(t, fakeapi.WorldOptions{Seed: 3, Chats: 20}, nil)
	gone := r.srv.Snapshot().Chats[5].ID
	r.setHook(func(w http.ResponseWriter, req *http.Request) bool {
		if isMessagesOf(req, gone) {
			notFound(w, "Chat conversation not found: '"+gone+"'")
			return true
		}
		return false
	})
	for _, mode := range []string{content.PerMessage, content.PerChat} {
		t.Run(mode, func(t *testing.T) {
			cfg := r.engine("chats-"+mode, content.Filters{})
			c := r.collector(cfg, chatsSource(t, r, content.ChatsConfig{IncludeMessages: true, MessageMode: mode}))
			s := r.sink(c)
			rep, err := runJob(t, c)
			require.NoError(t, err, "a vanished chat never fails the job")
			assert.Equal(t, 1, rep.Counts[content.CountMessagesMissing])
			var found bool
			for _, d := range s.all() {
				if d.meta["chat_id"] == gone {
					found = true
					assert.Equal(t, content.RecordChat, d.typ())
					assert.Equal(t, "not_found", d.meta["compliance_messages_unavailable"])
				}
			}
			assert.True(t, found)
		})
	}
}

func TestUserAndProjectFiltersApplyToTheListingNotTheRequest(t *testing.T) {
	r := newRig(t, fakeapi.WorldOptions{Seed: 5, Chats: 200, Users: 20}, nil)
	snap := r.srv.Snapshot()
	user := snap.Chats[0].UserID
	f := content.Filters{UserIDs: []string{user}}
	c := r.collector(r.engine("chats", f), chatsSource(t, r, content.ChatsConfig{Filters: f}))
	s := r.sink(c)
	rep, err := runJob(t, c)
	require.NoError(t, err)
	want := 0
	for _, ch := range snap.Chats {
		if ch.UserID == user && ch.UpdatedAt.Before(rep.ScannedToTime) {
			want++
		}
	}
	got := s.all()
	assert.Len(t, got, want)
	for _, d := range got {
		assert.Equal(t, user, d.meta["chat_user_id"])
	}
	assert.Positive(t, rep.Counts["chats_filtered"])
	for _, rec := range r.srv.Requests() {
		assert.NotContains(t, rec.Query, "user_ids[]", "the API refuses user_ids[] with order_by=updated_at")
	}
	assert.Zero(t, rep.Counts[content.CountMessagesRequests], "include_messages is off")
}

// scriptedChats answers the listing with pages a test writes.
type scriptedChats struct {
	pages []*api.CursorPage[api.Chat]
	n     int
}

func (s *scriptedChats) ListChats(context.Context, api.ChatsParams) (*api.CursorPage[api.Chat], error) {
	if s.n >= len(s.pages) {
		return nil, errors.New("no more pages")
	}
	s.n++
	return s.pages[s.n-1], nil
}

func (s *scriptedChats) ListChatMessages(context.Context, string, api.MessagesParams) (*api.ChatMessages, error) {
	return &api.ChatMessages{}, nil
}

func TestTheChatsListingIsGuarded(t *testing.T) {
	in := func(s string) api.Chat {
		at := worldTo.Add(-time.Hour)
		if s != "" {
			at, _ = time.Parse(time.RFC3339, s)
		}
		return api.Chat{ID: "claude_chat_" + s, UpdatedAt: at, Raw: []byte(`{}`)}
	}
	tests := []struct {
		name  string
		pages []*api.CursorPage[api.Chat]
		want  error
	}{
		{"a chat outside the slice", []*api.CursorPage[api.Chat]{{Items: []api.Chat{in("2026-11-20T00:00:00Z")}}}, pager.ErrOutOfRange},
		{"has_more without last_id", []*api.CursorPage[api.Chat]{{Items: []api.Chat{in("")}, HasMore: true}}, pager.ErrNullCursor},
		{"a cursor that repeats", []*api.CursorPage[api.Chat]{
			{Items: []api.Chat{in("")}, HasMore: true, LastID: "c1"},
			{Items: []api.Chat{in("")}, HasMore: true, LastID: "c1"},
		}, pager.ErrRepeatedCursor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, fakeapi.WorldOptions{Seed: 1, Chats: 1}, nil)
			src, err := content.NewChats(content.ChatsConfig{PageSize: 10, BatchSize: 5, MessageMode: content.PerMessage, MessagesSince: content.SinceNew},
				&probeThen{r.client, &scriptedChats{pages: tt.pages}}, content.Hooks{})
			require.NoError(t, err)
			cfg := r.engine("chats", content.Filters{})
			cfg.Slices.MinSlice, cfg.Slices.MaxSlice = 24*time.Hour, 24*time.Hour
			c := r.collector(cfg, src)
			r.sink(c)
			_, err = runJob(t, c)
			var g *pager.GuardError
			require.ErrorAs(t, err, &g)
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "state rewind", "the failure names the way out")
		})
	}
}

// probeThen reads the clock from the real fake and lists from a script.
type probeThen struct {
	probe *api.Client
	*scriptedChats
}

func (p *probeThen) ListChats(ctx context.Context, q api.ChatsParams) (*api.CursorPage[api.Chat], error) {
	if q.Limit == 1 && q.AfterID == "" && q.UpdatedAt == (api.TimeRange{}) {
		return p.probe.ListChats(ctx, q)
	}
	return p.scriptedChats.ListChats(ctx, q)
}

func TestABurstInsideASliceCutsItOnItsFirstFullPage(t *testing.T) {
	// 300 chats in 10 minutes at the end of a quiet day: with slices of up
	// to 30 minutes and a target of 40, a slice that reaches into them is
	// cut on its first full page.
	r := newRig(t, fakeapi.WorldOptions{Seed: 9, Chats: 300, From: worldTo.Add(-10 * time.Minute), To: worldTo}, nil)
	cfg := r.engine("chats", content.Filters{})
	cfg.Slices.MinSlice = time.Minute
	c := r.collector(cfg, chatsSource(t, r, content.ChatsConfig{}))
	s := r.sink(c)
	rep, err := runJob(t, c)
	require.NoError(t, err)
	assert.Positive(t, rep.SlicesCut)
	assert.Len(t, s.all(), 300)
}
