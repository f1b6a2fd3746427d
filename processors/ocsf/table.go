package ocsf

import (
	"strconv"

	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// This file is the whole type → class/activity/status mapping. Activity
// types come from the shared catalogue (processors/internal/catalog): each
// type's target kind picks the class (targetClass) and its verb's action
// the activity_id (activityOf); typeOverrides holds the few types neither
// fits, and otherReasons says why a type keeps activity_id 99. A type the
// catalogue does not list maps through the same rules from its family and
// verb and is counted as unknown; one whose family is unknown too becomes API
// Activity (6003) with activity_id 99.

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

// class describes one OCSF class: its captions per activity_id.
type class struct {
	name         string
	category     int
	categoryName string
	activities   map[int]string

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
	},
	classAuthentication: {
		name: "Authentication", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Logon", 2: "Logoff", 3: "Authentication Ticket",
			4: "Service Ticket Request", 5: "Service Ticket Renew", 6: "Preauth", 99: "Other"},
	},
	classUserAccess: {
		name: "User Access Management", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Assign Privileges", 2: "Revoke Privileges", 99: "Other"},
	},
	classGroupManagement: {
		name: "Group Management", category: categoryIAM, categoryName: categoryIAMName,
		activities: map[int]string{0: "Unknown", 1: "Assign Privileges", 2: "Revoke Privileges", 3: "Add User",
			4: "Remove User", 5: "Delete", 6: "Create", 99: "Other"},
	},
	classWebResources: {
		name: "Web Resources Activity", category: categoryApplication, categoryName: categoryAppName,
		activities: map[int]string{0: "Unknown", 1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Search",
			6: "Import", 7: "Export", 8: "Share", 99: "Other"},
	},
	classAPIActivity: {
		name: "API Activity", category: categoryApplication, categoryName: categoryAppName,
		activities: map[int]string{0: "Unknown", 1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"},
	},
})

// targetClass is the class of each catalogue target. Reads and lists of
// users, groups and workspace members, which the IAM classes have no activity
// for, are API Activity Read instead (see ruleFor).
var targetClass = map[catalog.Target]int{
	catalog.Session:    classAuthentication,
	catalog.User:       classAccountChange,
	catalog.Key:        classAccountChange,
	catalog.Factor:     classAccountChange,
	catalog.Role:       classUserAccess,
	catalog.Consent:    classUserAccess,
	catalog.Group:      classGroupManagement,
	catalog.Membership: classGroupManagement,
	catalog.Content:    classWebResources,
	catalog.File:       classWebResources,
	catalog.Share:      classWebResources,
	catalog.Export:     classWebResources,
	catalog.RoleConfig: classAPIActivity,
	catalog.API:        classAPIActivity,
	catalog.Credential: classAPIActivity,
	catalog.Detection:  classAPIActivity,
	catalog.Config:     classAPIActivity,
}

// activityOf gives, per class, the activity_id of each verb action; an
// action a class does not list is activity_id 99 (Other).
var activityOf = map[int]map[string]int{
	classAuthentication: {
		"login": 1, "fail": 1, "start": 1, "verify": 1, "decide": 1, "complete": 1,
		"send":   6, // a code sent: Preauth
		"logout": 2, "revoke": 2,
	},
	classAccountChange: {
		"create": 1, "send": 1,
		"accept": 2, "enable": 2, "restore": 2,
		"disable": 5, "archive": 5, "revoke": 5,
		"delete": 6, "remove": 6, "leave": 6,
		"enroll": 10,
	},
	classUserAccess: {
		"assign": 1, "grant": 1, "add": 1, "transfer": 1, "restore": 1, "update": 1,
		"unassign": 2, "revoke": 2, "remove": 2,
	},
	classGroupManagement: {
		"add": 3, "remove": 4, "delete": 5, "create": 6,
		"assign": 1, "grant": 1, "unassign": 2, "revoke": 2,
	},
	classWebResources: {
		"create": 1, "upload": 1, "submit": 1, "start": 1,
		"read": 2, "download": 2, "list": 2,
		"update": 3, "enable": 3, "disable": 3, "archive": 3, "restore": 3, "cancel": 3, "complete": 3,
		"delete": 4, "remove": 4, "revoke": 4, "unpublish": 4,
		"import": 6, "export": 7,
		"share": 8, "publish": 8, "accept": 8, "add": 8,
	},
	classAPIActivity: {
		"create": 1, "add": 1, "upload": 1, "publish": 1, "connect": 1, "attach": 1, "submit": 1, "send": 1,
		"import": 1, "exchange": 1, "request": 1, "share": 1,
		"read": 2, "list": 2, "download": 2, "export": 2,
		"update": 3, "enable": 3, "disable": 3, "allow": 3, "disallow": 3, "deny": 3, "block": 3, "unblock": 3, "rotate": 3,
		"approve": 3, "reject": 3, "decide": 3, "assign": 3, "grant": 3, "transfer": 3, "cancel": 3,
		"complete": 3, "start": 3, "verify": 3, "restore": 3, "fail": 3, "accept": 3, "unassign": 3,
		"delete": 4, "remove": 4, "revoke": 4, "disconnect": 4, "detach": 4, "archive": 4, "leave": 4, "unpublish": 4,
	},
}

