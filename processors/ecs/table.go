package ecs

import (
	"slices"

	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
)

// This file is the whole type → event.category/type/outcome mapping.
// Activity types come from the shared catalogue (processors/internal/catalog):
// a type's family picks the categories (familyCategories, else its target's
// in targetCategories), its verb's action the event.type (typeOf, kept only
// where one of the categories expects it) and outcome. typeOverrides holds
// the types whose categorization follows Elastic's anthropic integration
// where these rules would differ; deviations holds the types where we differ
// from Elastic on purpose, each with its reason (ECS's own definitions). A
// type the catalogue does not list maps through the same rules from its
// family and verb and is counted as unknown; one whose family is unknown
// too gets no category, type info and outcome unknown.

// ecsVersion is the ECS release the documents follow (Elastic's anthropic
// integration sets the same).
const ecsVersion = "9.3.0"

// event.outcome values.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeUnknown = "unknown"
)

// categorization is the resolved event.category, event.type, event.outcome.
type categorization struct {
	category []string
	types    []string
	outcome  string
}

// scheme is how a family categorizes: its categories, and event.types added
// to the verb's (iam's user, group, admin).
type scheme struct {
	category []string
	extra    []string
}

func cats(c ...string) []string { return c }

var (
	iamUser    = scheme{cats("iam"), cats("user")}
	iamGroup   = scheme{cats("iam"), cats("group")}
	iamAdmin   = scheme{cats("iam"), cats("admin")}
	iamOnly    = scheme{category: cats("iam")}
	iamConfig  = scheme{category: cats("iam", "configuration")}
	configOnly = scheme{category: cats("configuration")}
	fileWeb    = scheme{category: cats("file", "web")}
	fileOnly   = scheme{category: cats("file")}
	webOnly    = scheme{category: cats("web")}
	authOnly   = scheme{category: cats("authentication")}
)

// targetCategories is each catalogue target's scheme.
var targetCategories = map[catalog.Target]scheme{
	catalog.Session:    authOnly,
	catalog.User:       iamUser,
	catalog.Key:        iamOnly,
	catalog.Factor:     iamUser,
	catalog.Role:       iamUser,
	catalog.RoleConfig: iamOnly,
	catalog.Consent:    iamOnly,
	catalog.Group:      iamGroup,
	catalog.Membership: configOnly,
	catalog.Content:    fileWeb,
	catalog.File:       fileWeb,
	catalog.Share:      fileWeb,
	catalog.Export:     {cats("file"), cats("info")},
	catalog.API:        {category: cats("api")},
	catalog.Credential: iamConfig,
	catalog.Detection:  configOnly,
	catalog.Config:     configOnly,
}

// familyCategories are families whose scheme is not their target's.
var familyCategories = map[string]scheme{
	"claude_code_security_scan_project_visibility": configOnly,
	"claude_chat":                               webOnly,
	"ccr_session":                               webOnly,
	"cowork_session":                            webOnly,
	"claude_published_artifact":                 fileOnly,
	"platform_file":                             fileOnly,
	"platform_file_content":                     fileOnly,
	"platform_skill_version_content":            fileOnly,
	"claude_skill":                              configOnly,
	"claude_command":                            configOnly,
	"claude_plugin":                             configOnly,
	"claude_plugin_archive":                     fileOnly,
	"claude_code_team_memory":                   configOnly,
	"claude_code_team_onboarding_guide":         configOnly,
	"claude_code_user_memory":                   configOnly,
	"claude_artifact_sharing":                   configOnly,
	"session_share":                             {category: cats("session")},
	"admin_api_key":                             iamAdmin,
	"platform_service_account":                  iamUser,
	"platform_service_account_workspace_member": iamUser,
	"claude_pubsec_identity":                    iamAdmin,
	"platform_federation_issuer":                {cats("iam", "configuration"), cats("admin")},
	"platform_federation_rule":                  {cats("iam", "configuration"), cats("admin")},
	"platform_federation_rule_workspace":        {cats("iam", "configuration"), cats("admin")},
	"platform_signing_key":                      {category: cats("configuration", "iam")},
	"org_sso":                                   iamConfig,
	"org_sso_add":                               iamConfig,
	"org_sso_connection":                        iamConfig,
	"org_sso_group_role_mappings":               iamConfig,
	"org_sso_provisioning_mode":                 iamConfig,
	"org_sso_scim_welcome_email":                iamConfig,
	"org_sso_seat_tier_assignment":              iamConfig,
	"org_sso_seat_tier_mappings":                iamConfig,
	"org_directory_resync":                      iamConfig,
	"org_directory_sync":                        iamConfig,
	"org_directory_sync_add":                    iamConfig,
	"claude_user_role":                          {cats("iam", "configuration"), cats("user")},
	"primary_owner":                             {cats("iam", "configuration"), cats("user")},
	"claude_code_team_memory_acl":               iamGroup,
	"owned_projects_access":                     {category: cats("iam", "file")},
	"org_members":                               configOnly,
	"platform_cost_report":                      configOnly,
	"platform_usage_report_claude_code":         configOnly,
	"platform_usage_report_messages":            configOnly,
	"platform_usage_report":                     configOnly,
	"inference_hooks_request":                   {category: cats("api")},
	"tunnel":                                    configOnly,
	"claude_code_security_webhook_secret":       configOnly,
	"tunnel_certificate":                        configOnly,
	"claude_chat_sync_source":                   configOnly,
	"claude_project_sync_source":                configOnly,
}

