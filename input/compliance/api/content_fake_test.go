package api_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// fakeNow is where the fake's world ends; its clock reads a minute later.
var fakeNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fakeRig is the fake API over a world, and a client of it whose clock and
// sleeps move the fake's clock (no test waits for real).
type fakeRig struct {
	run   *fakeapi.Running
	clock *fakeapi.ManualClock
	rec   *recorder
	c     *api.Client
	slept []time.Duration
	mu    sync.Mutex
}

func newFakeRig(t *testing.T, wo fakeapi.WorldOptions, opts func(*fakeapi.Options), mods ...func(*api.Config)) *fakeRig {
	t.Helper()
	if wo.To.IsZero() {
		wo.To, wo.From = fakeNow, fakeNow.Add(-48*time.Hour)
	}
	w, err := fakeapi.NewWorld(wo)
	require.NoError(t, err)
	r := &fakeRig{clock: fakeapi.NewManualClock(wo.To.Add(time.Minute)), rec: &recorder{}}
	o := fakeapi.Options{World: w, Clock: r.clock.Now, APIKeys: []string{testKey},
		Dataset: fakeapi.Generate(fakeapi.GenOptions{Seed: wo.Seed, Count: 300, From: wo.To.Add(-24 * time.Hour), To: wo.To, World: w})}
	if opts != nil {
		opts(&o)
	}
	r.run, err = fakeapi.Start(o, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.run.Close()) })
	cfg := api.Config{
		BaseURL: r.run.URL(), APIKey: testKey, AnthropicVersion: "2023-06-01",
		Retry: api.DefaultRetryPolicy(), Budget: api.DefaultBudget(), Hooks: r.rec.hooks(),
		Now: r.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.mu.Lock()
			r.slept = append(r.slept, d)
			r.mu.Unlock()
			r.clock.Advance(d)
			return ctx.Err()
		},
		Rand: func() float64 { return 0.5 },
	}
	for _, m := range mods {
		m(&cfg)
	}
	r.c, err = api.New(cfg)
	require.NoError(t, err)
	return r
}

// allPages walks a page-style list through WalkPages.
func allPages[T any](t *testing.T, fetch func(ctx context.Context, page string) (*api.PageOf[T], error)) []T {
	t.Helper()
	var out []T
	require.NoError(t, api.WalkPages(t.Context(), fetch, func(p *api.PageOf[T]) error {
		out = append(out, p.Items...)
		return nil
	}))
	return out
}

