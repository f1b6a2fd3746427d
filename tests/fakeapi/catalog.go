package fakeapi

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// This file holds what the generator knows about activity shapes: the actor
// variants of compliance-api.md §4.2, the activity types of §4.3 (plus further
// types named by the peers' OCSF/ECS tables) and the population of orgs, users
// and keys that records refer to.

// actorKind is one actor variant of §4.2.
type actorKind uint8

const (
	actorUser actorKind = iota
	actorAPI
	actorAdminKey
	actorUnauthenticated
	actorAnthropic
	actorSCIM
	actorSystem
	actorServiceAccount
	actorFederatedIdentity
	actorFederated
	actorAttestedDevice
	numActorKinds
)

var actorTypeNames = [numActorKinds]string{
	"user_actor",
	"api_actor",
	"admin_api_key_actor",
	"unauthenticated_user_actor",
	"anthropic_actor",
	"scim_directory_sync_actor",
	"system_actor",
	"service_account_actor",
	"federated_identity_actor",
	"federated_actor",
	"attested_device_actor",
}

// ActorTypes lists every actor.type the generator emits (all of §4.2).
func ActorTypes() []string {
	out := make([]string, len(actorTypeNames))
	copy(out, actorTypeNames[:])
	return out
}

// actorMask is a set of actor kinds.
type actorMask uint16

func maskOf(kinds ...actorKind) actorMask {
	var m actorMask
	for _, k := range kinds {
		m |= 1 << k
	}
	return m
}

const anyActor actorMask = 1<<numActorKinds - 1

var (
	userOnly     = maskOf(actorUser)
	unauthOnly   = maskOf(actorUnauthenticated)
	inviteActors = maskOf(actorUser, actorAdminKey, actorAPI, actorAnthropic, actorServiceAccount, actorFederated)
	roleActors   = maskOf(actorUser, actorAnthropic, actorSCIM, actorAdminKey)
	grantActors  = maskOf(actorUser, actorAnthropic)
	platformAdm  = maskOf(actorUser, actorAdminKey, actorServiceAccount, actorFederated)
	settingsAdm  = maskOf(actorUser, actorAnthropic, actorAdminKey)
	scimActors   = maskOf(actorSCIM, actorUser, actorAnthropic)
	keyActors    = maskOf(actorUser, actorAdminKey)
)

// typeSpec describes one activity type: how often it occurs, which actors it
// allows, whether it carries a null organization, and its type-specific fields.
type typeSpec struct {
	name   string
	weight int
	actors actorMask
	noOrg  bool
	fields func(g *gen, b []byte) []byte
}

const (
	typeComplianceAPIAccessed = "compliance_api_accessed"
	typeChatCreated           = "claude_chat_created"
)

