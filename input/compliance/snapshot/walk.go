package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// API is what the walks call: the directory and project methods of
// *api.Client.
type API interface {
	ListOrganizations(ctx context.Context, p api.PageParams) (*api.PageOf[api.Organization], error)
	ListUsers(ctx context.Context, orgUUID string, p api.PageParams) (*api.PageOf[api.User], error)
	ListRoles(ctx context.Context, orgUUID string, p api.PageParams) (*api.PageOf[api.Role], error)
	ListRolePermissions(ctx context.Context, orgUUID, roleID string, p api.PageParams) (*api.PageOf[api.Permission], error)
	ListGroups(ctx context.Context, p api.GroupsParams) (*api.PageOf[api.Group], error)
	ListGroupMembers(ctx context.Context, groupID string, p api.PageParams) (*api.PageOf[api.GroupMember], error)
	GetOrganizationSettings(ctx context.Context, orgUUID string) (*api.OrganizationSettings, error)
	ListProjects(ctx context.Context, p api.ProjectsParams) (*api.PageOf[api.Project], error)
	ListProjectAttachments(ctx context.Context, projectID string, p api.PageParams) (*api.PageOf[api.ProjectAttachment], error)
	ListProjectCollaborators(ctx context.Context, projectID string, p api.PageParams) (*api.PageOf[api.ProjectCollaborator], error)
	GetProjectDocument(ctx context.Context, documentID string) (*api.ProjectDocument, error)
}

// The endpoints this package collects (endpoints[].name).
const (
	Organizations        = "organizations"
	Users                = "users"
	Roles                = "roles"
	Groups               = "groups"
	OrganizationSettings = "organization_settings"
	Projects             = "projects"
)

// Endpoints lists them.
func Endpoints() []string {
	return []string{Organizations, Users, Roles, Groups, OrganizationSettings, Projects}
}

// Record is one record of a walk.
type Record struct {
	// Key identifies it across runs: "user:<org>/<user id>", ...; its type
	// is the part before the first colon.
	Key  string
	Type string
	Raw  json.RawMessage
	// RequestID is the request-id of the answer it came in.
	RequestID string
}

// walker walks the list of one endpoint, calling visit for every record in
// the API's order.
type walker struct {
	api      API
	endpoint string
	pageSize int
	orgIDs   []string // organisations to walk (users, roles, settings) or to ask for (projects); empty: all
	scopeOf  func(apiEndpoint string) string
	visit    func(Record) error
	// documents: fetch the content of each project_doc attachment
	// (projects with include_documents).
	documents bool

	requests      int
	lastRequestID string
	missingOrgs   []string // of orgIDs, those the organisation list did not have
	// unavailable are the keys of the documents that answered 404 after
	// their project listed them.
	unavailable []string
}

func (w *walker) walk(ctx context.Context) error {
	switch w.endpoint {
	case Organizations:
		return w.orgs(ctx, func(o api.Organization, requestID string) error {
			return w.emit("org", o.UUID, o.Raw, requestID)
		})
	case Users:
		return w.orgs(ctx, func(o api.Organization, _ string) error { return w.users(ctx, o.UUID) })
	case Roles:
		return w.orgs(ctx, func(o api.Organization, _ string) error { return w.roles(ctx, o.UUID) })
	case OrganizationSettings:
		return w.orgs(ctx, func(o api.Organization, _ string) error { return w.settings(ctx, o.UUID) })
	case Groups:
		return w.groups(ctx)
	case Projects:
		return w.projects(ctx)
	}
	return fmt.Errorf("snapshot: unknown endpoint %q", w.endpoint)
}

// emit hands one record to visit.
func (w *walker) emit(typ, path string, raw json.RawMessage, requestID string) error {
	return w.visit(Record{Key: typ + ":" + path, Type: typ, Raw: raw, RequestID: requestID})
}

// page records a request's answer.
func (w *walker) page(requestID string) {
	w.requests++
	w.lastRequestID = requestID
}