// TestClientWalksEveryEndpointOfTheFakeOnce: the typed methods and walkers
// collect the fake's whole world (at small page sizes, so every list takes
// several pages), every file downloads with a verified MD5, and nothing the
// client sends is an undocumented parameter (the fake would answer 400).
func TestClientWalksEveryEndpointOfTheFakeOnce(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 31, Users: 70, Chats: 60, Projects: 25, Groups: 4, FileFraction: 0.4}, nil)
	c, ctx := r.c, t.Context()
	snap := r.run.Server.Snapshot()

	orgs := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.Organization], error) {
		return c.ListOrganizations(ctx, api.PageParams{Limit: 2, Page: page})
	})
	require.Len(t, orgs, len(snap.Orgs))
	for i, o := range orgs {
		assert.Equal(t, snap.Orgs[i], o.UUID)
		assert.False(t, o.CreatedAt.IsZero())
		users := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.User], error) {
			return c.ListUsers(ctx, o.UUID, api.PageParams{Limit: 7, Page: page})
		})
		var ids []string
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		assert.Equal(t, snap.Users[o.UUID], ids)
		roles := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.Role], error) {
			return c.ListRoles(ctx, o.UUID, api.PageParams{Limit: 2, Page: page})
		})
		require.NotEmpty(t, roles)
		one, err := c.GetRole(ctx, o.UUID, roles[0].ID)
		require.NoError(t, err)
		assert.Equal(t, roles[0].Raw, one.Raw)
		perms := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.Permission], error) {
			return c.ListRolePermissions(ctx, o.UUID, roles[0].ID, api.PageParams{Limit: 1, Page: page})
		})
		assert.NotEmpty(t, perms)
		settings, err := c.GetOrganizationSettings(ctx, o.UUID)
		require.NoError(t, err)
		assert.Equal(t, o.UUID, settings.OrganizationID)
		assert.NotEmpty(t, settings.Settings)
		assert.Equal(t, []string{fakeapi.KeyID(testKey)}, settings.APIKeyIDs)
	}
	groups := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.Group], error) {
		return c.ListGroups(ctx, api.GroupsParams{PageParams: api.PageParams{Limit: 3, Page: page}})
	})
	require.Len(t, groups, len(snap.Groups))
	for _, g := range groups {
		members := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.GroupMember], error) {
			return c.ListGroupMembers(ctx, g.ID, api.PageParams{Limit: 4, Page: page})
		})
		var ids []string
		for _, m := range members {
			ids = append(ids, m.UserID)
		}
		assert.ElementsMatch(t, snap.Groups[g.ID], ids)
	}

	var chats []api.Chat
	last, err := api.WalkCursor(ctx, "", func(ctx context.Context, after string) (*api.CursorPage[api.Chat], error) {
		return c.ListChats(ctx, api.ChatsParams{OrderBy: "updated_at", Limit: 9, AfterID: after})
	}, func(p *api.CursorPage[api.Chat]) error { chats = append(chats, p.Items...); return nil })
	require.NoError(t, err)
	require.Len(t, chats, len(snap.Chats))
	assert.NotEmpty(t, last)
	for i := 1; i < len(chats); i++ {
		assert.False(t, chats[i].UpdatedAt.Before(chats[i-1].UpdatedAt), "ascending by updated_at")
	}
	files, downloaded := map[string]api.FileRef{}, 0
	for _, ch := range chats {
		info := snap.Chats[slices.IndexFunc(snap.Chats, func(c fakeapi.ChatInfo) bool { return c.ID == ch.ID })]
		whole, err := c.ListChatMessages(ctx, ch.ID, api.MessagesParams{})
		require.NoError(t, err)
		assert.Equal(t, ch.ID, whole.Chat.ID)
		paged := 0
		_, err = api.WalkCursor(ctx, "", func(ctx context.Context, after string) (*api.CursorPage[api.ChatMessage], error) {
			m, err := c.ListChatMessages(ctx, ch.ID, api.MessagesParams{Limit: 3, AfterID: after})
			if err != nil {
				return nil, err
			}
			return &api.CursorPage[api.ChatMessage]{Items: m.Items, HasMore: m.HasMore, FirstID: m.FirstID, LastID: m.LastID, Meta: m.Meta}, nil
		}, func(p *api.CursorPage[api.ChatMessage]) error { paged += len(p.Items); return nil })
		require.NoError(t, err)
		assert.Len(t, whole.Items, len(info.MessageIDs))
		assert.Equal(t, len(whole.Items), paged)
		if ch.DeletedAt.IsZero() {
			for _, m := range whole.Items {
				for _, f := range m.Files {
					files[f.ID] = f
				}
			}
		}
	}
	require.NotEmpty(t, files)
	for id, ref := range files {
		meta, err := c.GetFile(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, ref.MD5, meta.MD5)
		d, err := c.DownloadFile(ctx, id, api.DownloadOptions{MaxBytes: 1 << 20})
		require.NoError(t, err)
		h := md5.New()
		n, err := io.Copy(h, d)
		require.NoError(t, err, "io.Copy sees io.EOF only when the MD5 matched")
		require.NoError(t, d.Close())
		assert.True(t, d.Verified())
		assert.Equal(t, meta.SizeBytes, n)
		assert.Equal(t, meta.MD5, hex.EncodeToString(h.Sum(nil)))
		assert.Equal(t, meta.Filename, d.Filename)
		assert.Equal(t, meta.MimeType, d.ContentType)
		assert.EqualValues(t, -1, d.Size, "chunked")
		downloaded++
	}

	projects := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.Project], error) {
		return c.ListProjects(ctx, api.ProjectsParams{PageParams: api.PageParams{Limit: 4, Page: page}})
	})
	require.Len(t, projects, len(snap.Projects))
	docs := 0
	for _, p := range projects {
		detail, err := c.GetProject(ctx, p.ID)
		require.NoError(t, err)
		atts := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.ProjectAttachment], error) {
			return c.ListProjectAttachments(ctx, p.ID, api.PageParams{Limit: 1, Page: page})
		})
		assert.EqualValues(t, len(atts), detail.AttachmentsCount)
		for _, a := range atts {
			if a.Type == "project_doc" {
				doc, err := c.GetProjectDocument(ctx, a.ID)
				require.NoError(t, err)
				meta, err := c.GetProjectDocumentMetadata(ctx, a.ID)
				require.NoError(t, err)
				sum := md5.Sum([]byte(doc.Content))
				assert.Equal(t, hex.EncodeToString(sum[:]), meta.MD5)
				docs++
			}
		}
		collabs := allPages(t, func(ctx context.Context, page string) (*api.PageOf[api.ProjectCollaborator], error) {
			return c.ListProjectCollaborators(ctx, p.ID, api.PageParams{Limit: 2, Page: page})
		})
		require.NotEmpty(t, collabs)
		assert.Equal(t, "owner", collabs[0].Role)
		assert.Equal(t, p.UserID, collabs[0].Ref)
	}
	assert.Positive(t, docs)
	for _, rec := range r.run.Server.Requests() {
		require.Equal(t, http.StatusOK, rec.Status, "%s %v", rec.Path, rec.Query)
	}
	t.Logf("%d requests, %d chats, %d files downloaded", len(r.run.Server.Requests()), len(chats), downloaded)
}

