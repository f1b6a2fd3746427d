package catalog

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogueHoldsTheNewestReference pins the size and a sample of each
// source named in types.tsv, so a truncated or stale data file fails.
func TestCatalogueHoldsTheNewestReference(t *testing.T) {
	assert.Len(t, Entries(), 515, "514 types of the 2026-09-26 reference + 1 of the security posture reference")
	for _, typ := range []string{
		"abuse_decision_received", "account_deleted", "compliance_api_accessed", // first and best known
		"rbac_role_grant_updated", "gitlab_configuration_updated", "platform_federation_rule_created", // new in 2026-09-26
		"design_project_viewed", // retired, still sent for past events
		"org_security_control_attestation_updated",
		"workspace_spend_limit_deleted", // last
	} {
		_, ok := Lookup(typ)
		assert.True(t, ok, typ)
	}
}

func TestEveryEntryIsComplete(t *testing.T) {
	targets := map[Target]bool{}
	for _, tg := range Targets() {
		targets[tg] = true
	}
	for _, e := range Entries() {
		assert.Equal(t, e.Type, e.Family+"_"+e.Verb, e.Type)
		assert.True(t, targets[e.Target], "%s: target %q", e.Type, e.Target)
		assert.NotEmpty(t, e.Action, "%s: verb %q has no action", e.Type, e.Verb)
		assert.NotEmpty(t, e.Caption, e.Type)
		assert.True(t, e.Catalogued, e.Type)
		ids := 0
		for _, f := range e.Fields {
			if f.ID {
				ids++
			}
		}
		assert.LessOrEqual(t, ids, 1, "%s: more than one @ field", e.Type)
	}
}

func TestClassifyInfersUnknownTypesFromTheirFamilyAndVerb(t *testing.T) {
	tests := []struct {
		typ          string
		family, verb string
		target       Target
		action       string
		outcome      Outcome
		catalogued   bool
	}{
		{"claude_chat_viewed", "claude_chat", "viewed", Content, "read", Success, true},
		{"claude_chat_pinned", "claude_chat", "pinned", Content, "", Unknown, false},
		{"claude_chat_export_failed", "claude_chat", "export_failed", Content, "fail", Failure, false},
		{"tunnel_token_frobbed", "tunnel_token", "frobbed", Credential, "", Unknown, false},
		{"tunnel_token_expired", "tunnel_token", "expired", Credential, "disable", Success, false},
		{"org_sso_banner_toggled", "org_sso", "banner_toggled", Config, "update", Success, false},
		{"platform_workspace_member_pinned", "platform_workspace_member", "pinned", Membership, "", Unknown, false},
		{"quantum_widget_created", "", "quantum_widget_created", Config, "create", Success, false},
		{"quantum_widget_beamed", "", "quantum_widget_beamed", "", "", Unknown, false},
		{"claude_chat", "claude", "chat", Config, "", Unknown, false},
		{"created", "", "created", Config, "create", Success, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			e := Classify(tt.typ)
			assert.Equal(t, tt.family, e.Family, "family")
			assert.Equal(t, tt.verb, e.Verb, "verb")
			assert.Equal(t, tt.target, e.Target, "target")
			assert.Equal(t, tt.action, e.Action, "action")
			assert.Equal(t, tt.outcome, e.Outcome, "outcome")
			assert.Equal(t, tt.catalogued, e.Catalogued, "catalogued")
		})
	}
}

func TestEntryNamesTheIDAndLabelMembers(t *testing.T) {
	e, ok := Lookup("mcp_server_created")
	require.True(t, ok)
	assert.Equal(t, "mcp_server_id", e.IDField())
	assert.Equal(t, "mcp_server_name", e.LabelField())
	assert.Equal(t, "MCP Server", e.Caption)
	e, _ = Lookup("claude_artifact_published")
	assert.Equal(t, "claude_published_artifact_id", e.IDField(), "a type-specific @ replaces the family's")
	inferred := Classify("mcp_server_paused")
	assert.Equal(t, "mcp_server_id", inferred.IDField(), "an unknown type of a known family names its object like its siblings")
	assert.Equal(t, "mcp_server_name", inferred.LabelField())
}

func TestParseRejectsBrokenData(t *testing.T) {
	const fams = "fam\tconfig\tFam\n"
	const verbs = "created\tcreate\tsuccess\n"
	tests := map[string]struct{ types, fams, verbs, want string }{
		"type is not family+verb": {"fam_deleted\tfam\tcreated\tconfig\n", fams, verbs, "not family fam + verb created"},
		"unknown family":          {"x_created\tx\tcreated\tconfig\n", fams, verbs, `family "x" not in families.tsv`},
		"unknown verb":            {"fam_made\tfam\tmade\tconfig\n", fams, verbs, `verb "made" not in verbs.tsv`},
		"unknown target":          {"fam_created\tfam\tcreated\tthing\n", fams, verbs, `unknown target "thing"`},
		"bad field kind":          {"fam_created\tfam\tcreated\tconfig\tx:zz\n", fams, verbs, `bad field "x:zz"`},
		"field twice":             {"fam_created\tfam\tcreated\tconfig\tx y x?\n", fams, verbs, `field "x" twice`},
		"type twice":              {"fam_created\tfam\tcreated\tconfig\nfam_created\tfam\tcreated\tconfig\n", fams, verbs, "twice"},
		"bad outcome":             {"", fams, "created\tcreate\tmaybe\n", `outcome "maybe"`},
		"family target":           {"", "fam\tnowhere\tFam\n", verbs, `unknown target "nowhere"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parse(tt.types, tt.fams, tt.verbs)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	d, err := parse("# comment\n\nfam_created\tfam\tcreated\tconfig\t@fam_id =name? n:n\n", fams, verbs)
	require.NoError(t, err)
	assert.Len(t, d.sorted, 1)
	assert.True(t, strings.HasPrefix(d.sorted[0].Fields[0].Name, "fam_id"))
}
