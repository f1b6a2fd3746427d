package ecs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/ecs"
	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
)

func mapOne(t *testing.T, m *ecs.Mapper, in string) map[string]any {
	t.Helper()
	out, err := m.Map([]byte(in))
	require.NoError(t, err)
	return goldentest.Decode(t, out)
}

func activityJSON(typ, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"id":"a1","created_at":"2026-04-10T10:09:10.5+02:00","organization_id":"org_1","type":%q,
		"actor":{"type":"user_actor","user_id":"u1","email_address":"alice@example.com","ip_address":"192.0.2.1","user_agent":"ua"}%s}`, typ, extra)
}

func list(doc map[string]any, path string) []string {
	v, ok := goldentest.Path(doc, path)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range v.([]any) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func field(doc map[string]any, path string) string {
	v, ok := goldentest.Path(doc, path)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// TestCategorizationFollowsElasticExceptTheDocumentedDeviations covers
// representative types: ones where we agree with Elastic's integration, each
// deliberate deviation, catalogued types Elastic does not map, and unknown
// types (family and verb rules, then the defaults).
func TestCategorizationFollowsElasticExceptTheDocumentedDeviations(t *testing.T) {
	tests := []struct {
		typ      string
		category []string
		types    []string
		outcome  string
	}{
		// As Elastic.
		{"magic_link_login_failed", []string{"authentication"}, []string{"start"}, "failure"},
		{"sso_login_initiated", []string{"authentication"}, []string{"start", "info"}, "unknown"},
		{"user_logged_out", []string{"authentication", "session"}, []string{"end"}, "success"},
		{"claude_chat_updated", []string{"web"}, []string{"info"}, "success"},
		{"claude_chat_access_failed", []string{"web"}, []string{"access"}, "failure"},
		{"claude_project_document_deletion_failed", []string{"file", "web"}, []string{"deletion", "info"}, "failure"},
		{"claude_chat_settings_updated", []string{"web", "configuration"}, []string{"info", "change"}, "success"},
		{"claude_code_security_webhook_created", []string{"configuration"}, []string{"creation"}, "success"},
		{"org_user_left", []string{"iam"}, []string{"change", "user"}, "success"},
		{"org_users_listed", []string{"iam"}, []string{"info"}, "success"},
		{"group_member_added", []string{"iam"}, []string{"change", "group"}, "success"},
		{"platform_workspace_member_added", []string{"configuration"}, []string{"change"}, "success"},
		{"admin_api_key_deleted", []string{"iam"}, []string{"deletion", "admin"}, "success"},
		{"subscription_renewed", []string{"configuration"}, []string{"change"}, "success"},
		{"seat_tiers_purchased", []string{"configuration"}, []string{"change"}, "success"},
		{"org_directory_resync_failed", []string{"iam", "configuration"}, []string{"change"}, "failure"},
		{"org_sso_add_initiated", []string{"iam", "configuration"}, []string{"change"}, "success"},
		{"extra_usage_spend_limit_increase_request_denied", []string{"configuration"}, []string{"change"}, "failure"},
		{"session_share_created", []string{"session"}, []string{"info"}, "success"},
		{"account_deleted", []string{"iam"}, []string{"deletion", "user"}, "success"},
		{"user_consent_revoked", []string{"iam"}, []string{"change"}, "success"},
		// Deliberate deviations (see deviations).
		{"sso_login_succeeded", []string{"authentication", "session"}, []string{"start"}, "success"},
		{"claude_chat_viewed", []string{"web"}, []string{"access"}, "success"},
		{"lti_launch_success", []string{"authentication", "session"}, []string{"start"}, "success"},
		// Catalogued, not mapped by Elastic.
		{"inference_hooks_request_denied", []string{"api"}, []string{"denied"}, "failure"},
		{"trusted_device_revoked", []string{"iam"}, []string{"deletion", "user"}, "success"},
		{"step_up_authentication_succeeded", []string{"authentication"}, []string{"start"}, "success"},
		{"platform_agent_deployment_paused", []string{"configuration"}, []string{"change"}, "success"},
		// Not catalogued: family and verb rules, else configuration by verb, else defaults.
		{"claude_chat_exported", []string{"web"}, []string{"access"}, "success"},
		{"widget_frobnication_failed", []string{"configuration"}, []string{"change"}, "failure"},
		{"widget_deleted", []string{"configuration"}, []string{"deletion"}, "success"},
		{"widget_polished", nil, []string{"info"}, "unknown"},
	}
	m := goldenMapper(t)
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			doc := mapOne(t, m, activityJSON(tt.typ, ""))
			assert.Equal(t, tt.category, list(doc, "event.category"), "event.category")
			assert.Equal(t, tt.types, list(doc, "event.type"), "event.type")
			assert.Equal(t, tt.outcome, field(doc, "event.outcome"), "event.outcome")
			assert.Equal(t, "event", field(doc, "event.kind"))
			assert.Equal(t, tt.typ, field(doc, "event.action"))
		})
	}
}

func TestOutcomeSpecialCases(t *testing.T) {
	m := goldenMapper(t)
	for _, tt := range []struct{ typ, extra, want string }{
		{"compliance_api_accessed", `"status_code":204`, "success"},
		{"compliance_api_accessed", `"status_code":429`, "failure"},
		{"compliance_api_accessed", `"status_code":529`, "unknown"},
		{"compliance_api_accessed", `"status_code":301`, "unknown"},
		{"compliance_api_accessed", ``, "unknown"},
		{"org_join_proposal_decided", `"approved":true`, "success"},
		{"org_join_proposal_decided", `"approved":false`, "failure"},
		{"org_join_proposal_decided", ``, "unknown"},
	} {
		doc := mapOne(t, m, activityJSON(tt.typ, tt.extra))
		assert.Equal(t, tt.want, field(doc, "event.outcome"), "%s %s", tt.typ, tt.extra)
	}
}

func TestUserFieldsFollowTheActorVariant(t *testing.T) {
	m := goldenMapper(t)
	tests := []struct {
		actor                  string
		wantID, wantEmail      string
		wantAuditActorEmailKey string
	}{
		{`{"type":"user_actor","user_id":"u1","email_address":"a@x.com"}`, "u1", "a@x.com", ""},
		{`{"type":"anthropic_actor","email_address":"staff@anthropic.com"}`, "", "staff@anthropic.com", ""},
		{`{"type":"unauthenticated_user_actor","unauthenticated_email_address":"b@x.com"}`, "", "b@x.com", ""},
		// email_address or user_id on another variant is not the user's: it stays in audit.
		{`{"type":"service_account_actor","service_account_id":"s1","user_id":"u9","email_address":"svc@x.com"}`, "", "", "email_address"},
	}
	for _, tt := range tests {
		doc := mapOne(t, m, `{"type":"claude_chat_viewed","created_at":"2026-04-10T08:09:10Z","actor":`+tt.actor+`}`)
		assert.Equal(t, tt.wantID, field(doc, "user.id"), tt.actor)
		assert.Equal(t, tt.wantEmail, field(doc, "user.email"), tt.actor)
		if tt.wantAuditActorEmailKey != "" {
			assert.NotEmpty(t, field(doc, "anthropic.audit.actor."+tt.wantAuditActorEmailKey), tt.actor)
			assert.Equal(t, "u9", field(doc, "anthropic.audit.actor.user_id"))
		}
	}
}

func TestRelatedCollectsAndDedupes(t *testing.T) {
	doc := mapOne(t, goldenMapper(t), activityJSON("rbac_role_assigned",
		`"principal_id":"u1","principal_type":"user","user_email":"alice@example.com","member_ids":["u1","u7"],
		 "alert_emails":["ops@example.com","alice@example.com"],"url":"https://api.anthropic.com:8443/v1/x?y=1"`))
	assert.Equal(t, []string{"192.0.2.1"}, list(doc, "related.ip"))
	assert.Equal(t, []string{"alice@example.com", "u1", "u7", "ops@example.com"}, list(doc, "related.user"))
	assert.Equal(t, []string{"api.anthropic.com"}, list(doc, "related.hosts"))
	assert.Equal(t, "8443", field(doc, "url.port"))
	assert.Equal(t, "y=1", field(doc, "url.query"))
	assert.Equal(t, "2026-04-10T08:09:10.5Z", field(doc, "@timestamp"), "UTC")
}

func TestUnknownTypesGetDefaultsAndAreReported(t *testing.T) {
	var unknown []string
	m, err := ecs.NewMapper(ecs.Options{UnknownType: func(typ string) { unknown = append(unknown, typ) }})
	require.NoError(t, err)
	mapOne(t, m, activityJSON("teleport_session_beamed", ""))
	mapOne(t, m, activityJSON("claude_chat_created", ""))
	mapOne(t, m, activityJSON("widget_created", ""))
	assert.Equal(t, []string{"teleport_session_beamed", "widget_created"}, unknown, "every type the catalogue does not list is reported")
}

func TestMapRejectsWhatIsNotAnActivity(t *testing.T) {
	m := goldenMapper(t)
	for in, want := range map[string]error{
		`"string"`:                              activity.ErrNotObject,
		`{"type":`:                              activity.ErrNotObject,
		`{"created_at":"2026-04-10T08:09:10Z"}`: activity.ErrNoType,
		`{"type":"x"}`:                          activity.ErrBadTime,
	} {
		_, err := m.Map([]byte(in))
		assert.ErrorIs(t, err, want, in)
	}
}

func TestKeepRawSetsEventOriginal(t *testing.T) {
	in := activityJSON("claude_chat_created", `"claude_chat_id":"c1"`)
	m, err := ecs.NewMapper(ecs.Options{KeepRaw: true})
	require.NoError(t, err)
	assert.Equal(t, in, field(mapOne(t, m, in), "event.original"))
	assert.Empty(t, field(mapOne(t, goldenMapper(t), in), "event.original"))
}

func TestRedactionReachesEveryECSField(t *testing.T) {
	in := activityJSON("compliance_api_accessed", `"request_body":{"q":"secret-body"},"invited_email":"carol@example.com",
		"alert_emails":["ops@example.com"],"status_code":200`)
	drop, err := ecs.NewMapper(ecs.Options{KeepRaw: true, Redaction: activity.Redaction{RequestBody: true, Emails: true, IPs: true}})
	require.NoError(t, err)
	out, err := drop.Map([]byte(in))
	require.NoError(t, err)
	for _, secret := range []string{"192.0.2.1", "@example.com", "secret-body", "request_body"} {
		assert.NotContains(t, string(out), secret)
	}

	hash, err := ecs.NewMapper(ecs.Options{Redaction: activity.Redaction{Emails: true, IPs: true, Hash: true, Key: []byte("k")}})
	require.NoError(t, err)
	doc := mapOne(t, hash, in)
	for _, typed := range []string{"user.email", "user.target.email", "source.ip", "related.ip"} {
		assert.Empty(t, field(doc, typed), "%s must not hold a hash", typed)
	}
	assert.Equal(t, []string{"u1"}, list(doc, "related.user"))
	for _, kept := range []string{"anthropic.audit.actor.email_address", "anthropic.audit.actor.ip_address", "anthropic.audit.invited_email"} {
		assert.True(t, strings.HasPrefix(field(doc, kept), activity.HashPrefix), "%s = %q", kept, field(doc, kept))
	}
}

// TestMapKeepsNothingOfTheInput: strings read from the activity share the
// input's memory while Map runs (no copy is made), so nothing Map returns or
// reports may still point into it.
func TestMapKeepsNothingOfTheInput(t *testing.T) {
	var unknown []string
	m, err := ecs.NewMapper(ecs.Options{KeepRaw: true, UnknownType: func(typ string) { unknown = append(unknown, typ) }})
	require.NoError(t, err)
	buf := []byte(activityJSON("teleport_session_beamed", `"beam_id":"b1","member_ids":["u2"]`))
	out, err := m.Map(buf)
	require.NoError(t, err)
	want := string(out)
	for i := range buf {
		buf[i] = 'x'
	}
	assert.Equal(t, want, string(out), "the document does not share the input's memory")
	assert.Contains(t, want, `"original":`)
	assert.Equal(t, []string{"teleport_session_beamed"}, unknown, "the reported type does not share it either")
}

// TestECSFieldsElasticFillsAreFilledToo: user.name (the local part of the
// email), organization.name, file.name, event.reason and user.target.* where
// the activity carries them, as Elastic's integration fills them.
func TestECSFieldsElasticFillsAreFilledToo(t *testing.T) {
	m := goldenMapper(t)
	tests := []struct {
		typ, extra string
		want       map[string]string
	}{
		{"claude_file_uploaded", `"claude_file_id":"f1","filename":"Q3 plan.pdf"`, map[string]string{
			"user.name": "alice", "file.name": "Q3 plan.pdf"}},
		{"org_creation_blocked", `"org_name":"Acme","reason":"duplicate_domain"`, map[string]string{
			"organization.name": "Acme", "event.reason": "duplicate_domain"}},
		{"org_deletion_requested", `"organization_name":"Acme Inc"`, map[string]string{"organization.name": "Acme Inc"}},
		{"role_assignment_granted", `"target_id":"u2","target_type":"user","role":"workspace_admin"`, map[string]string{
			"user.target.id": "u2", "user.target.roles": "[workspace_admin]"}},
		{"claude_user_role_updated", `"user_id":"u3","user_email":"ivan@example.com","current_role":"admin","previous_role":"user"`, map[string]string{
			"user.target.id": "u3", "user.target.email": "ivan@example.com", "user.target.name": "ivan", "user.target.roles": "[admin]",
			"anthropic.audit.previous_role": "user"}},
		{"primary_owner_transferred", `"new_owner_id":"u4","previous_owner_id":"u1"`, map[string]string{
			"user.target.id": "u4", "anthropic.audit.previous_owner_id": "u1"}},
	}
	for _, tt := range tests {
		doc := mapOne(t, m, activityJSON(tt.typ, tt.extra))
		for path, want := range tt.want {
			assert.Equal(t, want, field(doc, path), "%s %s", tt.typ, path)
		}
	}
	doc := mapOne(t, m, activityJSON("claude_chat_viewed", ""))
	for _, absent := range []string{"file.name", "organization.name", "event.reason", "user.target.roles"} {
		assert.Empty(t, field(doc, absent), "%s is left out when the activity does not carry it", absent)
	}
}

// leakyActivity carries each leak of issue 12 item 4: member names in other
// cases and styles, and addresses inside free text, the chat name and the
// user agent.
const leakyActivity = `{"id":"a1","created_at":"2026-04-10T08:09:10Z","type":"claude_chat_created",
	"actor":{"type":"user_actor","user_id":"u1","email_address":"alice@example.com","ip_address":"192.0.2.1",
	         "user_agent":"Mozilla/5.0 (client 10.20.30.40) Chrome/120.0.0.0"},
	"claude_chat_id":"c1","title":"Notes for grace@example.com",
	"Email":"carol@example.com","recipient":"dave@example.com","shared_with":["erin@example.com"],
	"details":{"message":"invited frank@example.com from 198.51.100.77","emailAddress":"heidi@example.com",
	           "ipAddress":"203.0.113.9","remote_addr":"203.0.113.10:5151","x_forwarded_for":"203.0.113.11"}}`

var leakedSecrets = []string{"alice@", "grace@", "carol@", "dave@", "erin@", "frank@", "heidi@",
	"192.0.2.1", "10.20.30.40", "198.51.100.77", "203.0.113.9", "203.0.113.10", "203.0.113.11"}

func TestRedactionLeavesNoAddressInAnyPartOfTheDocument(t *testing.T) {
	for _, r := range []activity.Redaction{
		{Emails: true, IPs: true},
		{Emails: true, IPs: true, Hash: true, Key: []byte("k")},
		{Emails: true, IPs: true, Strict: true},
	} {
		m, err := ecs.NewMapper(ecs.Options{KeepRaw: true, Redaction: r})
		require.NoError(t, err)
		out, err := m.Map([]byte(leakyActivity))
		require.NoError(t, err)
		for _, secret := range leakedSecrets {
			assert.NotContains(t, string(out), secret, "%+v", r)
		}
		doc := goldentest.Decode(t, out)
		assert.Empty(t, field(doc, "user.email"), "%+v", r)
		assert.Empty(t, field(doc, "user.name"), "no local part of a redacted address")
		if !r.Hash && !r.Strict {
			assert.Equal(t, "invited [email redacted] from [ip redacted]", field(doc, "anthropic.audit.details.message"))
			assert.Equal(t, "Notes for [email redacted]", field(doc, "anthropic.audit.title"), "the chat name")
			assert.Equal(t, "Mozilla/5.0 (client [ip redacted]) Chrome/120.0.0.0", field(doc, "user_agent.original"))
			assert.Contains(t, field(doc, "event.original"), `invited [email redacted] from [ip redacted]`)
		}
	}
}