// downloadAll reads a download to its end.
func downloadAll(d *api.Download) ([]byte, error) {
	defer d.Close()
	return io.ReadAll(d)
}

// fileOf returns a file of a live chat of the fake.
func fileOf(t *testing.T, r *fakeRig, minSize int64) api.FileRef {
	t.Helper()
	for _, ch := range r.run.Server.Snapshot().Chats {
		if ch.Deleted {
			continue
		}
		for _, id := range ch.FileIDs {
			meta, err := r.c.GetFile(t.Context(), id)
			require.NoError(t, err)
			if meta.SizeBytes >= minSize {
				return api.FileRef{ID: id, SizeBytes: meta.SizeBytes, MD5: meta.MD5}
			}
		}
	}
	t.Fatal("no file in the fake's world")
	return api.FileRef{}
}

// TestDownloadDetectsACorruptedBody: a byte flipped under an unchanged
// Content-MD5 ends the read with a *ChecksumError, never io.EOF.
func TestDownloadDetectsACorruptedBody(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 30, FileFraction: 1}, nil)
	f := fileOf(t, r, 1000)
	r.run.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultCorruptContent})
	d, err := r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{})
	require.NoError(t, err)
	body, err := downloadAll(d)
	var ce *api.ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, api.ErrChecksum)
	assert.Equal(t, f.MD5, ce.Want)
	assert.Equal(t, "Content-MD5", ce.Source)
	assert.EqualValues(t, f.SizeBytes, ce.Bytes)
	assert.Len(t, body, int(f.SizeBytes))
	assert.False(t, d.Verified())

	d, err = r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{})
	require.NoError(t, err)
	_, err = downloadAll(d)
	require.NoError(t, err, "the next download is clean")
	assert.True(t, d.Verified())
}

// TestDownloadSizeCap: a file announced larger than the cap is refused
// before its body is read; a chunked one stops one byte past the cap; a
// file of exactly the cap passes.
func TestDownloadSizeCap(t *testing.T) {
	for _, withLength := range []bool{true, false} {
		r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 30, FileFraction: 1, MaxFileSize: 300 << 10}, func(o *fakeapi.Options) { o.ContentLength = withLength })
		f := fileOf(t, r, 100<<10)
		d, err := r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{MaxBytes: f.SizeBytes - 1})
		var tl *api.TooLargeError
		if withLength {
			require.ErrorAs(t, err, &tl, "refused from Content-Length")
			assert.Equal(t, f.SizeBytes, tl.Size)
		} else {
			require.NoError(t, err)
			buf := make([]byte, 4<<10)
			var read int64
			for {
				n, rerr := d.Read(buf)
				read += int64(n)
				if rerr != nil {
					err = rerr
					break
				}
			}
			require.ErrorAs(t, err, &tl, "stopped while streaming")
			assert.ErrorIs(t, err, api.ErrTooLarge)
			assert.LessOrEqual(t, read, f.SizeBytes-1, "nothing past the cap is returned")
			assert.Equal(t, f.SizeBytes, d.BytesRead(), "one byte past the cap was read, no more")
			require.NoError(t, d.Close())
		}
		assert.EqualValues(t, f.SizeBytes-1, tl.Max)
		d, err = r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{MaxBytes: f.SizeBytes})
		require.NoError(t, err)
		body, err := downloadAll(d)
		require.NoError(t, err)
		assert.Len(t, body, int(f.SizeBytes))
	}
}

