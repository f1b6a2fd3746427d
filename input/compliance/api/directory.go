package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The directory endpoints (compliance-content-api.md §2–§3): organizations,
// users, roles and permissions, groups and members, organization settings.
// Lists are page-style; walk them with WalkPages.

// Paths below the base URL; {} is a path parameter.
const (
	pathOrganizations   = "/v1/compliance/organizations"
	pathUsers           = "/v1/compliance/organizations/{}/users"
	pathRoles           = "/v1/compliance/organizations/{}/roles"
	pathRole            = "/v1/compliance/organizations/{}/roles/{}"
	pathRolePermissions = "/v1/compliance/organizations/{}/roles/{}/permissions"
	pathSettings        = "/v1/compliance/organizations/{}/settings"
	pathGroups          = "/v1/compliance/groups"
	pathGroup           = "/v1/compliance/groups/{}"
	pathGroupMembers    = "/v1/compliance/groups/{}/members"
)

// Page size bounds of the directory lists.
const (
	MaxDirectoryLimit = 1000
	MaxProjectsLimit  = 100
)

// PageParams are the query of a page-style list.
type PageParams struct {
	// Limit is the page size, from 1 to the endpoint's maximum; 0 leaves
	// the server default.
	Limit int
	// Page is the NextPage of the previous page; "" for the first.
	Page string
}

func (p PageParams) values(maxLimit int) (url.Values, error) {
	if p.Limit < 0 || p.Limit > maxLimit {
		return nil, fmt.Errorf("compliance api: limit must be between 1 and %d (0 for the server default), got %d", maxLimit, p.Limit)
	}
	v := url.Values{}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Page != "" {
		v.Set("page", p.Page)
	}
	return v, nil
}

// Organization is a record of GET /v1/compliance/organizations.
type Organization struct {
	UUID, Name string
	CreatedAt  time.Time
	Raw        json.RawMessage
}

// User is a member of an organization.
type User struct {
	ID, FullName, Email, OrganizationRole string
	CreatedAt                             time.Time
	Raw                                   json.RawMessage
}

// Role is a role of an organization; CreatedAt and UpdatedAt are zero when
// null (built-in roles).
type Role struct {
	ID, Name, Description string
	CreatedAt, UpdatedAt  time.Time
	Raw                   json.RawMessage
}

// Permission is one permission of a role.
type Permission struct {
	Action, ResourceID, ResourceType string
	Raw                              json.RawMessage
}

// Group is a group of the parent organization.
type Group struct {
	ID, Name, Description, SourceType string
	// RoleIDs is nil when roles is null.
	RoleIDs              []string
	CreatedAt, UpdatedAt time.Time
	Raw                  json.RawMessage
}

// GroupMember is a member of a group.
type GroupMember struct {
	UserID, Email        string
	CreatedAt, UpdatedAt time.Time
	Raw                  json.RawMessage
}

// OrganizationSettings are the effective settings of an organization.
type OrganizationSettings struct {
	// OrganizationID is the bare organization uuid.
	OrganizationID string
	// Settings are the rows, each {name, type, value}, verbatim.
	Settings []json.RawMessage
	// APIKeyIDs are the ids of the parent's Compliance API keys.
	APIKeyIDs []string
	Raw       json.RawMessage
}

func orgOf(r *record) Organization {
	return Organization{UUID: r.str("uuid"), Name: r.optStr("name"), CreatedAt: r.time("created_at"), Raw: r.raw}
}

func userOf(r *record) User {
	return User{ID: r.str("id"), FullName: r.optStr("full_name"), Email: r.optStr("email"),
		OrganizationRole: r.optStr("organization_role"), CreatedAt: r.optTime("created_at"), Raw: r.raw}
}

func roleOf(r *record) Role {
	return Role{ID: r.str("id"), Name: r.optStr("name"), Description: r.optStr("description"),
		CreatedAt: r.optTime("created_at"), UpdatedAt: r.optTime("updated_at"), Raw: r.raw}
}

func permissionOf(r *record) Permission {
	return Permission{Action: r.str("action"), ResourceID: r.optStr("resource_id"), ResourceType: r.optStr("resource_type"), Raw: r.raw}
}

func groupOf(r *record) Group {
	return Group{ID: r.str("id"), Name: r.optStr("name"), Description: r.optStr("description"), SourceType: r.optStr("source_type"),
		RoleIDs: r.strList("roles"), CreatedAt: r.optTime("created_at"), UpdatedAt: r.optTime("updated_at"), Raw: r.raw}
}

func memberOf(r *record) GroupMember {
	return GroupMember{UserID: r.str("user_id"), Email: r.optStr("email"), CreatedAt: r.optTime("created_at"),
		UpdatedAt: r.optTime("updated_at"), Raw: r.raw}
}