// catalog is the generator's activity type table, in a fixed order (the order
// matters for determinism).
var catalog = []typeSpec{
	{typeChatCreated, 60, anyActor, false, chatFields},
	{"claude_chat_viewed", 220, anyActor, false, chatFields},
	{"claude_chat_deleted", 15, anyActor, false, chatFields},
	{"claude_chat_updated", 20, anyActor, false, chatFields},
	{"claude_file_uploaded", 40, userOnly, false, fileUploadedFields},
	{"claude_file_viewed", 60, anyActor, false, fileViewedFields},
	{"claude_file_deleted", 8, userOnly, false, fileIDFields},
	{"claude_project_created", 10, userOnly, false, projectCreatedFields},
	{"claude_project_viewed", 40, anyActor, false, projectIDFields},
	{"claude_project_deleted", 4, userOnly, false, projectIDFields},
	{"claude_project_sharing_updated", 8, userOnly, false, projectSharingFields},
	{"claude_artifact_viewed", 25, anyActor, false, artifactFields},
	{"claude_artifact_created", 15, anyActor, false, artifactFields},
	{"claude_user_settings_updated", 6, userOnly, false, userSettingsFields},
	{typeComplianceAPIAccessed, 60, maskOf(actorAPI), true, complianceAccessFields},
	{"sso_login_initiated", 25, unauthOnly, true, noFields},
	{"sso_login_succeeded", 25, userOnly, true, ssoSucceededFields},
	{"sso_login_failed", 4, unauthOnly, true, loginFailedFields},
	{"social_login_succeeded", 12, userOnly, true, socialLoginFields},
	{"magic_link_login_initiated", 5, unauthOnly, true, noFields},
	{"magic_link_login_succeeded", 5, userOnly, true, magicLinkFields},
	{"magic_link_login_failed", 2, unauthOnly, true, loginFailedFields},
	{"anonymous_mobile_login_attempted", 2, unauthOnly, true, noFields},
	{"user_logged_out", 15, userOnly, true, noFields},
	{"api_key_created", 3, userOnly, false, apiKeyCreatedFields},
	{"admin_api_key_created", 2, userOnly, false, adminKeyCreatedFields},
	{"platform_api_key_created", 3, keyActors, false, platformKeyFields},
	{"platform_api_key_updated", 2, keyActors, false, platformKeyFields},
	{"org_user_invite_sent", 5, inviteActors, false, inviteSentFields},
	{"org_user_invite_accepted", 4, userOnly, false, inviteAcceptedFields},
	{"org_user_deleted", 2, scimActors, false, userDeletedFields},
	{"org_join_proposal_decided", 2, userOnly, false, joinProposalFields},
	{"claude_user_role_updated", 3, roleActors, false, roleUpdatedFields},
	{"role_assignment_granted", 3, grantActors, false, roleAssignmentFields},
	{"role_assignment_revoked", 2, grantActors, false, roleAssignmentFields},
	{"rbac_role_assigned", 2, grantActors, false, rbacRoleFields},
	{"group_created", 2, anyActor, false, groupCreatedFields},
	{"group_member_added", 5, anyActor, false, groupMemberFields},
	{"group_member_removed", 3, anyActor, false, groupMemberFields},
	{"group_deleted", 1, anyActor, false, groupIDFields},
	{"scim_user_created", 3, anyActor, false, scimUserFields},
	{"scim_user_updated", 3, scimActors, false, scimUserFields},
	{"scim_user_deactivated", 2, scimActors, false, scimUserFields},
	{"mcp_server_created", 2, anyActor, false, mcpServerFields},
	{"mcp_server_deleted", 1, anyActor, false, mcpServerFields},
	{"platform_file_uploaded", 10, anyActor, false, platformFileFields},
	{"platform_workspace_created", 2, platformAdm, false, workspaceCreatedFields},
	{"platform_workspace_rate_limit_updated", 2, platformAdm, false, workspaceRateLimitFields},
	{"platform_workspace_updated", 2, platformAdm, false, workspaceUpdatedFields},
	{"org_compliance_api_settings_updated", 1, settingsAdm, false, complianceSettingsFields},
	{"org_sso_settings_updated", 1, settingsAdm, false, ssoSettingsFields},
	{"abuse_decision_received", 2, anyActor, false, abuseDecisionFields},
	{"design_project_viewed", 1, userOnly, false, designProjectFields},
}

// catalogIndex maps a type name to its position in catalog.
var catalogIndex = func() map[string]int {
	m := make(map[string]int, len(catalog))
	for i, t := range catalog {
		m[t.name] = i
	}
	return m
}()

// ActivityTypes lists every activity type the generator emits, in catalogue
// order. With Options.StrictTypes these (plus any type stored in the server)
// are the values activity_types[] and exclude_activity_types[] accept.
func ActivityTypes() []string {
	out := make([]string, len(catalog))
	for i, t := range catalog {
		out[i] = t.name
	}
	return out
}

// ---------------------------------------------------------------------------
// Population: the orgs, users, keys and names records refer to.

type person struct{ id, email string }

type org struct{ id, uuid string }

type project struct{ id, name string }

type population struct {
	orgs            []org
	users           []person
	apiKeys         []string
	adminKeys       []string
	serviceAccounts []string
	directories     []string
	groups          []string
	workspaces      []string
	projects        []project
	ips             []string
	// world, when set, is where users, chats, files, projects and groups
	// come from (as they stand at gen.at).
	world *worldState
}

