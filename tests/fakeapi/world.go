package fakeapi

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"
)

// This file holds the organization behind the feed: its linked organizations,
// users, roles, groups, projects, chats with messages and files, and settings
// (compliance-content-api.md §3–§6). A World is built once from its options,
// deterministically; Generate reads it so that activities name users, chats,
// files, projects and groups that exist, and a Server serves its own copy
// through the directory and content endpoints and lets it grow on the clock.

// WorldOptions configures NewWorld. The zero value of every field has a
// default.
type WorldOptions struct {
	// Seed selects the world; the same options always give the same world.
	Seed uint64
	// From and To bound the created_at of the base chats, and To is the
	// instant the base world describes (every base timestamp is at or before
	// it). Zero To means 2026-01-01T00:00:00Z; zero From means To minus 24h.
	// Put To at or before the server's clock.
	From, To time.Time
	// Orgs is the number of linked organizations (default 3).
	Orgs int
	// Users is the number of users at To (default 200); each is a member of
	// one organization.
	Users int
	// Groups is the number of groups (default 8).
	Groups int
	// Projects is the number of projects (default 24).
	Projects int
	// Chats is the number of chats created in [From, To) (default 300).
	Chats int
	// MaxMessages bounds the messages of a base chat (default 12, at least 2).
	MaxMessages int
	// FileFraction is the fraction of user messages that upload a file
	// (default 0.2; negative means none).
	FileFraction float64
	// MaxFileSize bounds the size of a file in bytes (default 64 KiB).
	MaxFileSize int
	// LargeFileSize, when positive, is the size of every LargeFileEvery-th
	// chat file (default every 10th), for tests that download files larger
	// than a batch.
	LargeFileSize  int
	LargeFileEvery int
	// Growth makes the world change as the server's clock advances.
	Growth WorldGrowth
}

// WorldGrowth makes a Server's world change with its clock: for every whole
// second s with Start < s <= clock, the changes of s are drawn from (Seed, s)
// and the world as it stood, so they do not depend on when or how often
// requests arrive. Rates are mean events per hour of the fake clock; zero
// means none. Changes that the Activity Feed records also add their activity
// (claude_chat_created, claude_file_uploaded, claude_chat_deleted,
// scim_user_created, org_user_deleted, group_member_added,
// group_member_removed, claude_project_created).
type WorldGrowth struct {
	// Start is the last second without changes; zero means the World's To.
	Start time.Time
	// ChatsPerHour creates chats (one exchange of two messages).
	ChatsPerHour float64
	// EditsPerHour appends an exchange to an existing chat, moving its
	// updated_at.
	EditsPerHour float64
	// DeletesPerHour deletes a chat in claude.ai: it stays listed with
	// deleted_at set and an empty name, its messages lose their content and
	// its files, generated files and artifacts answer 404.
	DeletesPerHour float64
	// UserChangesPerHour adds a user to an organization or removes one
	// (and their group memberships), evenly.
	UserChangesPerHour float64
	// GroupChangesPerHour adds a member to a group or removes one, evenly.
	GroupChangesPerHour float64
	// ProjectChangesPerHour creates a project, adds an attachment or adds or
	// removes a collaborator.
	ProjectChangesPerHour float64
	// SettingChangesPerHour flips a boolean setting of an organization.
	SettingChangesPerHour float64
}

// World is a validated, immutable description of the organization behind the
// feed. Pass the same World to GenOptions.World and Options.World.
type World struct {
	opts WorldOptions
	base *worldState // read only: Generate picks from it
}

// Defaults of WorldOptions.
const (
	defaultWorldOrgs     = 3
	defaultWorldUsers    = 200
	defaultWorldGroups   = 8
	defaultWorldProjects = 24
	defaultWorldChats    = 300
	defaultMaxMessages   = 12
	defaultFileFraction  = 0.2
	defaultMaxFileSize   = 64 << 10
	defaultLargeEvery    = 10
	maxWorldUsers        = 1_000_000
	maxWorldChats        = 1_000_000
)

