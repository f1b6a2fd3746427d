package ecs

import "strings"

// This file is the whole type → event.category/type/outcome table. Lookup
// order: exactRules, then prefixRules (first match; list a longer prefix
// before a shorter one it starts with), then suffixRules; a type none of them
// matches gets no category, type [info] and outcome unknown, and is counted in
// the unknown-type metric. To map a new type, add an exact rule, or a prefix
// rule for its family; a new verb goes into verbTypes.

// ecsVersion is the ECS release the documents follow (Elastic's anthropic
// integration sets the same).
const ecsVersion = "9.3.0"

// event.outcome values.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeUnknown = "unknown"
)

// rule categorizes activity types.
type rule struct {
	category []string
	// types are always set; with verb, the type the type's verb suffix
	// implies is added when one of the categories expects it.
	types []string
	verb  bool
	// outcome, when empty, follows the type's suffix (see outcomeFor).
	outcome string
}

var (
	authentication = []string{"authentication"}
	authSession    = []string{"authentication", "session"}
	configuration  = []string{"configuration"}
	fileWeb        = []string{"file", "web"}
	iam            = []string{"iam"}
	iamConfig      = []string{"iam", "configuration"}
)

func list(v ...string) []string { return v }

var exactRules = map[string]rule{
	// Outcome from status_code, see Mapper.
	"compliance_api_accessed": {category: list("api"), types: list("access"), outcome: outcomeUnknown},

	"sso_login_initiated":              {category: authentication, types: list("start", "info"), outcome: outcomeUnknown},
	"magic_link_login_initiated":       {category: authentication, types: list("start", "info"), outcome: outcomeUnknown},
	"anonymous_mobile_login_attempted": {category: authentication, types: list("start", "info"), outcome: outcomeUnknown},
	"sso_login_succeeded":              {category: authSession, types: list("start")},
	"magic_link_login_succeeded":       {category: authSession, types: list("start")},
	"social_login_succeeded":           {category: authSession, types: list("start")},
	"sso_login_failed":                 {category: authentication, types: list("start")},
	"magic_link_login_failed":          {category: authentication, types: list("start")},
	"user_logged_out":                  {category: authSession, types: list("end")},
	"session_revoked":                  {category: authSession, types: list("end")},

	"org_user_invite_sent":     {category: iam, types: list("user", "creation")},
	"org_user_invite_re_sent":  {category: iam, types: list("user", "creation")},
	"org_user_invite_accepted": {category: iam, types: list("user", "creation")},
	"org_user_deleted":         {category: iam, types: list("user", "deletion")},
	"role_assignment_granted":  {category: iam, types: list("user", "change")},
	"role_assignment_revoked":  {category: iam, types: list("user", "change")},
	"rbac_role_assigned":       {category: iam, types: list("user", "change")},
	"rbac_role_unassigned":     {category: iam, types: list("user", "change")},
	"claude_user_role_updated": {category: iam, types: list("user", "change")},
	"group_member_added":       {category: iam, types: list("group", "change")},
	"group_member_removed":     {category: iam, types: list("group", "change")},

	"claude_chat_settings_updated": {category: configuration, types: list("change")},
	// Outcome from approved, see Mapper.
	"org_join_proposal_decided": {category: configuration, types: list("change"), outcome: outcomeUnknown},
}

type prefixRule struct {
	prefix string
	rule   rule
}

func verbs(category []string, types ...string) rule {
	return rule{category: category, types: types, verb: true}
}

var prefixRules = []prefixRule{
	// Authentication and sessions.
	{"sso_login_", rule{category: authentication, types: list("start")}},
	{"magic_link_login_", rule{category: authentication, types: list("start")}},
	{"social_login_", rule{category: authSession, types: list("start")}},
	{"sso_second_factor_", rule{category: authentication, types: list("info")}},
	{"phone_code_", rule{category: authentication, types: list("info")}},
	{"session_", verbs(list("session"))},

	// Claude content.
	{"claude_chat_", verbs(list("web"))},
	{"claude_file_", verbs(fileWeb)},
	{"claude_project_", verbs(fileWeb)},
	{"claude_published_artifact_", verbs(fileWeb)},
	{"claude_artifact_", verbs(fileWeb)},
	{"claude_", verbs(configuration)},

	// Users, groups, roles, keys.
	{"org_user_", verbs(iam, "user")},
	{"org_users_", verbs(iam, "user")},
	{"scim_user_", verbs(iam, "user")},
	{"scim_group_", verbs(iam, "group")},
	{"group_", verbs(iam, "group")},
	{"role_assignment_", rule{category: iam, types: list("user", "change")}},
	{"rbac_role_", verbs(iam)},
	{"admin_api_key_", verbs(iam, "admin")},
	{"platform_api_key_", verbs(iam)},
	{"scoped_api_key_", verbs(iam)},
	{"api_key_", verbs(iam)},
	{"service_key_", verbs(iam)},
	{"platform_service_account_", verbs(iam, "user")},
	{"platform_federation_", verbs(iamConfig)},
	{"platform_signing_key_", verbs(iamConfig)},
	{"user_consent_", rule{category: iam, types: list("change")}},
	{"account_", verbs(iam, "user")},
	{"primary_owner_", rule{category: iamConfig, types: list("change")}},

	// Organization settings.
	{"org_sso_", verbs(iamConfig)},
	{"org_directory_", verbs(iamConfig)},
	{"org_ip_restriction_", verbs(list("configuration", "network"))},
	{"org_data_export_", rule{category: list("file"), types: list("access", "info")}},
	{"audit_log_export_", rule{category: list("file"), types: list("access", "info")}},
	{"org_", verbs(configuration)},
	{"organization_", verbs(configuration)},

	// Platform (Console) and integrations.
	{"platform_file_", verbs(list("file"))},
	{"platform_", verbs(configuration)},
	{"workspace_", verbs(configuration)},
	{"mcp_", verbs(configuration)},
	{"marketplace_", verbs(configuration)},
	{"desktop_extension_", verbs(configuration)},
	{"cli_plugin_", verbs(configuration)},
	{"plugin_", verbs(configuration)},
	{"integration_", verbs(configuration)},
	{"ghe_", verbs(configuration)},
	{"lti_", verbs(configuration)},

	// Billing.
	{"billing_", verbs(configuration)},
	{"subscription_", verbs(configuration)},
	{"payment_", verbs(configuration)},
	{"invoice_", verbs(configuration)},
	{"extra_usage_", verbs(configuration)},
	{"prepaid_", verbs(configuration)},
	{"seat_", verbs(configuration)},
}