// typeOf gives the event.type of each verb action; the type is kept only if
// one of the categories expects it.
var typeOf = map[string][]string{
	"create": {"creation"}, "upload": {"creation"}, "submit": {"creation"}, "import": {"creation"},
	"add": {"creation"}, "publish": {"creation", "info"}, "send": {"creation"}, "accept": {"creation"},
	"request": {"creation"}, "enroll": {"change"}, "exchange": {"creation"},
	"delete": {"deletion"}, "remove": {"deletion"}, "revoke": {"deletion"}, "archive": {"deletion"},
	"unpublish": {"deletion"}, "leave": {"change"},
	"read": {"access"}, "list": {"access"}, "download": {"access"}, "export": {"access"},
	"update": {"change"}, "enable": {"change"}, "disable": {"change"}, "allow": {"allowed"}, "disallow": {"change"},
	"block": {"change"}, "unblock": {"change"}, "rotate": {"change"}, "approve": {"change"}, "reject": {"change"},
	"decide": {"change"}, "assign": {"change"}, "unassign": {"change"}, "grant": {"change"}, "transfer": {"change"},
	"cancel": {"change"}, "complete": {"change"}, "start": {"change"}, "restore": {"change"}, "fail": {"change"},
	"connect": {"change"}, "disconnect": {"change"}, "attach": {"change"}, "detach": {"change"}, "share": {"change"},
	"verify": {"info"}, "report": {"info"}, "deny": {"denied"},
	"login": {"start"}, "logout": {"end"},
}

// sessionTypes are the authentication category's types per action and
// outcome: a logon starts a session, a logoff ends one; a step that is not
// yet a logon (initiated, attempted, a code sent) is start and info.
func sessionCategorization(family, action string, outcome catalog.Outcome) categorization {
	switch {
	case action == "logout" || action == "revoke":
		return categorization{cats("authentication", "session"), cats("end"), ""}
	case (action == "login" || action == "complete") && outcome == catalog.Success && opensSession[family]:
		return categorization{cats("authentication", "session"), cats("start"), ""}
	case (action == "login" || action == "complete") && outcome == catalog.Success:
		return categorization{cats("authentication"), cats("start"), ""}
	case action == "fail" || outcome == catalog.Failure:
		return categorization{cats("authentication"), cats("start"), ""}
	case action == "login" && outcome == catalog.Unknown, action == "start", action == "send", action == "verify":
		return categorization{cats("authentication"), cats("start", "info"), ""}
	}
	return categorization{cats("authentication"), cats("info"), ""}
}

// opensSession are the sign-in families whose success opens a session (a
// step-up check or a workload's token exchange does not).
var opensSession = map[string]bool{
	"sso_login": true, "magic_link_login": true, "social_login": true, "lti_launch": true, "anonymous_mobile_login": true,
}

// expectedTypes lists, per ECS 9 category, the event.type values it allows.
var expectedTypes = map[string][]string{
	"api":                 {"access", "admin", "allowed", "change", "creation", "deletion", "denied", "end", "info", "start", "user"},
	"authentication":      {"start", "end", "info"},
	"configuration":       {"access", "change", "creation", "deletion", "info"},
	"file":                {"access", "change", "creation", "deletion", "info"},
	"iam":                 {"admin", "change", "creation", "deletion", "group", "info", "user"},
	"intrusion_detection": {"allowed", "denied", "info"},
	"network":             {"access", "allowed", "connection", "denied", "end", "info", "protocol", "start"},
	"session":             {"start", "end", "info"},
	"web":                 {"access", "error", "info"},
}

