package fakeapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestTheFeedNamesTheWorld: with GenOptions.World, every user_actor is a
// current member of the activity's organization, and every chat, file,
// project and group an activity names exists; claude_chat_created names a
// chat created at or before the activity, and that chat has messages.
func TestTheFeedNamesTheWorld(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 21, Users: 80, Chats: 150, FileFraction: 0.4}, nil)
	snap := r.Server.Snapshot()
	member := map[string]string{} // user id -> org uuid
	for org, users := range snap.Users {
		for _, u := range users {
			member[u] = org
		}
	}
	chats := map[string]fakeapi.ChatInfo{}
	files := map[string]bool{}
	for _, c := range snap.Chats {
		chats[c.ID] = c
		for _, f := range c.FileIDs {
			files[f] = true
		}
	}
	counts := map[string]int{}
	for _, a := range r.acts {
		var m struct {
			Type             string `json:"type"`
			OrganizationUUID string `json:"organization_uuid"`
			Actor            struct {
				Type   string `json:"type"`
				UserID string `json:"user_id"`
			} `json:"actor"`
			ChatID    string `json:"claude_chat_id"`
			FileID    string `json:"claude_file_id"`
			ProjectID string `json:"claude_project_id"`
			GroupID   string `json:"group_id"`
			MemberIDs []string
		}
		require.NoError(t, json.Unmarshal(a.JSON, &m))
		if m.Actor.Type == "user_actor" {
			org, ok := member[m.Actor.UserID]
			require.True(t, ok, "user %s of %s is in the directory", m.Actor.UserID, a.ID)
			if m.OrganizationUUID != "" {
				assert.Equal(t, org, m.OrganizationUUID, "the activity's org is the user's")
			}
			counts["user"]++
		}
		if m.ChatID != "" {
			c, ok := chats[m.ChatID]
			require.True(t, ok, "chat %s of %s (%s) exists", m.ChatID, a.ID, m.Type)
			assert.False(t, c.CreatedAt.After(a.CreatedAt), "%s names a chat created later", a.ID)
			require.NotEmpty(t, c.MessageIDs)
			counts["chat"]++
		}
		if m.FileID != "" {
			require.True(t, files[m.FileID], "file %s of %s exists", m.FileID, a.ID)
			counts["file"]++
		}
		if m.ProjectID != "" {
			require.Contains(t, snap.Projects, m.ProjectID)
			counts["project"]++
		}
		if m.GroupID != "" {
			require.Contains(t, snap.Groups, m.GroupID)
			counts["group"]++
		}
	}
	for _, k := range []string{"user", "chat", "file", "project", "group"} {
		assert.Positive(t, counts[k], "activities naming a %s", k)
	}
	// A sample of the referenced chats is served with its messages.
	n := 0
	for id := range chats {
		if n++; n > 10 {
			break
		}
		env := messages(t, r.URL(), id, "")
		assert.Len(t, env.ChatMessages, len(chats[id].MessageIDs))
	}
}

// TestWorldGrowthIsDeterministicWhateverTheRequests: the same options and
// clock path give the same world and feed whether the server was asked every
// few seconds or only once at the end.
func TestWorldGrowthIsDeterministicWhateverTheRequests(t *testing.T) {
	wo := smallWorld
	wo.Growth = fakeapi.WorldGrowth{ChatsPerHour: 600, EditsPerHour: 600, DeletesPerHour: 60, UserChangesPerHour: 300,
		GroupChangesPerHour: 300, ProjectChangesPerHour: 300, SettingChangesPerHour: 60}
	grow := fakeapi.Growth{PerSecond: 0.5, Seed: 3, Start: t0}
	busy := worldServer(t, wo, func(o *fakeapi.Options) { o.Growth = grow })
	quiet := worldServer(t, wo, func(o *fakeapi.Options) { o.Growth = grow })
	end := t0.Add(10 * time.Minute)
	for busy.clock.Now().Before(end) {
		busy.clock.Advance(min(7*time.Second, end.Sub(busy.clock.Now())))
		ok(t, getPath(t, busy.URL(), fakeapi.ChatsPath, "limit=1", testKey))
	}
	quiet.clock.Set(end)

	a, b := busy.Server.Snapshot(), quiet.Server.Snapshot()
	require.Greater(t, len(a.Chats), smallWorld.Chats+50, "chats were created")
	assert.Equal(t, a, b)
	for _, path := range []string{fakeapi.ChatsPath, fakeapi.OrganizationsPath} {
		q := ""
		if path == fakeapi.ChatsPath {
			q = "limit=1000&order_by=updated_at"
		}
		assert.Equal(t, string(getPath(t, busy.URL(), path, q, testKey).body), string(getPath(t, quiet.URL(), path, q, testKey).body))
	}
	settings := fakeapi.Expand(fakeapi.SettingsPath, a.Orgs[0])
	assert.JSONEq(t, string(getPath(t, busy.URL(), settings, "", testKey).body), string(getPath(t, quiet.URL(), settings, "", testKey).body))
	assert.Equal(t, idsOf(busy.Server.All()), idsOf(quiet.Server.All()), "the same feed, world events and growth alike")
}

// TestNewWorldRejectsBadOptions.
func TestNewWorldRejectsBadOptions(t *testing.T) {
	for _, o := range []fakeapi.WorldOptions{
		{Users: -1}, {Chats: 2_000_000}, {FileFraction: 1.5}, {LargeFileSize: -1},
		{From: t0, To: t0.Add(-time.Hour)}, {Growth: fakeapi.WorldGrowth{ChatsPerHour: -1}},
	} {
		_, err := fakeapi.NewWorld(o)
		assert.Error(t, err, "%+v", o)
	}
	w, err := fakeapi.NewWorld(fakeapi.WorldOptions{})
	require.NoError(t, err)
	assert.Equal(t, 300, w.Options().Chats, "defaults filled in")
}

// TestAServerWithoutAWorldServesAnEmptyOrganization.
func TestAServerWithoutAWorldServesAnEmptyOrganization(t *testing.T) {
	r := start(t, fakeapi.Options{})
	for _, path := range []string{fakeapi.OrganizationsPath, fakeapi.GroupsPath, fakeapi.ChatsPath, fakeapi.ProjectsPath} {
		m := ok(t, getPath(t, r.URL(), path, "", testKey))
		assert.Empty(t, m["data"], path)
	}
	decodeError(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.UsersPath, "x"), "", testKey), http.StatusNotFound, "not_found_error")
}
