package fakeapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Scopes (compliance-api.md §2, compliance-content-api.md §2).
const (
	// ScopeActivities reads the Activity Feed.
	ScopeActivities = "read:compliance_activities"
	// ScopeOrgData reads organizations, roles, permissions, groups and settings.
	ScopeOrgData = "read:compliance_org_data"
	// ScopeUserData reads users, group members, chats, files and projects.
	ScopeUserData = "read:compliance_user_data"
	// ScopeOrgAudit is accepted by every read endpoint.
	ScopeOrgAudit = "read:org_audit"
	// ScopeDelete deletes content; the fake serves no DELETE.
	ScopeDelete = "delete:compliance_user_data"
)

// ReadScopes are the scopes of a key listed in Options.APIKeys.
func ReadScopes() []string { return []string{ScopeActivities, ScopeOrgData, ScopeUserData} }

// Paths of the endpoints, below the base URL; {…} marks a path parameter.
const (
	OrganizationsPath           = "/v1/compliance/organizations"
	UsersPath                   = "/v1/compliance/organizations/{org_uuid}/users"
	RolesPath                   = "/v1/compliance/organizations/{org_uuid}/roles"
	RolePath                    = "/v1/compliance/organizations/{org_uuid}/roles/{role_id}"
	RolePermissionsPath         = "/v1/compliance/organizations/{org_uuid}/roles/{role_id}/permissions"
	SettingsPath                = "/v1/compliance/organizations/{organization_id}/settings"
	GroupsPath                  = "/v1/compliance/groups"
	GroupPath                   = "/v1/compliance/groups/{group_id}"
	GroupMembersPath            = "/v1/compliance/groups/{group_id}/members"
	ChatsPath                   = "/v1/compliance/apps/chats"
	ChatMessagesPath            = "/v1/compliance/apps/chats/{claude_chat_id}/messages"
	FilePath                    = "/v1/compliance/apps/chats/files/{claude_file_id}"
	FileContentPath             = "/v1/compliance/apps/chats/files/{claude_file_id}/content"
	GeneratedFilePath           = "/v1/compliance/apps/chats/generated-files/{claude_gen_file_id}"
	GeneratedFileContentPath    = "/v1/compliance/apps/chats/generated-files/{claude_gen_file_id}/content"
	ArtifactPath                = "/v1/compliance/apps/artifacts/{artifact_version_id}"
	ArtifactContentPath         = "/v1/compliance/apps/artifacts/{artifact_version_id}/content"
	ProjectsPath                = "/v1/compliance/apps/projects"
	ProjectPath                 = "/v1/compliance/apps/projects/{project_id}"
	ProjectAttachmentsPath      = "/v1/compliance/apps/projects/{project_id}/attachments"
	ProjectCollaboratorsPath    = "/v1/compliance/apps/projects/{project_id}/collaborators"
	ProjectDocumentPath         = "/v1/compliance/apps/projects/documents/{document_id}"
	ProjectDocumentMetadataPath = "/v1/compliance/apps/projects/documents/{document_id}/metadata"
)

// Expand fills the {…} parameters of path with args, in order, escaping each.
func Expand(path string, args ...string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 || len(args) == 0 {
			b.WriteString(path)
			return b.String()
		}
		j := strings.IndexByte(path[i:], '}')
		b.WriteString(path[:i])
		b.WriteString(url.PathEscape(args[0]))
		path, args = path[i+j+1:], args[1:]
	}
}

// routeID names one endpoint.
type routeID uint8

const (
	rNone routeID = iota
	rActivities
	rOrganizations
	rUsers
	rRoles
	rRole
	rRolePermissions
	rSettings
	rGroups
	rGroup
	rGroupMembers
	rChats
	rChatMessages
	rFile
	rFileContent
	rGenFile
	rGenFileContent
	rArtifact
	rArtifactContent
	rProjects
	rProject
	rProjectAttachments
	rProjectCollaborators
	rProjectDocument
	rProjectDocumentMetadata
	rChatDelete
)

// Query parameter sets.
var (
	pageParams    = []string{paramLimit, "page"}
	timeParams    = []string{paramGTE, paramGT, paramLTE, paramLT, "updated_at.gte", "updated_at.gt", "updated_at.lte", "updated_at.lt"}
	activityNames = []string{paramLimit, paramAfterID, paramBeforeID, paramOrder, paramGTE, paramGT, paramLTE, paramLT,
		paramTypes, paramExcludeTypes, paramActorIDs, paramUserIDs, paramOrgIDs}
)

