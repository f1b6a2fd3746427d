package fakeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestAuthRejectsMissingEmptyAndUnknownKeys: every bad key gets the documented
// 401 body, a request-id and a Date, and no rate-limit headers.
func TestAuthRejectsMissingEmptyAndUnknownKeys(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 10}, func(o *fakeapi.Options) { o.RateLimit = 10 })
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"missing", nil},
		{"empty", []string{"x-api-key", ""}},
		{"unknown", []string{"x-api-key", "sk-ant-api01-wrong"}},
		{"bearer instead of x-api-key", []string{"Authorization", "Bearer " + testKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, r.URL(), "", "", tc.hdr...)
			e := decodeError(t, a, http.StatusUnauthorized, "authentication_error")
			assert.Equal(t, "The API key provided is invalid or has been revoked.", e.Error.Message)
			assert.Equal(t, t0.Format(http.TimeFormat), a.header.Get("Date"))
			assert.Empty(t, a.header.Get("anthropic-ratelimit-requests-remaining"))
			assert.NotContains(t, string(a.body), testKey)
		})
	}
}

// TestUnauthenticatedRequestsCostNoQuota: 401s are rejected before the rate
// limiter, 403s are not.
func TestUnauthenticatedRequestsCostNoQuota(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 10}, func(o *fakeapi.Options) {
		o.RateLimit = 3
		o.Scopes = map[string][]string{"user-data-key": {"read:compliance_user_data"}, testKey: {fakeapi.RequiredScope}}
	})
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, get(t, r.URL(), "", "bad").status)
	}
	a := get(t, r.URL(), "", testKey)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "2", a.header.Get("anthropic-ratelimit-requests-remaining"))

	a = get(t, r.URL(), "", "user-data-key")
	e := decodeError(t, a, http.StatusForbidden, "permission_error")
	assert.Equal(t, "Missing required scopes. Got: ['read:compliance_user_data'] Needed: ['read:compliance_activities']", e.Error.Message)
	assert.Equal(t, "1", a.header.Get("anthropic-ratelimit-requests-remaining"), "403 costs one unit")

	require.Equal(t, http.StatusOK, get(t, r.URL(), "", testKey).status)
	decodeError(t, get(t, r.URL(), "", testKey), http.StatusTooManyRequests, "rate_limit_error")
}

// TestScopelessKeyGets403WithEmptyGotList pins the message for a key with no scopes.
func TestScopelessKeyGets403WithEmptyGotList(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 1}, func(o *fakeapi.Options) {
		o.Scopes = map[string][]string{"k": nil}
	})
	e := decodeError(t, get(t, r.URL(), "", "k"), http.StatusForbidden, "permission_error")
	assert.Equal(t, "Missing required scopes. Got: [] Needed: ['read:compliance_activities']", e.Error.Message)
}

// TestAnthropicVersionIsOptionalButMustBe20230601.
func TestAnthropicVersionIsOptionalButMustBe20230601(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 5}, nil)
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"absent", nil, 200},
		{"current", []string{"anthropic-version", "2023-06-01"}, 200},
		{"other", []string{"anthropic-version", "2024-01-01"}, 400},
		{"empty", []string{"anthropic-version", ""}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, r.URL(), "", testKey, tc.hdr...)
			if tc.status == 200 {
				require.Equal(t, 200, a.status, "body: %s", a.body)
				return
			}
			decodeError(t, a, tc.status, "invalid_request_error")
		})
	}
}