func settingsOf(r *record) OrganizationSettings {
	s := OrganizationSettings{OrganizationID: r.str("organization_id"), Raw: r.raw}
	for _, row := range r.list("settings") {
		row.str("name")
		s.Settings = append(s.Settings, row.raw)
	}
	for _, k := range r.list("api_keys") {
		s.APIKeyIDs = append(s.APIKeyIDs, k.str("id"))
	}
	return s
}

// listPaged fetches one page of a page-style list.
func listPaged[T any](ctx context.Context, c *Client, endpoint, pattern string, args []string, p PageParams, maxLimit int, extra url.Values, conv func(*record) T) (*PageOf[T], error) {
	path, err := pathOf(pattern, args...)
	if err != nil {
		return nil, err
	}
	q, err := p.values(maxLimit)
	if err != nil {
		return nil, err
	}
	for k, vs := range extra {
		q[k] = vs
	}
	res, err := c.getJSON(ctx, endpoint, path, q)
	if err != nil {
		return nil, err
	}
	return decodePaged(res, conv)
}

// getOne fetches a single-object endpoint.
func getOne[T any](ctx context.Context, c *Client, endpoint, pattern string, args []string, conv func(*record) T) (*T, error) {
	path, err := pathOf(pattern, args...)
	if err != nil {
		return nil, err
	}
	res, err := c.getJSON(ctx, endpoint, path, nil)
	if err != nil {
		return nil, err
	}
	return decodeOne(res, conv)
}

// ListOrganizations fetches a page of the organizations (created_at
// ascending; read:compliance_org_data).
func (c *Client) ListOrganizations(ctx context.Context, p PageParams) (*PageOf[Organization], error) {
	return listPaged(ctx, c, EndpointOrganizations, pathOrganizations, nil, p, MaxDirectoryLimit, nil, orgOf)
}

// ListUsers fetches a page of an organization's members (join date
// ascending; read:compliance_user_data).
func (c *Client) ListUsers(ctx context.Context, orgUUID string, p PageParams) (*PageOf[User], error) {
	return listPaged(ctx, c, EndpointUsers, pathUsers, []string{orgUUID}, p, MaxDirectoryLimit, nil, userOf)
}

// ListRoles fetches a page of an organization's roles (read:compliance_org_data).
func (c *Client) ListRoles(ctx context.Context, orgUUID string, p PageParams) (*PageOf[Role], error) {
	return listPaged(ctx, c, EndpointRoles, pathRoles, []string{orgUUID}, p, MaxDirectoryLimit, nil, roleOf)
}

// GetRole fetches one role.
func (c *Client) GetRole(ctx context.Context, orgUUID, roleID string) (*Role, error) {
	return getOne(ctx, c, EndpointRoles, pathRole, []string{orgUUID, roleID}, roleOf)
}

// ListRolePermissions fetches a page of a role's permissions.
func (c *Client) ListRolePermissions(ctx context.Context, orgUUID, roleID string, p PageParams) (*PageOf[Permission], error) {
	return listPaged(ctx, c, EndpointRolePermissions, pathRolePermissions, []string{orgUUID, roleID}, p, MaxDirectoryLimit, nil, permissionOf)
}

// GetOrganizationSettings fetches an organization's effective settings
// (read:compliance_org_data). A missing or non-Compliance key gets 401 here,
// not 404.
func (c *Client) GetOrganizationSettings(ctx context.Context, orgUUID string) (*OrganizationSettings, error) {
	return getOne(ctx, c, EndpointOrganizationSettings, pathSettings, []string{orgUUID}, settingsOf)
}

// GroupsParams are the query of GET /v1/compliance/groups.
type GroupsParams struct {
	PageParams
	// NamePrefix keeps the groups whose name starts with it.
	NamePrefix string
}

// ListGroups fetches a page of the groups (read:compliance_org_data).
func (c *Client) ListGroups(ctx context.Context, p GroupsParams) (*PageOf[Group], error) {
	var extra url.Values
	if p.NamePrefix != "" {
		extra = url.Values{"name_prefix": {p.NamePrefix}}
	}
	return listPaged(ctx, c, EndpointGroups, pathGroups, nil, p.PageParams, MaxDirectoryLimit, extra, groupOf)
}

// GetGroup fetches one group.
func (c *Client) GetGroup(ctx context.Context, groupID string) (*Group, error) {
	return getOne(ctx, c, EndpointGroups, pathGroup, []string{groupID}, groupOf)
}

// ListGroupMembers fetches a page of a group's members
// (read:compliance_user_data).
func (c *Client) ListGroupMembers(ctx context.Context, groupID string, p PageParams) (*PageOf[GroupMember], error) {
	return listPaged(ctx, c, EndpointGroupMembers, pathGroupMembers, []string{groupID}, p, MaxDirectoryLimit, nil, memberOf)
}