// routeSpec describes one endpoint: its path, scope, query parameters, and
// whether the API also offers DELETE on it (the fake serves no DELETE).
type routeSpec struct {
	id        routeID
	pattern   string
	segs      []string
	scope     string
	params    map[string]bool
	deletable bool // the API also serves DELETE here
	onlyDel   bool // the API serves only DELETE here
	content   bool // a binary download
}

func spec(id routeID, pattern, scope string, deletable bool, params ...[]string) *routeSpec {
	rs := &routeSpec{id: id, pattern: pattern, scope: scope, params: map[string]bool{}, deletable: deletable}
	rs.segs = strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	for _, set := range params {
		for _, p := range set {
			rs.params[p] = true
		}
	}
	return rs
}

// routes in match order: literal segments before parameters.
var routes = func() []*routeSpec {
	rs := []*routeSpec{
		spec(rActivities, ActivitiesPath, ScopeActivities, false, activityNames),
		spec(rOrganizations, OrganizationsPath, ScopeOrgData, false, pageParams),
		spec(rUsers, UsersPath, ScopeUserData, false, pageParams),
		spec(rRoles, RolesPath, ScopeOrgData, false, pageParams),
		spec(rRole, RolePath, ScopeOrgData, false),
		spec(rRolePermissions, RolePermissionsPath, ScopeOrgData, false, pageParams),
		spec(rSettings, SettingsPath, ScopeOrgData, false),
		spec(rGroups, GroupsPath, ScopeOrgData, false, pageParams, []string{"name_prefix"}),
		spec(rGroup, GroupPath, ScopeOrgData, false),
		spec(rGroupMembers, GroupMembersPath, ScopeUserData, false, pageParams),
		spec(rChats, ChatsPath, ScopeUserData, false, timeParams,
			[]string{paramLimit, paramAfterID, paramBeforeID, "order_by", paramOrgIDs, "project_ids[]", paramUserIDs}),
		spec(rFile, FilePath, ScopeUserData, true),
		spec(rFileContent, FileContentPath, ScopeUserData, false),
		spec(rGenFile, GeneratedFilePath, ScopeUserData, false),
		spec(rGenFileContent, GeneratedFileContentPath, ScopeUserData, false),
		spec(rChatMessages, ChatMessagesPath, ScopeUserData, false, timeParams,
			[]string{paramLimit, paramAfterID, paramBeforeID, paramOrder, "tool_result_max_chars", "tool_use_input_max_chars"}),
		spec(rArtifact, ArtifactPath, ScopeUserData, false),
		spec(rArtifactContent, ArtifactContentPath, ScopeUserData, false),
		spec(rProjects, ProjectsPath, ScopeUserData, false, pageParams, timeParams, []string{paramOrgIDs, paramUserIDs}),
		spec(rProjectDocument, ProjectDocumentPath, ScopeUserData, true),
		spec(rProjectDocumentMetadata, ProjectDocumentMetadataPath, ScopeUserData, false),
		spec(rProject, ProjectPath, ScopeUserData, true),
		spec(rProjectAttachments, ProjectAttachmentsPath, ScopeUserData, false, pageParams),
		spec(rProjectCollaborators, ProjectCollaboratorsPath, ScopeUserData, false, pageParams),
	}
	chatDelete := spec(rChatDelete, ChatsPath+"/{claude_chat_id}", ScopeDelete, true)
	chatDelete.onlyDel = true
	rs = append(rs, chatDelete)
	for _, r := range rs {
		r.content = r.id == rFileContent || r.id == rGenFileContent
	}
	return rs
}()

var activitiesRoute = routes[0]