// override fixes a type's categorization; a nil field keeps the rule's.
type override struct {
	category, types []string
	outcome         string
}

// typeOverrides are types Elastic's integration categorizes differently from
// these rules, in ways ECS does not contradict: we follow Elastic.
var typeOverrides = map[string]override{
	"api_key_created":                            {category: cats("configuration")},
	"claude_artifact_sharing_updated":            {category: cats("configuration")},
	"claude_chat_settings_updated":               {category: cats("web", "configuration"), types: cats("info", "change")},
	"claude_chat_snapshot_created":               {types: cats("creation", "info")},
	"claude_chat_snapshot_viewed":                {types: cats("access", "info")},
	"claude_file_access_failed":                  {types: cats("access", "info")},
	"claude_project_document_access_failed":      {types: cats("access", "info")},
	"claude_project_document_deletion_failed":    {types: cats("deletion", "info")},
	"claude_project_file_access_failed":          {types: cats("access", "info")},
	"claude_project_file_deletion_failed":        {types: cats("deletion", "info")},
	"audit_log_export_started":                   {types: cats("creation", "info")},
	"org_data_export_started":                    {types: cats("access", "info")},
	"org_data_export_completed":                  {types: cats("access", "info")},
	"org_creation_blocked":                       {types: cats("change", "info")},
	"domain_claim_initiated":                     {outcome: outcomeUnknown},
	"ghe_webhook_signature_invalid":              {types: cats("info"), outcome: outcomeSuccess},
	"org_taint_added":                            {types: cats("change")},
	"org_invite_link_generated":                  {types: cats("change")},
	"marketplace_webhook_provisioned":            {types: cats("change")},
	"desktop_extension_version_uploaded":         {types: cats("change")},
	"platform_federation_rule_workspace_added":   {types: cats("admin", "change")},
	"platform_federation_rule_workspace_removed": {types: cats("admin", "change")},
	"platform_usage_report_claude_code_viewed":   {types: cats("access", "info")},
	"platform_usage_report_messages_viewed":      {types: cats("access", "info")},
	"platform_workspace_member_viewed":           {types: cats("access", "info")},
	"platform_workspace_members_listed":          {types: cats("access", "info")},
	// A scan's verdict reports, it changes nothing.
	"claude_plugin_security_scan_completed": {types: cats("info")},
	"claude_skill_security_scan_completed":  {types: cats("info")},
	// The owner's rejection of a submitted credential succeeded.
	"ccr_agent_proxy_provisioning_credential_rejected": {outcome: outcomeSuccess},
	"org_users_listed":             {types: cats("info")},
	"org_user_invite_rejected":     {types: cats("user", "creation")},
	"end_user_invite_requested":    {types: cats("user", "creation")},
	"sso_second_factor_magic_link": {category: cats("authentication"), types: cats("info"), outcome: outcomeSuccess},
	"org_deletion_requested":       {types: cats("change"), outcome: outcomeSuccess},
	// The outcome follows status_code (see Mapper).
	"compliance_api_accessed": {outcome: outcomeUnknown},
}

// deviation is a type we categorize differently from Elastic's integration
// on purpose, and why. The processor docs list them.
type deviation struct {
	elastic string // Elastic's event.category / event.type
	reason  string
}

// deviations are listed in the processor docs (a test keeps the two equal).
var deviations = map[string]deviation{
	"sso_login_succeeded": {"authentication / end",
		"a successful logon starts a session: ECS's `start` (\"something has started\") and the `session` category, not `end` (\"something has ended\"); as Elastic does for magic_link_login_succeeded"},
	"social_login_succeeded": {"authentication / end",
		"as sso_login_succeeded"},
	"magic_link_login_succeeded": {"authentication, session / start, info",
		"`info` is for events that \"don't report a state change, or any type of action\"; a logon is one"},
	"sso_login_failed": {"authentication / end",
		"a failed logon attempt is the start of an authentication that failed, as Elastic has it for magic_link_login_failed; nothing ended"},
	"claude_chat_viewed": {"web / info",
		"a view is an access: ECS's `access` is for events \"that indicate that something was accessed\" and web expects it"},
	"org_invite_viewed": {"configuration / info",
		"a view is an access (ECS `access`), as Elastic has it for org_invites_listed"},
	"platform_cost_report_viewed": {"configuration / info",
		"a view is an access (ECS `access`), as Elastic has it for the usage reports"},
	"lti_launch_initiated": {"configuration / change",
		"an LTI launch is a sign-in from a learning platform: ECS's authentication category (\"credentials are supplied and verified to allow the creation of a session\"); it changes no configuration"},
	"lti_launch_success": {"configuration / change",
		"as lti_launch_initiated; the completed launch starts a session"},
}