// TestUnknownPathAndMethodUseTheErrorShape.
func TestUnknownPathAndMethodUseTheErrorShape(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 5}, nil)
	req, err := http.NewRequest(http.MethodGet, r.URL()+"/v1/compliance/no-such-endpoint", nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", testKey)
	assert.Equal(t, "Not found", decodeError(t, do(t, req), http.StatusNotFound, "not_found_error").Error.Message)

	req, err = http.NewRequest(http.MethodPost, r.URL()+fakeapi.ActivitiesPath, strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("x-api-key", testKey)
	a := do(t, req)
	decodeError(t, a, http.StatusMethodNotAllowed, "invalid_request_error")
	assert.Equal(t, http.MethodGet, a.header.Get("Allow"))
}

// TestEveryResponseCarriesAUniqueRequestIDAndTheFakeDate.
func TestEveryResponseCarriesAUniqueRequestIDAndTheFakeDate(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 5}, nil)
	seen := map[string]bool{}
	for _, tc := range []struct{ q, key string }{
		{"", testKey}, {"", "bad"}, {"limit=0", testKey}, {"", testKey}, {"order=sideways", testKey},
	} {
		a := get(t, r.URL(), tc.q, tc.key)
		id := a.header.Get("request-id")
		require.Regexp(t, `^req_[0-9A-Za-z]{24}$`, id)
		require.False(t, seen[id], "request-id %s repeated", id)
		seen[id] = true
		require.Equal(t, t0.Format(http.TimeFormat), a.header.Get("Date"))
	}
	recs := r.Server.Requests()
	require.Len(t, recs, 5)
	for _, rec := range recs {
		assert.True(t, seen[rec.RequestID])
	}
}

// TestOrderIsNewestFirstByDefaultAndOldestFirstWithAsc, ties included: within
// one second, desc sorts by id descending and asc by id ascending.
func TestOrderIsNewestFirstByDefaultAndOldestFirstWithAsc(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 5, Count: 300, From: t0.Add(-20 * time.Second)}, nil)
	require.Len(t, visible, 300)
	want := idsOf(visible)

	desc := ids(t, page(t, r.URL(), vals("limit", "5000")))
	assert.Equal(t, want, desc)
	explicit := ids(t, page(t, r.URL(), vals("limit", "5000", "order", "desc")))
	assert.Equal(t, want, explicit)
	asc := ids(t, page(t, r.URL(), vals("limit", "5000", "order", "asc")))
	slices.Reverse(asc)
	assert.Equal(t, want, asc)

	ties := 0
	for i := 1; i < len(visible); i++ {
		if visible[i].CreatedAt.Equal(visible[i-1].CreatedAt) {
			ties++
			require.Greater(t, visible[i-1].ID, visible[i].ID, "desc order sorts ties by id descending")
		} else {
			require.True(t, visible[i].CreatedAt.Before(visible[i-1].CreatedAt))
		}
	}
	assert.Greater(t, ties, 200)

	e := decodeError(t, get(t, r.URL(), "order=newest", testKey), 400, "invalid_request_error")
	assert.Contains(t, e.Error.Message, "newest")
}

// TestLimitMustBeAnIntegerFrom1To5000.
func TestLimitMustBeAnIntegerFrom1To5000(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Count: 6000}, nil)
	for _, tc := range []struct {
		raw  string
		want int // activities returned; 0 = 400
	}{
		{"", 100}, // no limit parameter at all
		{"1", 1},
		{"7", 7},
		{"5000", 5000},
		{"0", 0},
		{"5001", 0},
		{"-1", 0},
		{"abc", 0},
		{"1.5", 0},
		{"empty", 0},
	} {
		t.Run("limit="+tc.raw, func(t *testing.T) {
			q := "limit=" + tc.raw
			switch tc.raw {
			case "":
				q = ""
			case "empty":
				q, tc.raw = "limit=", ""
			}
			a := get(t, r.URL(), q, testKey)
			if tc.want == 0 {
				e := decodeError(t, a, 400, "invalid_request_error")
				assert.Equal(t, fmt.Sprintf("The limit parameter must be between 1 and 5000, inclusive. Got %s.", tc.raw), e.Error.Message)
				return
			}
			require.Equal(t, 200, a.status)
			var env envelope
			require.NoError(t, json.Unmarshal(a.body, &env))
			assert.Len(t, env.Data, tc.want)
			assert.True(t, *env.HasMore)
			assert.Equal(t, visible[0].ID, *env.FirstID)
			assert.Equal(t, visible[tc.want-1].ID, *env.LastID)
		})
	}
}