// TestDownloadBrokenMidwayIsARetryableError: a body cut short is an *Error
// that the retry policy classes as transient, so the caller downloads again.
func TestDownloadBrokenMidwayIsARetryableError(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 30, FileFraction: 1, MaxFileSize: 300 << 10}, nil)
	f := fileOf(t, r, 100<<10)
	r.run.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultTruncatedBody, Path: fakeapi.FileContentPath})
	d, err := r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{})
	require.NoError(t, err)
	_, err = downloadAll(d)
	require.Error(t, err)
	assert.True(t, api.IsRetryable(err), "%v", err)
	assert.False(t, d.Verified())
}

// TestDownloadRetriesUntilTheHeaders: a 503 before the body is retried by
// the shared retry layer, reported under the files endpoint.
func TestDownloadRetriesUntilTheHeaders(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 30, FileFraction: 1}, nil)
	f := fileOf(t, r, 1)
	r.run.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultUnavailable, Path: fakeapi.FileContentPath})
	d, err := r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{})
	require.NoError(t, err)
	_, err = downloadAll(d)
	require.NoError(t, err)
	assert.Equal(t, 2, d.Attempts)
	require.Len(t, r.rec.retries, 1)
	assert.Equal(t, api.EndpointFiles, r.rec.retries[0].Endpoint)
}

// TestMissingOrForeignKeyIsARefusedKeyNotAMissingEndpoint: the newer 404
// "Not found" for a missing or non-Compliance key (and the settings
// endpoint's 401) are refused keys; a 404 for a resource is not.
func TestMissingOrForeignKeyIsARefusedKeyNotAMissingEndpoint(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 5}, func(o *fakeapi.Options) {
		o.AuthErrors = fakeapi.AuthErrorsNewest
		o.APIKeys = []string{"sk-ant-api01-the-right-one"}
	}, func(c *api.Config) { c.APIKey = "sk-ant-api03-a-claude-api-key" })
	org := r.run.Server.Snapshot().Orgs[0]
	calls := map[string]func() error{
		"activities": func() error { _, err := r.c.ListActivities(t.Context(), api.ListParams{}); return err },
		"chats":      func() error { _, err := r.c.ListChats(t.Context(), api.ChatsParams{}); return err },
		"settings":   func() error { _, err := r.c.GetOrganizationSettings(t.Context(), org); return err },
	}
	for name, call := range calls {
		err := call()
		require.Error(t, err, name)
		assert.True(t, api.IsAuth(err), "%s: %v", name, err)
		assert.False(t, api.IsNotFound(err), name)
		assert.False(t, api.IsRetryable(err), name)
		if name != "settings" {
			assert.Contains(t, err.Error(), "404 not_found_error: Not found (the API's answer to a missing key or one that is not a Compliance Access Key)")
		}
		assert.NotContains(t, err.Error(), "sk-ant-api03")
	}
	assert.Len(t, r.run.Server.Requests(), 3, "refused keys are never retried")

	ok := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 5}, func(o *fakeapi.Options) { o.AuthErrors = fakeapi.AuthErrorsNewest })
	_, err := ok.c.ListChatMessages(t.Context(), "claude_chat_nope", api.MessagesParams{})
	require.Error(t, err)
	assert.True(t, api.IsNotFound(err))
	assert.False(t, api.IsAuth(err))
	_, err = ok.c.GetFile(t.Context(), "claude_file_nope")
	assert.True(t, api.IsNotFound(err))
}

// TestScopesAreShownFromBothForms: a 403 names the scopes the key needs,
// whether the fake speaks the older "Needed: [...]" (the feed) or the newer
// "Needed one of: [...]" (every other endpoint).
func TestScopesAreShownFromBothForms(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 5}, func(o *fakeapi.Options) {
		o.APIKeys = nil
		o.Scopes = map[string][]string{testKey: {fakeapi.ScopeOrgData}}
	})
	_, err := r.c.ListChats(t.Context(), api.ChatsParams{})
	var e *api.Error
	require.ErrorAs(t, err, &e)
	assert.True(t, api.IsAuth(err))
	assert.Equal(t, []string{"read:compliance_user_data", "read:org_audit"}, e.NeededScopes())
	assert.Equal(t, []string{"read:compliance_org_data"}, e.GotScopes())
	assert.Contains(t, err.Error(), "(the key needs one of the scopes read:compliance_user_data, read:org_audit)")

	_, err = r.c.ListActivities(t.Context(), api.ListParams{})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, []string{"read:compliance_activities"}, e.NeededScopes())
	assert.Contains(t, err.Error(), "Needed: ['read:compliance_activities'] (the key lacks the scope read:compliance_activities)")

	_, err = r.c.ListOrganizations(t.Context(), api.PageParams{})
	require.NoError(t, err, "the key's own scope works")
}

