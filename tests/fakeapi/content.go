package fakeapi

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// This file answers the directory and content endpoints from the server's
// world (compliance-content-api.md §2–§6). Everything here runs under the
// server's mutex; downloads stream outside it (download.go).

// reply is a successful answer: a JSON body, or a download to stream.
type reply struct {
	body []byte
	dl   *download
}

// answerWorld serves a valid request for a directory or content endpoint at
// now. A server without a world serves an empty organization.
func (s *Server) answerWorld(ad *admission, now time.Time) (*reply, *apiError) {
	st := s.world
	if st == nil {
		st = newEmptyWorld()
	}
	v, args, path := ad.values, ad.args, ad.path
	switch ad.route.id {
	case rOrganizations:
		return pageOf(v, 1000, 1000, path, true, func() []row { return st.orgRows() })
	case rUsers:
		o := st.orgByUUID[args[0]]
		if o == nil {
			return nil, orgNotFound(args[0])
		}
		return pageOf(v, 500, 1000, path, false, func() []row { return st.userRows(o, now) })
	case rRoles:
		o := st.orgByUUID[args[0]]
		if o == nil {
			return nil, orgNotFound(args[0])
		}
		return pageOf(v, 500, 1000, path, false, func() []row {
			var rows []row
			for _, r := range o.roles {
				rows = append(rows, row{r.id, roleRec(r)})
			}
			return rows
		})
	case rRole, rRolePermissions:
		o := st.orgByUUID[args[0]]
		if o == nil {
			return nil, orgNotFound(args[0])
		}
		i := slices.IndexFunc(o.roles, func(r *wRole) bool { return r.id == args[1] })
		if i < 0 {
			return nil, notFound("Role not found.")
		}
		role := o.roles[i]
		if ad.route.id == rRole {
			return &reply{body: marshal(roleRec(role))}, nil
		}
		return pageOf(v, 500, 1000, path, false, func() []row {
			var rows []row
			for j, p := range role.perms {
				rows = append(rows, row{timeKey(time.Time{}, string(rune('a'+j))), permissionRec{p.action, o.uuid, p.resourceType}})
			}
			return rows
		})
	case rSettings:
		o := st.orgByUUID[args[0]]
		if o == nil {
			return nil, notFound("organization `" + sanitize(args[0]) + "` not found in this organization's hierarchy")
		}
		return &reply{body: marshal(s.settingsRec(o))}, nil
	case rGroups:
		prefix, _ := first(v, "name_prefix")
		return pageOf(v, 500, 1000, path, false, func() []row {
			var rows []row
			for _, g := range st.groups {
				if strings.HasPrefix(g.name, prefix) {
					rows = append(rows, row{g.id, groupRec(g)})
				}
			}
			return rows
		})
	case rGroup, rGroupMembers:
		g := st.groupByID[args[0]]
		if g == nil {
			return nil, notFound("Group not found.")
		}
		if ad.route.id == rGroup {
			return &reply{body: marshal(groupRec(g))}, nil
		}
		return pageOf(v, 500, 1000, path, false, func() []row {
			var rows []row
			for _, m := range g.members {
				if m.user.active && !m.createdAt.After(now) {
					rows = append(rows, row{timeKey(m.createdAt, m.user.id), memberRec{m.user.id, m.user.email, tsNaive(m.createdAt), tsNaive(m.updatedAt)}})
				}
			}
			return rows
		})
	case rChats:
		return st.listChats(v, now)
	case rChatMessages:
		return st.listMessages(v, args[0], now)
	case rFile, rFileContent:
		f := st.fileByID[args[0]]
		if f == nil || f.deleted || f.createdAt.After(now) {
			return nil, notFound("File not found: " + fileUUID(args[0]))
		}
		if ad.route.id == rFile {
			return &reply{body: marshal(fileRec(f))}, nil
		}
		return &reply{dl: &download{name: f.filename, mime: f.mime, size: f.size, seed: f.seed, file: f}}, nil
	case rGenFile, rGenFileContent:
		g := st.genByID[args[0]]
		if g == nil || g.deleted || g.createdAt.After(now) {
			return nil, notFound("Generated file not found: '" + sanitize(args[0]) + "'")
		}
		if ad.route.id == rGenFile {
			return &reply{body: marshal(genFileRec(g))}, nil
		}
		if g.expired {
			return nil, notFound("Generated file content not found: '" + sanitize(args[0]) + "'")
		}
		return &reply{dl: &download{name: g.filename, mime: g.mime, size: g.size, seed: g.seed, gen: g}}, nil
	case rArtifact, rArtifactContent:
		a := st.artByVer[args[0]]
		if a == nil || a.deleted || a.createdAt.After(now) {
			return nil, notFound("Artifact version not found: '" + sanitize(args[0]) + "'")
		}
		text := a.content()
		if ad.route.id == rArtifact {
			sum := md5.Sum([]byte(text))
			return &reply{body: marshal(artifactRec{a.id, a.versionID, a.chatID, tsZ(a.createdAt), strOrNil(a.title), strOrNil(a.typ),
				hex.EncodeToString(sum[:]), len(text)})}, nil
		}
		return &reply{body: marshal(struct {
			Content      string  `json:"content"`
			Title        *string `json:"title"`
			ArtifactType *string `json:"artifact_type"`
		}{text, strOrNil(a.title), strOrNil(a.typ)})}, nil
	case rProjects:
		return st.listProjects(v, path, now)
	case rProject, rProjectAttachments, rProjectCollaborators:
		p := st.projByID[args[0]]
		if p == nil || p.createdAt.After(now) {
			return nil, notFound("No project is found with the provided id.")
		}
		switch ad.route.id {
		case rProject:
			return &reply{body: marshal(projectDetail{projectRec(p), strOrNil(p.description), strOrNil(p.instructions), len(p.attachments), p.chats})}, nil
		case rProjectAttachments:
			return pageOf(v, 20, 100, path, false, func() []row {
				var rows []row
				for _, a := range p.attachments {
					rows = append(rows, row{timeKey(a.createdAt, a.id), attachmentRec(a)})
				}
				return rows
			})
		}
		return pageOf(v, 20, 100, path, false, func() []row {
			var rows []row
			for _, c := range p.collaborators {
				rows = append(rows, row{timeKey(c.grantedAt, strings.Repeat("0", 12-len(itoa(c.seq)))+itoa(c.seq)), collaboratorRec(c)})
			}
			return rows
		})
	case rProjectDocument, rProjectDocumentMetadata:
		d := st.docByID[args[0]]
		if d == nil || d.createdAt.After(now) {
			return nil, notFound("No project document found with the provided id.")
		}
		if ad.route.id == rProjectDocument {
			return &reply{body: marshal(struct {
				ID        string   `json:"id"`
				Content   string   `json:"content"`
				CreatedAt string   `json:"created_at"`
				Filename  string   `json:"filename"`
				User      *userRef `json:"user"`
			}{d.id, d.content, tsZ(d.createdAt), d.filename, refOf(d.user)})}, nil
		}
		sum := md5.Sum([]byte(d.content))
		var project string
		for _, p := range st.projects {
			if slices.Contains(p.attachments, d) {
				project = p.id
			}
		}
		return &reply{body: marshal(struct {
			ID        string   `json:"id"`
			ProjectID string   `json:"claude_project_id"`
			CreatedAt string   `json:"created_at"`
			Filename  string   `json:"filename"`
			MD5       string   `json:"md5"`
			MimeType  string   `json:"mime_type"`
			SizeBytes int      `json:"size_bytes"`
			User      *userRef `json:"user"`
		}{d.id, project, tsZ(d.createdAt), d.filename, hex.EncodeToString(sum[:]), "text/plain", len(d.content), refOf(d.user)})}, nil
	}
	return nil, notFound("Not found")
}