// fail wraps the error of a request: what was asked, and for a refused key
// the scope the request needs.
func (w *walker) fail(err error, apiEndpoint, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if e, ok := errors.AsType[*api.Error](err); ok && e.Status == 403 && w.scopeOf != nil {
		if scope := w.scopeOf(apiEndpoint); scope != "" {
			return fmt.Errorf("%s: %w; endpoint %s needs a Compliance Access Key with the scope %s for this request", what, err, w.endpoint, scope)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// pages walks a page-style list with the walker's page size.
func pages[T any](ctx context.Context, w *walker, fetch func(ctx context.Context, p api.PageParams) (*api.PageOf[T], error), each func(T, string) error) error {
	return api.WalkPages(ctx,
		func(ctx context.Context, page string) (*api.PageOf[T], error) {
			return fetch(ctx, api.PageParams{Limit: w.pageSize, Page: page})
		},
		func(pg *api.PageOf[T]) error {
			w.page(pg.RequestID)
			for _, it := range pg.Items {
				if err := each(it, pg.RequestID); err != nil {
					return err
				}
			}
			return nil
		})
}

// orgRef is an organisation of the list and the request it came in.
type orgRef struct {
	org api.Organization
	rid string
}

// orgs walks the organisations (only those of orgIDs, when set) and calls
// fn for each, after the list was walked.
func (w *walker) orgs(ctx context.Context, fn func(api.Organization, string) error) error {
	var list []orgRef
	err := pages(ctx, w, w.api.ListOrganizations, func(o api.Organization, rid string) error {
		if len(w.orgIDs) == 0 || slices.Contains(w.orgIDs, o.UUID) {
			list = append(list, orgRef{o, rid})
		}
		return nil
	})
	if err != nil {
		return w.fail(err, api.EndpointOrganizations, "listing organizations")
	}
	for _, id := range w.orgIDs {
		if !slices.ContainsFunc(list, func(o orgRef) bool { return o.org.UUID == id }) {
			w.missingOrgs = append(w.missingOrgs, id)
		}
	}
	for _, o := range list {
		if err := fn(o.org, o.rid); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) users(ctx context.Context, org string) error {
	err := pages(ctx, w, func(ctx context.Context, p api.PageParams) (*api.PageOf[api.User], error) {
		return w.api.ListUsers(ctx, org, p)
	}, func(u api.User, rid string) error {
		return w.emit("user", org+"/"+u.ID, u.Raw, rid)
	})
	if err != nil {
		return w.fail(err, api.EndpointUsers, "listing the users of organization %s", org)
	}
	return nil
}

func (w *walker) roles(ctx context.Context, org string) error {
	var roles []api.Role
	err := pages(ctx, w, func(ctx context.Context, p api.PageParams) (*api.PageOf[api.Role], error) {
		return w.api.ListRoles(ctx, org, p)
	}, func(r api.Role, rid string) error {
		roles = append(roles, r)
		return w.emit("role", org+"/"+r.ID, r.Raw, rid)
	})
	if err != nil {
		return w.fail(err, api.EndpointRoles, "listing the roles of organization %s", org)
	}
	for _, r := range roles {
		err := pages(ctx, w, func(ctx context.Context, p api.PageParams) (*api.PageOf[api.Permission], error) {
			return w.api.ListRolePermissions(ctx, org, r.ID, p)
		}, func(p api.Permission, rid string) error {
			return w.emit("permission", strings.Join([]string{org, r.ID, p.Action, p.ResourceType, p.ResourceID}, "/"), p.Raw, rid)
		})
		if err != nil {
			return w.fail(err, api.EndpointRolePermissions, "listing the permissions of role %s of organization %s", r.ID, org)
		}
	}
	return nil
}

func (w *walker) settings(ctx context.Context, org string) error {
	s, err := w.api.GetOrganizationSettings(ctx, org)
	if err != nil {
		return w.fail(err, api.EndpointOrganizationSettings, "reading the settings of organization %s", org)
	}
	w.page("")
	return w.emit("settings", org, s.Raw, "")
}

func (w *walker) groups(ctx context.Context) error {
	var groups []api.Group
	err := pages(ctx, w, func(ctx context.Context, p api.PageParams) (*api.PageOf[api.Group], error) {
		return w.api.ListGroups(ctx, api.GroupsParams{PageParams: p})
	}, func(g api.Group, rid string) error {
		groups = append(groups, g)
		return w.emit("group", g.ID, g.Raw, rid)
	})
	if err != nil {
		return w.fail(err, api.EndpointGroups, "listing groups")
	}
	for _, g := range groups {
		err := pages(ctx, w, func(ctx context.Context, p api.PageParams) (*api.PageOf[api.GroupMember], error) {
			return w.api.ListGroupMembers(ctx, g.ID, p)
		}, func(m api.GroupMember, rid string) error {
			return w.emit("member", g.ID+"/"+m.UserID, m.Raw, rid)
		})
		if err != nil {
			return w.fail(err, api.EndpointGroupMembers, "listing the members of group %s", g.ID)
		}
	}
	return nil
}

func (w *walker) projects(ctx context.Context) error {
	var projects []api.Project
	err := pages(ctx, w, func(ctx context.Context, p api.PageParams) (*api.PageOf[api.Project], error) {
		return w.api.ListProjects(ctx, api.ProjectsParams{PageParams: p, OrganizationIDs: w.orgIDs})
	}, func(p api.Project, rid string) error {
		projects = append(projects, p)
		return w.emit("project", p.ID, p.Raw, rid)
	})
	if err != nil {
		return w.fail(err, api.EndpointProjects, "listing projects")
	}
	for _, p := range projects {
		var docs []string // the project_doc attachments, fetched once the list was walked
		err := pages(ctx, w, func(ctx context.Context, pp api.PageParams) (*api.PageOf[api.ProjectAttachment], error) {
			return w.api.ListProjectAttachments(ctx, p.ID, pp)
		}, func(a api.ProjectAttachment, rid string) error {
			if w.documents && a.Type == attachmentDoc {
				docs = append(docs, a.ID)
			}
			return w.emit("attachment", p.ID+"/"+a.ID, a.Raw, rid)
		})
		if err != nil {
			return w.fail(err, api.EndpointProjectAttachments, "listing the attachments of project %s", p.ID)
		}
		for _, id := range docs {
			if err := w.document(ctx, p.ID, id); err != nil {
				return err
			}
		}
		err = pages(ctx, w, func(ctx context.Context, pp api.PageParams) (*api.PageOf[api.ProjectCollaborator], error) {
			return w.api.ListProjectCollaborators(ctx, p.ID, pp)
		}, func(c api.ProjectCollaborator, rid string) error {
			return w.emit("collaborator", strings.Join([]string{p.ID, c.Type, c.Ref, c.Role}, "/"), c.Raw, rid)
		})
		if err != nil {
			return w.fail(err, api.EndpointProjectCollaborators, "listing the collaborators of project %s", p.ID)
		}
	}
	return nil
}

// attachmentDoc is the attachment type of a project document.
const attachmentDoc = "project_doc"

// DocumentType is the record type of a project document's content
// (include_documents), keyed "document:<project id>/<document id>".
const DocumentType = "document"

// document fetches the content of one document of a project and emits it as
// the API returned it. A document that answers 404 (deleted since its
// project listed it) is skipped and noted in unavailable; any other error
// fails the walk.
func (w *walker) document(ctx context.Context, project, id string) error {
	d, err := w.api.GetProjectDocument(ctx, id)
	path := project + "/" + id
	if err == nil || api.IsNotFound(err) {
		w.requests++ // answered; it carries no request-id to report
	}
	switch {
	case api.IsNotFound(err):
		w.unavailable = append(w.unavailable, DocumentType+":"+path)
		return nil
	case err != nil:
		return w.fail(err, api.EndpointProjectDocuments, "reading document %s of project %s", id, project)
	}
	return w.emit(DocumentType, path, d.Raw, "")
}