// Names, filenames and user agents deliberately include unicode, quotes,
// backslashes, newlines and control characters: clients must carry them
// through byte-exact.
var (
	localParts = []string{
		"alice", "bob", "zoë.müller", "o'brien", "josé.garcía", "李雷", "Ωmega", "d\"quote",
		"back\\slash", "élodie", "søren", "ивана", "अनुराधा", "mary-jane", "x_y",
	}
	mailDomains = []string{"example.com", "example.org", "müller.example", "corp.example.net"}
	fileNames   = []string{
		"report.pdf", "Q3 \"final\" numbers.xlsx", `C:\Users\zoë\Desktop\notes.txt`, "multi\nline name.md",
		"résumé – 履歴書.docx", "emoji 🚀 plan.pptx", "tab\tseparated.csv", "ctrl\u0001char.bin",
		"</script><b>x</b>.html", "data.json", "screenshot 2026-11-25 at 10.00.00.png",
	}
	projectNames = []string{
		"Legal – Q3 review", "Project \"Phoenix\"", `backslash \ project`, "multi\nline project",
		"Ünïcödé プロジェクト", "😀 emoji project", "Plain", "M&A <confidential>",
	}
	userAgents = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		`Claude/1.2.3 (iOS 17.5; "iPhone15,2")`,
		"python-httpx/0.27.0",
		"curl/8.5.0",
		"Go-http-client/1.1",
		`compliance-connect/0.1.0 "quoted" \ backslash`,
		"Mozilla/5.0 (X11; Linux x86_64) 中文浏览器/1.0",
		"agent with\nnewline/1.0",
	}
	mcpNames = []string{"github", "jira – tickets", "internal \"wiki\"", "filesystem\\share", "数据库"}
)

// newPopulation derives a population deterministically from r.
func newPopulation(r *rand.Rand, nOrgs, nUsers int) *population {
	p := &population{}
	for range nOrgs {
		p.orgs = append(p.orgs, org{id: randID(r, "org_01", 24), uuid: randUUID(r)})
	}
	for i := range nUsers {
		local := localParts[i%len(localParts)]
		email := local + "." + strconv.Itoa(i) + "@" + mailDomains[r.IntN(len(mailDomains))]
		p.users = append(p.users, person{id: randID(r, "user_01", 22), email: email})
	}
	for range 6 {
		p.apiKeys = append(p.apiKeys, randID(r, "apikey_01", 22))
	}
	for range 3 {
		p.adminKeys = append(p.adminKeys, randID(r, "adminkey_01", 22))
		p.serviceAccounts = append(p.serviceAccounts, randID(r, "svcacct_01", 22))
		p.directories = append(p.directories, randID(r, "directory_01", 22))
	}
	for range 8 {
		p.groups = append(p.groups, randID(r, "group_01", 22))
		p.workspaces = append(p.workspaces, randID(r, "wrkspc_01", 22))
	}
	for i := range 24 {
		p.projects = append(p.projects, project{id: randID(r, "claude_proj_01", 22), name: projectNames[i%len(projectNames)]})
	}
	for i := range 32 {
		switch i % 4 {
		case 0:
			p.ips = append(p.ips, "192.0.2."+strconv.Itoa(1+r.IntN(254)))
		case 1:
			p.ips = append(p.ips, "198.51.100."+strconv.Itoa(1+r.IntN(254)))
		case 2:
			p.ips = append(p.ips, "203.0.113."+strconv.Itoa(1+r.IntN(254)))
		default:
			p.ips = append(p.ips, "2001:db8::"+strconv.FormatInt(int64(1+r.IntN(0xffff)), 16))
		}
	}
	return p
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendBase62 appends n pseudo-random base62 characters.
func appendBase62(b []byte, r *rand.Rand, n int) []byte {
	for n > 0 {
		v := r.Uint64()
		for k := 0; k < 10 && n > 0; k++ {
			b = append(b, base62[v%62])
			v /= 62
			n--
		}
	}
	return b
}

func randID(r *rand.Rand, prefix string, n int) string {
	return string(appendBase62([]byte(prefix), r, n))
}

func randUUID(r *rand.Rand) string {
	var b [36]byte
	hi, lo := r.Uint64(), r.Uint64()
	j := 0
	for i := range 36 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = hi >> (60 - 4*j) & 0xf
		} else {
			nib = lo >> (60 - 4*(j-16)) & 0xf
		}
		b[i] = hexDigits[nib]
		j++
	}
	return string(b[:])
}

// ---------------------------------------------------------------------------
// Record writing.

// gen writes records from one random stream over one population.
type gen struct {
	r   *rand.Rand
	pop *population
	// at and typ are the created_at and type of the record being written.
	at  time.Time
	typ string
	// actor is the world user the record's user_actor names, when a world
	// is set.
	actor *wUser
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) user() person {
	if w := g.pop.world; w != nil {
		u := w.activeUser(g.r)
		return person{id: u.id, email: u.email}
	}
	return g.pop.users[g.r.IntN(len(g.pop.users))]
}

