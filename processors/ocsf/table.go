package ocsf

import (
	"strings"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// This file is the whole type → class/activity table. To map a new activity
// type: add an exact rule, or a prefix rule for a family of types (more
// specific prefixes first), and, when its verb is new, a suffix to the verbs
// of its class. Types no rule matches become API Activity (6003) with
// activity_id 99 and are counted in the unknown-type metric.

// Every event carries these.
const (
	schemaVersion = "1.6.0"
	vendorName    = "Anthropic"
	productName   = "Compliance API"
	serviceName   = "Anthropic"

	severityInformational     = 1
	severityInformationalName = "Informational"
)

// OCSF 1.6.0 classes used by the mapping.
const (
	classAccountChange   = 3001
	classAuthentication  = 3002
	classUserAccess      = 3005
	classGroupManagement = 3006
	classWebResources    = 6001
	classAPIActivity     = 6003
)

// Base-event status_id values.
const (
	statusUnknown = 0
	statusSuccess = 1
	statusFailure = 2
)

var statusNames = map[int]string{statusUnknown: "Unknown", statusSuccess: "Success", statusFailure: "Failure", 99: "Other"}

const (
	activityOther = 99
	// activityFromMethod marks a rule whose activity_id follows request_method.
	activityFromMethod = -1
)

// class describes one OCSF class: its captions and how an activity type's
// verb (its suffix) picks the activity_id. The first matching suffix wins;
// none matching gives 99 Other.
type class struct {
	name         string
	category     int
	categoryName string
	activities   map[int]string
	verbs        []verb

	// typeNames holds "<class name>: <activity name>" per activity_id,
	// derived from activities by withTypeNames.
	typeNames map[int]string
}

// caption returns the activity_name and type_name of an activity_id.
func (c *class) caption(activityID int) (activityName, typeName string) {
	return c.activities[activityID], c.typeNames[activityID]
}

// withTypeNames derives every class's type names once.
func withTypeNames(classes map[int]*class) map[int]*class {
	for _, c := range classes {
		c.typeNames = make(map[int]string, len(c.activities))
		for id, name := range c.activities {
			c.typeNames[id] = c.name + ": " + name
		}
	}
	return classes
}

type verb struct {
	suffix   string
	activity int
}

const (
	categoryIAM         = 3
	categoryIAMName     = "Identity & Access Management"
	categoryApplication = 6
	categoryAppName     = "Application Activity"
)

var classes = withTypeNames(map[int]*class{
	classAccountChange: {
		name: "Account Change", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset",
			5: "Disable", 6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock", 10: "MFA Factor Enable",
			11: "MFA Factor Disable", 99: "Other"},
		verbs: []verb{
			{"_created", 1}, {"_sent", 1}, {"_provisioned", 1},
			{"_accepted", 2}, {"_enabled", 2}, {"_reactivated", 2}, {"_activated", 2}, {"_restored", 2},
			{"_disabled", 5}, {"_deactivated", 5}, {"_suspended", 5}, {"_archived", 5}, {"_revoked", 5},
			{"_deleted", 6}, {"_removed", 6},
		},
	},
	classAuthentication: {
		name: "Authentication", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Logon", 2: "Logoff", 3: "Authentication Ticket",
			4: "Service Ticket Request", 5: "Service Ticket Renew", 6: "Preauth", 99: "Other"},
		verbs: []verb{
			{"_login_succeeded", 1}, {"_login_failed", 1}, {"_login_initiated", 1}, {"_login_attempted", 1},
			{"_logged_out", 2}, {"_revoked", 2},
		},
	},
	classUserAccess: {
		name: "User Access Management", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Assign Privileges", 2: "Revoke Privileges", 99: "Other"},
		verbs: []verb{
			{"_granted", 1}, {"_assigned", 1}, {"_added", 1},
			{"_revoked", 2}, {"_unassigned", 2}, {"_removed", 2},
		},
	},
	classGroupManagement: {
		name: "Group Management", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Assign Privileges", 2: "Revoke Privileges", 3: "Add User",
			4: "Remove User", 5: "Delete", 6: "Create", 99: "Other"},
		verbs: []verb{
			{"_member_added", 3}, {"_members_added", 3}, {"_member_removed", 4}, {"_members_removed", 4},
			{"_deleted", 5}, {"_created", 6},
		},
	},
	classWebResources: {
		name: "Web Resources Activity", category: categoryApplication, categoryName: categoryAppName,
		activities: map[int]string{0: "Unknown", 1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Search",
			6: "Import", 7: "Export", 8: "Share", 99: "Other"},
		verbs: []verb{
			{"_sharing_updated", 8}, {"_shared", 8}, {"_published", 8},
			{"_access_failed", 2}, {"_deletion_failed", 4},
			{"_created", 1}, {"_uploaded", 1}, {"_added", 1},
			{"_viewed", 2}, {"_accessed", 2}, {"_downloaded", 2}, {"_opened", 2},
			{"_searched", 5}, {"_imported", 6}, {"_exported", 7},
			{"_deleted", 4}, {"_removed", 4},
			{"_updated", 3}, {"_renamed", 3}, {"_moved", 3}, {"_replaced", 3}, {"_enabled", 3}, {"_disabled", 3},
			{"_archived", 3}, {"_restored", 3},
		},
	},
	classAPIActivity: {
		name: "API Activity", category: categoryApplication, categoryName: categoryAppName,
		activities: map[int]string{0: "Unknown", 1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"},
		verbs: []verb{
			{"_created", 1}, {"_added", 1}, {"_uploaded", 1}, {"_generated", 1}, {"_provisioned", 1}, {"_minted", 1},
			{"_viewed", 2}, {"_listed", 2}, {"_accessed", 2}, {"_downloaded", 2}, {"_exported", 2}, {"_searched", 2},
			{"_updated", 3}, {"_changed", 3}, {"_toggled", 3}, {"_enabled", 3}, {"_disabled", 3}, {"_reactivated", 3},
			{"_activated", 3}, {"_deactivated", 3}, {"_replaced", 3}, {"_rotated", 3}, {"_renamed", 3},
			{"_configured", 3}, {"_transferred", 3}, {"_approved", 3}, {"_dismissed", 3}, {"_decided", 3},
			{"_restored", 3},
			{"_deleted", 4}, {"_removed", 4}, {"_archived", 4}, {"_revoked", 4},
		},
	},
})

