package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The chat endpoints (compliance-content-api.md §4–§5): chats (cursor-style,
// oldest first), a chat's messages, and the metadata of files, generated
// files and artifacts. Downloads are in download.go.

const (
	pathChats         = "/v1/compliance/apps/chats"
	pathChatMessages  = "/v1/compliance/apps/chats/{}/messages"
	pathFile          = "/v1/compliance/apps/chats/files/{}"
	pathFileContent   = "/v1/compliance/apps/chats/files/{}/content"
	pathGenFile       = "/v1/compliance/apps/chats/generated-files/{}"
	pathGenContent    = "/v1/compliance/apps/chats/generated-files/{}/content"
	pathArtifact      = "/v1/compliance/apps/artifacts/{}"
	pathArtifactBody  = "/v1/compliance/apps/artifacts/{}/content"
	maxChatsLimit     = 1000
	maxChatUserIDs    = 10
	orderByCreatedAt  = "created_at"
	orderByUpdatedAt  = "updated_at"
	chatTimeCreatedAt = "created_at"
	chatTimeUpdatedAt = "updated_at"
)

// TimeRange bounds a timestamp field; each non-empty bound is sent verbatim
// as <field>.gte, .gt, .lte or .lt (RFC 3339 with an offset, formatted by
// the caller).
type TimeRange struct {
	GTE, GT, LTE, LT string
}

func (r TimeRange) set() bool { return r.GTE != "" || r.GT != "" || r.LTE != "" || r.LT != "" }

func (r TimeRange) add(v url.Values, field string) {
	for _, b := range []struct{ op, value string }{{"gte", r.GTE}, {"gt", r.GT}, {"lte", r.LTE}, {"lt", r.LT}} {
		if b.value != "" {
			v.Set(field+"."+b.op, b.value)
		}
	}
}

// addList adds one bracketed key per value (user_ids[]=a&user_ids[]=b).
func addList(v url.Values, key string, values []string) error {
	for i, s := range values {
		if s == "" {
			return fmt.Errorf("compliance api: %s value %d is empty", key, i)
		}
		v.Add(key+"[]", s)
	}
	return nil
}

// ChatsParams are the query of GET /v1/compliance/apps/chats. The rules of
// the reference are checked before any request: org-wide queries (no
// UserIDs) take no BeforeID or ProjectIDs, and their time filter must match
// OrderBy; user-filtered queries are ordered by created_at and take no
// UpdatedAt filter (a 400 since 2026-09-22).
type ChatsParams struct {
	// OrderBy is "" (created_at), "created_at" or "updated_at".
	OrderBy              string
	CreatedAt, UpdatedAt TimeRange
	// Limit is 1 to 1000; 0 leaves the server default (100).
	Limit int
	// AfterID and BeforeID are opaque cursors; at most one may be set.
	AfterID, BeforeID string
	// OrganizationIDs filter by organization (uuid or org_ id).
	OrganizationIDs []string
	// UserIDs (1 to 10) filter by creator; ProjectIDs need UserIDs.
	UserIDs, ProjectIDs []string
}

func (p ChatsParams) values() (url.Values, error) {
	fail := func(msg string) (url.Values, error) { return nil, errors.New("compliance api: chats params: " + msg) }
	orgWide := len(p.UserIDs) == 0
	byUpdated := p.OrderBy == orderByUpdatedAt
	switch {
	case p.OrderBy != "" && p.OrderBy != orderByCreatedAt && p.OrderBy != orderByUpdatedAt:
		return fail(fmt.Sprintf("order_by must be created_at or updated_at, got %q", p.OrderBy))
	case p.Limit < 0 || p.Limit > maxChatsLimit:
		return fail(fmt.Sprintf("limit must be between 1 and %d (0 for the server default), got %d", maxChatsLimit, p.Limit))
	case p.AfterID != "" && p.BeforeID != "":
		return fail("after_id and before_id are mutually exclusive")
	case len(p.UserIDs) > maxChatUserIDs:
		return fail(fmt.Sprintf("at most %d user_ids, got %d", maxChatUserIDs, len(p.UserIDs)))
	case orgWide && p.BeforeID != "":
		return fail("before_id needs user_ids (organization-wide queries walk forward only)")
	case orgWide && len(p.ProjectIDs) > 0:
		return fail("project_ids needs user_ids")
	case orgWide && !byUpdated && p.UpdatedAt.set():
		return fail("updated_at filters need order_by=updated_at on organization-wide queries")
	case orgWide && byUpdated && p.CreatedAt.set():
		return fail("created_at filters need order_by=created_at on organization-wide queries")
	case !orgWide && byUpdated:
		return fail("order_by=updated_at is not allowed with user_ids")
	case !orgWide && p.UpdatedAt.set():
		return fail("updated_at filters are not allowed with user_ids")
	}
	v := url.Values{}
	if p.OrderBy != "" {
		v.Set("order_by", p.OrderBy)
	}
	p.CreatedAt.add(v, chatTimeCreatedAt)
	p.UpdatedAt.add(v, chatTimeUpdatedAt)
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.AfterID != "" {
		v.Set("after_id", p.AfterID)
	}
	if p.BeforeID != "" {
		v.Set("before_id", p.BeforeID)
	}
	for _, l := range []struct {
		key    string
		values []string
	}{{"organization_ids", p.OrganizationIDs}, {"user_ids", p.UserIDs}, {"project_ids", p.ProjectIDs}} {
		if err := addList(v, l.key, l.values); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Chat is a chat's metadata.
type Chat struct {
	ID, Name             string
	CreatedAt, UpdatedAt time.Time
	// DeletedAt is set for a chat deleted in claude.ai (it stays listed,
	// with an empty name and messages without content); zero otherwise.
	DeletedAt                          time.Time
	OrganizationUUID, ProjectID, Model string
	UserID, UserEmail                  string // "" when user is null
	Raw                                json.RawMessage
}

func chatOf(r *record) Chat {
	c := Chat{ID: r.str("id"), Name: r.optStr("name"), CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at"),
		DeletedAt: r.optTime("deleted_at"), OrganizationUUID: r.optStr("organization_uuid"), ProjectID: r.optStr("project_id"),
		Model: r.optStr("model"), Raw: r.raw}
	if u := r.obj("user"); u != nil {
		c.UserID, c.UserEmail = u.str("id"), u.optStr("email_address")
	}
	return c
}

// ListChats fetches a page of chats, oldest first by OrderBy (ties by id);
// pass LastID as AfterID for the next page (read:compliance_user_data).
func (c *Client) ListChats(ctx context.Context, p ChatsParams) (*CursorPage[Chat], error) {
	q, err := p.values()
	if err != nil {
		return nil, err
	}
	res, err := c.getJSON(ctx, EndpointChats, pathChats, q)
	if err != nil {
		return nil, err
	}
	return decodeCursorPage(res, chatOf)
}

// FileRef is a file a message references.
type FileRef struct {
	ID, Filename, MimeType string
	// SizeBytes is -1 when null.
	SizeBytes int64
	// MD5 is the hex MD5 of the stored bytes, "" when null.
	MD5       string
	CreatedAt time.Time
}

// GeneratedFileRef is a file a message generated; SizeBytes is -1 and MD5
// "" once it expired.
type GeneratedFileRef struct {
	ID, Filename, MimeType string
	SizeBytes              int64
	MD5                    string
}

// ArtifactRef is an artifact a message produced; each revision has its own
// VersionID.
type ArtifactRef struct {
	ID, VersionID, Title, ArtifactType string
}

// ChatMessage is one message of a chat.
type ChatMessage struct {
	ID, Role       string
	CreatedAt      time.Time
	Files          []FileRef
	GeneratedFiles []GeneratedFileRef
	Artifacts      []ArtifactRef
	Raw            json.RawMessage
}

func messageOf(r *record) ChatMessage {
	m := ChatMessage{ID: r.str("id"), Role: r.optStr("role"), CreatedAt: r.time("created_at"), Raw: r.raw}
	r.list("content") // must be an array when present
	for _, f := range r.list("files") {
		m.Files = append(m.Files, FileRef{ID: f.str("id"), Filename: f.optStr("filename"), MimeType: f.optStr("mime_type"),
			SizeBytes: f.optInt("size_bytes"), MD5: f.optStr("md5"), CreatedAt: f.optTime("created_at")})
	}
	for _, g := range r.list("generated_files") {
		m.GeneratedFiles = append(m.GeneratedFiles, GeneratedFileRef{ID: g.str("id"), Filename: g.optStr("filename"),
			MimeType: g.optStr("mime_type"), SizeBytes: g.optInt("size_bytes"), MD5: g.optStr("md5")})
	}
	for _, a := range r.list("artifacts") {
		m.Artifacts = append(m.Artifacts, ArtifactRef{ID: a.str("id"), VersionID: a.str("version_id"), Title: a.optStr("title"),
			ArtifactType: a.optStr("artifact_type")})
	}
	return m
}

// MessagesParams are the query of GET /v1/compliance/apps/chats/{id}/messages.
type MessagesParams struct {
	// Limit is 1 to 1000; 0 omits it, and the whole chat comes in one
	// answer.
	Limit int
	// AfterID and BeforeID are opaque cursors; at most one may be set.
	AfterID, BeforeID string
	// Order is "" (asc), "asc" or "desc".
	Order     string
	CreatedAt TimeRange
	// ToolResultMaxChars and ToolUseInputMaxChars cut tool blocks (-1 =
	// unlimited); nil leaves the server default (10000).
	ToolResultMaxChars, ToolUseInputMaxChars *int
}

func (p MessagesParams) values() (url.Values, error) {
	switch {
	case p.Limit < 0 || p.Limit > maxChatsLimit:
		return nil, fmt.Errorf("compliance api: messages params: limit must be between 1 and %d (0 for the whole chat), got %d", maxChatsLimit, p.Limit)
	case p.AfterID != "" && p.BeforeID != "":
		return nil, errors.New("compliance api: messages params: after_id and before_id are mutually exclusive")
	case p.Order != "" && p.Order != "asc" && p.Order != "desc":
		return nil, fmt.Errorf("compliance api: messages params: order must be asc or desc, got %q", p.Order)
	}
	v := url.Values{}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.AfterID != "" {
		v.Set("after_id", p.AfterID)
	}
	if p.BeforeID != "" {
		v.Set("before_id", p.BeforeID)
	}
	if p.Order != "" {
		v.Set("order", p.Order)
	}
	p.CreatedAt.add(v, "created_at")
	for _, m := range []struct {
		key string
		v   *int
	}{{"tool_result_max_chars", p.ToolResultMaxChars}, {"tool_use_input_max_chars", p.ToolUseInputMaxChars}} {
		if m.v != nil {
			if *m.v < -1 {
				return nil, fmt.Errorf("compliance api: messages params: %s must be at least -1, got %d", m.key, *m.v)
			}
			v.Set(m.key, strconv.Itoa(*m.v))
		}
	}
	return v, nil
}

// ChatMessages is one answer of the messages endpoint: the chat and a page
// of its messages.
type ChatMessages struct {
	Chat    Chat
	Items   []ChatMessage
	HasMore bool
	// FirstID and LastID are opaque cursors; "" when null or absent.
	FirstID, LastID string
	Meta
}

// ListChatMessages fetches a chat and its messages, all of them when
// p.Limit is 0 (read:compliance_user_data). A chat that does not exist (or
// was deleted for good) is an *Error for which IsNotFound holds.
func (c *Client) ListChatMessages(ctx context.Context, chatID string, p MessagesParams) (*ChatMessages, error) {
	path, err := pathOf(pathChatMessages, chatID)
	if err != nil {
		return nil, err
	}
	q, err := p.values()
	if err != nil {
		return nil, err
	}
	res, err := c.getJSON(ctx, EndpointChatMessages, path, q)
	if err != nil {
		return nil, err
	}
	out, err := decodeOne(res, func(r *record) ChatMessages {
		cm := ChatMessages{Chat: chatOf(r), HasMore: r.optBool("has_more"), FirstID: r.optStr("first_id"), LastID: r.optStr("last_id")}
		if _, ok := r.fields["chat_messages"]; !ok {
			r.fail("chat_messages", "missing")
		}
		for _, m := range r.list("chat_messages") {
			cm.Items = append(cm.Items, messageOf(m))
		}
		return cm
	})
	if err != nil {
		return nil, err
	}
	out.Meta = res.Meta
	return out, nil
}

// FileMetadata is the metadata of a chat or project file.
type FileMetadata struct {
	ID, Filename, MimeType string
	// SizeBytes is -1 when null; MD5 (hex) "" when null.
	SizeBytes  int64
	MD5        string
	CreatedAt  time.Time
	MessageIDs []string
	ChatIDs    []string
	Raw        json.RawMessage
}

// GetFile fetches a file's metadata.
func (c *Client) GetFile(ctx context.Context, fileID string) (*FileMetadata, error) {
	return getOne(ctx, c, EndpointFiles, pathFile, []string{fileID}, func(r *record) FileMetadata {
		return FileMetadata{ID: r.str("id"), Filename: r.optStr("filename"), MimeType: r.optStr("mime_type"),
			SizeBytes: r.optInt("size_bytes"), MD5: r.optStr("md5"), CreatedAt: r.optTime("created_at"),
			MessageIDs: r.strList("message_ids"), ChatIDs: r.strList("claude_chat_ids"), Raw: r.raw}
	})
}

// GeneratedFile is the metadata of a generated file; SizeBytes is -1 and
// MD5 "" once it expired.
type GeneratedFile struct {
	ID, ChatID, Filename, MimeType string
	SizeBytes                      int64
	MD5                            string
	CreatedAt                      time.Time
	Raw                            json.RawMessage
}

// GetGeneratedFile fetches a generated file's metadata.
func (c *Client) GetGeneratedFile(ctx context.Context, id string) (*GeneratedFile, error) {
	return getOne(ctx, c, EndpointGeneratedFiles, pathGenFile, []string{id}, func(r *record) GeneratedFile {
		return GeneratedFile{ID: r.str("id"), ChatID: r.optStr("claude_chat_id"), Filename: r.optStr("filename"),
			MimeType: r.optStr("mime_type"), SizeBytes: r.optInt("size_bytes"), MD5: r.optStr("md5"),
			CreatedAt: r.optTime("created_at"), Raw: r.raw}
	})
}

// Artifact is the metadata of an artifact version; MD5 and SizeBytes are
// over its content text.
type Artifact struct {
	ID, VersionID, ChatID, Title, ArtifactType string
	CreatedAt                                  time.Time
	SizeBytes                                  int64
	MD5                                        string
	Raw                                        json.RawMessage
}

// GetArtifact fetches an artifact version's metadata.
func (c *Client) GetArtifact(ctx context.Context, versionID string) (*Artifact, error) {
	return getOne(ctx, c, EndpointArtifacts, pathArtifact, []string{versionID}, func(r *record) Artifact {
		return Artifact{ID: r.str("id"), VersionID: r.str("version_id"), ChatID: r.optStr("claude_chat_id"),
			Title: r.optStr("title"), ArtifactType: r.optStr("artifact_type"), CreatedAt: r.optTime("created_at"),
			SizeBytes: r.optInt("size_bytes"), MD5: r.optStr("md5"), Raw: r.raw}
	})
}

// ArtifactContent is an artifact version's content (a JSON answer whose
// content field is the exact text).
type ArtifactContent struct {
	Content, Title, ArtifactType string
	Raw                          json.RawMessage
}

// GetArtifactContent fetches an artifact version's content.
func (c *Client) GetArtifactContent(ctx context.Context, versionID string) (*ArtifactContent, error) {
	return getOne(ctx, c, EndpointArtifacts, pathArtifactBody, []string{versionID}, func(r *record) ArtifactContent {
		if _, ok := r.fields["content"]; !ok {
			r.fail("content", "missing")
		}
		return ArtifactContent{Content: r.optStr("content"), Title: r.optStr("title"), ArtifactType: r.optStr("artifact_type"), Raw: r.raw}
	})
}