// walkAfter follows after_id=last_id from the top until has_more is false.
func walkAfter(t *testing.T, base string, q url.Values, limit int) []string {
	t.Helper()
	var out []string
	q = cloneValues(q)
	q.Set("limit", fmt.Sprint(limit))
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100000, "walk does not end")
		env := page(t, base, q)
		got := ids(t, env)
		require.LessOrEqual(t, len(got), limit)
		out = append(out, got...)
		if len(got) > 0 && !strings.HasPrefix(*env.FirstID, "cur1_") { // opaque cursors are not ids
			require.Equal(t, got[0], *env.FirstID)
			require.Equal(t, got[len(got)-1], *env.LastID)
		}
		if !*env.HasMore {
			return out
		}
		require.NotEmpty(t, got, "has_more with an empty page")
		q.Set("after_id", *env.LastID)
	}
}

// walkBefore follows before_id=first_id from cursor until has_more is false
// and returns the pages newest first (the reverse of the walk).
func walkBefore(t *testing.T, base string, q url.Values, cursor string, limit int) []string {
	t.Helper()
	var pagesSeen [][]string
	q = cloneValues(q)
	q.Set("limit", fmt.Sprint(limit))
	for n := 0; ; n++ {
		require.Less(t, n, 100000, "walk does not end")
		q.Set("before_id", cursor)
		env := page(t, base, q)
		got := ids(t, env)
		require.LessOrEqual(t, len(got), limit)
		pagesSeen = append(pagesSeen, got)
		if env.FirstID != nil {
			cursor = *env.FirstID
		}
		if !*env.HasMore {
			break
		}
	}
	var out []string
	for i := len(pagesSeen) - 1; i >= 0; i-- {
		out = append(out, pagesSeen[i]...)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// TestCursorWalksReturnEveryVisibleActivityExactlyOnce: an after_id walk from
// the top, and a before_id walk from the oldest id, in both orders, for several
// page sizes and datasets dense with same-second ties.
func TestCursorWalksReturnEveryVisibleActivityExactlyOnce(t *testing.T) {
	datasets := []struct {
		name   string
		gen    fakeapi.GenOptions
		limits []int
	}{
		{"spread", fakeapi.GenOptions{Seed: 1, Count: 2500, From: t0.Add(-24 * time.Hour)}, []int{7, 1000}},
		{"ties", fakeapi.GenOptions{Seed: 2, Count: 2500, From: t0.Add(-30 * time.Second)}, []int{7, 1000}},
		{"ties with millis", fakeapi.GenOptions{Seed: 3, Count: 2500, From: t0.Add(-30 * time.Second), Millis: true}, []int{7, 1000}},
		// limit=1 costs one request per activity and direction: a smaller dataset, still mostly ties.
		{"small ties", fakeapi.GenOptions{Seed: 4, Count: 300, From: t0.Add(-5 * time.Second)}, []int{1}},
	}
	for _, ds := range datasets {
		r, visible := staticServer(t, ds.gen, nil)
		want := idsOf(visible)
		require.Len(t, want, ds.gen.Count)
		for _, limit := range ds.limits {
			t.Run(fmt.Sprintf("%s/limit=%d", ds.name, limit), func(t *testing.T) {
				assert.Equal(t, want, walkAfter(t, r.URL(), nil, limit), "after_id walk, desc")

				oldest := want[len(want)-1]
				got := walkBefore(t, r.URL(), nil, oldest, limit)
				assert.Equal(t, want[:len(want)-1], got, "before_id walk from the oldest id, desc")

				asc := walkAfter(t, r.URL(), vals("order", "asc"), limit)
				slices.Reverse(asc)
				assert.Equal(t, want, asc, "after_id walk, asc")

				newest := want[0]
				back := walkBefore(t, r.URL(), vals("order", "asc"), newest, limit)
				slices.Reverse(back)
				assert.Equal(t, want[1:], back, "before_id walk from the newest id, asc")
			})
		}
	}
}

// TestBeforeIDPageIsAdjacentToTheCursor: before_id=X&limit=N returns the N
// activities just newer than X, not the N newest (compliance-api.md §3.4).
func TestBeforeIDPageIsAdjacentToTheCursor(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 4, Count: 50}, nil)
	want := idsOf(visible)
	env := page(t, r.URL(), vals("before_id", want[30], "limit", "5"))
	assert.Equal(t, want[25:30], ids(t, env))
	assert.True(t, *env.HasMore)
	env = page(t, r.URL(), vals("before_id", want[5], "limit", "5"))
	assert.Equal(t, want[0:5], ids(t, env))
	assert.False(t, *env.HasMore, "i-limit = 0 means no more")
	env = page(t, r.URL(), vals("after_id", want[44], "limit", "5"))
	assert.Equal(t, want[45:50], ids(t, env))
	assert.False(t, *env.HasMore)
	env = page(t, r.URL(), vals("after_id", want[49], "limit", "5"))
	assert.Empty(t, env.Data)
	assert.False(t, *env.HasMore)
}

