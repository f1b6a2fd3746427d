package fakeapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// chatOrder lists the snapshot's chat ids sorted by the order_by key, then id.
func chatOrder(snap fakeapi.Snapshot, byUpdated bool) []string {
	chats := slices.Clone(snap.Chats)
	slices.SortFunc(chats, func(a, b fakeapi.ChatInfo) int {
		ka, kb := a.CreatedAt, b.CreatedAt
		if byUpdated {
			ka, kb = a.UpdatedAt, b.UpdatedAt
		}
		if c := ka.Compare(kb); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	out := make([]string, len(chats))
	for i, c := range chats {
		out[i] = c.ID
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestChatsWalkAscendingAndExhaustivelyAtEveryLimit: org-wide, by created_at
// (default) and by updated_at, after_id=last_id walks every chat once,
// oldest first, ties by id, at any limit.
func TestChatsWalkAscendingAndExhaustivelyAtEveryLimit(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 8, Chats: 250, Users: 40}, nil)
	snap := r.Server.Snapshot()
	for _, orderBy := range []string{"", "created_at", "updated_at"} {
		want := chatOrder(snap, orderBy == "updated_at")
		for _, limit := range []int{1, 3, 100, 1000} {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if orderBy != "" {
				q.Set("order_by", orderBy)
			}
			got, _ := walkChats(t, r.URL(), q, "")
			assert.Equal(t, want, idsOfRecs(got, "id"), "order_by=%q limit %d", orderBy, limit)
		}
	}
	first := ok(t, getPath(t, r.URL(), fakeapi.ChatsPath, "", testKey))
	assert.Len(t, first["data"], 100, "default limit 100")
	var c map[string]any = first["data"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "created_at", "updated_at", "deleted_at", "href", "model", "organization_uuid", "project_id", "user"} {
		assert.Contains(t, c, k)
	}
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, c["created_at"])
}

// TestChatsListRules: the documented rule matrix of org-wide and
// user-filtered queries.
func TestChatsListRules(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	user := r.Server.Snapshot().Chats[0].UserID
	cursor := *chatsPage(t, r.URL(), "limit=1").LastID
	eleven := ""
	for i := range 11 {
		eleven += "&user_ids[]=user_" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name, query string
	}{
		{"before_id org-wide", "before_id=" + url.QueryEscape(cursor)},
		{"project_ids without user_ids", "project_ids[]=claude_proj_1"},
		{"updated_at filter without order_by=updated_at", "updated_at.gte=2026-01-01T00:00:00Z"},
		{"created_at filter with order_by=updated_at", "order_by=updated_at&created_at.gte=2026-01-01T00:00:00Z"},
		{"order_by=updated_at with user_ids", "order_by=updated_at&user_ids[]=" + user},
		{"more than 10 user_ids", eleven[1:]},
		{"both cursors", "user_ids[]=" + user + "&after_id=" + url.QueryEscape(cursor) + "&before_id=" + url.QueryEscape(cursor)},
		{"unknown order_by", "order_by=name"},
		{"a time without offset", "created_at.gte=2026-01-01T00:00:00"},
		{"a cursor of the other sort key", "order_by=updated_at&after_id=" + url.QueryEscape(cursor)},
		{"a garbage cursor", "after_id=eyJub3QiOiJhIGN1cnNvciJ9"},
	} {
		decodeError(t, getPath(t, r.URL(), fakeapi.ChatsPath, tc.query, testKey), http.StatusBadRequest, "invalid_request_error")
	}
	for _, q := range []string{
		"user_ids[]=" + user + "&before_id=" + url.QueryEscape(cursor),
		"user_ids[]=" + user + "&project_ids[]=claude_proj_1",
		"order_by=updated_at&updated_at.gte=2026-01-01T00:00:00Z",
		"created_at.gte=2026-01-01T00:00:00Z",
	} {
		ok(t, getPath(t, r.URL(), fakeapi.ChatsPath, q, testKey))
	}
}

// TestUpdatedAtWithUserIDsIsRejectedFromTheCutoff: deprecated until
// 2026-09-22, a 400 from then on (by the fake's clock).
func TestUpdatedAtWithUserIDsIsRejectedFromTheCutoff(t *testing.T) {
	for _, tc := range []struct {
		at     time.Time
		status int
	}{{time.Date(2026, 9, 21, 23, 59, 59, 0, time.UTC), 200}, {time.Date(2026, 9, 22, 0, 0, 0, 0, time.UTC), 400}} {
		wo := smallWorld
		wo.To = tc.at.Add(-time.Hour)
		r := worldServer(t, wo, nil)
		r.clock.Set(tc.at)
		a := getPath(t, r.URL(), fakeapi.ChatsPath, "user_ids[]="+r.Server.Snapshot().Chats[0].UserID+"&updated_at.gte=2026-01-01T00:00:00Z", testKey)
		assert.Equal(t, tc.status, a.status, "at %v: %s", tc.at, a.body)
	}
}

func chatsPage(t *testing.T, base, query string) cursorEnv {
	t.Helper()
	a := getPath(t, base, fakeapi.ChatsPath, query, testKey)
	require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
	var env cursorEnv
	require.NoError(t, json.Unmarshal(a.body, &env))
	return env
}

// TestUserFilteredChatsPageBothWaysAndByProject: with user_ids[] both cursors
// work (before_id returns the chats just before, still ascending), and
// project_ids[] narrows to the user's chats in those projects.
func TestUserFilteredChatsPageBothWaysAndByProject(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 12, Users: 3, Chats: 60, Projects: 2, Orgs: 1}, nil)
	snap := r.Server.Snapshot()
	user := snap.Chats[0].UserID
	var want []string
	for _, id := range chatOrder(snap, false) {
		if i := slices.IndexFunc(snap.Chats, func(c fakeapi.ChatInfo) bool { return c.ID == id }); snap.Chats[i].UserID == user {
			want = append(want, id)
		}
	}
	require.Greater(t, len(want), 6)
	got, _ := walkChats(t, r.URL(), url.Values{"user_ids[]": {user}, "limit": {"4"}}, "")
	assert.Equal(t, want, idsOfRecs(got, "id"))

	mid := chatsPage(t, r.URL(), "user_ids[]="+user+"&limit=6").LastID
	back := chatsPage(t, r.URL(), "user_ids[]="+user+"&limit=3&before_id="+url.QueryEscape(*mid))
	assert.Equal(t, want[2:5], idsOfRecs(back.Data, "id"), "the 3 chats just before the cursor, ascending")
	assert.True(t, *back.HasMore)
	back = chatsPage(t, r.URL(), "user_ids[]="+user+"&limit=10&before_id="+url.QueryEscape(*mid))
	assert.Equal(t, want[:5], idsOfRecs(back.Data, "id"))
	assert.False(t, *back.HasMore)

	all, _ := walkChats(t, r.URL(), url.Values{"user_ids[]": {user}}, "")
	project := ""
	for _, c := range all {
		if p := field(c, "project_id"); p != "" {
			project = p
		}
	}
	require.NotEmpty(t, project, "the user has a chat in a project")
	inProject, _ := walkChats(t, r.URL(), url.Values{"user_ids[]": {user}, "project_ids[]": {project}}, "")
	require.NotEmpty(t, inProject)
	for _, c := range inProject {
		assert.Equal(t, project, field(c, "project_id"))
	}
}