// appendIDField appends `"key":"<prefix>01<n base62>"`.
func (g *gen) appendIDField(b []byte, key, prefix string, n int) []byte {
	b = appendKey(b, key)
	b = append(b, '"')
	b = append(b, prefix...)
	b = append(b, '0', '1')
	b = appendBase62(b, g.r, n)
	return append(b, '"')
}

// appendActor appends the "actor" object for kind and returns the actor id that
// actor_ids[] matches ("" when the variant has none).
func (g *gen) appendActor(b []byte, kind actorKind) ([]byte, string) {
	b = appendKey(b, "actor")
	b = append(b, '{')
	b = appendStrField(b, "type", actorTypeNames[kind])
	var id string
	withNet := func(b []byte, nullableUA bool) []byte {
		b = appendStrField(b, "ip_address", g.pick(g.pop.ips))
		if nullableUA && g.chance(0.3) {
			return appendRawField(b, "user_agent", "null")
		}
		return appendStrField(b, "user_agent", g.pick(userAgents))
	}
	switch kind {
	case actorUser:
		u := g.user()
		if g.actor != nil {
			u = person{id: g.actor.id, email: g.actor.email}
		}
		id = u.id
		b = appendStrField(b, "email_address", u.email)
		b = appendStrField(b, "user_id", u.id)
		b = withNet(b, false)
	case actorAPI:
		id = g.pick(g.pop.apiKeys)
		b = appendStrField(b, "api_key_id", id)
		b = withNet(b, false)
	case actorAdminKey:
		id = g.pick(g.pop.adminKeys)
		b = appendStrField(b, "admin_api_key_id", id)
		b = withNet(b, false)
	case actorUnauthenticated:
		email := ""
		if !g.chance(0.15) {
			email = g.user().email
		}
		b = appendNullableField(b, "unauthenticated_email_address", email)
		b = withNet(b, false)
	case actorAnthropic:
		b = appendRawField(b, "email_address", "null")
	case actorSCIM:
		b = g.appendIDField(b, "workos_event_id", "event_", 24)
		b = appendStrField(b, "directory_id", g.pick(g.pop.directories))
		b = appendNullableField(b, "idp_connection_type", g.pick([]string{"OktaSCIMV2", "AzureSCIMV2", "GenericSCIMV2", ""}))
	case actorSystem:
		b = appendNullableField(b, "service", g.pick([]string{"data_retention", "billing", ""}))
	case actorServiceAccount:
		id = g.pick(g.pop.serviceAccounts)
		b = appendStrField(b, "service_account_id", id)
		b = withNet(b, false)
	case actorFederatedIdentity:
		b = appendStrField(b, "issuer", "https://token.actions.githubusercontent.com")
		b = appendStrField(b, "subject", "repo:acme/app:ref:refs/heads/main")
		if g.chance(0.7) {
			b = appendRawField(b, "audience", `["https://api.anthropic.com","sts.amazonaws.com"]`)
		}
		b = withNet(b, true)
	case actorFederated:
		b = appendKey(b, "provider")
		switch g.r.IntN(4) {
		case 0:
			b = append(b, `{"type":"aws","account_id":"123456789012","signed_principal":"arn:aws:sts::123456789012:assumed-role/claude-ci/session-1"}`...)
		case 1:
			b = append(b, `{"type":"azure","subscription_id":"00000000-1111-2222-3333-444444444444"}`...)
		case 2:
			b = append(b, `{"type":"gcp","project_number":"987654321098"}`...)
		default:
			b = append(b, `{"type":"oidc","issuer":"https://idp.example.com/oauth2/default"}`...)
		}
		b = appendStrField(b, "subject", "system:serviceaccount:claude:runner")
		b = withNet(b, true)
	case actorAttestedDevice:
		b = g.appendIDField(b, "external_client_id", "device_", 20)
		b = appendKey(b, "kid_hash")
		b = append(b, `"sha256:`...)
		b = appendBase62(b, g.r, 43)
		b = append(b, '"')
		b = withNet(b, true)
	}
	return append(b, '}'), id
}

// ---------------------------------------------------------------------------
// Type-specific fields.

func noFields(_ *gen, b []byte) []byte { return b }

func optionalProject(g *gen, b []byte) []byte {
	if g.chance(0.4) {
		return appendStrField(b, "claude_project_id", g.project().id)
	}
	return appendRawField(b, "claude_project_id", "null")
}