// TestCursorErrors: both cursors, unknown ids and empty values are 400s with
// the documented wording.
func TestCursorErrors(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Count: 20}, nil)
	id := visible[3].ID
	e := decodeError(t, get(t, r.URL(), "after_id="+id+"&before_id="+id, testKey), 400, "invalid_request_error")
	assert.Contains(t, e.Error.Message, "after_id")
	for _, tc := range []struct{ param, value string }{
		{"after_id", "activity_invalid123"},
		{"before_id", "activity_invalid123"},
		{"after_id", ""},
		{"before_id", "cur1_%%%"},
	} {
		q := url.Values{tc.param: {tc.value}}
		e := decodeError(t, get(t, r.URL(), q.Encode(), testKey), 400, "invalid_request_error")
		assert.Equal(t, fmt.Sprintf("Invalid `%s`. No activity found for `%s` %q", tc.param, tc.param, tc.value), e.Error.Message)
	}
}

// TestCursorExcludedByFiltersContinuesFromItsPosition documents the choice
// for a cursor the current filters exclude: it is located in the unfiltered
// order, and the page holds the matching activities after it.
func TestCursorExcludedByFiltersContinuesFromItsPosition(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 8, Count: 2000}, nil)
	var cursorAt int
	for i, a := range visible {
		if i > 100 && a.Type != "claude_chat_viewed" {
			cursorAt = i
			break
		}
	}
	var want []string
	for _, a := range visible[cursorAt+1:] {
		if a.Type == "claude_chat_viewed" && len(want) < 10 {
			want = append(want, a.ID)
		}
	}
	env := page(t, r.URL(), vals("activity_types[]", "claude_chat_viewed", "after_id", visible[cursorAt].ID, "limit", "10"))
	assert.Equal(t, want, ids(t, env))

	// A cursor outside the time window works the same way.
	lt := visible[cursorAt+50].CreatedAt
	env = page(t, r.URL(), vals("created_at.lt", lt.Format(time.RFC3339Nano), "after_id", visible[cursorAt].ID, "limit", "3"))
	var wantTimed []string
	for _, a := range visible[cursorAt+1:] {
		if a.CreatedAt.Before(lt) && len(wantTimed) < 3 {
			wantTimed = append(wantTimed, a.ID)
		}
	}
	assert.Equal(t, wantTimed, ids(t, env))
}

// TestOpaqueCursorsWalkLikeIDs: with OpaqueCursors the envelope carries
// cur1_ tokens, and both tokens and plain ids are accepted.
func TestOpaqueCursorsWalkLikeIDs(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 9, Count: 300}, func(o *fakeapi.Options) { o.OpaqueCursors = true })
	env := page(t, r.URL(), vals("limit", "10"))
	require.True(t, strings.HasPrefix(*env.LastID, "cur1_"), *env.LastID)
	assert.Equal(t, idsOf(visible), walkAfter(t, r.URL(), nil, 37))
	env = page(t, r.URL(), vals("after_id", visible[9].ID, "limit", "1"))
	assert.Equal(t, []string{visible[10].ID}, ids(t, env))
}