// Shares that are objects of their own (a link, an invitation, a snapshot):
// revoking one deletes it. Revoking other access (a member, a publication)
// updates the resource shared.
var shareObjects = map[string]bool{
	"session_share": true, "pending_share": true, "claude_artifact_invite": true, "claude_chat_snapshot": true,
	"group_project_shares": true, "group_skill_shares": true,
}

// typeOverrides are types whose class, activity_id or status_id the target
// and verb do not give; zero fields keep the rule's value (so an override
// cannot set status Unknown, which no type needs).
var typeOverrides = map[string]struct{ class, activity, status int }{
	// A new subscription is created, not a setting updated.
	"subscription_started": {0, 1, 0},
	// An RBAC group is added to or removed from the team-memory ACL: the
	// principal is a group; the action member says which (activity 99 below).
	"claude_code_team_memory_acl_updated": {classGroupManagement, activityOther, 0},
	// Granted, changed or revoked, as the action member says (activity 99 below).
	"claude_code_security_scan_project_member_updated": {0, activityOther, 0},
	// A denied or uninspected Messages API request, and a webhook delivery
	// refused for its signature, are API calls: Create, with the status.
	"inference_hooks_request_denied":      {0, 1, 0},
	"inference_hooks_request_failed_open": {0, 1, 0},
	"ghe_webhook_signature_invalid":       {0, 1, 0},
	"org_creation_blocked":                {0, 1, 0},
	// The owner's rejection deletes the submitted credential, successfully.
	"ccr_agent_proxy_provisioning_credential_rejected": {0, 4, statusSuccess},
	// Abuse decisions are about a sign-in or sign-up attempt.
	"abuse_decision_received": {0, 1, 0},
	// A member's trusted devices are revoked and the member is signed out
	// of every session.
	"org_user_trusted_devices_revoked": {0, 2, 0},
}

// otherReasons says why a catalogued type keeps activity_id 99 (Other): by
// type, else by class and action. The catalogue test fails for a type with
// activity 99 and no reason here.
var otherReasons = map[string]string{
	"claude_code_team_memory_acl_updated":              "the action member says whether the group was added or removed; Group Management's Assign/Revoke Privileges would have to be read from it",
	"claude_code_security_scan_project_member_updated": "access was granted, changed or revoked, as the action member says; no single User Access Management activity covers the three",
	"claude_project_reported":                          "reporting a project for review is none of Web Resources Activity's Create/Read/Update/Delete/Search/Import/Export/Share",

	reasonKey(classAccountChange, "update"):   "Account Change has no Update activity (its 1-11 are create, enable, password, disable, delete, policy, lock and MFA changes)",
	reasonKey(classAccountChange, "reject"):   "a rejected invitation changes no account; Account Change has no activity for it",
	reasonKey(classAccountChange, "request"):  "a request for an invitation changes no account yet",
	reasonKey(classAccountChange, "verify"):   "verifying a user's age changes no account; Account Change has no activity for it",
	reasonKey(classAccountChange, "rotate"):   "rotating a trusted device's key is neither enabling nor disabling an MFA factor",
	reasonKey(classGroupManagement, "update"): "Group Management has no Update activity (only privileges, members, create and delete)",
}

func reasonKey(classID int, action string) string {
	return "class:" + strconv.Itoa(classID) + "/" + action
}

// otherReason returns why a type has activity_id 99, "" if nothing says.
func otherReason(activityType string, classID int, action string) string {
	if r, ok := otherReasons[activityType]; ok {
		return r
	}
	return otherReasons[reasonKey(classID, action)]
}