type suffixRule struct {
	suffix string
	rule   rule
}

// suffixRules apply to types no prefix matched.
var suffixRules = []suffixRule{
	{"_failed", rule{category: list("web"), types: list("error"), outcome: outcomeFailure}},
	{"_deleted", rule{category: configuration, types: list("deletion")}},
	{"_created", rule{category: configuration, types: list("creation")}},
	{"_updated", rule{category: configuration, types: list("change")}},
}

// verbTypes maps a type's verb suffix to an event.type; first match wins.
var verbTypes = []struct{ suffix, eventType string }{
	{"_access_failed", "access"}, {"_deletion_failed", "deletion"}, {"_sharing_updated", "change"},
	{"_created", "creation"}, {"_uploaded", "creation"}, {"_added", "creation"}, {"_generated", "creation"},
	{"_provisioned", "creation"}, {"_minted", "creation"}, {"_published", "creation"}, {"_sent", "creation"},
	{"_deleted", "deletion"}, {"_removed", "deletion"}, {"_archived", "deletion"}, {"_revoked", "deletion"},
	{"_viewed", "access"}, {"_accessed", "access"}, {"_downloaded", "access"}, {"_listed", "access"},
	{"_exported", "access"}, {"_searched", "access"}, {"_opened", "access"},
	{"_updated", "change"}, {"_changed", "change"}, {"_toggled", "change"}, {"_enabled", "change"},
	{"_disabled", "change"}, {"_reactivated", "change"}, {"_activated", "change"}, {"_deactivated", "change"},
	{"_replaced", "change"}, {"_rotated", "change"}, {"_renamed", "change"}, {"_configured", "change"},
	{"_assigned", "change"}, {"_unassigned", "change"}, {"_granted", "change"}, {"_transferred", "change"},
	{"_approved", "change"}, {"_dismissed", "change"}, {"_decided", "change"}, {"_restored", "change"},
	{"_accepted", "change"}, {"_allowlisted", "change"}, {"_blocklisted", "change"}, {"_unblocked", "change"},
	{"_connected", "change"}, {"_disconnected", "change"},
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

// categorization is the resolved event.category, event.type, event.outcome.
// The event.type list is types followed by verbType when that is set.
type categorization struct {
	category []string
	types    []string
	verbType string
	outcome  string
}

// categorize resolves an activity type; known is false for the defaults.
func categorize(activityType string) (c categorization, known bool) {
	r, ok := exactRules[activityType]
	if !ok {
		for _, p := range prefixRules {
			if strings.HasPrefix(activityType, p.prefix) {
				r, ok = p.rule, true
				break
			}
		}
	}
	if !ok {
		for _, s := range suffixRules {
			if strings.HasSuffix(activityType, s.suffix) {
				r, ok = s.rule, true
				break
			}
		}
	}
	if !ok {
		return categorization{types: list("info"), outcome: outcomeUnknown}, false
	}
	c = categorization{category: r.category, types: r.types, outcome: r.outcome}
	if r.verb {
		c.verbType = verbType(r, activityType)
	}
	if c.outcome == "" {
		c.outcome = outcomeFor(activityType)
	}
	return c, true
}

// verbType returns the event.type the verb adds to the rule's types: the
// verb's type when one of the categories expects it and the rule does not
// list it already, info when the rule would have no type at all, else "".
func verbType(r rule, activityType string) string {
	verb := ""
	for _, v := range verbTypes {
		if strings.HasSuffix(activityType, v.suffix) {
			verb = v.eventType
			break
		}
	}
	if verb != "" && !expected(r.category, verb) {
		verb = ""
	}
	if verb == "" {
		if len(r.types) > 0 {
			return ""
		}
		verb = "info"
	}
	for _, t := range r.types {
		if t == verb {
			return ""
		}
	}
	return verb
}

func expected(categories []string, eventType string) bool {
	for _, c := range categories {
		for _, t := range expectedTypes[c] {
			if t == eventType {
				return true
			}
		}
	}
	return false
}

// outcomeFor: failed, denied, rejected and blocked types failed; initiated
// and attempted ones have no outcome yet; anything else succeeded.
func outcomeFor(activityType string) string {
	switch {
	case hasAnySuffix(activityType, "_failed", "_denied", "_rejected", "_blocked"):
		return outcomeFailure
	case hasAnySuffix(activityType, "_initiated", "_attempted"):
		return outcomeUnknown
	}
	return outcomeSuccess
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}