// project picks a project (of the world when set).
func (g *gen) project() project {
	if w := g.pop.world; w != nil && len(w.projects) > 0 {
		p := w.projects[g.r.IntN(len(w.projects))]
		return project{id: p.id, name: p.name}
	}
	return g.pop.projects[g.r.IntN(len(g.pop.projects))]
}

// worldChat picks the chat a claude_chat_* or claude_artifact_* record names:
// with a world, the newest chat created by then for claude_chat_created and
// any chat created by then otherwise; nil without a world.
func (g *gen) worldChat() *wChat {
	w := g.pop.world
	if w == nil {
		return nil
	}
	if g.typ == typeChatCreated {
		return w.latestChatAt(g.at)
	}
	return w.chatAt(g.r, g.at)
}

// appendChatRef appends claude_chat_id and claude_project_id of c.
func appendChatRef(b []byte, c *wChat) []byte {
	b = appendStrField(b, "claude_chat_id", c.id)
	if c.project != nil {
		return appendStrField(b, "claude_project_id", c.project.id)
	}
	return appendRawField(b, "claude_project_id", "null")
}

func chatFields(g *gen, b []byte) []byte {
	if c := g.worldChat(); c != nil {
		return appendChatRef(b, c)
	}
	b = g.appendIDField(b, "claude_chat_id", "claude_chat_", 22)
	return optionalProject(g, b)
}

// worldFile picks a chat file created by then, or nil.
func (g *gen) worldFile() *wFile {
	if w := g.pop.world; w != nil {
		return w.fileAt(g.r, g.at)
	}
	return nil
}

func fileNameField(g *gen, b []byte) []byte {
	if g.chance(0.1) {
		return appendRawField(b, "filename", "null")
	}
	return appendStrField(b, "filename", g.pick(fileNames))
}

func fileUploadedFields(g *gen, b []byte) []byte {
	if f := g.worldFile(); f != nil {
		b = appendStrField(b, "claude_file_id", f.id)
		b = appendStrField(b, "filename", f.filename)
		return appendChatRef(b, g.pop.world.chatByID[f.chatIDs[0]])
	}
	b = g.appendIDField(b, "claude_file_id", "claude_file_", 22)
	b = fileNameField(g, b)
	if g.chance(0.7) {
		b = g.appendIDField(b, "claude_chat_id", "claude_chat_", 22)
	}
	return optionalProject(g, b)
}

func fileViewedFields(g *gen, b []byte) []byte {
	if f := g.worldFile(); f != nil {
		b = appendStrField(b, "claude_file_id", f.id)
		b = optionalProject(g, b)
		return appendStrField(b, "filename", f.filename)
	}
	b = g.appendIDField(b, "claude_file_id", "claude_file_", 22)
	if g.chance(0.3) {
		b = g.appendIDField(b, "claude_artifact_id", "claude_artifact_", 22)
	}
	b = optionalProject(g, b)
	if g.chance(0.5) {
		b = fileNameField(g, b)
	}
	return b
}

func fileIDFields(g *gen, b []byte) []byte {
	if f := g.worldFile(); f != nil {
		return appendStrField(b, "claude_file_id", f.id)
	}
	return g.appendIDField(b, "claude_file_id", "claude_file_", 22)
}

func projectIDFields(g *gen, b []byte) []byte {
	return appendStrField(b, "claude_project_id", g.project().id)
}

func projectCreatedFields(g *gen, b []byte) []byte {
	p := g.project()
	b = appendStrField(b, "claude_project_id", p.id)
	return appendStrField(b, "claude_project_name", p.name)
}

func projectSharingFields(g *gen, b []byte) []byte {
	b = projectIDFields(g, b)
	b = appendKey(b, "audience")
	b = append(b, '[')
	switch g.r.IntN(3) {
	case 0:
		b = append(b, `{"type":"public"}`...)
	case 1:
		b = append(b, `{"type":"organization","organization_id":`...)
		b = appendJSONString(b, g.pop.orgs[g.r.IntN(len(g.pop.orgs))].id)
		b = append(b, '}')
	default:
		b = append(b, `{"type":"user","user_id":`...)
		b = appendJSONString(b, g.user().id)
		b = append(b, `,"role":"editor"}`...)
	}
	return append(b, ']')
}

