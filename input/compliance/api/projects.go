package api

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// The project endpoints (compliance-content-api.md §6). Lists are
// page-style, 20 by default and at most 100 a page.

const (
	pathProjects         = "/v1/compliance/apps/projects"
	pathProject          = "/v1/compliance/apps/projects/{}"
	pathAttachments      = "/v1/compliance/apps/projects/{}/attachments"
	pathCollaborators    = "/v1/compliance/apps/projects/{}/collaborators"
	pathDocument         = "/v1/compliance/apps/projects/documents/{}"
	pathDocumentMetadata = "/v1/compliance/apps/projects/documents/{}/metadata"
)

// ProjectsParams are the query of GET /v1/compliance/apps/projects.
type ProjectsParams struct {
	PageParams
	CreatedAt, UpdatedAt TimeRange
	// OrganizationIDs filter by organization; UserIDs by creator.
	OrganizationIDs, UserIDs []string
}

// Project is a project (the list's record; GetProject adds the detail
// fields, kept in Raw).
type Project struct {
	ID, Name                        string
	CreatedAt, UpdatedAt, DeletedAt time.Time
	IsPrivate                       bool
	OrganizationUUID, UserID        string
	// AttachmentsCount and ChatsCount are -1 outside GetProject.
	AttachmentsCount, ChatsCount int64
	Raw                          json.RawMessage
}

func projectOf(r *record) Project {
	p := Project{ID: r.str("id"), Name: r.optStr("name"), CreatedAt: r.time("created_at"), UpdatedAt: r.optTime("updated_at"),
		DeletedAt: r.optTime("deleted_at"), IsPrivate: r.optBool("is_private"), OrganizationUUID: r.optStr("organization_uuid"),
		AttachmentsCount: r.optInt("attachments_count"), ChatsCount: r.optInt("chats_count"), Raw: r.raw}
	if u := r.obj("user"); u != nil {
		p.UserID = u.str("id")
	}
	return p
}

// ProjectAttachment is a project_file (a claude_file_ id, downloadable with
// DownloadFile) or a project_doc (GetProjectDocument).
type ProjectAttachment struct {
	Type, ID, Filename, MimeType string
	CreatedAt                    time.Time
	// SizeBytes is -1 and MD5 "" when null or absent (project_doc).
	SizeBytes int64
	MD5       string
	Raw       json.RawMessage
}

// ProjectCollaborator is one active assignment: Type user, group,
// organization or organization_role, and Ref the user id, group id,
// organization uuid or organization role it names.
type ProjectCollaborator struct {
	Type, Role, Ref string
	GrantedAt       time.Time
	Raw             json.RawMessage
}

// ProjectDocument is a project document's content.
type ProjectDocument struct {
	ID, Content, Filename string
	CreatedAt             time.Time
	Raw                   json.RawMessage
}

// ProjectDocumentMetadata is a project document's metadata.
type ProjectDocumentMetadata struct {
	ID, ProjectID, Filename, MimeType, MD5 string
	SizeBytes                              int64
	CreatedAt                              time.Time
	Raw                                    json.RawMessage
}

// ListProjects fetches a page of projects (created_at ascending;
// read:compliance_user_data).
func (c *Client) ListProjects(ctx context.Context, p ProjectsParams) (*PageOf[Project], error) {
	extra := url.Values{}
	p.CreatedAt.add(extra, "created_at")
	p.UpdatedAt.add(extra, "updated_at")
	if err := addList(extra, "organization_ids", p.OrganizationIDs); err != nil {
		return nil, err
	}
	if err := addList(extra, "user_ids", p.UserIDs); err != nil {
		return nil, err
	}
	return listPaged(ctx, c, EndpointProjects, pathProjects, nil, p.PageParams, MaxProjectsLimit, extra, projectOf)
}

// GetProject fetches a project with its detail fields.
func (c *Client) GetProject(ctx context.Context, projectID string) (*Project, error) {
	return getOne(ctx, c, EndpointProjects, pathProject, []string{projectID}, projectOf)
}

// ListProjectAttachments fetches a page of a project's attachments.
func (c *Client) ListProjectAttachments(ctx context.Context, projectID string, p PageParams) (*PageOf[ProjectAttachment], error) {
	return listPaged(ctx, c, EndpointProjectAttachments, pathAttachments, []string{projectID}, p, MaxProjectsLimit, nil,
		func(r *record) ProjectAttachment {
			return ProjectAttachment{Type: r.str("type"), ID: r.str("id"), Filename: r.optStr("filename"), MimeType: r.optStr("mime_type"),
				CreatedAt: r.optTime("created_at"), SizeBytes: r.optInt("size_bytes"), MD5: r.optStr("md5"), Raw: r.raw}
		})
}

// ListProjectCollaborators fetches a page of a project's collaborators.
func (c *Client) ListProjectCollaborators(ctx context.Context, projectID string, p PageParams) (*PageOf[ProjectCollaborator], error) {
	return listPaged(ctx, c, EndpointProjectCollaborators, pathCollaborators, []string{projectID}, p, MaxProjectsLimit, nil,
		func(r *record) ProjectCollaborator {
			pc := ProjectCollaborator{Type: r.str("type"), Role: r.optStr("role"), GrantedAt: r.optTime("granted_at"), Raw: r.raw}
			switch pc.Type {
			case "user":
				pc.Ref = r.optStr("user_id")
			case "group":
				pc.Ref = r.optStr("group_id")
			case "organization":
				pc.Ref = r.optStr("organization_uuid")
			case "organization_role":
				pc.Ref = r.optStr("organization_role")
			}
			return pc
		})
}

// GetProjectDocument fetches a project document's content.
func (c *Client) GetProjectDocument(ctx context.Context, documentID string) (*ProjectDocument, error) {
	return getOne(ctx, c, EndpointProjectDocuments, pathDocument, []string{documentID}, func(r *record) ProjectDocument {
		return ProjectDocument{ID: r.str("id"), Content: r.optStr("content"), Filename: r.optStr("filename"),
			CreatedAt: r.optTime("created_at"), Raw: r.raw}
	})
}

// GetProjectDocumentMetadata fetches a project document's metadata.
func (c *Client) GetProjectDocumentMetadata(ctx context.Context, documentID string) (*ProjectDocumentMetadata, error) {
	return getOne(ctx, c, EndpointProjectDocuments, pathDocumentMetadata, []string{documentID}, func(r *record) ProjectDocumentMetadata {
		return ProjectDocumentMetadata{ID: r.str("id"), ProjectID: r.optStr("claude_project_id"), Filename: r.optStr("filename"),
			MimeType: r.optStr("mime_type"), MD5: r.optStr("md5"), SizeBytes: r.optInt("size_bytes"),
			CreatedAt: r.optTime("created_at"), Raw: r.raw}
	})
}