// TestChatCursorsSurviveAndAcceptPlainIDs: a cursor keeps its place however
// the list changed, and a plain chat id (the older cursor form) resumes
// after that chat.
func TestChatCursorsSurviveAndAcceptPlainIDs(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	want := chatOrder(r.Server.Snapshot(), false)
	env := chatsPage(t, r.URL(), "limit=1&after_id="+want[9])
	assert.Equal(t, []string{want[10]}, idsOfRecs(env.Data, "id"))
}

// TestIncrementalWalkByUpdatedAtSeesNewAndEditedChatsOnce: a walk by
// updated_at that resumes from its last cursor after an hour of growth
// returns exactly the chats created, edited or deleted in that hour, each
// once and in updated_at order; the feed records the new chats.
func TestIncrementalWalkByUpdatedAtSeesNewAndEditedChatsOnce(t *testing.T) {
	wo := smallWorld
	wo.Growth = fakeapi.WorldGrowth{ChatsPerHour: 40, EditsPerHour: 40, DeletesPerHour: 6}
	r := worldServer(t, wo, nil)
	q := url.Values{"order_by": {"updated_at"}, "limit": {"7"}}
	first, cursor := walkChats(t, r.URL(), q, "")
	before := r.Server.Snapshot()
	require.Equal(t, chatOrder(before, true), idsOfRecs(first, "id"))
	last := first[len(first)-1]

	r.clock.Advance(time.Hour)
	after := r.Server.Snapshot()
	var want []string
	for _, id := range chatOrder(after, true) {
		c := after.Chats[slices.IndexFunc(after.Chats, func(c fakeapi.ChatInfo) bool { return c.ID == id })]
		if tsZ(c.UpdatedAt) > field(last, "updated_at") || (tsZ(c.UpdatedAt) == field(last, "updated_at") && c.ID > field(last, "id")) {
			want = append(want, id)
		}
	}
	second, _ := walkChats(t, r.URL(), q, cursor)
	require.NotEmpty(t, second)
	assert.Equal(t, want, idsOfRecs(second, "id"))

	created, edited, deleted := 0, 0, 0
	for _, c := range second {
		switch {
		case field(c, "deleted_at") != "":
			deleted++
			assert.Empty(t, field(c, "name"), "a deleted chat stays listed with an empty name")
		case slices.Contains(idsOfRecs(first, "id"), field(c, "id")):
			edited++
		default:
			created++
		}
	}
	assert.Positive(t, created)
	assert.Positive(t, edited)
	assert.Positive(t, deleted)
	feed := 0
	for _, a := range r.Server.Visible(r.clock.Now()) {
		if a.Type == "claude_chat_created" && a.CreatedAt.After(t0.Add(time.Minute)) {
			feed++
		}
	}
	assert.Equal(t, len(after.Chats)-len(before.Chats), feed, "one claude_chat_created per new chat")
}