// newEmptyWorld is the organization of a server without a World.
func newEmptyWorld() *worldState {
	return &worldState{
		chatByID: map[string]*wChat{}, fileByID: map[string]*wFile{}, genByID: map[string]*wGenFile{},
		artByVer: map[string]*wArtifact{}, projByID: map[string]*wProject{}, docByID: map[string]*wAttachment{},
		groupByID: map[string]*wGroup{}, orgByUUID: map[string]*wOrg{}, opts: &WorldOptions{},
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// pageOf parses limit (def, 1..hi) and serves the page of the rows.
func pageOf(v map[string][]string, def, hi int, path string, omitNext bool, rows func() []row) (*reply, *apiError) {
	q, perr := parseLimit(v, def, hi)
	if perr != nil {
		return nil, perr
	}
	body, perr := servePage(rows(), q, path, omitNext)
	if perr != nil {
		return nil, perr
	}
	return &reply{body: body}, nil
}

func orgNotFound(uuid string) *apiError {
	return notFound(`The "` + sanitize(uuid) + `" organization does not exist or the requester is not authorized to access it.`)
}

// fileUUID is the uuid of a claude_file_ id (what the 404 names), or the id
// itself when it is not one.
func fileUUID(id string) string {
	if x, ok := parseWorldID(id, "claude_file_01"); ok {
		return x.uuid()
	}
	return sanitize(id)
}

// parseWorldID decodes prefix + 22 base62 digits back into its 128 bits.
func parseWorldID(id, prefix string) (id128, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 22 {
		return id128{}, false
	}
	var x id128
	for i := 0; i < len(rest); i++ {
		d := strings.IndexByte(base62, rest[i])
		if d < 0 {
			return id128{}, false
		}
		// x = x*62 + d over 128 bits
		hi1, lo := mul64(x.lo, 62)
		x.hi = x.hi*62 + hi1
		var carry uint64
		x.lo = lo + uint64(d)
		if x.lo < lo {
			carry = 1
		}
		x.hi += carry
	}
	return x, true
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask = 1<<32 - 1
	a0, a1 := a&mask, a>>32
	b0, b1 := b&mask, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask + a0*b1
	return a1*b1 + t>>32 + w1>>32, a * b
}

// ---------------------------------------------------------------------------
// Directory records.

type orgRec struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

func (st *worldState) orgRows() []row {
	rows := make([]row, 0, len(st.orgs))
	for _, o := range st.orgs {
		rows = append(rows, row{timeKey(o.createdAt, o.uuid), orgRec{o.uuid, o.name, tsOffset(o.createdAt)}})
	}
	return rows
}

type userRec struct {
	ID               string `json:"id"`
	FullName         string `json:"full_name"`
	Email            string `json:"email"`
	OrganizationRole string `json:"organization_role"`
	CreatedAt        string `json:"created_at"`
}

func (st *worldState) userRows(o *wOrg, now time.Time) []row {
	var rows []row
	for _, u := range st.users {
		if u.active && u.org == o && !u.joinedAt.After(now) {
			rows = append(rows, row{timeKey(u.joinedAt, u.id), userRec{u.id, u.fullName, u.email, u.role, tsZ(u.createdAt)}})
		}
	}
	return rows
}

type roleRecT struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	CreatedAt   *string `json:"created_at"`
	UpdatedAt   *string `json:"updated_at"`
}

func roleRec(r *wRole) roleRecT {
	return roleRecT{r.id, r.name, r.description, tsNaive(r.createdAt), tsNaive(r.updatedAt)}
}

type permissionRec struct {
	Action       string `json:"action"`
	ResourceID   string `json:"resource_id"`
	ResourceType string `json:"resource_type"`
}

type groupRecT struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	SourceType  string   `json:"source_type"`
	Roles       []string `json:"roles"`
	CreatedAt   *string  `json:"created_at"`
	UpdatedAt   *string  `json:"updated_at"`
}

