package fakeapi_test

import (
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// endpointScope is one read endpoint of the world and the scope it needs.
type endpointScope struct {
	path, scope string
}

// readEndpoints lists a concrete path of every read endpoint of r's world.
func readEndpoints(t *testing.T, r *worldRig) []endpointScope {
	t.Helper()
	snap := r.Server.Snapshot()
	org := snap.Orgs[0]
	roles, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.RolesPath, org), 0, nil)
	var chat fakeapi.ChatInfo
	for _, c := range snap.Chats {
		if len(c.FileIDs) > 0 && len(c.GeneratedFileIDs) > 0 && !c.Deleted {
			chat = c
		}
	}
	require.NotEmpty(t, chat.ID, "a chat with files and generated files")
	return []endpointScope{
		{fakeapi.ActivitiesPath, fakeapi.ScopeActivities},
		{fakeapi.OrganizationsPath, fakeapi.ScopeOrgData},
		{fakeapi.Expand(fakeapi.UsersPath, org), fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.RolesPath, org), fakeapi.ScopeOrgData},
		{fakeapi.Expand(fakeapi.RolePath, org, field(roles[0], "id")), fakeapi.ScopeOrgData},
		{fakeapi.Expand(fakeapi.RolePermissionsPath, org, field(roles[0], "id")), fakeapi.ScopeOrgData},
		{fakeapi.Expand(fakeapi.SettingsPath, org), fakeapi.ScopeOrgData},
		{fakeapi.GroupsPath, fakeapi.ScopeOrgData},
		{fakeapi.Expand(fakeapi.GroupPath, snap.GroupIDs()[0]), fakeapi.ScopeOrgData},
		{fakeapi.Expand(fakeapi.GroupMembersPath, snap.GroupIDs()[0]), fakeapi.ScopeUserData},
		{fakeapi.ChatsPath, fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.ChatMessagesPath, chat.ID), fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.FilePath, chat.FileIDs[0]), fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.FileContentPath, chat.FileIDs[0]), fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.GeneratedFilePath, chat.GeneratedFileIDs[0]), fakeapi.ScopeUserData},
		{fakeapi.ProjectsPath, fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.ProjectPath, snap.Projects[0]), fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.ProjectAttachmentsPath, snap.Projects[0]), fakeapi.ScopeUserData},
		{fakeapi.Expand(fakeapi.ProjectCollaboratorsPath, snap.Projects[0]), fakeapi.ScopeUserData},
	}
}

// TestScopesPerEndpoint: every read endpoint answers a key holding its scope
// or read:org_audit, and a 403 naming the scope to any other key; the
// Activity Feed keeps the older "Needed: [...]" text by default.
func TestScopesPerEndpoint(t *testing.T) {
	keys := map[string][]string{
		"activities": {fakeapi.ScopeActivities},
		"org":        {fakeapi.ScopeOrgData},
		"user":       {fakeapi.ScopeUserData},
		"audit":      {fakeapi.ScopeOrgAudit},
		"delete":     {fakeapi.ScopeDelete},
	}
	r := worldServer(t, smallWorld, func(o *fakeapi.Options) {
		o.Scopes = maps.Clone(keys)
		o.Scopes[testKey] = fakeapi.ReadScopes()
	})
	for _, ep := range readEndpoints(t, r) {
		for name, scopes := range keys {
			a := getPath(t, r.URL(), ep.path, "", name)
			if scopes[0] == ep.scope || scopes[0] == fakeapi.ScopeOrgAudit {
				assert.Equal(t, http.StatusOK, a.status, "%s with %s: %s", ep.path, name, a.body)
				continue
			}
			e := decodeError(t, a, http.StatusForbidden, "permission_error")
			want := "Missing required scopes. Got: ['" + scopes[0] + "'] Needed one of: ['" + ep.scope + "', 'read:org_audit']"
			if ep.path == fakeapi.ActivitiesPath {
				want = "Missing required scopes. Got: ['" + scopes[0] + "'] Needed: ['" + ep.scope + "']"
			}
			assert.Equal(t, want, e.Error.Message, "%s with %s", ep.path, name)
		}
	}
}