func tsZ(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// messagesEnv is the messages endpoint's answer.
type messagesEnv struct {
	ID           string           `json:"id"`
	ChatMessages []map[string]any `json:"chat_messages"`
	HasMore      bool             `json:"has_more"`
	FirstID      *string          `json:"first_id"`
	LastID       *string          `json:"last_id"`
}

func messages(t *testing.T, base, chat, query string) messagesEnv {
	t.Helper()
	a := getPath(t, base, fakeapi.Expand(fakeapi.ChatMessagesPath, chat), query, testKey)
	require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
	var env messagesEnv
	require.NoError(t, json.Unmarshal(a.body, &env))
	return env
}

// TestMessagesComeWholeOrPaged: without limit the whole chat in one answer;
// with limit, after_id walks give the same messages in either order, and
// before_id the ones just before the cursor.
func TestMessagesComeWholeOrPaged(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 2, Chats: 30, MaxMessages: 20}, nil)
	snap := r.Server.Snapshot()
	var chat fakeapi.ChatInfo
	for _, c := range snap.Chats {
		if len(c.MessageIDs) > len(chat.MessageIDs) && !c.Deleted {
			chat = c
		}
	}
	require.Greater(t, len(chat.MessageIDs), 6)
	whole := messages(t, r.URL(), chat.ID, "")
	assert.Equal(t, chat.ID, whole.ID, "the chat's fields come along")
	assert.Equal(t, chat.MessageIDs, idsOfRecs(whole.ChatMessages, "id"))
	assert.False(t, whole.HasMore)
	desc := slices.Clone(chat.MessageIDs)
	slices.Reverse(desc)
	for _, order := range []string{"asc", "desc"} {
		for _, limit := range []int{1, 2, 5} {
			var got []string
			cursor := ""
			for n := 0; ; n++ {
				require.Less(t, n, 1000, "the walk does not end")
				q := "order=" + order + "&limit=" + strconv.Itoa(limit)
				if cursor != "" {
					q += "&after_id=" + url.QueryEscape(cursor)
				}
				env := messages(t, r.URL(), chat.ID, q)
				got = append(got, idsOfRecs(env.ChatMessages, "id")...)
				if !env.HasMore {
					break
				}
				cursor = *env.LastID
			}
			want := chat.MessageIDs
			if order == "desc" {
				want = desc
			}
			assert.Equal(t, want, got, "order %s limit %d", order, limit)
		}
	}
	mid := messages(t, r.URL(), chat.ID, "limit=5").LastID
	back := messages(t, r.URL(), chat.ID, "limit=2&before_id="+url.QueryEscape(*mid))
	assert.Equal(t, chat.MessageIDs[2:4], idsOfRecs(back.ChatMessages, "id"))
	assert.True(t, back.HasMore)
	decodeError(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ChatMessagesPath, chat.ID), "after_id=bm9wZQ==", testKey), http.StatusBadRequest, "invalid_request_error")
	decodeError(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ChatMessagesPath, chat.ID), "order=sideways", testKey), http.StatusBadRequest, "invalid_request_error")
}