// TestTimeFiltersBoundCreatedAt: each bound is inclusive or exclusive as named,
// fractional seconds and numeric offsets parse, and the four combine.
func TestTimeFiltersBoundCreatedAt(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 10, Count: 1000, From: t0.Add(-10 * time.Minute), Millis: true}, nil)
	pivot := visible[400].CreatedAt
	later := visible[200].CreatedAt
	filter := func(keep func(time.Time) bool) []string {
		var out []string
		for _, a := range visible {
			if keep(a.CreatedAt) {
				out = append(out, a.ID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		keep func(time.Time) bool
	}{
		{"gte", vals("created_at.gte", pivot.Format(time.RFC3339Nano)), func(c time.Time) bool { return !c.Before(pivot) }},
		{"gt", vals("created_at.gt", pivot.Format(time.RFC3339Nano)), func(c time.Time) bool { return c.After(pivot) }},
		{"lte", vals("created_at.lte", pivot.Format(time.RFC3339Nano)), func(c time.Time) bool { return !c.After(pivot) }},
		{"lt", vals("created_at.lt", pivot.Format(time.RFC3339Nano)), func(c time.Time) bool { return c.Before(pivot) }},
		{"offset form", vals("created_at.gte", pivot.In(time.FixedZone("x", 2*3600)).Format(time.RFC3339Nano)), func(c time.Time) bool { return !c.Before(pivot) }},
		{"gte and lt", vals("created_at.gte", pivot.Format(time.RFC3339Nano), "created_at.lt", later.Format(time.RFC3339Nano)),
			func(c time.Time) bool { return !c.Before(pivot) && c.Before(later) }},
		{"all four", vals("created_at.gte", pivot.Format(time.RFC3339Nano), "created_at.gt", pivot.Add(-time.Hour).Format(time.RFC3339),
			"created_at.lte", later.Format(time.RFC3339Nano), "created_at.lt", later.Add(time.Hour).Format(time.RFC3339)),
			func(c time.Time) bool { return !c.Before(pivot) && !c.After(later) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := filter(tc.keep)
			require.NotEmpty(t, want)
			q := cloneValues(tc.q)
			q.Set("limit", "5000")
			assert.Equal(t, want, ids(t, page(t, r.URL(), q)))
			assert.Equal(t, want, walkAfter(t, r.URL(), tc.q, 33))
		})
	}
}

// TestTimeFilterRejectsNonRFC3339WithTheDocumentedMessage.
func TestTimeFilterRejectsNonRFC3339WithTheDocumentedMessage(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 5}, nil)
	for _, param := range []string{"created_at.gte", "created_at.gt", "created_at.lte", "created_at.lt"} {
		for _, bad := range []string{"2024-01-01", "2024-01-01T00:00:00", "yesterday", "1700000000", "2024-01-01 00:00:00Z", ""} {
			t.Run(param+"="+bad, func(t *testing.T) {
				e := decodeError(t, get(t, r.URL(), url.Values{param: {bad}}.Encode(), testKey), 400, "invalid_request_error")
				assert.Equal(t, fmt.Sprintf("The `%s` parameter contains an invalid timestamp format. "+
					"Timestamps must be provided in RFC 3339 format e.g., \"2024-03-01T00:00:00Z\". Got \"%s\".", param, bad), e.Error.Message)
			})
		}
	}
}

// TestGteLtWindowsTileWithoutGapOrOverlap: consecutive [gte, lt) windows that
// share their boundary string cover every activity exactly once.
func TestGteLtWindowsTileWithoutGapOrOverlap(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 11, Count: 3000, From: t0.Add(-time.Hour), Millis: true}, nil)
	var got []string
	for w := t0.Add(-time.Hour); w.Before(t0); w = w.Add(7 * time.Minute) { // windows do not divide the hour evenly
		q := vals("created_at.gte", w.Format(time.RFC3339), "created_at.lt", w.Add(7*time.Minute).Format(time.RFC3339))
		got = append(walkAfter(t, r.URL(), q, 500), got...) // windows run oldest first, pages newest first
	}
	assert.Equal(t, idsOf(visible), got)
}

