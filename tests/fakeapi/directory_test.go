package fakeapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// pageList is one page-style list of the world, with its documented default
// and maximum limit and the key its records are identified by.
type pageList struct {
	name, path, idKey string
	def, max          int
}

// pageLists names every page-style list of r's world.
func pageLists(t *testing.T, r *worldRig) []pageList {
	snap := r.Server.Snapshot()
	org, group := snap.Orgs[0], snap.GroupIDs()[0]
	roles, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.RolesPath, org), 0, nil)
	project := snap.Projects[0]
	for _, p := range snap.Projects { // one with several collaborators
		cs, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.ProjectCollaboratorsPath, p), 0, nil)
		if len(cs) > 2 {
			project = p
		}
	}
	return []pageList{
		{"organizations", fakeapi.OrganizationsPath, "uuid", 1000, 1000},
		{"users", fakeapi.Expand(fakeapi.UsersPath, org), "id", 500, 1000},
		{"roles", fakeapi.Expand(fakeapi.RolesPath, org), "id", 500, 1000},
		{"permissions", fakeapi.Expand(fakeapi.RolePermissionsPath, org, field(roles[0], "id")), "action", 500, 1000},
		{"groups", fakeapi.GroupsPath, "id", 500, 1000},
		{"members", fakeapi.Expand(fakeapi.GroupMembersPath, group), "user_id", 500, 1000},
		{"projects", fakeapi.ProjectsPath, "id", 20, 100},
		{"attachments", fakeapi.Expand(fakeapi.ProjectAttachmentsPath, project), "id", 20, 100},
		{"collaborators", fakeapi.Expand(fakeapi.ProjectCollaboratorsPath, project), "granted_at", 20, 100},
	}
}

// TestPageStyleListsAreExhaustiveAtEveryLimit: following next_page returns
// the same records in the same order at every limit, none twice, and the
// number of requests is what the limit implies.
func TestPageStyleListsAreExhaustiveAtEveryLimit(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 5, Users: 260, Chats: 20, Projects: 45, Groups: 5}, nil)
	for _, l := range pageLists(t, r) {
		t.Run(l.name, func(t *testing.T) {
			all, n := walkPages(t, r.URL(), l.path, 0, nil)
			require.NotEmpty(t, all)
			assert.Equal(t, 1+(len(all)-1)/l.def, n, "requests at the default limit %d", l.def)
			for _, limit := range []int{1, 2, 7, l.max} {
				got, n := walkPages(t, r.URL(), l.path, limit, nil)
				assert.Equal(t, all, got, "limit %d", limit)
				assert.Equal(t, max(1, (len(all)+limit-1)/limit), n, "requests at limit %d", limit)
			}
		})
	}
}

// TestPageStyleListsFollowTheDocumentedOrder: organizations by created_at,
// users by join date (the directory's truth), projects by created_at,
// attachments by created_at, collaborators by granted_at.
func TestPageStyleListsFollowTheDocumentedOrder(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 9, Users: 120, Chats: 10, Projects: 30}, nil)
	snap := r.Server.Snapshot()

	orgs, _ := walkPages(t, r.URL(), fakeapi.OrganizationsPath, 0, nil)
	assert.Equal(t, snap.Orgs, idsOfRecs(orgs, "uuid"))
	assertSortedBy(t, orgs, "created_at")
	for _, o := range orgs {
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`, field(o, "created_at"), "organizations carry microseconds and +00:00")
	}
	for _, org := range snap.Orgs {
		users, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.UsersPath, org), 7, nil)
		assert.Equal(t, snap.Users[org], idsOfRecs(users, "id"), "users of %s in join order", org)
	}
	projects, _ := walkPages(t, r.URL(), fakeapi.ProjectsPath, 0, nil)
	assertSortedBy(t, projects, "created_at")
	assert.ElementsMatch(t, snap.Projects, idsOfRecs(projects, "id"))
	for _, p := range snap.Projects[:5] {
		atts, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.ProjectAttachmentsPath, p), 0, nil)
		assertSortedBy(t, atts, "created_at")
		collabs, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.ProjectCollaboratorsPath, p), 0, nil)
		assertSortedBy(t, collabs, "granted_at")
		require.NotEmpty(t, collabs)
		assert.Equal(t, "owner", collabs[0]["role"], "the creator's assignment comes first")
	}
	roles, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.RolesPath, snap.Orgs[0]), 0, nil)
	for _, role := range roles {
		if ts := field(role, "created_at"); ts != "" {
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$`, ts, "roles carry naive timestamps")
		}
	}
}

