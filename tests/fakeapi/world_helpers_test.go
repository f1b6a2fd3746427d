package fakeapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// worldRig is a server over a world, with a dataset that names it.
type worldRig struct {
	*fakeapi.Running
	world *fakeapi.World
	clock *fakeapi.ManualClock
	acts  []fakeapi.Activity
}

// smallWorld is a world quick to walk exhaustively, ending at t0.
var smallWorld = fakeapi.WorldOptions{Seed: 5, To: t0, Users: 60, Chats: 80, Projects: 12, Groups: 5, Orgs: 3}

// worldServer serves wo (To defaults to t0, From to To-48h) and 2000
// activities of the last 24h naming it, with the clock at To plus a minute.
func worldServer(t *testing.T, wo fakeapi.WorldOptions, extra func(*fakeapi.Options)) *worldRig {
	t.Helper()
	if wo.To.IsZero() {
		wo.To = t0
	}
	if wo.From.IsZero() {
		wo.From = wo.To.Add(-48 * time.Hour) // before the dataset's first activity
	}
	w, err := fakeapi.NewWorld(wo)
	require.NoError(t, err)
	clock := fakeapi.NewManualClock(wo.To.Add(time.Minute))
	acts := fakeapi.Generate(fakeapi.GenOptions{Seed: wo.Seed, Count: 2000, From: wo.To.Add(-24 * time.Hour), To: wo.To, World: w})
	opts := fakeapi.Options{World: w, Clock: clock.Now, Dataset: acts}
	if extra != nil {
		extra(&opts)
	}
	return &worldRig{Running: start(t, opts), world: w, clock: clock, acts: acts}
}

// getPath sends GET base+path?rawQuery with key (none when "").
func getPath(t *testing.T, base, path, rawQuery, key string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path+"?"+rawQuery, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	return do(t, req)
}

// ok requires a 200 and decodes the body into a generic object.
func ok(t *testing.T, a answer) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

// pageEnv is the page-style envelope.
type pageEnv struct {
	Data     []map[string]any `json:"data"`
	HasMore  *bool            `json:"has_more"`
	NextPage *string          `json:"next_page"`
}

// walkPages follows next_page from the first page at limit (0 = default)
// and returns every record and the number of requests.
func walkPages(t *testing.T, base, path string, limit int, extra url.Values) ([]map[string]any, int) {
	t.Helper()
	var out []map[string]any
	token := ""
	for n := 1; ; n++ {
		require.Less(t, n, 10000, "the walk does not end")
		q := url.Values{}
		for k, v := range extra {
			q[k] = v
		}
		if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		if token != "" {
			q.Set("page", token)
		}
		a := getPath(t, base, path, q.Encode(), testKey)
		require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
		var env pageEnv
		require.NoError(t, json.Unmarshal(a.body, &env))
		require.NotNil(t, env.HasMore, "has_more missing: %s", a.body)
		if limit > 0 {
			require.LessOrEqual(t, len(env.Data), limit)
		}
		out = append(out, env.Data...)
		if !*env.HasMore {
			if env.NextPage != nil {
				require.Nil(t, env.NextPage, "next_page set on the last page")
			}
			return out, n
		}
		require.NotNil(t, env.NextPage, "has_more without next_page")
		require.NotEqual(t, token, *env.NextPage, "next_page repeats")
		token = *env.NextPage
	}
}

// cursorEnv is the cursor-style envelope of chats.
type cursorEnv struct {
	Data    []map[string]any `json:"data"`
	HasMore *bool            `json:"has_more"`
	FirstID *string          `json:"first_id"`
	LastID  *string          `json:"last_id"`
}

// walkChats follows after_id=last_id from after (or the start) with q and
// returns the chats and the last cursor.
func walkChats(t *testing.T, base string, q url.Values, after string) ([]map[string]any, string) {
	t.Helper()
	var out []map[string]any
	cursor := after
	for n := 0; ; n++ {
		require.Less(t, n, 10000, "the walk does not end")
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		if cursor != "" {
			qq.Set("after_id", cursor)
		}
		a := getPath(t, base, fakeapi.ChatsPath, qq.Encode(), testKey)
		require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
		var env cursorEnv
		require.NoError(t, json.Unmarshal(a.body, &env))
		out = append(out, env.Data...)
		if env.LastID != nil {
			cursor = *env.LastID
		}
		if !*env.HasMore {
			return out, cursor
		}
		require.NotNil(t, env.LastID, "has_more without last_id")
	}
}

// field returns rec[key] as a string ("" for null or absent).
func field(rec map[string]any, key string) string {
	s, _ := rec[key].(string)
	return s
}

// idsOfRecs lists rec[key] of each record.
func idsOfRecs(recs []map[string]any, key string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = field(r, key)
	}
	return out
}