// TestFiltersAcceptRawAndEncodedBracketKeys: every repeatable filter works with
// "[]" and with "%5B%5D" keys, with several values, and gives the same answer.
func TestFiltersAcceptRawAndEncodedBracketKeys(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 12, Count: 3000}, nil)
	var user, apiKey, org, orgUUID string
	for _, a := range visible {
		switch {
		case a.ActorType == "user_actor" && user == "":
			user = a.ActorID
		case a.ActorType == "api_actor" && apiKey == "":
			apiKey = a.ActorID
		}
		if a.OrgID != "" && org == "" {
			org, orgUUID = a.OrgID, a.OrgUUID
		}
	}
	in := func(set ...string) func(string) bool { return func(s string) bool { return slices.Contains(set, s) } }
	types := []string{"claude_chat_viewed", "sso_login_initiated"}
	for _, tc := range []struct {
		name  string
		pairs [][2]string
		keep  func(fakeapi.Activity) bool
	}{
		{"activity_types", [][2]string{{"activity_types[]", types[0]}, {"activity_types[]", types[1]}},
			func(a fakeapi.Activity) bool { return in(types...)(a.Type) }},
		{"exclude_activity_types", [][2]string{{"exclude_activity_types[]", types[0]}, {"exclude_activity_types[]", types[1]}},
			func(a fakeapi.Activity) bool { return !in(types...)(a.Type) }},
		{"actor_ids", [][2]string{{"actor_ids[]", user}},
			func(a fakeapi.Activity) bool { return a.ActorID == user }},
		{"user_ids alias", [][2]string{{"user_ids[]", user}},
			func(a fakeapi.Activity) bool { return a.ActorID == user }},
		{"actor_ids and user_ids merged", [][2]string{{"actor_ids[]", user}, {"user_ids[]", apiKey}},
			func(a fakeapi.Activity) bool { return a.ActorID == user || a.ActorID == apiKey }},
		{"organization_ids by org id", [][2]string{{"organization_ids[]", org}},
			func(a fakeapi.Activity) bool { return a.OrgID == org }},
		{"organization_ids by uuid", [][2]string{{"organization_ids[]", orgUUID}},
			func(a fakeapi.Activity) bool { return a.OrgID == org }},
		{"filters combine", [][2]string{{"organization_ids[]", org}, {"activity_types[]", types[0]}},
			func(a fakeapi.Activity) bool { return a.OrgID == org && a.Type == types[0] }},
	} {
		var want []string
		for _, a := range visible {
			if tc.keep(a) {
				want = append(want, a.ID)
			}
		}
		require.NotEmpty(t, want, tc.name)
		require.Less(t, len(want), len(visible), tc.name)
		for _, spelling := range []string{"raw", "encoded"} {
			t.Run(tc.name+"/"+spelling, func(t *testing.T) {
				var parts []string
				for _, p := range tc.pairs {
					key := p[0]
					if spelling == "encoded" {
						key = strings.ReplaceAll(strings.ReplaceAll(key, "[", "%5B"), "]", "%5D")
					}
					parts = append(parts, key+"="+url.QueryEscape(p[1]))
				}
				raw := strings.Join(parts, "&") + "&limit=5000"
				a := get(t, r.URL(), raw, testKey)
				require.Equal(t, 200, a.status, "query %s: %s", raw, a.body)
				var env envelope
				require.NoError(t, json.Unmarshal(a.body, &env))
				assert.Equal(t, want, ids(t, env), "query %s", raw)
			})
		}
	}
	e := decodeError(t, get(t, r.URL(), "activity_types[]=a&exclude_activity_types%5B%5D=b", testKey), 400, "invalid_request_error")
	assert.Contains(t, e.Error.Message, "exclude_activity_types[]")
}

// TestStrictTypesRejectsUnknownActivityTypes; lenient mode matches nothing.
func TestStrictTypesRejectsUnknownActivityTypes(t *testing.T) {
	strict, _ := staticServer(t, fakeapi.GenOptions{Count: 200}, func(o *fakeapi.Options) { o.StrictTypes = true })
	lenient, _ := staticServer(t, fakeapi.GenOptions{Count: 200}, nil)
	for _, param := range []string{"activity_types[]", "exclude_activity_types[]"} {
		q := url.Values{param: {"claude_chat_viewed", "no_such_type"}}.Encode()
		e := decodeError(t, get(t, strict.URL(), q, testKey), 400, "invalid_request_error")
		assert.Contains(t, e.Error.Message, "no_such_type")
		assert.Equal(t, 200, get(t, lenient.URL(), q, testKey).status)
	}
	assert.Equal(t, 200, get(t, strict.URL(), "activity_types[]=claude_chat_viewed", testKey).status)
	env := page(t, lenient.URL(), vals("activity_types[]", "no_such_type"))
	assert.Empty(t, env.Data)
}

