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

// TestCategorizationExactThenPrefixThenSuffixThenDefault covers the lookup
// order and the verb-derived types outside the golden set.
func TestCategorizationExactThenPrefixThenSuffixThenDefault(t *testing.T) {
	tests := []struct {
		typ      string
		category []string
		types    []string
		outcome  string
	}{
		{"sso_login_succeeded", []string{"authentication", "session"}, []string{"start"}, "success"},
		{"magic_link_login_failed", []string{"authentication"}, []string{"start"}, "failure"},
		{"sso_login_expired", []string{"authentication"}, []string{"start"}, "success"},
		{"claude_chat_updated", []string{"web"}, []string{"info"}, "success"},
		{"claude_project_document_deletion_failed", []string{"file", "web"}, []string{"deletion"}, "failure"},
		{"claude_artifact_access_failed", []string{"file", "web"}, []string{"access"}, "failure"},
		{"claude_chat_settings_updated", []string{"configuration"}, []string{"change"}, "success"},
		{"claude_code_security_webhook_created", []string{"configuration"}, []string{"creation"}, "success"},
		{"org_user_left", []string{"iam"}, []string{"user"}, "success"},
		{"org_users_listed", []string{"iam"}, []string{"user"}, "success"},
		{"group_viewed", []string{"iam"}, []string{"group"}, "success"},
		{"scim_user_updated", []string{"iam"}, []string{"user", "change"}, "success"},
		{"admin_api_key_deleted", []string{"iam"}, []string{"admin", "deletion"}, "success"},
		{"org_ip_restriction_created", []string{"configuration", "network"}, []string{"creation"}, "success"},
		{"org_data_export_started", []string{"file"}, []string{"access", "info"}, "success"},
		{"lti_launch_initiated", []string{"configuration"}, []string{"info"}, "unknown"},
		{"org_creation_blocked", []string{"configuration"}, []string{"info"}, "failure"},
		{"session_share_created", []string{"session"}, []string{"info"}, "success"},
		{"widget_frobnication_failed", []string{"web"}, []string{"error"}, "failure"},
		{"widget_deleted", []string{"configuration"}, []string{"deletion"}, "success"},
		{"widget_created", []string{"configuration"}, []string{"creation"}, "success"},
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
	assert.Equal(t, []string{"teleport_session_beamed"}, unknown, "exact, prefix and suffix matches are known")
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