// TestMessagesCarryTheirFilesAndToolBlocksTruncateByCharacters.
func TestMessagesCarryTheirFilesAndToolBlocksTruncateByCharacters(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 4, Chats: 50, FileFraction: 0.5}, nil)
	snap := r.Server.Snapshot()
	files, toolResults, truncated := 0, 0, 0
	for _, c := range snap.Chats {
		if c.Deleted {
			continue
		}
		env := messages(t, r.URL(), c.ID, "tool_result_max_chars=50")
		for _, m := range env.ChatMessages {
			for _, f := range asList(m["files"]) {
				files++
				assert.Regexp(t, `^[0-9a-f]{32}$`, f["md5"])
				assert.Contains(t, c.FileIDs, f["id"])
			}
			for _, b := range asList(m["content"]) {
				if b["type"] == "tool_result" {
					toolResults++
					text := asList(b["content"])[0]["text"].(string)
					assert.LessOrEqual(t, len([]rune(text)), 50)
					if b["truncated"] == true {
						truncated++
						assert.Len(t, []rune(text), 50)
					}
				}
			}
		}
	}
	assert.Positive(t, files)
	assert.Positive(t, toolResults)
	assert.Positive(t, truncated)
	decodeError(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ChatMessagesPath, snap.Chats[0].ID), "tool_result_max_chars=-2", testKey), http.StatusBadRequest, "invalid_request_error")
}

func asList(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		out = append(out, x.(map[string]any))
	}
	return out
}

// TestDeletedChatsKeepMessagesWithoutContentAndLoseFiles: a chat deleted in
// claude.ai lists its messages with empty content and no attachments, and
// its files answer 404.
func TestDeletedChatsKeepMessagesWithoutContentAndLoseFiles(t *testing.T) {
	wo := fakeapi.WorldOptions{Seed: 6, Chats: 40, FileFraction: 1, Growth: fakeapi.WorldGrowth{DeletesPerHour: 3600}}
	r := worldServer(t, wo, nil)
	r.clock.Advance(time.Minute)
	var chat fakeapi.ChatInfo
	for _, c := range r.Server.Snapshot().Chats {
		if c.Deleted && len(c.FileIDs) > 0 {
			chat = c
		}
	}
	require.NotEmpty(t, chat.ID)
	env := messages(t, r.URL(), chat.ID, "")
	require.Len(t, env.ChatMessages, len(chat.MessageIDs))
	for _, m := range env.ChatMessages {
		assert.Empty(t, m["content"])
		assert.Nil(t, m["files"])
	}
	decodeError(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.FileContentPath, chat.FileIDs[0]), "", testKey), http.StatusNotFound, "not_found_error")
}