// statusFrom names a member whose value decides status_id (and overrides the
// verb's outcome).
type statusFrom uint8

const (
	statusFromVerb     statusFrom = iota
	statusFromHTTP                // status_code
	statusFromDecision            // decision: blocked is a failure
	statusFromApproved            // approved: true success, false failure
	statusFromResult              // result: imported success, rejected/failed failure
)

var typeStatusFrom = map[string]statusFrom{
	"compliance_api_accessed":   statusFromHTTP,
	"abuse_decision_received":   statusFromDecision,
	"org_join_proposal_decided": statusFromApproved,
	"github_token_import":       statusFromResult,
}

// rule is how one activity type maps.
type rule struct {
	class    int
	activity int // activityFromMethod: from request_method
	status   int // from the verb's outcome
	from     statusFrom
	object   object
	target   catalog.Target
	family   string
	// workspace is true when the members of a workspace change: the
	// workspace is Group Management's group.
	workspace bool
}

// object names the members holding the id and name of what the activity
// acts on, and what it is called.
type object struct {
	idField, nameField string
	kind               string
}

// rules holds the rule of every catalogued type, built once.
var rules = buildRules()

func buildRules() map[string]*rule {
	out := map[string]*rule{}
	for _, e := range catalog.Entries() {
		r := ruleFor(*e)
		out[e.Type] = &r
	}
	return out
}

// fallback is the rule for a type whose family is unknown too.
var fallback = rule{class: classAPIActivity, activity: activityOther, status: statusSuccess}

// lookup finds the rule of an activity type; known is false for a type the
// catalogue does not list, whose rule is inferred from its family and verb.
func lookup(activityType string) (r rule, known bool) {
	if r, ok := rules[activityType]; ok {
		return *r, true
	}
	e := catalog.Classify(activityType)
	if e.Target == "" {
		r := fallback
		r.status = statusOf(e.Outcome)
		return r, false
	}
	return ruleFor(e), false
}

// ruleFor derives a type's rule from its catalogue entry.
func ruleFor(e catalog.Entry) rule {
	r := rule{
		class:  targetClass[e.Target],
		status: statusOf(e.Outcome),
		from:   typeStatusFrom[e.Type],
		object: object{idField: e.IDField(), nameField: e.LabelField(), kind: e.Caption},
		target: e.Target,
		family: e.Family,
	}
	switch {
	case e.Target == catalog.API:
		r.activity = activityFromMethod
		return r
	case (e.Action == "read" || e.Action == "list") &&
		(e.Target == catalog.User || e.Target == catalog.Group || e.Target == catalog.Membership):
		// The IAM classes have no Read.
		r.class = classAPIActivity
	case e.Target == catalog.Membership:
		r.workspace = true
	}
	var ok bool
	if r.activity, ok = activityOf[r.class][e.Action]; !ok {
		r.activity = activityOther
	}
	if e.Target == catalog.Share && r.class == classWebResources && !shareObjects[e.Family] && r.activity == 4 {
		r.activity = 3
	}
	switch {
	case e.Target == catalog.Factor && e.Action == "revoke":
		r.activity = 11 // MFA Factor Disable
	case e.Target == catalog.RoleConfig && (e.Action == "add" || e.Action == "remove"):
		r.activity = 3 // a permission or grant added to a role updates it
	case e.Target == catalog.Export && (e.Action == "start" || e.Action == "complete"):
		r.activity = 7 // Export
	}
	if o, ok := typeOverrides[e.Type]; ok {
		if o.class != 0 {
			r.class = o.class
		}
		if o.activity != 0 {
			r.activity = o.activity
		}
		if o.status != 0 {
			r.status = o.status
		}
	}
	return r
}

func statusOf(o catalog.Outcome) int {
	switch o {
	case catalog.Failure:
		return statusFailure
	case catalog.Unknown:
		return statusUnknown
	}
	return statusSuccess
}

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

// Authentication protocol by type family (auth_protocol_id of class 3002).
var authProtocols = map[string]struct {
	id   int
	name string
}{
	"sso_login":          {5, "SAML"},
	"sso_second_factor":  {5, "SAML"},
	"social_login":       {4, "OpenID"},
	"platform_federated": {4, "OpenID"},
	"lti_launch":         {4, "OpenID"},
	"magic_link_login":   {99, "Magic Link"},
}