func artifactFields(g *gen, b []byte) []byte {
	b = g.appendIDField(b, "claude_artifact_id", "claude_artifact_", 22)
	if c := g.worldChat(); c != nil {
		return appendStrField(b, "claude_chat_id", c.id)
	}
	return g.appendIDField(b, "claude_chat_id", "claude_chat_", 22)
}

func userSettingsFields(g *gen, b []byte) []byte {
	b = appendKey(b, "updates")
	switch g.r.IntN(3) {
	case 0:
		b = append(b, `[{"type":"full_name","previous_value":`...)
		b = appendJSONString(b, g.pick(localParts))
		b = append(b, `,"current_value":`...)
		b = appendJSONString(b, g.pick(localParts))
		b = append(b, '}', ']')
	case 1:
		b = append(b, `[{"type":"web_search_enabled","previous_value":false,"current_value":true}]`...)
	default:
		b = append(b, `[{"type":"thinking_mode_enabled","previous_value":true,"current_value":false},{"type":"web_search_enabled","previous_value":null,"current_value":true}]`...)
	}
	return b
}

var complianceURLs = []string{
	"https://api.anthropic.com/v1/compliance/activities?limit=5000",
	"https://api.anthropic.com/v1/compliance/activities?organization_ids[]=org_123abc",
	"https://api.anthropic.com/v1/compliance/activities?created_at.gte=2026-11-25T00:00:00Z&after_id=activity_01XyDMpzjS89pFZXqSFUBDr6",
	"https://api.anthropic.com/v1/compliance/apps/chats?user_ids%5B%5D=user_01",
	"https://api.anthropic.com/v1/compliance/organizations",
}

func complianceAccessFields(g *gen, b []byte) []byte {
	b = g.appendIDField(b, "request_id", "req_", 22)
	b = appendStrField(b, "url", g.pick(complianceURLs))
	b = appendStrField(b, "request_method", g.pick([]string{"GET", "GET", "GET", "DELETE"}))
	b = appendRawField(b, "request_body", "null")
	return appendRawField(b, "status_code", g.pick([]string{"200", "200", "200", "200", "400", "403", "429", "500"}))
}

func mfaField(g *gen, b []byte) []byte {
	if g.chance(0.5) {
		return appendStrField(b, "mfa_method", "not_used")
	}
	return appendRawField(b, "mfa_method", "null")
}

func ssoSucceededFields(g *gen, b []byte) []byte {
	return mfaField(g, appendStrField(b, "auth_method", "sso"))
}

func socialLoginFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "provider", g.pick([]string{"apple", "google", "microsoft"}))
	return mfaField(g, appendStrField(b, "auth_method", "social"))
}

func magicLinkFields(g *gen, b []byte) []byte {
	return mfaField(g, appendStrField(b, "auth_method", "magic_link"))
}

func loginFailedFields(g *gen, b []byte) []byte {
	return appendStrField(b, "failure_reason", g.pick([]string{"invalid_saml_response", "expired_link", "user \"not\" provisioned"}))
}

func apiKeyCreatedFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "api_key_id", g.pick(g.pop.apiKeys))
	b = appendRawField(b, "scopes", g.pick([]string{`["read:compliance_activities"]`, `["read:compliance_activities","read:compliance_user_data"]`, `["read:compliance_org_data"]`}))
	return appendRawField(b, "restricted_to_organization", g.pick([]string{"true", "false"}))
}

func adminKeyCreatedFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "admin_api_key_id", g.pick(g.pop.adminKeys))
	return appendRawField(b, "scopes", `["read:compliance_activities"]`)
}

func platformKeyFields(g *gen, b []byte) []byte {
	b = g.appendIDField(b, "api_key_id", "apikey_", 22)
	return appendStrField(b, "workspace_id", g.pick(g.pop.workspaces))
}

func inviteSentFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "invited_email", g.pick(localParts)+"@invitee.example")
	b = appendStrField(b, "invited_role", g.pick([]string{"user", "admin", "owner"}))
	b = appendNullableField(b, "invited_seat_tier", g.pick([]string{"standard", "premium", ""}))
	return appendRawField(b, "invited_rbac_group_ids", "[]")
}

func inviteAcceptedFields(g *gen, b []byte) []byte {
	return appendStrField(b, "invitee_email", g.user().email)
}

func userDeletedFields(g *gen, b []byte) []byte {
	u := g.user()
	b = appendStrField(b, "deleted_user_id", u.id)
	return appendStrField(b, "deleted_user_email", u.email)
}

func joinProposalFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "requester_user_id", g.user().id)
	return appendRawField(b, "approved", g.pick([]string{"true", "false"}))
}

func roleUpdatedFields(g *gen, b []byte) []byte {
	u := g.user()
	b = appendStrField(b, "user_id", u.id)
	b = appendStrField(b, "user_email", u.email)
	b = appendNullableField(b, "previous_role", g.pick([]string{"user", "admin", ""}))
	return appendNullableField(b, "current_role", g.pick([]string{"user", "admin", "owner", ""}))
}

func roleAssignmentFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "target_id", g.user().id)
	b = appendStrField(b, "target_type", "user")
	b = appendStrField(b, "role", g.pick([]string{"workspace_admin", "workspace_developer", "claude_code_user"}))
	b = appendStrField(b, "resource_type", "workspace")
	return appendStrField(b, "resource_id", g.pick(g.pop.workspaces))
}

func rbacRoleFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "principal_id", g.user().id)
	b = appendStrField(b, "principal_type", "user")
	return g.appendIDField(b, "role_id", "role_", 22)
}

func groupIDFields(g *gen, b []byte) []byte {
	if w := g.pop.world; w != nil {
		return appendStrField(b, "group_id", w.groups[g.r.IntN(len(w.groups))].id)
	}
	return appendStrField(b, "group_id", g.pick(g.pop.groups))
}

func groupCreatedFields(g *gen, b []byte) []byte {
	b = groupIDFields(g, b)
	return appendStrField(b, "group_name", g.pick(projectNames))
}

func groupMemberFields(g *gen, b []byte) []byte {
	b = groupIDFields(g, b)
	b = appendKey(b, "member_ids")
	b = append(b, '[')
	for i := range 1 + g.r.IntN(3) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, g.user().id)
	}
	return append(b, ']')
}

func scimUserFields(g *gen, b []byte) []byte {
	return appendStrField(b, "user_id", g.user().id)
}

func mcpServerFields(g *gen, b []byte) []byte {
	b = g.appendIDField(b, "mcp_server_id", "mcpsrv_", 22)
	return appendStrField(b, "mcp_server_name", g.pick(mcpNames))
}

func platformFileFields(g *gen, b []byte) []byte {
	b = g.appendIDField(b, "file_id", "file_", 22)
	if g.chance(0.5) {
		return g.appendIDField(b, "session_id", "sesn_", 22)
	}
	return appendRawField(b, "session_id", "null")
}

func workspaceCreatedFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "workspace_id", g.pick(g.pop.workspaces))
	return appendStrField(b, "workspace_name", g.pick(projectNames))
}

func workspaceRateLimitFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "workspace_id", g.pick(g.pop.workspaces))
	b = appendStrField(b, "model_group", g.pick([]string{"claude-opus", "claude-sonnet", "claude-haiku"}))
	b = appendStrField(b, "limiter_type", g.pick([]string{"requests_per_minute", "input_tokens_per_minute"}))
	return appendRawField(b, "value", strconv.Itoa(1000*(1+g.r.IntN(100))))
}

func workspaceUpdatedFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "workspace_id", g.pick(g.pop.workspaces))
	b = appendKey(b, "updates")
	b = append(b, `[{"type":"name","previous_value":`...)
	b = appendJSONString(b, g.pick(projectNames))
	b = append(b, `,"current_value":`...)
	b = appendJSONString(b, g.pick(projectNames))
	return append(b, '}', ']')
}

func complianceSettingsFields(g *gen, b []byte) []byte {
	b = appendRawField(b, "compliance_api_enabled", "true")
	return appendRawField(b, "compliance_api_logging_enabled", g.pick([]string{"true", "false"}))
}

func ssoSettingsFields(g *gen, b []byte) []byte {
	b = appendKey(b, "updates")
	return append(b, `[{"type":"sso_enforced","previous_value":false,"current_value":true}]`...)
}

func abuseDecisionFields(g *gen, b []byte) []byte {
	b = appendStrField(b, "decision", g.pick([]string{"blocked", "unspecified"}))
	if g.chance(0.5) {
		b = g.appendIDField(b, "abuse_session_id", "abuse_", 22)
	}
	return b
}

func designProjectFields(g *gen, b []byte) []byte {
	return g.appendIDField(b, "design_project_id", "design_proj_", 22)
}