// categorizations holds the categorization of every catalogued type.
var categorizations = buildCategorizations()

func buildCategorizations() map[string]*categorization {
	out := map[string]*categorization{}
	for _, e := range catalog.Entries() {
		c := categorize(*e)
		out[e.Type] = &c
	}
	return out
}

// lookup finds the categorization of an activity type; known is false for a
// type the catalogue does not list.
func lookup(activityType string) (categorization, bool) {
	if c, ok := categorizations[activityType]; ok {
		return *c, true
	}
	e := catalog.Classify(activityType)
	if e.Target == "" {
		return categorization{types: cats("info"), outcome: outcomeUnknown}, false
	}
	return categorize(e), false
}

// categorize derives a type's categorization from its catalogue entry.
func categorize(e catalog.Entry) categorization {
	var c categorization
	if e.Target == catalog.Session {
		c = sessionCategorization(e.Family, e.Action, e.Outcome)
	} else {
		s, ok := familyCategories[e.Family]
		if !ok {
			s = targetCategories[e.Target]
		}
		c.category = s.category
		c.types = typesFor(s, e)
	}
	c.outcome = outcomeOf(e.Outcome)
	if e.Target != catalog.Session && e.Action == "start" {
		// A setup or deletion initiated is a step that succeeded.
		c.outcome = outcomeSuccess
	}
	if o, ok := typeOverrides[e.Type]; ok {
		if o.category != nil {
			c.category = o.category
		}
		if o.types != nil {
			c.types = o.types
		}
		if o.outcome != "" {
			c.outcome = o.outcome
		}
	}
	return c
}

// typesFor returns the verb's event.types the categories expect, else
// info for a read or a check and change for anything else (when expected),
// then the scheme's extra types.
func typesFor(s scheme, e catalog.Entry) []string {
	var out []string
	verbTypes := typeOf[e.Action]
	if memberChange[e.Target] && memberActions[e.Action] {
		// Members or privileges added to or removed from something change
		// it; nothing is created or deleted.
		verbTypes = cats("change")
	}
	for _, t := range verbTypes {
		if expected(s.category, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		if readActions[e.Action] || !expected(s.category, "change") {
			out = append(out, "info")
		} else {
			out = append(out, "change")
		}
	}
	for _, t := range s.extra {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

var (
	memberChange  = map[catalog.Target]bool{catalog.Role: true, catalog.RoleConfig: true, catalog.Group: true, catalog.Membership: true, catalog.Consent: true, catalog.Share: true}
	readActions   = map[string]bool{"read": true, "list": true, "download": true, "export": true, "verify": true, "report": true, "decide": true}
	memberActions = map[string]bool{"add": true, "remove": true, "revoke": true, "grant": true, "assign": true, "unassign": true}
)

func expected(categories []string, eventType string) bool {
	for _, c := range categories {
		if slices.Contains(expectedTypes[c], eventType) {
			return true
		}
	}
	return false
}

func outcomeOf(o catalog.Outcome) string {
	switch o {
	case catalog.Failure:
		return outcomeFailure
	case catalog.Unknown:
		return outcomeUnknown
	}
	return outcomeSuccess
}

// deviationOrder returns the types of deviations, sorted.
func deviationOrder() []string {
	out := make([]string, 0, len(deviations))
	for typ := range deviations {
		out = append(out, typ)
	}
	slices.Sort(out)
	return out
}

// deviationsMarkdown lists the deviations for the processor docs.
func deviationsMarkdown() string {
	var b []byte
	for _, typ := range deviationOrder() {
		d := deviations[typ]
		b = append(b, "  - `"+typ+"`: Elastic `"+d.elastic+"`; "+d.reason+".\n"...)
	}
	return string(b)
}