func assertSortedBy(t *testing.T, recs []map[string]any, key string) {
	t.Helper()
	assert.True(t, sort.SliceIsSorted(recs, func(i, j int) bool { return field(recs[i], key) < field(recs[j], key) }),
		"sorted by %s: %v", key, idsOfRecs(recs, key))
}

// TestOrganizationsOmitNextPageOnTheLastPage: the reference types next_page
// of /organizations as optional, so the fake leaves it out.
func TestOrganizationsOmitNextPageOnTheLastPage(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	m := ok(t, getPath(t, r.URL(), fakeapi.OrganizationsPath, "", testKey))
	assert.NotContains(t, m, "next_page")
	assert.Equal(t, false, m["has_more"])
	m = ok(t, getPath(t, r.URL(), fakeapi.OrganizationsPath, "limit=1", testKey))
	assert.NotEmpty(t, m["next_page"])
	m = ok(t, getPath(t, r.URL(), fakeapi.GroupsPath, "", testKey))
	assert.Contains(t, m, "next_page", "other lists send next_page: null")
	assert.Nil(t, m["next_page"])
}

// TestLimitBoundsPerEndpoint: limit below 1, above the endpoint's maximum or
// not an integer is a 400 in the newest wording.
func TestLimitBoundsPerEndpoint(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	chat := r.Server.Snapshot().Chats[0].ID
	for _, tc := range []struct {
		path string
		max  int
	}{
		{fakeapi.OrganizationsPath, 1000}, {fakeapi.GroupsPath, 1000}, {fakeapi.ProjectsPath, 100},
		{fakeapi.ChatsPath, 1000}, {fakeapi.Expand(fakeapi.ChatMessagesPath, chat), 1000},
	} {
		for _, bad := range []struct{ limit, msg string }{
			{"0", "limit: Input should be greater than or equal to 1"},
			{itoa(tc.max + 1), "limit: Input should be less than or equal to " + itoa(tc.max)},
			{"ten", "limit: Input should be a valid integer, unable to parse string as an integer"},
		} {
			e := decodeError(t, getPath(t, r.URL(), tc.path, "limit="+bad.limit, testKey), http.StatusBadRequest, "invalid_request_error")
			assert.Equal(t, bad.msg, e.Error.Message, "%s limit=%s", tc.path, bad.limit)
		}
		ok(t, getPath(t, r.URL(), tc.path, "limit="+itoa(tc.max), testKey))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestPageTokensAreBoundToTheirList: a malformed token, or one from another
// list, is a 400.
func TestPageTokensAreBoundToTheirList(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	m := ok(t, getPath(t, r.URL(), fakeapi.GroupsPath, "limit=1", testKey))
	token := m["next_page"].(string)
	ok(t, getPath(t, r.URL(), fakeapi.GroupsPath, "limit=1&page="+url.QueryEscape(token), testKey))
	for _, tc := range []struct{ path, page string }{
		{fakeapi.GroupsPath, "garbage"},
		{fakeapi.GroupsPath, "page_!!!"},
		{fakeapi.ProjectsPath, token},
	} {
		e := decodeError(t, getPath(t, r.URL(), tc.path, "page="+url.QueryEscape(tc.page), testKey), http.StatusBadRequest, "invalid_request_error")
		assert.Equal(t, "Invalid pagination cursor for 'page'", e.Error.Message)
	}
}

// TestSingleResourcesAndTheir404s: each GET-by-id endpoint answers the
// record, and an unknown id the documented 404 text.
func TestSingleResourcesAndTheir404s(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	snap := r.Server.Snapshot()
	org := snap.Orgs[0]
	roles, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.RolesPath, org), 0, nil)
	role := field(roles[0], "id")
	group := snap.GroupIDs()[0]

	assert.Equal(t, role, ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.RolePath, org, role), "", testKey))["id"])
	assert.Equal(t, group, ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.GroupPath, group), "", testKey))["id"])
	p := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ProjectPath, snap.Projects[0]), "", testKey))
	for _, k := range []string{"description", "instructions", "attachments_count", "chats_count", "is_private", "user"} {
		assert.Contains(t, p, k, "project detail")
	}
	settings := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.SettingsPath, org), "", testKey))
	assert.Equal(t, "effective_organization_settings", settings["type"])
	assert.Equal(t, org, settings["organization_id"])
	require.NotEmpty(t, settings["settings"])
	keys := settings["api_keys"].([]any)
	require.Len(t, keys, 1)
	assert.Equal(t, fakeapi.KeyID(testKey), keys[0].(map[string]any)["id"], "api_keys lists the server's keys, by id only")
	assert.NotContains(t, string(getPath(t, r.URL(), fakeapi.Expand(fakeapi.SettingsPath, org), "", testKey).body), testKey)

	const unknownOrg = "00000000-0000-0000-0000-000000000000"
	for _, tc := range []struct{ path, msg string }{
		{fakeapi.Expand(fakeapi.UsersPath, unknownOrg), `The "` + unknownOrg + `" organization does not exist or the requester is not authorized to access it.`},
		{fakeapi.Expand(fakeapi.RolesPath, unknownOrg), `The "` + unknownOrg + `" organization does not exist or the requester is not authorized to access it.`},
		{fakeapi.Expand(fakeapi.RolePath, org, "rbac_role_nope"), "Role not found."},
		{fakeapi.Expand(fakeapi.RolePermissionsPath, org, "rbac_role_nope"), "Role not found."},
		{fakeapi.Expand(fakeapi.SettingsPath, "not-a-uuid"), "organization `not-a-uuid` not found in this organization's hierarchy"},
		{fakeapi.Expand(fakeapi.GroupPath, "rbac_group_nope"), "Group not found."},
		{fakeapi.Expand(fakeapi.GroupMembersPath, "rbac_group_nope"), "Group not found."},
		{fakeapi.Expand(fakeapi.ChatMessagesPath, "claude_chat_nope"), "Chat conversation not found: 'claude_chat_nope'"},
		{fakeapi.Expand(fakeapi.FilePath, "claude_file_01000000000000000000000A"), "File not found: 00000000-0000-0000-0000-00000000000a"},
		{fakeapi.Expand(fakeapi.FileContentPath, "nope"), "File not found: nope"},
		{fakeapi.Expand(fakeapi.GeneratedFilePath, "claude_gen_file_nope"), "Generated file not found: 'claude_gen_file_nope'"},
		{fakeapi.Expand(fakeapi.ArtifactPath, "claude_artifact_version_nope"), "Artifact version not found: 'claude_artifact_version_nope'"},
		{fakeapi.Expand(fakeapi.ProjectPath, "claude_proj_nope"), "No project is found with the provided id."},
		{fakeapi.Expand(fakeapi.ProjectAttachmentsPath, "claude_proj_nope"), "No project is found with the provided id."},
		{fakeapi.Expand(fakeapi.ProjectDocumentPath, "claude_proj_doc_nope"), "No project document found with the provided id."},
	} {
		e := decodeError(t, getPath(t, r.URL(), tc.path, "", testKey), http.StatusNotFound, "not_found_error")
		assert.Equal(t, tc.msg, e.Error.Message, tc.path)
	}
}