// writeHeader adds the members every event starts with, which depend only
// on the class, the activity_id and the status_id.
func writeHeader(ev jsonobj.Object, classID, activityID, status int) {
	c := classes[classID]
	activityName, typeName := c.caption(activityID)
	ev.Int("activity_id", int64(activityID))
	ev.String("activity_name", activityName)
	ev.Int("category_uid", int64(c.category))
	ev.String("category_name", c.categoryName)
	ev.Int("class_uid", int64(classID))
	ev.String("class_name", c.name)
	ev.Int("type_uid", int64(classID*100+activityID))
	ev.String("type_name", typeName)
	ev.Int("severity_id", severityInformational)
	ev.String("severity", severityInformationalName)
	ev.Int("status_id", int64(status))
	ev.String("status", statusNames[status])
}

// writeMetadataTail adds the constant end of metadata: the schema version
// and the product.
func writeMetadataTail(md jsonobj.Object) {
	md.String("version", schemaVersion)
	product := md.Object("product")
	product.String("vendor_name", vendorName)
	product.String("name", productName)
}

// headerKey identifies a header: class, activity_id and status_id.
type headerKey struct{ class, activity, status int }

// headers holds writeHeader's members encoded once for every class, each of
// its activity_ids and each status_id (Map writes other combinations
// member by member); metadataTail is writeMetadataTail's.
var (
	headers      = encodeHeaders()
	metadataTail = encodeMembers(writeMetadataTail)
)

func encodeHeaders() map[headerKey][]byte {
	out := map[headerKey][]byte{}
	for classID, c := range classes {
		for activityID := range c.activities {
			for status := range statusNames {
				out[headerKey{classID, activityID, status}] = encodeMembers(func(ev jsonobj.Object) {
					writeHeader(ev, classID, activityID, status)
				})
			}
		}
	}
	return out
}

func encodeMembers(write func(jsonobj.Object)) []byte {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	write(b.Root())
	return b.Root().AppendMembers(nil)
}

// rule assigns an OCSF class to activity types.
type rule struct {
	class int
	// activity is the activity_id; 0 derives it from the class verbs,
	// activityFromMethod from request_method.
	activity int
	// object is what the activity acts on, when it is not a user or group:
	// web_resources[0] (6001), resources[0] (6003) or, for Account Change
	// on keys and service accounts, the user.
	object object
}

// object names the members that may hold an object's id and its name (in
// each list the first present wins) and its type caption.
type object struct {
	idFields   []string
	nameFields []string
	kind       string
}

func obj(kind string, idFields []string, nameFields ...string) object {
	return object{idFields: idFields, nameFields: nameFields, kind: kind}
}

type prefixRule struct {
	prefix string
	rule   rule
}

var (
	auth          = rule{class: classAuthentication}
	accountChange = rule{class: classAccountChange}
)

// exactRules win over prefixRules.
var exactRules = map[string]rule{
	"compliance_api_accessed":          {class: classAPIActivity, activity: activityFromMethod},
	"anonymous_mobile_login_attempted": {class: classAuthentication, activity: 1},
	"user_logged_out":                  {class: classAuthentication, activity: 2},
	"session_revoked":                  {class: classAuthentication, activity: 2},
	"rbac_role_assigned":               {class: classUserAccess, activity: 1},
	"rbac_role_unassigned":             {class: classUserAccess, activity: 2},
	"claude_user_role_updated":         {class: classUserAccess, activity: 1},
	"org_user_viewed":                  {class: classAPIActivity, activity: 2},
	"group_viewed":                     {class: classAPIActivity, activity: 2, object: obj("Group", ids("group_id"), "group_name")},
	"group_list_viewed":                {class: classAPIActivity, activity: 2},
	"group_member_list_viewed":         {class: classAPIActivity, activity: 2, object: obj("Group", ids("group_id"), "group_name")},
}