// match finds the route of path and its parameters (unescaped).
func match(path string) (*routeSpec, []string) {
	if path == ActivitiesPath {
		return activitiesRoute, nil
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, rs := range routes {
		if args, ok := matchSegs(rs.segs, segs); ok {
			return rs, args
		}
	}
	return nil, nil
}

func matchSegs(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			args = append(args, v)
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return args, true
}

// ---------------------------------------------------------------------------
// Authentication and scope errors.

// AuthErrors selects the revision of the docs that the answers to a missing,
// unknown or under-scoped key follow (compliance-content-api.md §14, items 5
// and 6).
type AuthErrors int

const (
	// AuthErrorsDefault answers the Activity Feed in the older forms and
	// every other endpoint in the newest ones.
	AuthErrorsDefault AuthErrors = iota
	// AuthErrorsNewest answers every endpoint, the Activity Feed included,
	// in the newest forms: a missing key, or one that is not a Compliance
	// Access Key or Admin key (by its sk-ant-api01- / sk-ant-admin01-
	// prefix), gets 404 not_found_error "Not found" (the settings endpoint
	// answers 401 "API key is invalid." instead); an unknown key with one of
	// those prefixes gets 401 "API key is invalid."; a key without the scope
	// gets 403 "Missing required scopes. Got: [...] Needed one of: [<scope>,
	// 'read:org_audit']".
	AuthErrorsNewest
	// AuthErrorsLegacy answers every endpoint in the older forms: 401
	// authentication_error "The API key provided is invalid or has been
	// revoked." for any missing or unknown key, and 403 "Missing required
	// scopes. Got: [...] Needed: [<scope>]".
	AuthErrorsLegacy
)

func (a AuthErrors) valid() bool { return a >= AuthErrorsDefault && a <= AuthErrorsLegacy }

func (a AuthErrors) newest(id routeID) bool {
	switch a {
	case AuthErrorsNewest:
		return true
	case AuthErrorsLegacy:
		return false
	}
	return id != rActivities
}

// keyError is the answer to a key the server does not accept.
func (a AuthErrors) keyError(id routeID, key string) *apiError {
	if !a.newest(id) {
		return &apiError{http.StatusUnauthorized, "authentication_error", "The API key provided is invalid or has been revoked."}
	}
	compliance := strings.HasPrefix(key, "sk-ant-api01-") || strings.HasPrefix(key, "sk-ant-admin01-")
	if compliance || id == rSettings {
		return &apiError{http.StatusUnauthorized, "authentication_error", "API key is invalid."}
	}
	return notFound("Not found")
}

// scopeError is the 403 of a key whose scopes lack the route's.
func (a AuthErrors) scopeError(id routeID, scope string, got []string) *apiError {
	if !a.newest(id) {
		return &apiError{http.StatusForbidden, "permission_error", fmt.Sprintf(
			"Missing required scopes. Got: %s Needed: ['%s']", pyList(got), scope)}
	}
	return &apiError{http.StatusForbidden, "permission_error", fmt.Sprintf(
		"Missing required scopes. Got: %s Needed one of: ['%s', '%s']", pyList(got), scope, ScopeOrgAudit)}
}

// allowed reports whether scopes grant the route's scope.
func allowed(scopes []string, scope string) bool {
	return slices.Contains(scopes, scope) || slices.Contains(scopes, ScopeOrgAudit)
}

func notFound(msg string) *apiError { return &apiError{http.StatusNotFound, "not_found_error", msg} }

// ---------------------------------------------------------------------------
// Strict query parameter names.

// unknownParam returns the 400 for the first (sorted) parameter name that rs
// does not document, with a suggestion when one is obvious.
func unknownParam(rs *routeSpec, v url.Values) *apiError {
	var bad []string
	for name := range v {
		if !rs.params[name] {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	name := bad[0]
	msg := fmt.Sprintf("Unknown query parameter: '%s'.", sanitize(name))
	if s := suggest(rs, name); s != "" {
		msg = fmt.Sprintf("Unknown query parameter: '%s'. Did you mean '%s'?", sanitize(name), s)
	}
	return invalidRequest("%s", msg)
}

// suggest proposes the documented name a wrong one probably meant:
// user_ids → user_ids[], created_at[gte] → created_at.gte, limit[] → limit.
func suggest(rs *routeSpec, name string) string {
	if rs.params[name+"[]"] {
		return name + "[]"
	}
	if base, ok := strings.CutSuffix(name, "[]"); ok && rs.params[base] {
		return base
	}
	if i := strings.IndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
		if dotted := name[:i] + "." + name[i+1:len(name)-1]; rs.params[dotted] {
			return dotted
		}
	}
	return ""
}
