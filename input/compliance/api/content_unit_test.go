package api_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// content answers body with the given headers.
func content(body string, headers ...string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("request-id", "req_dl")
		_, _ = io.WriteString(w, body)
	}
}

func hexMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestDownloadChecksTheMetadataMD5WhenTheHeaderIsAbsent: without
// Content-MD5 the metadata's md5 is checked; with neither the body is
// delivered unverified.
func TestDownloadChecksTheMetadataMD5WhenTheHeaderIsAbsent(t *testing.T) {
	const body = "hello, world\n"
	for _, tc := range []struct {
		name     string
		expected string
		wantErr  bool
		verified bool
	}{
		{"metadata matches", hexMD5(body), false, true},
		{"metadata differs", hexMD5("other"), true, false},
		{"nothing to check", "", false, false},
	} {
		s := newScript(t, content(body, "Content-Type", "text/plain"))
		c := newClient(t, s.srv.URL, newClock())
		d, err := c.DownloadFile(t.Context(), "claude_file_1", api.DownloadOptions{ExpectedMD5: tc.expected})
		require.NoError(t, err, tc.name)
		got, err := io.ReadAll(d)
		require.NoError(t, d.Close())
		if tc.wantErr {
			var ce *api.ChecksumError
			require.ErrorAs(t, err, &ce, tc.name)
			assert.Equal(t, "metadata md5", ce.Source)
			assert.Equal(t, "req_dl", ce.RequestID)
		} else {
			require.NoError(t, err, tc.name)
			assert.Equal(t, body, string(got))
		}
		assert.Equal(t, tc.verified, d.Verified(), tc.name)
		assert.Equal(t, hexMD5(body), d.MD5(), tc.name)
	}
}

// TestDownloadHeaders: the filename comes from the RFC 5987 form (the
// older filename= too), Content-MD5 must be the base64 of 16 bytes, and a
// bad expected md5 is refused before any request.
func TestDownloadHeaders(t *testing.T) {
	s := newScript(t,
		content("x", "Content-Disposition", `attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%E2%80%93%20%22q%22.docx`, "Content-Type", "application/pdf"),
		content("x", "Content-Disposition", `attachment; filename="plain name.txt"`),
		content("x", "Content-MD5", "not base64!"),
	)
	c := newClient(t, s.srv.URL, newClock())
	d, err := c.DownloadFile(t.Context(), "f", api.DownloadOptions{})
	require.NoError(t, err)
	assert.Equal(t, `résumé – "q".docx`, d.Filename)
	assert.Equal(t, "application/pdf", d.ContentType)
	require.NoError(t, d.Close())
	d, err = c.DownloadFile(t.Context(), "f", api.DownloadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "plain name.txt", d.Filename)
	require.NoError(t, d.Close())
	_, err = c.DownloadFile(t.Context(), "f", api.DownloadOptions{})
	assert.ErrorIs(t, err, api.ErrMalformed)
	assert.ErrorContains(t, err, "Content-MD5")

	_, err = c.DownloadFile(t.Context(), "f", api.DownloadOptions{ExpectedMD5: "abc"})
	assert.ErrorContains(t, err, "not 32 hex digits")
	_, err = c.DownloadFile(t.Context(), "f", api.DownloadOptions{MaxBytes: -1})
	assert.ErrorContains(t, err, "must not be negative")
	assert.Len(t, s.Requests(), 3)
}