// TestGroupsFilterByNamePrefix.
func TestGroupsFilterByNamePrefix(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	all, _ := walkPages(t, r.URL(), fakeapi.GroupsPath, 0, nil)
	got, _ := walkPages(t, r.URL(), fakeapi.GroupsPath, 0, url.Values{"name_prefix": {"Eng"}})
	require.NotEmpty(t, got)
	assert.Less(t, len(got), len(all))
	for _, g := range got {
		assert.True(t, strings.HasPrefix(field(g, "name"), "Eng"))
	}
}

// TestProjectsFilterByTimeOrgAndCreator: created_at.*, updated_at.*,
// organization_ids[] (uuid or org_ id) and user_ids[] narrow the list.
func TestProjectsFilterByTimeOrgAndCreator(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 3, Projects: 40}, nil)
	all, _ := walkPages(t, r.URL(), fakeapi.ProjectsPath, 100, nil)
	mid := field(all[len(all)/2], "created_at")
	later, _ := walkPages(t, r.URL(), fakeapi.ProjectsPath, 100, url.Values{"created_at.gte": {mid}})
	assert.Equal(t, all[len(all)/2:], later)
	org := field(all[0], "organization_uuid")
	var want []map[string]any
	for _, p := range all {
		if field(p, "organization_uuid") == org {
			want = append(want, p)
		}
	}
	byOrg, _ := walkPages(t, r.URL(), fakeapi.ProjectsPath, 0, url.Values{"organization_ids[]": {org}})
	assert.Equal(t, want, byOrg)
	byOrgID, _ := walkPages(t, r.URL(), fakeapi.ProjectsPath, 0, url.Values{"organization_ids[]": {field(all[0], "organization_id")}})
	assert.Equal(t, want, byOrgID)
	user := all[0]["user"].(map[string]any)["id"].(string)
	byUser, _ := walkPages(t, r.URL(), fakeapi.ProjectsPath, 0, url.Values{"user_ids[]": {user}})
	require.NotEmpty(t, byUser)
	for _, p := range byUser {
		assert.Equal(t, user, p["user"].(map[string]any)["id"])
	}
	e := decodeError(t, getPath(t, r.URL(), fakeapi.ProjectsPath, "updated_at.gte=2026-01-01T00:00:00", testKey), http.StatusBadRequest, "invalid_request_error")
	assert.Equal(t, "updated_at.gte: Input should have timezone info", e.Error.Message)
}