// TestEmptyPageHasNullIDs: the envelope of an empty page carries null ids and
// has_more false, spelled out in the raw JSON.
func TestEmptyPageHasNullIDs(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 50}, nil)
	a := get(t, r.URL(), "created_at.gte=2030-01-01T00:00:00Z", testKey)
	require.Equal(t, 200, a.status)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.JSONEq(t, `{"data":[],"has_more":false,"first_id":null,"last_id":null}`, string(a.body))
	assert.Contains(t, string(a.body), `"first_id":null`)

	empty := start(t, fakeapi.Options{})
	a = get(t, empty.URL(), "", testKey)
	assert.JSONEq(t, `{"data":[],"has_more":false,"first_id":null,"last_id":null}`, string(a.body))
}

// TestEnvelopeServesStoredBytesVerbatim.
func TestEnvelopeServesStoredBytesVerbatim(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 13, Count: 40}, nil)
	a := get(t, r.URL(), "limit=40", testKey)
	require.Equal(t, 200, a.status)
	var env envelope
	require.NoError(t, json.Unmarshal(a.body, &env))
	require.Len(t, env.Data, 40)
	for i, raw := range env.Data {
		assert.Equal(t, string(visible[i].JSON), string(raw))
	}
	assert.False(t, *env.HasMore)
}

// TestAddKeepsTheIndexSortedAndRejectsBadActivities.
func TestAddKeepsTheIndexSortedAndRejectsBadActivities(t *testing.T) {
	clock := fakeapi.NewManualClock(t0)
	s, err := fakeapi.New(fakeapi.Options{Clock: clock.Now, Dataset: fakeapi.Generate(fakeapi.GenOptions{Seed: 1, Count: 500, To: t0})})
	require.NoError(t, err)
	more := fakeapi.Generate(fakeapi.GenOptions{Seed: 2, Count: 400, To: t0}) // interleaves with the first
	require.NoError(t, s.Add(more[:10]...))                                   // inserted one by one
	require.NoError(t, s.Add(more[10:]...))                                   // merged
	all := s.All()
	require.Len(t, all, 900)
	for i := 1; i < len(all); i++ {
		prev, cur := all[i-1], all[i]
		require.True(t, prev.CreatedAt.After(cur.CreatedAt) || (prev.CreatedAt.Equal(cur.CreatedAt) && prev.ID > cur.ID), "order at %d", i)
	}
	for _, tc := range []struct {
		name string
		a    fakeapi.Activity
		msg  string
	}{
		{"duplicate id", more[0], "already stored"},
		{"empty id", fakeapi.Activity{CreatedAt: t0, JSON: []byte("{}")}, "empty ID"},
		{"zero created_at", fakeapi.Activity{ID: "activity_x", JSON: []byte("{}")}, "zero CreatedAt"},
		{"not an object", fakeapi.Activity{ID: "activity_x", CreatedAt: t0, JSON: []byte("[]")}, "not an object"},
	} {
		err := s.Add(tc.a)
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.msg)
	}
	assert.Equal(t, 900, s.Stats().Activities, "failed Adds store nothing")
}

// TestNewRejectsBadOptions names the offending option.
func TestNewRejectsBadOptions(t *testing.T) {
	ds := fakeapi.Generate(fakeapi.GenOptions{Count: 2})
	for _, tc := range []struct {
		name string
		opts fakeapi.Options
		msg  string
	}{
		{"negative lag", fakeapi.Options{Lag: -time.Second}, "Lag"},
		{"negative rate", fakeapi.Options{RateLimit: -1}, "RateLimit"},
		{"fault rate", fakeapi.Options{FaultRate: 1.5}, "FaultRate"},
		{"fault kind", fakeapi.Options{FaultKinds: []fakeapi.FaultKind{"boom"}}, "boom"},
		{"growth", fakeapi.Options{Growth: fakeapi.Growth{LateFraction: 2}}, "LateFraction"},
		{"empty key", fakeapi.Options{APIKeys: []string{""}}, "empty key"},
		{"duplicate dataset ids", fakeapi.Options{Dataset: []fakeapi.Activity{ds[0], ds[0]}}, "twice"},
	} {
		_, err := fakeapi.New(tc.opts)
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.msg, tc.name)
	}
}