// prefixRules are tried in order; list a longer prefix before a shorter one
// it starts with.
var prefixRules = []prefixRule{
	// Authentication 3002.
	{"sso_login_", auth},
	{"magic_link_login_", auth},
	{"social_login_", auth},
	{"sso_second_factor_", auth},
	{"phone_code_", auth},

	// Account Change 3001: users and the keys and service accounts that act as accounts.
	{"org_user_invite_", accountChange},
	{"org_user_", accountChange},
	{"scim_user_", accountChange},
	{"platform_api_key_", account(obj("API Key", ids("api_key_id"), "api_key_name", "name"))},
	{"admin_api_key_", account(obj("Admin API Key", ids("admin_api_key_id"), "admin_api_key_name", "name"))},
	{"scoped_api_key_", account(obj("API Key", ids("api_key_id"), "api_key_name", "name"))},
	{"api_key_", account(obj("API Key", ids("api_key_id"), "api_key_name", "name"))},
	{"service_key_", account(obj("Service Key", ids("service_key_id"), "key_name"))},
	{"platform_service_account_", account(obj("Service Account", ids("service_account_id"), "service_account_name", "name"))},

	// User Access Management 3005.
	{"role_assignment_", rule{class: classUserAccess}},

	// Group Management 3006.
	{"group_", rule{class: classGroupManagement}},

	// Web Resources Activity 6001: Claude content.
	{"claude_chat_snapshot_", web(obj("Chat Snapshot", ids("claude_chat_snapshot_id")))},
	{"claude_chat_", web(obj("Chat", ids("claude_chat_id"), "title"))},
	{"claude_file_", web(obj("File", ids("claude_file_id"), "filename"))},
	{"claude_project_document_", web(obj("Project Document", ids("claude_project_document_id"), "filename"))},
	{"claude_project_file_", web(obj("Project File", ids("claude_file_id"), "filename"))},
	{"claude_project_", web(obj("Project", ids("claude_project_id"), "project_name", "title"))},
	{"claude_published_artifact_", web(obj("Published Artifact", ids("claude_published_artifact_id"), "title"))},
	{"claude_artifact_", web(obj("Artifact", ids("claude_artifact_id", "claude_published_artifact_id"), "title"))},
	{"claude_skill_", web(obj("Skill", ids("skill_id"), "skill_name"))},
	{"platform_file_", web(obj("File", ids("file_id"), "filename"))},

	// API Activity 6003: configuration families, activity from the verb.
	{"mcp_server_", api(obj("MCP Server", ids("mcp_server_id"), "mcp_server_name"))},
	{"mcp_tool_", api(obj("MCP Server", ids("mcp_server_id"), "mcp_server_name"))},
	{"rbac_role_", api(obj("Role", ids("role_id"), "role_name"))},
	{"platform_workspace_", api(obj("Workspace", ids("workspace_id"), "workspace_name"))},
	{"platform_", rule{class: classAPIActivity}},
	{"organization_", rule{class: classAPIActivity}},
	{"org_", rule{class: classAPIActivity}},
	{"claude_", rule{class: classAPIActivity}},
}

func ids(keys ...string) []string { return keys }

func account(o object) rule { return rule{class: classAccountChange, object: o} }

func web(o object) rule { return rule{class: classWebResources, object: o} }

func api(o object) rule { return rule{class: classAPIActivity, object: o} }

// fallback is the rule for types nothing matches.
var fallback = rule{class: classAPIActivity, activity: activityOther}

// lookup finds the rule for an activity type; known is false for the fallback.
func lookup(activityType string) (r rule, known bool) {
	if r, ok := exactRules[activityType]; ok {
		return r, true
	}
	for _, p := range prefixRules {
		if strings.HasPrefix(activityType, p.prefix) {
			return p.rule, true
		}
	}
	return fallback, false
}

// activityFor picks the activity_id from the type's verb suffix.
func (c *class) activityFor(activityType string) int {
	for _, v := range c.verbs {
		if strings.HasSuffix(activityType, v.suffix) {
			return v.activity
		}
	}
	return activityOther
}

// statusFor derives status_id from the type's suffix: failed, denied,
// rejected and blocked are failures; initiated and attempted have no
// outcome yet; anything else happened, so it succeeded.
func statusFor(activityType string) int {
	switch {
	case hasAnySuffix(activityType, "_failed", "_denied", "_rejected", "_blocked"):
		return statusFailure
	case hasAnySuffix(activityType, "_initiated", "_attempted"):
		return statusUnknown
	}
	return statusSuccess
}

// Authentication protocol by type prefix (auth_protocol_id of class 3002).
var authProtocols = []struct {
	prefix string
	id     int
	name   string
}{
	{"sso_", 5, "SAML"},
	{"social_login_", 4, "OpenID"},
	{"magic_link_", 99, "Magic Link"},
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}