// TestDirectoryChangesOnTheClock: users join and leave (a removed user
// vanishes from users and from every group at once), group members come and
// go, and each change is in the Activity Feed.
func TestDirectoryChangesOnTheClock(t *testing.T) {
	wo := smallWorld
	wo.Growth = fakeapi.WorldGrowth{UserChangesPerHour: 120, GroupChangesPerHour: 120}
	r := worldServer(t, wo, nil)
	before := r.Server.Snapshot()
	r.clock.Advance(time.Hour)
	after := r.Server.Snapshot()

	added, removed := diffIDs(flatten(before.Users), flatten(after.Users))
	require.NotEmpty(t, added, "users joined within the hour")
	require.NotEmpty(t, removed, "users left within the hour")
	for _, org := range after.Orgs {
		users, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.UsersPath, org), 0, nil)
		assert.Equal(t, after.Users[org], idsOfRecs(users, "id"))
	}
	for _, g := range after.GroupIDs() {
		members, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.GroupMembersPath, g), 0, nil)
		assert.ElementsMatch(t, after.Groups[g], idsOfRecs(members, "user_id"))
		for _, u := range removed {
			assert.NotContains(t, idsOfRecs(members, "user_id"), u, "a removed user leaves every group")
		}
	}
	gAdded, gRemoved := diffIDs(flattenGroups(before.Groups), flattenGroups(after.Groups))
	assert.NotEmpty(t, gAdded)
	assert.NotEmpty(t, gRemoved)

	feed := map[string]int{}
	for _, a := range r.Server.Visible(r.clock.Now()) {
		if a.CreatedAt.After(t0.Add(time.Minute)) {
			feed[a.Type]++
		}
	}
	// A user can join and leave within the hour, so only the net change is
	// exact.
	assert.GreaterOrEqual(t, feed["scim_user_created"], len(added), "one activity per joined user")
	assert.GreaterOrEqual(t, feed["org_user_deleted"], len(removed), "one activity per removed user")
	assert.Equal(t, len(flatten(after.Users))-len(flatten(before.Users)), feed["scim_user_created"]-feed["org_user_deleted"])
	assert.Positive(t, feed["group_member_added"])
	assert.Positive(t, feed["group_member_removed"])
}

func flatten(m map[string][]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v...)
	}
	return out
}

func flattenGroups(m map[string][]string) []string {
	var out []string
	for g, v := range m {
		for _, u := range v {
			out = append(out, g+"/"+u)
		}
	}
	return out
}

// diffIDs returns what after has that before lacks, and the reverse.
func diffIDs(before, after []string) (added, removed []string) {
	for _, id := range after {
		if !slices.Contains(before, id) {
			added = append(added, id)
		}
	}
	for _, id := range before {
		if !slices.Contains(after, id) {
			removed = append(removed, id)
		}
	}
	return added, removed
}