// TestOnlyDocumentedBracketedNamesAreSent: list filters go out as one
// bracketed key per value, time bounds and cursors verbatim, nothing else.
func TestOnlyDocumentedBracketedNamesAreSent(t *testing.T) {
	emptyCursor := `{"data":[],"has_more":false,"first_id":null,"last_id":null}`
	emptyPaged := `{"data":[],"has_more":false,"next_page":null}`
	s := newScript(t, page(emptyCursor), page(emptyPaged), page(emptyPaged), page(`{"id":"c","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","chat_messages":[]}`))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListChats(t.Context(), api.ChatsParams{UserIDs: []string{"user_1", "user_2"}, ProjectIDs: []string{"p"},
		OrganizationIDs: []string{"org_1"}, CreatedAt: api.TimeRange{GTE: "2026-01-01T00:00:00+02:00"}, Limit: 1000, BeforeID: "eyJr"})
	require.NoError(t, err)
	_, err = c.ListProjects(t.Context(), api.ProjectsParams{UserIDs: []string{"u"}, UpdatedAt: api.TimeRange{LT: "2026-02-01T00:00:00Z"},
		PageParams: api.PageParams{Limit: 100, Page: "page_x"}})
	require.NoError(t, err)
	_, err = c.ListGroups(t.Context(), api.GroupsParams{NamePrefix: "Eng"})
	require.NoError(t, err)
	minusOne := -1
	_, err = c.ListChatMessages(t.Context(), "c", api.MessagesParams{Order: "desc", ToolResultMaxChars: &minusOne})
	require.NoError(t, err)

	reqs := s.Requests()
	assert.Equal(t, "/v1/compliance/apps/chats", reqs[0].URL.Path)
	assert.Equal(t, "before_id=eyJr&created_at.gte=2026-01-01T00%3A00%3A00%2B02%3A00&limit=1000&organization_ids%5B%5D=org_1&project_ids%5B%5D=p&user_ids%5B%5D=user_1&user_ids%5B%5D=user_2", reqs[0].URL.RawQuery)
	assert.Equal(t, "limit=100&page=page_x&updated_at.lt=2026-02-01T00%3A00%3A00Z&user_ids%5B%5D=u", reqs[1].URL.RawQuery)
	assert.Equal(t, "name_prefix=Eng", reqs[2].URL.RawQuery)
	assert.Equal(t, "/v1/compliance/apps/chats/c/messages", reqs[3].URL.Path)
	assert.Equal(t, "order=desc&tool_result_max_chars=-1", reqs[3].URL.RawQuery)
	for _, r := range reqs {
		assert.Equal(t, testKey, r.Header.Get("x-api-key"))
		assert.Equal(t, "2023-06-01", r.Header.Get("anthropic-version"))
	}
}

// TestPathIDsAreEscaped: an id is one path segment whatever it holds.
func TestPathIDsAreEscaped(t *testing.T) {
	s := newScript(t, page(`{"data":[],"has_more":false}`))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListUsers(t.Context(), "a/b?c", api.PageParams{})
	require.NoError(t, err)
	assert.Equal(t, "/v1/compliance/organizations/a%2Fb%3Fc/users", s.Requests()[0].URL.EscapedPath())
}

// TestMalformedAnswersNameTheField: a body that breaks the envelope or a
// record is a *MalformedError naming the field, never retried.
func TestMalformedAnswersNameTheField(t *testing.T) {
	for _, tc := range []struct {
		body, field, reason string
	}{
		{`[]`, "", "not a JSON object"},
		{`{"has_more":false}`, "data", "missing"},
		{`{"data":{},"has_more":false}`, "data", "must be an array"},
		{`{"data":[],"has_more":"no"}`, "has_more", "must be a boolean"},
		{`{"data":[],"has_more":false,"last_id":5}`, "last_id", "must be a string"},
		{`{"data":[{"id":"c","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"},{"id":"d","updated_at":"2026-01-01T00:00:00Z"}],"has_more":false}`, "data[1].created_at", "missing"},
		{`{"data":[{"id":"c","created_at":"yesterday","updated_at":"2026-01-01T00:00:00Z"}],"has_more":false}`, "data[0].created_at", "not a timestamp"},
		{`{"data":[{"id":"c","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","user":{"email_address":"x"}}],"has_more":false}`, "data[0].user.id", "missing"},
		{`{"data":[5],"has_more":false}`, "data[0]", "must be a JSON object"},
	} {
		s := newScript(t, page(tc.body))
		c := newClient(t, s.srv.URL, newClock())
		_, err := c.ListChats(t.Context(), api.ChatsParams{})
		var m *api.MalformedError
		require.ErrorAs(t, err, &m, tc.body)
		assert.Equal(t, tc.field, m.Field, tc.body)
		assert.Contains(t, m.Reason, tc.reason, tc.body)
		assert.Equal(t, "req_ok", m.RequestID)
		assert.NotContains(t, err.Error(), "byte -1")
		assert.Len(t, s.Requests(), 1, "never retried")
	}
	s := newScript(t, page(`{"id":"c","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","chat_messages":[{"id":"m","created_at":"2026-01-01T00:00:00Z","files":[{"filename":"x"}]}]}`))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListChatMessages(t.Context(), "c", api.MessagesParams{})
	var m *api.MalformedError
	require.ErrorAs(t, err, &m)
	assert.Equal(t, "chat_messages[0].files[0].id", m.Field)
}