const (
	saltWorld       = 0x776f726c64303031
	saltWorldGrowth = 0x7767727774683031
)

// NewWorld validates o and builds the base world.
func NewWorld(o WorldOptions) (*World, error) {
	if o.To.IsZero() {
		o.To = defaultGenTo
	}
	o.To = o.To.UTC().Truncate(time.Second)
	if o.From.IsZero() {
		o.From = o.To.Add(-24 * time.Hour)
	}
	o.From = o.From.UTC().Truncate(time.Second)
	if !o.From.Before(o.To) {
		return nil, fmt.Errorf("fakeapi: WorldOptions: From %v must be before To %v", o.From, o.To)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
		max  int
	}{
		{"Orgs", &o.Orgs, defaultWorldOrgs, 1000},
		{"Users", &o.Users, defaultWorldUsers, maxWorldUsers},
		{"Groups", &o.Groups, defaultWorldGroups, 10000},
		{"Projects", &o.Projects, defaultWorldProjects, 100000},
		{"Chats", &o.Chats, defaultWorldChats, maxWorldChats},
		{"MaxMessages", &o.MaxMessages, defaultMaxMessages, 10000},
		{"MaxFileSize", &o.MaxFileSize, defaultMaxFileSize, 1 << 30},
		{"LargeFileEvery", &o.LargeFileEvery, defaultLargeEvery, 1 << 20},
	} {
		if *f.v < 0 || *f.v > f.max {
			return nil, fmt.Errorf("fakeapi: WorldOptions: %s must be within [0, %d], got %d", f.name, f.max, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	o.MaxMessages = max(o.MaxMessages, 2)
	if o.LargeFileSize < 0 || o.LargeFileSize > 4<<30 {
		return nil, fmt.Errorf("fakeapi: WorldOptions: LargeFileSize must be within [0, 4 GiB], got %d", o.LargeFileSize)
	}
	switch {
	case o.FileFraction == 0:
		o.FileFraction = defaultFileFraction
	case o.FileFraction < 0:
		o.FileFraction = 0
	case o.FileFraction > 1:
		return nil, fmt.Errorf("fakeapi: WorldOptions: FileFraction must be at most 1, got %v", o.FileFraction)
	}
	g := o.Growth
	for _, r := range []float64{g.ChatsPerHour, g.EditsPerHour, g.DeletesPerHour, g.UserChangesPerHour,
		g.GroupChangesPerHour, g.ProjectChangesPerHour, g.SettingChangesPerHour} {
		if r < 0 || r > 3600*1000 {
			return nil, fmt.Errorf("fakeapi: WorldGrowth rates must be within [0, 3600000] per hour, got %+v", g)
		}
	}
	if o.Growth.Start.IsZero() {
		o.Growth.Start = o.To
	}
	w := &World{opts: o}
	w.base = w.build()
	return w, nil
}

// Options returns the options with their defaults filled in.
func (w *World) Options() WorldOptions { return w.opts }

// ---------------------------------------------------------------------------
// The state: what the endpoints serve. A worldState is not safe for
// concurrent use; a Server guards its own with its mutex.

type wOrg struct {
	uuid, id, name string
	createdAt      time.Time
	roles          []*wRole
	settings       []wSetting
}

type wUser struct {
	id, fullName, email, role string
	createdAt, joinedAt       time.Time
	org                       *wOrg
	active                    bool
}

type wPermission struct{ action, resourceID, resourceType string }

type wRole struct {
	id, name, description string
	createdAt, updatedAt  time.Time // zero = null (built-in roles)
	perms                 []wPermission
}

type wMember struct {
	user                 *wUser
	createdAt, updatedAt time.Time
}

type wGroup struct {
	id, name, description, source string
	roles                         []string // nil = null
	createdAt, updatedAt          time.Time
	members                       []wMember
}

type wSetting struct {
	name, typ string
	value     any
}

type wFile struct {
	id, uuid, filename, mime string
	size                     int64
	createdAt                time.Time
	seed                     uint64
	sum                      [16]byte
	summed                   bool
	messageIDs, chatIDs      []string
	project                  *wProject // a project file; nil for chat files
	deleted                  bool
}

type wGenFile struct {
	id, chatID, filename, mime string
	size                       int64
	createdAt                  time.Time
	seed                       uint64
	sum                        [16]byte
	summed                     bool
	expired, deleted           bool
}

type wArtifact struct {
	id, versionID, chatID, title, typ string
	createdAt                         time.Time
	seed                              uint64
	deleted                           bool
}

type wMessage struct {
	id, uuid, role string
	createdAt      time.Time
	seed           uint64
	files          []*wFile
	genFiles       []*wGenFile
	artifacts      []*wArtifact
}

type wChat struct {
	id, uuid, name, model           string
	createdAt, updatedAt, deletedAt time.Time
	org                             *wOrg
	project                         *wProject // nil = null
	user                            *wUser
	messages                        []*wMessage
}

type wAttachment struct {
	doc       bool
	id        string
	createdAt time.Time
	file      *wFile // !doc
	filename  string // doc
	content   string // doc
	user      *wUser // doc creator
}

type wCollaborator struct {
	typ, role, ref string // ref: user id, group id, org uuid or organization role
	grantedAt      time.Time
	seq            int
}

type wProject struct {
	id, name, description, instructions string
	createdAt, updatedAt                time.Time
	private                             bool
	org                                 *wOrg
	user                                *wUser
	attachments                         []*wAttachment
	collaborators                       []*wCollaborator
	chats                               int
}

// worldState is the mutable world. Slices are kept in creation order; the
// chats slice is therefore sorted by created_at.
type worldState struct {
	parentUUID  string
	orgs        []*wOrg
	users       []*wUser // every user ever, removed ones included (active false)
	groups      []*wGroup
	projects    []*wProject
	chats       []*wChat
	files       []*wFile // chat files in creation order
	chatByID    map[string]*wChat
	fileByID    map[string]*wFile
	genByID     map[string]*wGenFile
	artByVer    map[string]*wArtifact
	projByID    map[string]*wProject
	docByID     map[string]*wAttachment
	groupByID   map[string]*wGroup
	orgByUUID   map[string]*wOrg
	updatedSort bool // chats need re-sorting by updated_at
	byUpdated   []*wChat
	collabSeq   int
	fileCount   int
	opts        *WorldOptions
	growthNext  int64
}

// ---------------------------------------------------------------------------
// Ids. A world id and its uuid encode the same 128 random bits, the id in
// fixed-width base62 and the uuid in hex, so both sort the same way.

type id128 struct{ hi, lo uint64 }

func newID128(r *rand.Rand) id128 { return id128{r.Uint64(), r.Uint64()} }

func (x id128) uuid() string {
	var b [36]byte
	j := 0
	for i := range 36 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = x.hi >> (60 - 4*j) & 0xf
		} else {
			nib = x.lo >> (60 - 4*(j-16)) & 0xf
		}
		b[i] = hexDigits[nib]
		j++
	}
	return string(b[:])
}

// base62 is the fixed-width (22 digit) base62 form, order-preserving.
func (x id128) base62() string {
	var d [22]byte
	hi, lo := x.hi, x.lo
	for i := len(d) - 1; i >= 0; i-- {
		var rem uint64
		hi, rem = hi/62, hi%62
		lo, rem = bits.Div64(rem, lo, 62)
		d[i] = base62[rem]
	}
	return string(d[:])
}

func (x id128) withPrefix(prefix string) string { return prefix + "01" + x.base62() }

// ---------------------------------------------------------------------------
// Names and texts.

var (
	firstNames  = []string{"Alice", "Bob", "Zoë", "José", "李", "Søren", "Ивана", "Mary-Jane", "O'Brien", "Élodie", "अनुराधा", "D\"quote"}
	lastNames   = []string{"Müller", "García", "Nakamura", "Smith", "雷", "Back\\slash", "Ng", "Okafor"}
	orgNames    = []string{"Acme Legal", "Acme Research – EU", "Acme \"Labs\"", "Ünïcödé GmbH", "Acme Support"}
	chatNames   = []string{"Product Requirements Discussion", "Q3 \"final\" numbers", "Contract review – NDA", "多语言 summary", "Debugging\nthe build", "M&A <confidential>", "😀 brainstorm", `path C:\temp`}
	models      = []string{"claude-opus-5", "claude-sonnet-5", "claude-haiku-4-5"}
	orgRoles    = []string{"user", "user", "user", "user", "developer", "claude_code_user", "admin", "billing", "membership_admin", "managed", "owner"}
	groupNames  = []string{"Engineering", "Legal – EU", "Support \"tier 2\"", "Финансы", "Research", "SCIM: all-staff", "Sales", "Admins"}
	words       = []string{"the", "contract", "clause", "résumé", "데이터", "quarterly", "\"quoted\"", "back\\slash", "naïve", "risk", "🚀", "review", "draft", "policy", "customer", "中文", "line\nbreak", "tab\tstop", "<tag>", "&amp;", "budget", "model", "summary", "deadline"}
	toolNames   = []string{"web_search", "code_execution", "google_drive_search", "jira_create_issue"}
	artifactTyp = []string{"application/vnd.ant.code", "text/markdown", "text/html", "application/vnd.ant.react", "image/svg+xml"}
)

// mimeTypes maps the extensions of fileNames to MIME types.
var mimeTypes = map[string]string{
	".pdf": "application/pdf", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".txt": "text/plain", ".md": "text/markdown", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation", ".csv": "text/csv",
	".bin": "application/octet-stream", ".html": "text/html", ".json": "application/json", ".png": "image/png",
}

func mimeOf(name string) string {
	for i := len(name) - 1; i >= 0 && i >= len(name)-6; i-- {
		if name[i] == '.' {
			if m, ok := mimeTypes[name[i:]]; ok {
				return m
			}
			break
		}
	}
	return "application/octet-stream"
}

// sentence draws n words.
func sentence(r *rand.Rand, n int) string {
	b := make([]byte, 0, n*8)
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Building the base world.

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// between draws a whole-second instant in [a, b).
func between(r *rand.Rand, a, b time.Time) time.Time {
	span := int64(b.Sub(a) / time.Second)
	if span <= 0 {
		return a
	}
	return a.Add(time.Duration(r.Int64N(span)) * time.Second)
}

// build derives the base world from the options. It is deterministic, so a
// Server gets a private copy by building again.
func (w *World) build() *worldState {
	o := &w.opts
	r := rand.New(rand.NewPCG(o.Seed, saltWorld))
	st := &worldState{
		parentUUID: newID128(r).uuid(),
		chatByID:   map[string]*wChat{},
		fileByID:   map[string]*wFile{},
		genByID:    map[string]*wGenFile{},
		artByVer:   map[string]*wArtifact{},
		projByID:   map[string]*wProject{},
		docByID:    map[string]*wAttachment{},
		groupByID:  map[string]*wGroup{},
		orgByUUID:  map[string]*wOrg{},
		opts:       o,
		growthNext: o.Growth.Start.Unix() + 1,
	}
	history := o.From.Add(-400 * 24 * time.Hour)
	for i := range o.Orgs {
		x := newID128(r)
		org := &wOrg{uuid: x.uuid(), id: "org_01" + x.base62(), name: orgNames[i%len(orgNames)],
			createdAt: between(r, history, history.Add(30*24*time.Hour)).Add(time.Duration(r.IntN(1e6)) * time.Microsecond)}
		st.addRoles(r, org)
		org.settings = newSettings(r)
		st.orgs = append(st.orgs, org)
		st.orgByUUID[org.uuid] = org
	}
	slices.SortFunc(st.orgs, func(a, b *wOrg) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return cmpString(a.uuid, b.uuid)
	})
	for i := range o.Users {
		created := between(r, history, o.From)
		st.users = append(st.users, st.newUser(r, i, created, between(r, created, o.From)))
	}
	for i := range o.Groups {
		st.addGroup(r, i, between(r, history, o.From))
	}
	for range o.Projects {
		st.addProject(r, between(r, o.From.Add(-30*24*time.Hour), o.To))
	}
	times := make([]time.Time, o.Chats)
	for i := range times {
		times[i] = between(r, o.From, o.To)
	}
	slices.SortFunc(times, time.Time.Compare)
	for _, at := range times {
		c := st.addChat(r, at, o.To)
		if r.IntN(100) < 3 {
			st.deleteChat(c, between(r, c.updatedAt, o.To.Add(time.Second)))
		}
	}
	// Later files are created at the growth's current second, so one sort
	// keeps st.files ordered by created_at for good.
	slices.SortStableFunc(st.files, func(a, b *wFile) int { return a.createdAt.Compare(b.createdAt) })
	return st
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (st *worldState) addRoles(r *rand.Rand, org *wOrg) {
	for _, spec := range []struct {
		name, desc string
		builtin    bool
		perms      []wPermission
	}{
		{"Primary Owner", "Full control of the organization", true, []wPermission{{"manage", "", "organization"}, {"claude_code", "", "organization"}}},
		{"Admin", "Manages members and settings", true, []wPermission{{"manage_members", "", "organization"}, {"manage_settings", "", "organization"}}},
		{"Member", "Uses Claude", true, []wPermission{{"chat", "", "organization"}}},
		{"Claude Code user", "Members with Claude Code", false, []wPermission{{"chat", "", "organization"}, {"claude_code", "", "organization"}}},
		{"Compliance \"auditor\"", "Reads the Compliance API – EU", false, []wPermission{{"compliance_read", "", "organization"}}},
	} {
		role := &wRole{id: newID128(r).withPrefix("rbac_role_"), name: spec.name, description: spec.desc, perms: spec.perms}
		if !spec.builtin {
			role.createdAt = org.createdAt.Add(time.Duration(1+r.IntN(1e9)) * time.Millisecond)
			role.updatedAt = role.createdAt.Add(time.Duration(r.IntN(1e9)) * time.Millisecond)
		}
		org.roles = append(org.roles, role)
	}
}

func newSettings(r *rand.Rand) []wSetting {
	var out []wSetting
	for _, name := range []string{"chat_enabled", "content_redaction_enabled", "memory_enabled", "sso_enabled", "web_search_enabled", "claude_code_enabled", "file_uploads_enabled", "artifacts_enabled"} {
		out = append(out, wSetting{name, "boolean", r.IntN(4) != 0})
	}
	var dur any
	if r.IntN(2) == 0 {
		dur = 3600 * (1 + r.IntN(24))
	}
	out = append(out,
		wSetting{"account_session_duration_seconds", "integer", dur},
		wSetting{"claude_code_default_worker_pool_id", "string", "pool_" + strconv.Itoa(r.IntN(100))},
		wSetting{"allowed_invite_domains", "string_list", []string{"example.com", "müller.example"}},
		wSetting{"sso_provisioning_mode", "provisioning_mode", pick(r, []string{"jit_advanced", "jit_permissive", "login_only", "scim_advanced", "scim_permissive"})},
		wSetting{"data_retention_periods", "data_retention", map[string]any{
			"chats": map[string]any{"type": "fixed", "timescale": "day", "duration": 30 * (1 + r.IntN(12))},
			"files": map[string]any{"type": "indefinite"},
		}},
	)
	return out
}

func (st *worldState) newUser(r *rand.Rand, i int, created, joined time.Time) *wUser {
	first, last := pick(r, firstNames), pick(r, lastNames)
	org := st.orgs[r.IntN(len(st.orgs))]
	return &wUser{
		id:        newID128(r).withPrefix("user_"),
		fullName:  first + " " + last,
		email:     localParts[i%len(localParts)] + "." + strconv.Itoa(i) + "@" + pick(r, mailDomains),
		role:      pick(r, orgRoles),
		createdAt: created, joinedAt: joined, org: org, active: true,
	}
}

// activeUsers lists the users still in an organization.
func (st *worldState) activeUser(r *rand.Rand) *wUser {
	for range 64 {
		if u := st.users[r.IntN(len(st.users))]; u.active {
			return u
		}
	}
	for _, u := range st.users {
		if u.active {
			return u
		}
	}
	return st.users[0]
}

func (st *worldState) addGroup(r *rand.Rand, i int, created time.Time) {
	g := &wGroup{id: newID128(r).withPrefix("rbac_group_"), name: groupNames[i%len(groupNames)],
		description: sentence(r, 4), source: pick(r, []string{"direct", "scim"})}
	if r.IntN(3) != 0 {
		g.createdAt = created.Add(time.Duration(r.IntN(1e6)) * time.Microsecond)
		g.updatedAt = g.createdAt
	}
	if r.IntN(2) == 0 && len(st.orgs) > 0 {
		g.roles = []string{st.orgs[r.IntN(len(st.orgs))].roles[3].id}
	}
	n := min(len(st.users), 3+r.IntN(25))
	seen := map[*wUser]bool{}
	for range n {
		u := st.activeUser(r)
		if seen[u] {
			continue
		}
		seen[u] = true
		m := wMember{user: u}
		if r.IntN(4) != 0 {
			m.createdAt = latest(u.joinedAt, created).Add(time.Duration(r.IntN(1e6)) * time.Microsecond)
			m.updatedAt = m.createdAt
		}
		g.members = append(g.members, m)
	}
	st.groups = append(st.groups, g)
	st.groupByID[g.id] = g
}

func (st *worldState) addProject(r *rand.Rand, at time.Time) *wProject {
	u := st.activeUser(r)
	p := &wProject{
		id: newID128(r).withPrefix("claude_proj_"), name: pick(r, projectNames), description: sentence(r, 6),
		instructions: sentence(r, 10), createdAt: at, updatedAt: at, private: r.IntN(3) == 0, org: u.org, user: u,
	}
	st.collabSeq++
	p.collaborators = append(p.collaborators, &wCollaborator{typ: "user", role: "owner", ref: u.id, grantedAt: at, seq: st.collabSeq})
	for range r.IntN(3) {
		st.addCollaborator(r, p, at)
	}
	for range r.IntN(4) {
		st.addAttachment(r, p, at)
	}
	st.projects = append(st.projects, p)
	st.projByID[p.id] = p
	return p
}

func (st *worldState) addCollaborator(r *rand.Rand, p *wProject, at time.Time) {
	c := &wCollaborator{role: pick(r, []string{"admin", "editor", "viewer"}), grantedAt: at}
	switch k := r.IntN(4); {
	case k == 0 && len(st.groups) > 0:
		c.typ, c.ref = "group", st.groups[r.IntN(len(st.groups))].id
	case k == 1:
		c.typ, c.ref = "organization", p.org.uuid
	case k == 2:
		c.typ, c.ref = "organization_role", pick(r, []string{"admin", "developer", "user"})
	default:
		c.typ, c.ref = "user", st.activeUser(r).id
	}
	st.collabSeq++
	c.seq = st.collabSeq
	p.collaborators = append(p.collaborators, c)
}

func (st *worldState) addAttachment(r *rand.Rand, p *wProject, at time.Time) {
	a := &wAttachment{createdAt: at}
	if r.IntN(3) == 0 {
		a.doc = true
		a.id = newID128(r).withPrefix("claude_proj_doc_")
		a.filename = pick(r, fileNames)
		a.content = sentence(r, 30+r.IntN(200))
		a.user = p.user
		st.docByID[a.id] = a
	} else {
		f := st.newFile(r, at)
		f.project = p
		a.id, a.file = f.id, f
	}
	p.attachments = append(p.attachments, a)
}

func (st *worldState) newFile(r *rand.Rand, at time.Time) *wFile {
	x := newID128(r)
	name := pick(r, fileNames)
	o := st.opts
	st.fileCount++
	size := int64(1 + r.IntN(o.MaxFileSize))
	if o.LargeFileSize > 0 && st.fileCount%o.LargeFileEvery == 0 {
		size = int64(o.LargeFileSize)
	}
	f := &wFile{id: x.withPrefix("claude_file_"), uuid: x.uuid(), filename: name, mime: mimeOf(name),
		size: size, createdAt: at, seed: r.Uint64()}
	st.fileByID[f.id] = f
	return f
}

// addChat creates a chat at at with messages up to until (the base world)
// or one exchange (growth).
func (st *worldState) addChat(r *rand.Rand, at, until time.Time) *wChat {
	u := st.activeUser(r)
	x := newID128(r)
	c := &wChat{id: x.withPrefix("claude_chat_"), uuid: x.uuid(), name: pick(r, chatNames), model: pick(r, models),
		createdAt: at, updatedAt: at, org: u.org, user: u}
	if r.IntN(10) < 3 && len(st.projects) > 0 {
		if p := st.projects[r.IntN(len(st.projects))]; p.org == u.org {
			c.project = p
			p.chats++
		}
	}
	// st.chats stays sorted by (created_at, id): what picks index into must
	// not depend on when requests sorted it.
	i, _ := slices.BinarySearchFunc(st.chats, c, compareChatsCreated)
	st.chats = slices.Insert(st.chats, i, c)
	st.chatByID[c.id] = c
	exchanges := 1
	if until.After(at) {
		exchanges = 1 + r.IntN(st.opts.MaxMessages/2)
	}
	t := at
	for range exchanges {
		st.addExchange(r, c, t)
		step := time.Duration(5+r.IntN(600)) * time.Second
		if t.Add(step).After(until) {
			break
		}
		t = t.Add(step)
	}
	return c
}

// addExchange appends a user message and the assistant's answer at at.
func (st *worldState) addExchange(r *rand.Rand, c *wChat, at time.Time) {
	for _, role := range []string{"user", "assistant"} {
		x := newID128(r)
		m := &wMessage{id: x.withPrefix("claude_chat_msg_"), uuid: x.uuid(), role: role, createdAt: at, seed: r.Uint64()}
		if role == "user" && r.Float64() < st.opts.FileFraction {
			f := st.reuseFile(r, c)
			if f == nil {
				f = st.newFile(r, at)
				st.files = append(st.files, f)
			}
			f.messageIDs = append(f.messageIDs, m.id)
			if !slices.Contains(f.chatIDs, c.id) {
				f.chatIDs = append(f.chatIDs, c.id)
			}
			m.files = append(m.files, f)
		}
		if role == "assistant" && r.IntN(10) == 0 {
			g := &wGenFile{id: "claude_gen_file_" + newID128(r).base62(), chatID: c.id, filename: pick(r, fileNames),
				createdAt: at, seed: r.Uint64(), expired: r.IntN(5) == 0}
			g.mime = mimeOf(g.filename)
			g.size = int64(1 + r.IntN(st.opts.MaxFileSize))
			m.genFiles = append(m.genFiles, g)
			st.genByID[g.id] = g
		}
		if role == "assistant" && r.IntN(10) == 0 {
			a := &wArtifact{id: newID128(r).withPrefix("claude_artifact_"), versionID: newID128(r).withPrefix("claude_artifact_version_"),
				chatID: c.id, title: sentence(r, 3), typ: pick(r, artifactTyp), createdAt: at, seed: r.Uint64()}
			m.artifacts = append(m.artifacts, a)
			st.artByVer[a.versionID] = a
		}
		c.messages = append(c.messages, m)
	}
	c.updatedAt = latest(c.updatedAt, at)
	st.updatedSort = true
}

// reuseFile returns, now and then, a file the chat's user uploaded before,
// so that one file hangs off several messages and chats.
func (st *worldState) reuseFile(r *rand.Rand, c *wChat) *wFile {
	if r.IntN(20) != 0 || len(st.files) == 0 {
		return nil
	}
	f := st.files[len(st.files)-1-r.IntN(min(len(st.files), 8))]
	if f.deleted {
		return nil
	}
	return f
}

// deleteChat deletes c in claude.ai at at.
func (st *worldState) deleteChat(c *wChat, at time.Time) {
	if !c.deletedAt.IsZero() {
		return
	}
	c.deletedAt, c.name = at, ""
	c.updatedAt = latest(c.updatedAt, at)
	st.updatedSort = true
	for _, m := range c.messages {
		for _, f := range m.files {
			f.deleted = true
		}
		for _, g := range m.genFiles {
			g.deleted = true
		}
		for _, a := range m.artifacts {
			a.deleted = true
		}
	}
}

// removeUser takes u out of its organization and every group.
func (st *worldState) removeUser(u *wUser) {
	u.active = false
	for _, g := range st.groups {
		g.members = slices.DeleteFunc(g.members, func(m wMember) bool { return m.user == u })
	}
}

// chatsByUpdated returns the chats sorted by (updated_at, id).
func (st *worldState) chatsByUpdated() []*wChat {
	if st.updatedSort || len(st.byUpdated) != len(st.chats) {
		st.byUpdated = slices.Clone(st.chats)
		slices.SortFunc(st.byUpdated, func(a, b *wChat) int {
			if c := a.updatedAt.Compare(b.updatedAt); c != 0 {
				return c
			}
			return cmpString(a.id, b.id)
		})
		st.updatedSort = false
	}
	return st.byUpdated
}

// ---------------------------------------------------------------------------
// What Generate and growth pick from.

// chatAt returns a chat created at or before t (the oldest one when none is).
func (st *worldState) chatAt(r *rand.Rand, t time.Time) *wChat {
	if len(st.chats) == 0 {
		return nil
	}
	n := sort.Search(len(st.chats), func(i int) bool { return st.chats[i].createdAt.After(t) })
	if n == 0 {
		return st.chats[0]
	}
	return st.chats[r.IntN(n)]
}

// latestChatAt returns the newest chat created at or before t.
func (st *worldState) latestChatAt(t time.Time) *wChat {
	n := sort.Search(len(st.chats), func(i int) bool { return st.chats[i].createdAt.After(t) })
	if n == 0 {
		if len(st.chats) == 0 {
			return nil
		}
		return st.chats[0]
	}
	return st.chats[n-1]
}

// fileAt returns a chat file created at or before t (the oldest one when
// none is), or nil when there is no file.
func (st *worldState) fileAt(r *rand.Rand, t time.Time) *wFile {
	if len(st.files) == 0 {
		return nil
	}
	n := sort.Search(len(st.files), func(i int) bool { return st.files[i].createdAt.After(t) })
	if n == 0 {
		return st.files[0]
	}
	return st.files[r.IntN(n)]
}

// population is the activity generator's view of the world: keys, IPs and
// the like drawn from r, orgs from the world, and the world itself for users,
// chats, files, projects and groups as they stand when an activity happens.
func (st *worldState) population(r *rand.Rand) *population {
	p := newPopulation(r, 1, 1)
	p.orgs = p.orgs[:0]
	for _, o := range st.orgs {
		p.orgs = append(p.orgs, org{id: o.id, uuid: o.uuid})
	}
	p.world = st
	return p
}