// TestTheBudgetIsSharedAcrossEndpoints: the headroom gate reads the latest
// rate-limit headers whichever endpoint sent them, so feed, chat and
// download calls together never run into a 429, and a chats answer that
// leaves the remaining budget at the headroom makes the next activities call
// wait for the reset.
func TestTheBudgetIsSharedAcrossEndpoints(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 30, FileFraction: 1}, func(o *fakeapi.Options) { o.RateLimit = 20 },
		func(c *api.Config) { c.Budget = api.Budget{Headroom: 0.25, MaxWait: time.Minute} })
	f := fileOf(t, r, 1) // one request
	for range 14 {       // 15 of 20 used: 5 left, the headroom
		_, err := r.c.ListChats(t.Context(), api.ChatsParams{Limit: 1})
		require.NoError(t, err)
	}
	require.Empty(t, r.rec.waits)
	_, err := r.c.ListActivities(t.Context(), api.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Len(t, r.rec.waits, 1, "the feed waited on the chats' reading")
	assert.Equal(t, "headroom", r.rec.waits[0].Reason)
	assert.Equal(t, 5, r.rec.waits[0].Remaining)

	for i := range 60 { // a mix of endpoints over several windows
		var err error
		switch i % 3 {
		case 0:
			_, err = r.c.ListActivities(t.Context(), api.ListParams{Limit: 1})
		case 1:
			_, err = r.c.ListOrganizations(t.Context(), api.PageParams{})
		default:
			var d *api.Download
			if d, err = r.c.DownloadFile(t.Context(), f.ID, api.DownloadOptions{}); err == nil {
				_, err = downloadAll(d)
			}
		}
		require.NoError(t, err)
	}
	for _, rec := range r.run.Server.Requests() {
		assert.NotEqual(t, http.StatusTooManyRequests, rec.Status, "%s at %v", rec.Path, rec.Time)
	}
	assert.Empty(t, r.rec.retries)
}

// TestChatsParamsRulesAreCheckedBeforeAnyRequest.
func TestChatsParamsRulesAreCheckedBeforeAnyRequest(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 2, Chats: 5}, nil)
	eleven := strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")
	for _, tc := range []struct {
		name string
		p    api.ChatsParams
		want string
	}{
		{"unknown order_by", api.ChatsParams{OrderBy: "name"}, "order_by must be created_at or updated_at"},
		{"limit too large", api.ChatsParams{Limit: 1001}, "limit must be between 1 and 1000"},
		{"both cursors", api.ChatsParams{UserIDs: []string{"u"}, AfterID: "a", BeforeID: "b"}, "mutually exclusive"},
		{"eleven users", api.ChatsParams{UserIDs: eleven}, "at most 10 user_ids"},
		{"before_id org-wide", api.ChatsParams{BeforeID: "b"}, "before_id needs user_ids"},
		{"project_ids org-wide", api.ChatsParams{ProjectIDs: []string{"p"}}, "project_ids needs user_ids"},
		{"updated_at filter by created_at", api.ChatsParams{UpdatedAt: api.TimeRange{GTE: "2026-01-01T00:00:00Z"}}, "need order_by=updated_at"},
		{"created_at filter by updated_at", api.ChatsParams{OrderBy: "updated_at", CreatedAt: api.TimeRange{GTE: "2026-01-01T00:00:00Z"}}, "need order_by=created_at"},
		{"order_by updated_at with users", api.ChatsParams{OrderBy: "updated_at", UserIDs: []string{"u"}}, "not allowed with user_ids"},
		{"updated_at with users", api.ChatsParams{UserIDs: []string{"u"}, UpdatedAt: api.TimeRange{LT: "2026-01-01T00:00:00Z"}}, "not allowed with user_ids"},
		{"an empty user id", api.ChatsParams{UserIDs: []string{""}}, "user_ids value 0 is empty"},
	} {
		_, err := r.c.ListChats(t.Context(), tc.p)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err := r.c.ListChatMessages(t.Context(), "", api.MessagesParams{})
	assert.ErrorContains(t, err, "an id is empty")
	_, err = r.c.ListUsers(t.Context(), "org", api.PageParams{Limit: 1001})
	assert.ErrorContains(t, err, "limit must be between 1 and 1000")
	_, err = r.c.ListProjects(t.Context(), api.ProjectsParams{PageParams: api.PageParams{Limit: 101}})
	assert.ErrorContains(t, err, "limit must be between 1 and 100")
	assert.Empty(t, r.run.Server.Requests())
}