// TestMissingOrForeignKeysPerRevision: with the default forms, a missing or
// non-Compliance key gets 404 "Not found" everywhere but the Activity Feed
// (older 401) and the settings endpoint (401); AuthErrorsNewest extends the
// 404 to the feed and AuthErrorsLegacy answers 401 everywhere.
func TestMissingOrForeignKeysPerRevision(t *testing.T) {
	const (
		legacy401 = "401 The API key provided is invalid or has been revoked."
		newest401 = "401 API key is invalid."
		notFound  = "404 Not found"
	)
	for _, tc := range []struct {
		mode fakeapi.AuthErrors
		// what a missing key, a Claude API key and an unknown Compliance
		// key get on the feed, on chats and on settings
		feed, chats, settings [3]string
	}{
		{fakeapi.AuthErrorsDefault,
			[3]string{legacy401, legacy401, legacy401},
			[3]string{notFound, notFound, newest401},
			[3]string{newest401, newest401, newest401}},
		{fakeapi.AuthErrorsNewest,
			[3]string{notFound, notFound, newest401},
			[3]string{notFound, notFound, newest401},
			[3]string{newest401, newest401, newest401}},
		{fakeapi.AuthErrorsLegacy,
			[3]string{legacy401, legacy401, legacy401},
			[3]string{legacy401, legacy401, legacy401},
			[3]string{legacy401, legacy401, legacy401}},
	} {
		r := worldServer(t, smallWorld, func(o *fakeapi.Options) { o.AuthErrors = tc.mode; o.RateLimit = 100 })
		settings := fakeapi.Expand(fakeapi.SettingsPath, r.Server.Snapshot().Orgs[0])
		for i, key := range []string{"", "sk-ant-api03-claude-api-key", "sk-ant-api01-unknown-compliance-key"} {
			for _, ep := range []struct {
				path string
				want string
			}{{fakeapi.ActivitiesPath, tc.feed[i]}, {fakeapi.ChatsPath, tc.chats[i]}, {settings, tc.settings[i]}} {
				a := getPath(t, r.URL(), ep.path, "", key)
				status, msg, _ := strings.Cut(ep.want, " ")
				typ := "authentication_error"
				if status == "404" {
					typ = "not_found_error"
				}
				e := decodeError(t, a, atoi(status), typ)
				assert.Equal(t, msg, e.Error.Message, "mode %d key %q on %s", tc.mode, key, ep.path)
				assert.Empty(t, a.header.Get("anthropic-ratelimit-requests-remaining"), "refused before the rate limiter")
			}
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = 10*n + int(c-'0')
	}
	return n
}

// TestUnknownQueryParametersAreRejected: on every endpoint, the Activity
// Feed included, a parameter the endpoint does not document is a 400 that
// suggests the documented name; bracketed array names, raw or
// percent-encoded, are accepted; AllowUnknownParams restores the older
// leniency.
func TestUnknownQueryParametersAreRejected(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	for _, tc := range []struct {
		path, query, msg string
	}{
		{fakeapi.ActivitiesPath, "user_ids=user_1", "Unknown query parameter: 'user_ids'. Did you mean 'user_ids[]'?"},
		{fakeapi.ActivitiesPath, "activity_types=claude_chat_viewed", "Unknown query parameter: 'activity_types'. Did you mean 'activity_types[]'?"},
		{fakeapi.ActivitiesPath, "created_at[gte]=2026-01-01T00:00:00Z", "Unknown query parameter: 'created_at[gte]'. Did you mean 'created_at.gte'?"},
		{fakeapi.ActivitiesPath, "limit[]=5", "Unknown query parameter: 'limit[]'. Did you mean 'limit'?"},
		{fakeapi.ActivitiesPath, "page=x", "Unknown query parameter: 'page'."},
		{fakeapi.ChatsPath, "user_ids=user_1", "Unknown query parameter: 'user_ids'. Did you mean 'user_ids[]'?"},
		{fakeapi.ChatsPath, "order=asc", "Unknown query parameter: 'order'."},
		{fakeapi.OrganizationsPath, "after_id=x", "Unknown query parameter: 'after_id'."},
		{fakeapi.GroupsPath, "foo=1&bar=2", "Unknown query parameter: 'bar'."},
	} {
		e := decodeError(t, getPath(t, r.URL(), tc.path, tc.query, testKey), http.StatusBadRequest, "invalid_request_error")
		assert.Equal(t, tc.msg, e.Error.Message, "%s?%s", tc.path, tc.query)
	}
	for _, q := range []string{
		"user_ids[]=user_1&actor_ids[]=user_2&organization_ids[]=org_1",
		"user_ids%5B%5D=user_1&exclude_activity_types%5B%5D=compliance_api_accessed",
		"created_at.gte=2026-01-01T00:00:00Z&created_at.lt=2026-12-01T00:00:00Z&limit=5&order=asc",
	} {
		ok(t, getPath(t, r.URL(), fakeapi.ActivitiesPath, q, testKey))
	}
	ok(t, getPath(t, r.URL(), fakeapi.ChatsPath, "organization_ids%5B%5D=x&order_by=updated_at&updated_at.gte=2026-01-01T00:00:00Z", testKey))

	lenient := worldServer(t, smallWorld, func(o *fakeapi.Options) { o.AllowUnknownParams = true })
	ok(t, getPath(t, lenient.URL(), fakeapi.ActivitiesPath, "user_ids=ignored&unknown=1", testKey))
	ok(t, getPath(t, lenient.URL(), fakeapi.ChatsPath, "order=asc", testKey))
}

// TestNoDeleteIsServed: the API's DELETE endpoints answer 405 (a collector
// must never delete), as does any other method.
func TestNoDeleteIsServed(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	snap := r.Server.Snapshot()
	for _, tc := range []struct{ method, path string }{
		{http.MethodDelete, fakeapi.ChatsPath + "/" + snap.Chats[0].ID},
		{http.MethodGet, fakeapi.ChatsPath + "/" + snap.Chats[0].ID},
		{http.MethodDelete, fakeapi.Expand(fakeapi.ProjectPath, snap.Projects[0])},
		{http.MethodPost, fakeapi.ChatsPath},
	} {
		req, err := http.NewRequest(tc.method, r.URL()+tc.path, nil)
		require.NoError(t, err)
		req.Header.Set("x-api-key", testKey)
		decodeError(t, do(t, req), http.StatusMethodNotAllowed, "invalid_request_error")
	}
}

// TestOneRateBudgetForEveryEndpoint: requests to different endpoints draw on
// the same window, and the 429 names the shared limit.
func TestOneRateBudgetForEveryEndpoint(t *testing.T) {
	r := worldServer(t, smallWorld, func(o *fakeapi.Options) { o.RateLimit = 4 })
	chat := r.Server.Snapshot().Chats[0].ID
	paths := []string{fakeapi.ActivitiesPath, fakeapi.ChatsPath, fakeapi.OrganizationsPath, fakeapi.Expand(fakeapi.ChatMessagesPath, chat)}
	for i, p := range paths {
		a := getPath(t, r.URL(), p, "", testKey)
		require.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, itoa(3-i), a.header.Get("anthropic-ratelimit-requests-remaining"), p)
	}
	a := getPath(t, r.URL(), fakeapi.GroupsPath, "", testKey)
	decodeError(t, a, http.StatusTooManyRequests, "rate_limit_error")
	assert.NotEmpty(t, a.header.Get("retry-after"))
}
