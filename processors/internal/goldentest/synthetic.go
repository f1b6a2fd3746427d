package goldentest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
)

// Actors are the actor variants of compliance-api.md §4.2 with every member
// filled, in the order Synthetic cycles through them.
var Actors = []map[string]any{
	{"type": "user_actor", "email_address": "jane.doe@example.com", "user_id": "user_01Jane", "ip_address": "192.0.2.10", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0"},
	{"type": "api_actor", "api_key_id": "apikey_01Api", "ip_address": "198.51.100.7", "user_agent": "curl/8.5.0"},
	{"type": "admin_api_key_actor", "admin_api_key_id": "adminkey_01Adm", "ip_address": "203.0.113.5", "user_agent": "python-httpx/0.27"},
	{"type": "unauthenticated_user_actor", "unauthenticated_email_address": "visitor@example.org", "ip_address": "2001:db8::7", "user_agent": "Mozilla/5.0"},
	{"type": "anthropic_actor", "email_address": nil},
	{"type": "scim_directory_sync_actor", "workos_event_id": "event_01Scim", "directory_id": "directory_01Dir", "idp_connection_type": "OktaSCIMV2"},
	{"type": "system_actor", "service": "billing"},
	{"type": "service_account_actor", "service_account_id": "svcacct_01Svc", "ip_address": "192.0.2.20", "user_agent": "sdk/1.0"},
	{"type": "federated_identity_actor", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:acme/app", "audience": []string{"anthropic"}, "ip_address": "192.0.2.30", "user_agent": nil},
	{"type": "federated_actor", "provider": map[string]any{"type": "aws", "account_id": "123456789012", "signed_principal": "arn:aws:iam::123456789012:role/ci"}, "subject": "ci", "ip_address": "192.0.2.40", "user_agent": nil},
	{"type": "attested_device_actor", "external_client_id": "client_01Dev", "kid_hash": "kid_01Hash", "ip_address": "192.0.2.50", "user_agent": nil},
}

// sessionActors are the actors a sign-in can have: a person, or the visitor
// before they are known.
var sessionActors = []int{0, 3}

// Synthetic returns one activity of a catalogued type in the documented
// shape: the common members, an actor (the n-th variant, or a person for
// sign-ins), and every field of the entry with a value of its kind.
func Synthetic(e *catalog.Entry, n int) []byte {
	actor := Actors[n%len(Actors)]
	if e.Target == catalog.Session {
		actor = Actors[sessionActors[n%len(sessionActors)]]
	}
	if e.Type == "compliance_api_accessed" {
		actor = Actors[1]
	}
	doc := map[string]any{
		"id":                fmt.Sprintf("activity_%04d%s", n, strings.Repeat("x", 4)),
		"type":              e.Type,
		"created_at":        "2026-04-10T08:09:10.123Z",
		"organization_id":   "org_01Acme",
		"organization_uuid": "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
		"actor":             actor,
	}
	for _, f := range e.Fields {
		doc[f.Name] = value(f)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// value is a plausible value of a field: by its kind, and by its name
// where the name says more (ids, roles, enums the mappers read).
func value(f catalog.Field) any {
	switch f.Kind {
	case catalog.Email:
		return strings.TrimSuffix(f.Name, "_email") + ".user@example.com"
	case catalog.EmailList:
		return []string{"ops@example.com", "finance@example.com"}
	case catalog.Bool:
		return f.Name != "deleted_all"
	case catalog.Number:
		if f.Name == "status_code" {
			return 200
		}
		return 3
	case catalog.List:
		return []string{f.Name + "_01a", f.Name + "_01b"}
	case catalog.Object:
		return map[string]any{"note": "synthetic"}
	case catalog.ObjectList:
		if f.Name == "audience" {
			return []map[string]any{{"type": "organization"}, {"type": "user", "user_id": "user_01Bob", "role": "viewer"}}
		}
		return []map[string]any{{"type": "name", "previous_value": "old", "current_value": "new"}}
	case catalog.Time:
		return "2026-04-01T00:00:00Z"
	}
	if v, ok := knownValues[f.Name]; ok {
		return v
	}
	if strings.HasSuffix(f.Name, "_id") || f.Name == "resync_uuid" || f.Name == "jti" {
		return strings.TrimSuffix(f.Name, "_id") + "_01Synth"
	}
	return f.Name + " value"
}

// knownValues are values from the documented enums of members the mappers
// interpret.
var knownValues = map[string]any{
	"request_method":  "GET",
	"url":             "https://api.anthropic.com/v1/compliance/activities?limit=100",
	"decision":        "blocked",
	"result":          "imported",
	"principal_type":  "user",
	"target_type":     "user",
	"resource_type":   "project",
	"provider":        "google",
	"auth_method":     "sso",
	"mfa_method":      "not_used",
	"role":            "admin",
	"current_role":    "admin",
	"previous_role":   "user",
	"invited_role":    "user",
	"filename":        "quarterly report.pdf",
	"org_name":        "Acme Corp",
	"reason":          "policy",
	"action":          "granted",
	"consent_type":    "health_data",
	"entity_type":     "mcp_server",
	"method":          "passkey",
	"access_level":    "view",
	"credential_type": "api_key",
}