// TestIncrementalChatWalkResumesFromItsCursor: WalkCursor returns the last
// cursor; resuming from it after the fake's world grew returns the new and
// edited chats only.
func TestIncrementalChatWalkResumesFromItsCursor(t *testing.T) {
	r := newFakeRig(t, fakeapi.WorldOptions{Seed: 4, Chats: 40, Growth: fakeapi.WorldGrowth{ChatsPerHour: 30, EditsPerHour: 30}}, nil)
	walk := func(after string) ([]api.Chat, string) {
		var out []api.Chat
		last, err := api.WalkCursor(t.Context(), after, func(ctx context.Context, after string) (*api.CursorPage[api.Chat], error) {
			return r.c.ListChats(ctx, api.ChatsParams{OrderBy: "updated_at", Limit: 5, AfterID: after})
		}, func(p *api.CursorPage[api.Chat]) error { out = append(out, p.Items...); return nil })
		require.NoError(t, err)
		return out, last
	}
	first, cursor := walk("")
	again, same := walk(cursor)
	assert.Empty(t, again, "nothing changed")
	assert.Equal(t, cursor, same, "an empty page keeps the cursor")
	r.clock.Advance(time.Hour)
	second, _ := walk(cursor)
	require.NotEmpty(t, second)
	for _, c := range second {
		assert.True(t, c.UpdatedAt.After(first[len(first)-1].UpdatedAt) || c.UpdatedAt.Equal(first[len(first)-1].UpdatedAt))
	}
}

// TestWalkersStopOnBrokenPagination.
func TestWalkersStopOnBrokenPagination(t *testing.T) {
	page := func(hasMore bool, next string) *api.PageOf[int] {
		return &api.PageOf[int]{Items: []int{1}, HasMore: hasMore, NextPage: next}
	}
	for _, tc := range []struct {
		name  string
		pages []*api.PageOf[int]
		want  string
	}{
		{"has_more without next_page", []*api.PageOf[int]{page(true, "")}, "no next_page"},
		{"a loop", []*api.PageOf[int]{page(true, "a"), page(true, "b"), page(true, "a")}, "repeats a next_page"},
	} {
		i := 0
		err := api.WalkPages(t.Context(), func(context.Context, string) (*api.PageOf[int], error) {
			i++
			return tc.pages[i-1], nil
		}, func(*api.PageOf[int]) error { return nil })
		assert.ErrorIs(t, err, api.ErrWalk, tc.name)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
	stop := errors.New("stop")
	err := api.WalkPages(t.Context(), func(context.Context, string) (*api.PageOf[int], error) { return page(true, "x"), nil },
		func(*api.PageOf[int]) error { return stop })
	assert.ErrorIs(t, err, stop)

	cursorPage := func(hasMore bool, last string) *api.CursorPage[int] {
		return &api.CursorPage[int]{HasMore: hasMore, LastID: last}
	}
	for _, tc := range []struct {
		name string
		p    *api.CursorPage[int]
		want string
	}{
		{"has_more without last_id", cursorPage(true, ""), "no last_id"},
		{"the cursor sent back", cursorPage(true, "c0"), "returns the cursor it was sent"},
	} {
		last, err := api.WalkCursor(t.Context(), "c0", func(context.Context, string) (*api.CursorPage[int], error) { return tc.p, nil },
			func(*api.CursorPage[int]) error { return nil })
		assert.ErrorIs(t, err, api.ErrWalk, tc.name)
		assert.ErrorContains(t, err, tc.want, tc.name)
		assert.Equal(t, "c0", last)
	}
}