// TestNewEndpointsShareTheRetryLayer: a 503 then a page, with the retry
// reported under the endpoint's name and the backoff of the policy.
func TestNewEndpointsShareTheRetryLayer(t *testing.T) {
	s := newScript(t, fail(503, "overloaded_error", "busy"), page(`{"data":[{"uuid":"u","name":"n","created_at":"2026-01-01T00:00:00.123456+00:00"}],"has_more":false}`))
	clock := newClock()
	rec := &recorder{}
	c := newClient(t, s.srv.URL, clock, func(c *api.Config) { c.Hooks = rec.hooks() })
	pg, err := c.ListOrganizations(t.Context(), api.PageParams{})
	require.NoError(t, err)
	assert.Equal(t, 2, pg.Attempts)
	assert.Equal(t, "req_ok", pg.RequestID)
	require.Len(t, pg.Items, 1)
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 123456000, time.UTC), pg.Items[0].CreatedAt.UTC())
	assert.JSONEq(t, `{"uuid":"u","name":"n","created_at":"2026-01-01T00:00:00.123456+00:00"}`, string(pg.Items[0].Raw))
	require.Len(t, rec.retries, 1)
	assert.Equal(t, api.EndpointOrganizations, rec.retries[0].Endpoint)
	assert.Equal(t, secs(1), clock.Sleeps())
	for _, r := range rec.responses {
		assert.Equal(t, api.EndpointOrganizations, r.Endpoint)
	}
	for _, r := range rec.requests {
		assert.Equal(t, "[redacted]", r.Headers["x-api-key"])
	}
}

func TestParseTimestampReadsEveryFormTheAPIMixes(t *testing.T) {
	want := time.Date(2026, 4, 10, 8, 9, 10, 0, time.UTC)
	for _, s := range []string{"2026-04-10T08:09:10Z", "2026-04-10T08:09:10+00:00", "2026-04-10T08:09:10.000000", "2026-04-10T08:09:10.000000Z", "2026-04-10T10:09:10+02:00"} {
		got, err := api.ParseTimestamp(s)
		require.NoError(t, err, s)
		assert.True(t, want.Equal(got), "%s: %v", s, got)
	}
	for _, s := range []string{"", "2026-04-10", "yesterday", "2026-04-10 08:09:10"} {
		_, err := api.ParseTimestamp(s)
		assert.Error(t, err, s)
	}
}

func TestSafeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                 "report.pdf",
		`C:\Users\zoë\Desktop\n.txt`: "n.txt",
		"../../etc/passwd":           "passwd",
		"multi\nline name.md":        "multi_line name.md",
		"ctrl\u0001char.bin":         "ctrl_char.bin",
		"":                           "file",
		"..":                         "file",
		"résumé – 履歴書.docx":          "résumé – 履歴書.docx",
		strings.Repeat("é", 200):     strings.Repeat("é", 127),
	} {
		assert.Equal(t, want, api.SafeFilename(in), "%q", in)
	}
}

func TestNeededScopesReadBothForms(t *testing.T) {
	for _, tc := range []struct {
		msg       string
		need, got []string
	}{
		{"Missing required scopes. Got: ['read:compliance_user_data'] Needed: ['read:compliance_activities']",
			[]string{"read:compliance_activities"}, []string{"read:compliance_user_data"}},
		{"Missing required scopes. Got: [] Needed one of: ['read:compliance_user_data', 'read:org_audit']",
			[]string{"read:compliance_user_data", "read:org_audit"}, []string{}},
		{`Missing required scopes. Got: ["a"] Needed: ["b", "c"]`, []string{"b", "c"}, []string{"a"}},
		{"Forbidden.", nil, nil},
	} {
		e := &api.Error{Status: 403, Type: "permission_error", Message: tc.msg}
		assert.Equal(t, tc.need, e.NeededScopes(), tc.msg)
		assert.Equal(t, tc.got, e.GotScopes(), tc.msg)
	}
	assert.Nil(t, (&api.Error{Status: 400, Message: "Needed: ['x']"}).NeededScopes())
	assert.True(t, api.IsAuth(&api.Error{Status: 404, Type: "not_found_error", Message: "Not found"}))
	assert.False(t, api.IsAuth(&api.Error{Status: 404, Type: "not_found_error", Message: "Chat conversation not found: 'c'"}))
	assert.True(t, api.IsNotFound(errors.Join(errors.New("ctx"), &api.Error{Status: 404, Message: "Group not found."})))
}
