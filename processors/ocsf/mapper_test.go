package ocsf_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
	"github.com/compliance-connect/compliance-connect/processors/ocsf"
)

func mapOne(t *testing.T, m *ocsf.Mapper, in string) map[string]any {
	t.Helper()
	out, err := m.Map([]byte(in))
	require.NoError(t, err)
	return goldentest.Decode(t, out)
}

func activityJSON(typ string, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"id":"a1","created_at":"2026-04-10T08:09:10Z","type":%q,
		"actor":{"type":"user_actor","user_id":"u1","email_address":"alice@example.com","ip_address":"192.0.2.1"}%s}`, typ, extra)
}

// TestClassActivityAndStatusFollowTheTables covers types outside the golden
// set: every family's verb rules and the status derivation.
func TestClassActivityAndStatusFollowTheTables(t *testing.T) {
	tests := []struct {
		typ, extra              string
		class, activity, status int
	}{
		{"magic_link_login_failed", "", 3002, 1, 2},
		{"sso_second_factor_magic_link", "", 3002, 1, 1},
		{"scim_user_deactivated", `"user_id":"u2"`, 3001, 5, 1},
		{"scim_user_reactivated", `"user_id":"u2"`, 3001, 2, 1},
		{"org_user_invite_re_sent", `"invited_email":"c@x"`, 3001, 1, 1},
		{"org_user_invite_rejected", `"invited_email":"c@x"`, 3001, 99, 2},
		{"admin_api_key_deleted", `"admin_api_key_id":"k1"`, 3001, 6, 1},
		{"service_key_revoked", `"service_key_id":"k2"`, 3001, 5, 1},
		{"role_assignment_revoked", `"target_id":"u2","target_type":"user","role":"admin"`, 3005, 2, 1},
		{"rbac_role_assigned", `"principal_id":"g1","principal_type":"group","role_id":"r1"`, 3006, 1, 1},
		{"group_updated", `"group_id":"g1"`, 3006, 99, 1},
		{"group_list_viewed", "", 6003, 2, 1},
		{"claude_project_document_deletion_failed", `"claude_project_document_id":"d1"`, 6001, 4, 2},
		{"claude_project_file_access_failed", `"claude_file_id":"f1"`, 6001, 2, 2},
		{"claude_artifact_sharing_updated", `"claude_artifact_id":"ar1"`, 6001, 8, 1},
		{"claude_chat_snapshot_viewed", `"claude_chat_snapshot_id":"s1"`, 6001, 2, 1},
		{"claude_skill_disabled", `"skill_id":"sk1"`, 6001, 3, 1},
		{"claude_project_reported", `"claude_project_id":"p1"`, 6001, 99, 1},
		{"platform_file_content_downloaded", `"file_id":"f2"`, 6001, 2, 1},
		{"claude_code_review_repository_removed", "", 6003, 4, 1},
		{"mcp_tool_policy_updated", `"mcp_server_id":"m1"`, 6003, 3, 1},
		{"org_sso_toggled", "", 6003, 3, 1},
		{"org_creation_blocked", "", 6003, 1, 2},
		{"platform_workspace_archived", `"workspace_id":"w1"`, 6003, 4, 1},
		{"rbac_role_permission_added", `"role_id":"r1"`, 6003, 3, 1},
		{"lti_launch_initiated", "", 3002, 1, 0},
		{"phone_code_sent", "", 3002, 6, 1},
		{"account_deleted", "", 3001, 6, 1},
		{"primary_owner_transferred", `"new_owner_id":"u2","previous_owner_id":"u1"`, 3005, 1, 1},
		{"user_consent_recorded", `"consent_type":"health","entity_id":"m1"`, 3005, 1, 1},
		{"user_consent_revoked", `"consent_id":"c1"`, 3005, 2, 1},
		{"session_share_created", "", 6001, 1, 1},
		{"session_share_revoked", "", 6001, 4, 1},
		{"claude_project_sharing_updated", `"claude_project_id":"p1"`, 6001, 8, 1},
		{"platform_workspace_member_added", `"workspace_id":"w1","user_id":"u2"`, 3006, 3, 1},
		{"trusted_device_enrolled", "", 3001, 10, 1},
		{"extra_usage_spend_limit_increase_request_denied", "", 6003, 3, 2},
		{"github_token_import", `"result":"rejected"`, 6003, 1, 2},
		{"abuse_decision_received", `"decision":"blocked"`, 3002, 1, 2},
		{"compliance_api_accessed", `"request_method":"PATCH","status_code":302,"url":"https://x/y"`, 6003, 3, 1},
		{"compliance_api_accessed", `"request_method":"TRACE","status_code":101`, 6003, 99, 0},
		{"compliance_api_accessed", `"request_method":"GET"`, 6003, 2, 0},
	}
	m := goldenMapper(t)
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.extra, func(t *testing.T) {
			ev := mapOne(t, m, activityJSON(tt.typ, tt.extra))
			assert.Equal(t, fmt.Sprint(tt.class), fmt.Sprint(ev["class_uid"]), "class_uid")
			assert.Equal(t, fmt.Sprint(tt.activity), fmt.Sprint(ev["activity_id"]), "activity_id")
			assert.Equal(t, fmt.Sprint(tt.class*100+tt.activity), fmt.Sprint(ev["type_uid"]), "type_uid")
			assert.Equal(t, fmt.Sprint(tt.status), fmt.Sprint(ev["status_id"]), "status_id")
		})
	}
}

func TestUnknownTypesFallBackToAPIActivityAndAreReported(t *testing.T) {
	var unknown []string
	m, err := ocsf.NewMapper(ocsf.Options{UnknownType: func(typ string) { unknown = append(unknown, typ) }})
	require.NoError(t, err)
	ev := mapOne(t, m, activityJSON("teleport_session_beamed", `"beam_id":"b1"`))
	assert.Equal(t, "6003", fmt.Sprint(ev["class_uid"]))
	assert.Equal(t, "99", fmt.Sprint(ev["activity_id"]))
	assert.Equal(t, "600399", fmt.Sprint(ev["type_uid"]))
	op, _ := goldentest.Path(ev, "api.operation")
	assert.Equal(t, "teleport_session_beamed", op)
	beam, _ := goldentest.Path(ev, "unmapped.beam_id")
	assert.Equal(t, "b1", beam)

	mapOne(t, m, activityJSON("claude_chat_created", `"claude_chat_id":"c1"`))
	mapOne(t, m, activityJSON("compliance_api_accessed", ""))
	assert.Equal(t, []string{"teleport_session_beamed"}, unknown, "known types are not reported")
}

func TestMapRejectsWhatIsNotAnActivity(t *testing.T) {
	m := goldenMapper(t)
	for in, want := range map[string]error{
		`[1,2]`:                                 activity.ErrNotObject,
		`not json`:                              activity.ErrNotObject,
		`{"created_at":"2026-04-10T08:09:10Z"}`: activity.ErrNoType,
		`{"type":"x","created_at":"yesterday"}`: activity.ErrBadTime,
	} {
		_, err := m.Map([]byte(in))
		assert.ErrorIs(t, err, want, in)
	}
}

func TestKeepRawAddsTheActivityAsReceived(t *testing.T) {
	in := activityJSON("claude_chat_created", `"claude_chat_id":"c1"`)
	m, err := ocsf.NewMapper(ocsf.Options{KeepRaw: true})
	require.NoError(t, err)
	ev := mapOne(t, m, in)
	assert.Equal(t, in, ev["raw_data"])

	without := mapOne(t, goldenMapper(t), in)
	assert.NotContains(t, without, "raw_data")
}

func TestRedactDropLeavesNoEmailIPOrBodyAnywhereRawIncluded(t *testing.T) {
	in := `{"id":"a1","created_at":"2026-04-10T08:09:10Z","type":"compliance_api_accessed",
		"actor":{"type":"api_actor","api_key_id":"k1","ip_address":"203.0.113.9","user_agent":"ua"},
		"request_id":"r1","request_method":"POST","status_code":200,"url":"https://api.anthropic.com/v1/compliance/x",
		"request_body":{"note":"secret-body"},"invited_email":"carol@example.com"}`
	m, err := ocsf.NewMapper(ocsf.Options{KeepRaw: true, Redaction: activity.Redaction{RequestBody: true, Emails: true, IPs: true}})
	require.NoError(t, err)
	out, err := m.Map([]byte(in))
	require.NoError(t, err)
	for _, secret := range []string{"203.0.113.9", "carol@example.com", "secret-body", "request_body"} {
		assert.NotContains(t, string(out), secret)
	}
	ev := goldentest.Decode(t, out)
	name, _ := goldentest.Path(ev, "src_endpoint.name")
	assert.Equal(t, "API Key", name, "API Activity still names its source without the IP")
}

func TestRedactHashKeepsHashesOutOfTypedAttributes(t *testing.T) {
	m, err := ocsf.NewMapper(ocsf.Options{Redaction: activity.Redaction{Emails: true, IPs: true, Hash: true, Key: []byte("k")}})
	require.NoError(t, err)
	ev := mapOne(t, m, activityJSON("org_user_deleted", `"deleted_user_id":"u2","deleted_user_email":"dave@example.com"`))
	for _, path := range []string{"actor.user.email_addr", "src_endpoint.ip", "user.email_addr"} {
		_, ok := goldentest.Path(ev, path)
		assert.False(t, ok, "%s must not hold a hash", path)
	}
	for _, path := range []string{"unmapped.actor.email_address", "unmapped.actor.ip_address", "unmapped.deleted_user_email"} {
		v, ok := goldentest.Path(ev, path)
		require.True(t, ok, path)
		assert.True(t, strings.HasPrefix(v.(string), activity.HashPrefix), "%s = %v", path, v)
	}
	uid, _ := goldentest.Path(ev, "user.uid")
	assert.Equal(t, "u2", uid)
}

func TestNewMapperRejectsHashWithoutKey(t *testing.T) {
	_, err := ocsf.NewMapper(ocsf.Options{Redaction: activity.Redaction{Emails: true, Hash: true}})
	require.ErrorIs(t, err, activity.ErrNoHashKey)
}

func TestMapperIsSafeForConcurrentUse(t *testing.T) {
	m := goldenMapper(t)
	cases := goldentest.Load(t, goldenDir)
	want := map[string]string{}
	for _, c := range cases {
		out, err := m.Map(c.Input)
		require.NoError(t, err)
		want[c.Name] = string(out)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				for _, c := range cases {
					out, err := m.Map(c.Input)
					if err == nil && string(out) != want[c.Name] {
						err = fmt.Errorf("%s: concurrent output differs", c.Name)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

func TestOutputIsValidJSONForHostileStrings(t *testing.T) {
	in := `{"id":"a\"1\u2028","created_at":"2026-04-10T08:09:10Z","type":"claude_file_uploaded",
		"actor":{"type":"user_actor","user_id":"u\\1","email_address":"x\u0000@example.com"},
		"claude_file_id":"f1","filename":"evil\"name\n.pdf","extra":{"k":"\ud83c\udf89"}}`
	out, err := goldenMapper(t).Map([]byte(in))
	require.NoError(t, err)
	require.True(t, json.Valid(out), "%s", out)
	ev := goldentest.Decode(t, out)
	name, _ := goldentest.Path(ev, "web_resources")
	assert.Equal(t, "evil\"name\n.pdf", name.([]any)[0].(map[string]any)["name"])
}

// TestMapKeepsNothingOfTheInput: strings read from the activity share the
// input's memory while Map runs (no copy is made), so nothing Map returns or
// reports may still point into it.
func TestMapKeepsNothingOfTheInput(t *testing.T) {
	var unknown []string
	m, err := ocsf.NewMapper(ocsf.Options{KeepRaw: true, UnknownType: func(typ string) { unknown = append(unknown, typ) }})
	require.NoError(t, err)
	in := activityJSON("teleport_session_beamed", `"beam_id":"b1","title":"t"`)
	buf := []byte(in)
	out, err := m.Map(buf)
	require.NoError(t, err)
	want := string(out)
	_, err = m.Map([]byte(`{"type":"x",`)) // an error keeps nothing either
	require.Error(t, err)
	for i := range buf {
		buf[i] = 'x'
	}
	assert.Equal(t, want, string(out), "the event does not share the input's memory")
	assert.Contains(t, want, `"raw_data":`)
	assert.Equal(t, []string{"teleport_session_beamed"}, unknown, "the reported type does not share it either")
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

func TestRedactionLeavesNoAddressInAnyPartOfTheEvent(t *testing.T) {
	for _, r := range []activity.Redaction{
		{Emails: true, IPs: true},
		{Emails: true, IPs: true, Hash: true, Key: []byte("k")},
		{Emails: true, IPs: true, Strict: true},
	} {
		m, err := ocsf.NewMapper(ocsf.Options{KeepRaw: true, Redaction: r})
		require.NoError(t, err)
		out, err := m.Map([]byte(leakyActivity))
		require.NoError(t, err)
		for _, secret := range leakedSecrets {
			assert.NotContains(t, string(out), secret, "%+v", r)
		}
		ev := goldentest.Decode(t, out)
		if !r.Hash && !r.Strict {
			msg, _ := goldentest.Path(ev, "unmapped.details.message")
			assert.Equal(t, "invited [email redacted] from [ip redacted]", msg, "unmapped")
			name, _ := goldentest.Path(ev, "web_resources")
			assert.Equal(t, "Notes for [email redacted]", name.([]any)[0].(map[string]any)["name"], "the chat name")
			ua, _ := goldentest.Path(ev, "http_request.user_agent")
			assert.Equal(t, "Mozilla/5.0 (client [ip redacted]) Chrome/120.0.0.0", ua, "the user agent")
			assert.Contains(t, ev["raw_data"], `invited [email redacted] from [ip redacted]`, "raw_data")
		}
		if r.Strict {
			assert.NotContains(t, string(out), "Notes for", "strict drops free text it cannot vouch for")
			assert.NotContains(t, string(out), "Mozilla")
		}
	}
}