func groupRec(g *wGroup) groupRecT {
	return groupRecT{g.id, g.name, g.description, g.source, slices.Clone(g.roles), tsNaive(g.createdAt), tsNaive(g.updatedAt)}
}

type memberRec struct {
	UserID    string  `json:"user_id"`
	Email     string  `json:"email"`
	CreatedAt *string `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

type settingRec struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type apiKeyRec struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Scopes      []string `json:"scopes"`
	IsActive    bool     `json:"is_active"`
	CreatedAt   string   `json:"created_at"`
	CreatedByID *string  `json:"created_by_id"`
	ExpiresAt   *string  `json:"expires_at"`
}

func (s *Server) settingsRec(o *wOrg) any {
	settings := make([]settingRec, 0, len(o.settings))
	for _, st := range o.settings {
		settings = append(settings, settingRec{st.name, st.typ, st.value})
	}
	keys := make([]apiKeyRec, 0, len(s.keys))
	for k, scopes := range s.keys {
		id := keyID(k)
		keys = append(keys, apiKeyRec{"compliance_api_key", id, "key " + id[len(id)-6:], slices.Clone(scopes), true,
			tsZ(o.createdAt), nil, nil})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	return struct {
		Type           string       `json:"type"`
		OrganizationID string       `json:"organization_id"`
		Settings       []settingRec `json:"settings"`
		APIKeys        []apiKeyRec  `json:"api_keys"`
	}{"effective_organization_settings", o.uuid, settings, keys}
}

// ---------------------------------------------------------------------------
// Chats.

type userRef struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
}

func refOf(u *wUser) *userRef {
	if u == nil {
		return nil
	}
	return &userRef{u.id, u.email}
}

type chatRec struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
	DeletedAt        *string  `json:"deleted_at"`
	Href             string   `json:"href"`
	Model            *string  `json:"model"`
	OrganizationUUID string   `json:"organization_uuid"`
	OrganizationID   string   `json:"organization_id"`
	ProjectID        *string  `json:"project_id"`
	User             *userRef `json:"user"`
}

func chatRecOf(c *wChat) chatRec {
	r := chatRec{ID: c.id, Name: c.name, CreatedAt: tsZ(c.createdAt), UpdatedAt: tsZ(c.updatedAt),
		Href: "https://claude.ai/chat/" + c.uuid, Model: strOrNil(c.model), OrganizationUUID: c.org.uuid,
		OrganizationID: c.org.id, User: refOf(c.user)}
	if !c.deletedAt.IsZero() {
		d := tsZ(c.deletedAt)
		r.DeletedAt = &d
	}
	if c.project != nil {
		r.ProjectID = &c.project.id
	}
	return r
}

// chatKey is a chat's position under order_by.
func chatKey(c *wChat, byUpdated bool) time.Time {
	if byUpdated {
		return c.updatedAt
	}
	return c.createdAt
}

// listChats serves GET /apps/chats (compliance-content-api.md §4.1).
func (st *worldState) listChats(v map[string][]string, now time.Time) (*reply, *apiError) {
	q, perr := parseLimit(v, 100, 1000)
	if perr != nil {
		return nil, perr
	}
	orderBy := "created_at"
	if raw, ok := first(v, "order_by"); ok {
		if raw != "created_at" && raw != "updated_at" {
			return nil, invalidRequest("order_by: Input should be 'created_at' or 'updated_at'")
		}
		orderBy = raw
	}
	byUpdated := orderBy == "updated_at"
	users, projects, orgs := v[paramUserIDs], v["project_ids[]"], setOf(v[paramOrgIDs])
	created, perr := parseRange(v, "created_at")
	if perr != nil {
		return nil, perr
	}
	updated, perr := parseRange(v, "updated_at")
	if perr != nil {
		return nil, perr
	}
	after, hasAfter := first(v, paramAfterID)
	before, hasBefore := first(v, paramBeforeID)
	switch {
	case hasAfter && hasBefore:
		return nil, invalidRequest("Only one of 'after_id' and 'before_id' may be provided.")
	case len(users) > 10:
		return nil, invalidRequest("user_ids: List should have at most 10 items after validation, not %d", len(users))
	case len(projects) > 0 && len(users) == 0:
		return nil, invalidRequest("project_ids requires user_ids.")
	case len(users) == 0 && hasBefore:
		return nil, invalidRequest("before_id is not supported on organization-wide queries (without user_ids).")
	case len(users) > 0 && byUpdated:
		return nil, invalidRequest("order_by=updated_at is not supported with user_ids.")
	case len(users) == 0 && !byUpdated && updated.set():
		return nil, invalidRequest("updated_at filters require order_by=updated_at on organization-wide queries.")
	case len(users) == 0 && byUpdated && created.set():
		return nil, invalidRequest("created_at filters require order_by=created_at on organization-wide queries.")
	case len(users) > 0 && updated.set() && !now.Before(userUpdatedCutoff):
		return nil, invalidRequest("updated_at filters are not supported with user_ids since 2026-09-22; use an organization-wide query with order_by=updated_at.")
	}
	cursorParam, cursor := paramAfterID, after
	if hasBefore {
		cursorParam, cursor = paramBeforeID, before
	}
	var pos *chatCursor
	if hasAfter || hasBefore {
		pos = st.chatPosition(cursor, orderBy)
		if pos == nil {
			return nil, invalidRequest("Invalid pagination cursor for '%s'", cursorParam)
		}
	}
	sorted := st.chatsByCreated()
	if byUpdated {
		sorted = st.chatsByUpdated()
	}
	match := func(c *wChat) bool {
		if c.createdAt.After(now) || !created.contains(c.createdAt) || !updated.contains(c.updatedAt) {
			return false
		}
		if orgs != nil {
			_, byUUID := orgs[c.org.uuid]
			_, byID := orgs[c.org.id]
			if !byUUID && !byID {
				return false
			}
		}
		if len(users) > 0 && (c.user == nil || !slices.Contains(users, c.user.id)) {
			return false
		}
		return len(projects) == 0 || (c.project != nil && slices.Contains(projects, c.project.id))
	}
	// cmp orders c against the cursor position.
	cmp := func(c *wChat) int {
		if k := chatKey(c, byUpdated).Compare(parseCursorTime(pos.Time)); k != 0 {
			return k
		}
		return cmpString(c.uuid, pos.ID)
	}
	var items []*wChat
	hasMore := false
	switch {
	case pos == nil || hasAfter:
		start := 0
		if pos != nil {
			start = sort.Search(len(sorted), func(i int) bool { return cmp(sorted[i]) > 0 })
		}
		for _, c := range sorted[start:] {
			if !match(c) {
				continue
			}
			if len(items) == q.limit {
				hasMore = true
				break
			}
			items = append(items, c)
		}
	default: // before_id: the limit chats just before the cursor, ascending
		end := sort.Search(len(sorted), func(i int) bool { return cmp(sorted[i]) >= 0 })
		for i := end - 1; i >= 0; i-- {
			if !match(sorted[i]) {
				continue
			}
			if len(items) == q.limit {
				hasMore = true
				break
			}
			items = append(items, sorted[i])
		}
		slices.Reverse(items)
	}
	env := struct {
		Data    []chatRec `json:"data"`
		HasMore bool      `json:"has_more"`
		FirstID *string   `json:"first_id"`
		LastID  *string   `json:"last_id"`
	}{Data: make([]chatRec, 0, len(items)), HasMore: hasMore}
	for _, c := range items {
		env.Data = append(env.Data, chatRecOf(c))
	}
	if len(items) > 0 {
		f, l := chatCursorOf(items[0], orderBy), chatCursorOf(items[len(items)-1], orderBy)
		env.FirstID, env.LastID = &f, &l
	}
	return &reply{body: marshal(env)}, nil
}

// userUpdatedCutoff is when updated_at filters with user_ids[] became a 400.
var userUpdatedCutoff = time.Date(2026, 9, 22, 0, 0, 0, 0, time.UTC)

func chatCursorOf(c *wChat, orderBy string) string {
	return encodeCursor(chatCursor{orderBy, chatKey(c, orderBy == "updated_at").UTC().Format(time.RFC3339Nano), c.uuid})
}

func parseCursorTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// chatPosition decodes a chat cursor bound to orderBy, or takes a plain chat
// id (the older form) at that chat's current position; nil when invalid.
func (st *worldState) chatPosition(raw, orderBy string) *chatCursor {
	if c := st.chatByID[raw]; c != nil {
		return &chatCursor{orderBy, chatKey(c, orderBy == "updated_at").UTC().Format(time.RFC3339Nano), c.uuid}
	}
	var cur chatCursor
	if !decodeCursorJSON(raw, &cur) || cur.Key != orderBy || cur.ID == "" {
		return nil
	}
	if _, err := time.Parse(time.RFC3339Nano, cur.Time); err != nil {
		return nil
	}
	return &cur
}

// chatsByCreated returns the chats sorted by (created_at, id).
func (st *worldState) chatsByCreated() []*wChat { return st.chats }

func compareChatsCreated(a, b *wChat) int {
	if c := a.createdAt.Compare(b.createdAt); c != 0 {
		return c
	}
	return cmpString(a.id, b.id)
}

// ---------------------------------------------------------------------------
// Messages.

type fileRef struct {
	ID        string  `json:"id"`
	Filename  string  `json:"filename"`
	MimeType  *string `json:"mime_type"`
	SizeBytes *int64  `json:"size_bytes"`
	MD5       *string `json:"md5"`
	CreatedAt string  `json:"created_at"`
}

type genFileRef struct {
	ID        string  `json:"id"`
	Filename  string  `json:"filename"`
	MimeType  *string `json:"mime_type"`
	SizeBytes *int64  `json:"size_bytes"`
	MD5       *string `json:"md5"`
}

type artifactRef struct {
	ID           string  `json:"id"`
	VersionID    string  `json:"version_id"`
	Title        *string `json:"title"`
	ArtifactType *string `json:"artifact_type"`
}

type messageRec struct {
	ID             string        `json:"id"`
	Role           string        `json:"role"`
	CreatedAt      string        `json:"created_at"`
	Content        []any         `json:"content"`
	Files          []fileRef     `json:"files"`
	GeneratedFiles []genFileRef  `json:"generated_files"`
	Artifacts      []artifactRef `json:"artifacts"`
}

type textBlock struct {
	Type             string `json:"type"`
	Text             string `json:"text"`
	ThinkingRedacted bool   `json:"thinking_redacted"`
	Truncated        bool   `json:"truncated"`
}

type toolUseBlock struct {
	Type            string  `json:"type"`
	ID              *string `json:"id"`
	Name            string  `json:"name"`
	Input           string  `json:"input"`
	IntegrationName *string `json:"integration_name"`
	MCPServerURL    *string `json:"mcp_server_url"`
	Truncated       bool    `json:"truncated"`
}

type toolResultBlock struct {
	Type            string      `json:"type"`
	ToolUseID       *string     `json:"tool_use_id"`
	Name            string      `json:"name"`
	IsError         bool        `json:"is_error"`
	Content         []textBlock `json:"content"`
	IntegrationName *string     `json:"integration_name"`
	MCPServerURL    *string     `json:"mcp_server_url"`
	Truncated       bool        `json:"truncated"`
}

// truncate cuts s to max characters (not bytes); -1 means unlimited.
func truncate(s string, limit int) (string, bool) {
	if limit < 0 || utf8.RuneCountInString(s) <= limit {
		return s, false
	}
	i, n := 0, 0
	for n < limit {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return s[:i], true
}

// messageRecOf writes m; stripped (a chat deleted in claude.ai) drops its
// content and attachments.
func (st *worldState) messageRecOf(m *wMessage, stripped bool, toolResultMax, toolInputMax int) messageRec {
	rec := messageRec{ID: m.id, Role: m.role, CreatedAt: tsZ(m.createdAt), Content: []any{}}
	if stripped {
		return rec
	}
	r := rand.New(rand.NewPCG(m.seed, saltWorld))
	rec.Content = append(rec.Content, textBlock{Type: "text", Text: sentence(r, 5+r.IntN(60))})
	if m.role == "assistant" && r.IntN(4) == 0 {
		id := "toolu_01" + newID128(r).base62()
		name := pick(r, toolNames)
		input, inCut := truncate(`{"query":`+string(appendJSONString(nil, sentence(r, 4+r.IntN(3000))))+`}`, toolInputMax)
		result, resCut := truncate(sentence(r, 10+r.IntN(3000)), toolResultMax)
		rec.Content = append(rec.Content,
			toolUseBlock{Type: "tool_use", ID: &id, Name: name, Input: input, Truncated: inCut},
			toolResultBlock{Type: "tool_result", ToolUseID: &id, Name: name, Content: []textBlock{{Type: "text", Text: result}}, Truncated: resCut},
			textBlock{Type: "text", Text: sentence(r, 3+r.IntN(20))})
	}
	for _, f := range m.files {
		rec.Files = append(rec.Files, fileRefOf(f))
	}
	for _, g := range m.genFiles {
		rec.GeneratedFiles = append(rec.GeneratedFiles, genFileRefOf(g))
	}
	for _, a := range m.artifacts {
		rec.Artifacts = append(rec.Artifacts, artifactRef{a.id, a.versionID, strOrNil(a.title), strOrNil(a.typ)})
	}
	return rec
}

type msgCursor struct {
	MsgUUID string `json:"msg_uuid"`
}

// listMessages serves GET /apps/chats/{id}/messages (§4.2).
func (st *worldState) listMessages(v map[string][]string, chatID string, now time.Time) (*reply, *apiError) {
	c := st.chatByID[chatID]
	if c == nil || c.createdAt.After(now) {
		return nil, notFound("Chat conversation not found: '" + sanitize(chatID) + "'")
	}
	q, perr := parseLimit(v, 0, 1000)
	if perr != nil {
		return nil, perr
	}
	desc := false
	if raw, ok := first(v, paramOrder); ok {
		if raw != "asc" && raw != "desc" {
			return nil, invalidRequest("order: Input should be 'asc' or 'desc'")
		}
		desc = raw == "desc"
	}
	created, perr := parseRange(v, "created_at")
	if perr != nil {
		return nil, perr
	}
	// updated_at.* is accepted; messages carry no updated_at and what the
	// filter matches is unconfirmed, so the fake ignores it.
	if _, perr := parseRange(v, "updated_at"); perr != nil {
		return nil, perr
	}
	toolResultMax, perr := intParam(v, "tool_result_max_chars", 10000, -1, 1<<31-1)
	if perr != nil {
		return nil, perr
	}
	toolInputMax, perr := intParam(v, "tool_use_input_max_chars", 10000, -1, 1<<31-1)
	if perr != nil {
		return nil, perr
	}
	after, hasAfter := first(v, paramAfterID)
	before, hasBefore := first(v, paramBeforeID)
	if hasAfter && hasBefore {
		return nil, invalidRequest("Only one of 'after_id' and 'before_id' may be provided.")
	}
	var list []*wMessage
	for _, m := range c.messages {
		if !m.createdAt.After(now) && created.contains(m.createdAt) {
			list = append(list, m)
		}
	}
	if desc {
		slices.Reverse(list)
	}
	pos := -1 // index of the cursor in c.messages order-adjusted list
	if hasAfter || hasBefore {
		raw, param := after, paramAfterID
		if hasBefore {
			raw, param = before, paramBeforeID
		}
		var cur msgCursor
		if !decodeCursorJSON(raw, &cur) {
			return nil, invalidRequest("Invalid pagination cursor for '%s'", param)
		}
		pos = slices.IndexFunc(list, func(m *wMessage) bool { return m.uuid == cur.MsgUUID })
		if pos < 0 {
			return nil, invalidRequest("Invalid pagination cursor for '%s'", param)
		}
	}
	limit := len(list)
	if q.limitSet {
		limit = q.limit
	}
	var page []*wMessage
	hasMore := false
	switch {
	case hasBefore:
		lo := max(0, pos-limit)
		page, hasMore = list[lo:pos], lo > 0
	default:
		start := pos + 1
		end := min(len(list), start+limit)
		page, hasMore = list[start:end], end < len(list)
	}
	stripped := !c.deletedAt.IsZero()
	env := struct {
		chatRec
		ChatMessages []messageRec `json:"chat_messages"`
		HasMore      bool         `json:"has_more"`
		FirstID      *string      `json:"first_id"`
		LastID       *string      `json:"last_id"`
	}{chatRec: chatRecOf(c), ChatMessages: make([]messageRec, 0, len(page)), HasMore: hasMore}
	for _, m := range page {
		env.ChatMessages = append(env.ChatMessages, st.messageRecOf(m, stripped, toolResultMax, toolInputMax))
	}
	if len(page) > 0 {
		f, l := encodeCursor(msgCursor{page[0].uuid}), encodeCursor(msgCursor{page[len(page)-1].uuid})
		env.FirstID, env.LastID = &f, &l
	}
	return &reply{body: marshal(env)}, nil
}

// ---------------------------------------------------------------------------
// Files and artifacts.

func fileRefOf(f *wFile) fileRef {
	sum := hex.EncodeToString(f.md5())
	return fileRef{f.id, f.filename, &f.mime, &f.size, &sum, tsZ(f.createdAt)}
}

func genFileRefOf(g *wGenFile) genFileRef {
	r := genFileRef{ID: g.id, Filename: g.filename, MimeType: &g.mime}
	if !g.expired {
		sum := hex.EncodeToString(g.md5())
		r.SizeBytes, r.MD5 = &g.size, &sum
	}
	return r
}

type fileRecT struct {
	ID         string   `json:"id"`
	Filename   *string  `json:"filename"`
	MimeType   *string  `json:"mime_type"`
	SizeBytes  *int64   `json:"size_bytes"`
	MD5        *string  `json:"md5"`
	CreatedAt  string   `json:"created_at"`
	MessageIDs []string `json:"message_ids"`
	ChatIDs    []string `json:"claude_chat_ids"`
}

func fileRec(f *wFile) fileRecT {
	sum := hex.EncodeToString(f.md5())
	return fileRecT{f.id, &f.filename, &f.mime, &f.size, &sum, tsZ(f.createdAt),
		append([]string{}, f.messageIDs...), append([]string{}, f.chatIDs...)}
}

func genFileRec(g *wGenFile) any {
	r := genFileRefOf(g)
	return struct {
		ID        string  `json:"id"`
		ChatID    string  `json:"claude_chat_id"`
		CreatedAt string  `json:"created_at"`
		Filename  string  `json:"filename"`
		MD5       *string `json:"md5"`
		MimeType  *string `json:"mime_type"`
		SizeBytes *int64  `json:"size_bytes"`
	}{g.id, g.chatID, tsZ(g.createdAt), g.filename, r.MD5, r.MimeType, r.SizeBytes}
}

type artifactRec struct {
	ID           string  `json:"id"`
	VersionID    string  `json:"version_id"`
	ChatID       string  `json:"claude_chat_id"`
	CreatedAt    string  `json:"created_at"`
	Title        *string `json:"title"`
	ArtifactType *string `json:"artifact_type"`
	MD5          string  `json:"md5"`
	SizeBytes    int     `json:"size_bytes"`
}

// content is the artifact's text.
func (a *wArtifact) content() string {
	r := rand.New(rand.NewPCG(a.seed, saltWorld))
	return "<!-- " + a.title + " -->\n" + sentence(r, 20+r.IntN(400))
}

// ---------------------------------------------------------------------------
// Projects.

type projectRecT struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
	DeletedAt        *string  `json:"deleted_at"`
	IsPrivate        bool     `json:"is_private"`
	OrganizationUUID string   `json:"organization_uuid"`
	OrganizationID   string   `json:"organization_id"`
	User             *userRef `json:"user"`
}

func projectRec(p *wProject) projectRecT {
	return projectRecT{p.id, p.name, tsZ(p.createdAt), tsZ(p.updatedAt), nil, p.private, p.org.uuid, p.org.id, refOf(p.user)}
}

type projectDetail struct {
	projectRecT
	Description      *string `json:"description"`
	Instructions     *string `json:"instructions"`
	AttachmentsCount int     `json:"attachments_count"`
	ChatsCount       int     `json:"chats_count"`
}

func attachmentRec(a *wAttachment) any {
	if a.doc {
		return struct {
			Type      string  `json:"type"`
			ID        string  `json:"id"`
			CreatedAt string  `json:"created_at"`
			Filename  string  `json:"filename"`
			MimeType  string  `json:"mime_type"`
			UpdatedAt *string `json:"updated_at"`
		}{"project_doc", a.id, tsZ(a.createdAt), a.filename, "text/plain", nil}
	}
	f := a.file
	sum := hex.EncodeToString(f.md5())
	return struct {
		Type      string  `json:"type"`
		ID        string  `json:"id"`
		CreatedAt string  `json:"created_at"`
		Filename  string  `json:"filename"`
		MimeType  string  `json:"mime_type"`
		SizeBytes *int64  `json:"size_bytes"`
		MD5       *string `json:"md5"`
	}{"project_file", f.id, tsZ(a.createdAt), f.filename, f.mime, &f.size, &sum}
}

func collaboratorRec(c *wCollaborator) map[string]any {
	m := map[string]any{"type": c.typ, "granted_at": tsZ(c.grantedAt), "role": c.role}
	switch c.typ {
	case "user":
		m["user_id"] = c.ref
	case "group":
		m["group_id"] = c.ref
	case "organization":
		m["organization_uuid"] = c.ref
	default:
		m["organization_role"] = c.ref
	}
	return m
}

// listProjects serves GET /apps/projects (§6).
func (st *worldState) listProjects(v map[string][]string, path string, now time.Time) (*reply, *apiError) {
	created, perr := parseRange(v, "created_at")
	if perr != nil {
		return nil, perr
	}
	updated, perr := parseRange(v, "updated_at")
	if perr != nil {
		return nil, perr
	}
	orgs, users := setOf(v[paramOrgIDs]), setOf(v[paramUserIDs])
	return pageOf(v, 20, 100, path, false, func() []row {
		var rows []row
		for _, p := range st.projects {
			if p.createdAt.After(now) || !created.contains(p.createdAt) || !updated.contains(p.updatedAt) {
				continue
			}
			if orgs != nil {
				_, a := orgs[p.org.uuid]
				_, b := orgs[p.org.id]
				if !a && !b {
					continue
				}
			}
			if users != nil {
				if _, ok := users[p.user.id]; !ok {
					continue
				}
			}
			rows = append(rows, row{timeKey(p.createdAt, p.id), projectRec(p)})
		}
		return rows
	})
}
