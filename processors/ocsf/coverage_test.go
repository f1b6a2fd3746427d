package ocsf

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
)

// TestEveryCataloguedTypeHasASpecificClassAndActivity: each type of the
// catalogue gets a class and an activity_id from the tables, never the
// fallback for unknown types, and activity_id 99 (Other) only with a
// written reason.
func TestEveryCataloguedTypeHasASpecificClassAndActivity(t *testing.T) {
	entries := catalog.Entries()
	assert.Len(t, rules, len(entries))
	others := 0
	for _, e := range entries {
		r, known := lookup(e.Type)
		if !assert.True(t, known, e.Type) {
			continue
		}
		_, ok := classes[r.class]
		assert.True(t, ok, "%s: class %d", e.Type, r.class)
		if e.Target == catalog.API {
			assert.Equal(t, activityFromMethod, r.activity, e.Type)
			continue
		}
		_, ok = classes[r.class].activities[r.activity]
		assert.True(t, ok, "%s: activity_id %d not in class %d", e.Type, r.activity, r.class)
		if r.activity == activityOther {
			others++
			assert.NotEmpty(t, otherReason(e.Type, r.class, e.Action),
				"%s (%s %s) is %d/99 without a reason in otherReasons", e.Type, e.Target, e.Action, r.class)
		}
	}
	t.Logf("%d catalogued types, %d with activity_id 99 (each with its reason)", len(entries), others)
}

// TestUnknownTypesOfKnownFamiliesMapLikeTheirSiblings: a type the catalogue
// does not list takes its family's class and its verb's activity; only a
// type of an unknown family falls back to API Activity / Other.
func TestUnknownTypesOfKnownFamiliesMapLikeTheirSiblings(t *testing.T) {
	tests := []struct {
		typ             string
		class, activity int
	}{
		{"claude_chat_exported", classWebResources, 7},
		{"claude_chat_pinned", classWebResources, activityOther},
		{"scim_user_pinned", classAccountChange, activityOther},
		{"scim_user_suspended", classAccountChange, 5},
		{"scim_user_disabled", classAccountChange, 5},
		{"group_member_invited", classGroupManagement, activityOther},
		{"tunnel_token_frobbed", classAPIActivity, activityOther},
		{"tunnel_token_expired", classAPIActivity, 3},
		{"widget_deleted", classAPIActivity, 4},
		{"sso_login_expired", classAuthentication, activityOther},
		{"mcp_server_archived", classAPIActivity, 4},
		{"teleport_session_beamed", classAPIActivity, activityOther},
	}
	for _, tt := range tests {
		r, known := lookup(tt.typ)
		assert.False(t, known, tt.typ)
		assert.Equal(t, tt.class, r.class, "%s class", tt.typ)
		assert.Equal(t, tt.activity, r.activity, "%s activity", tt.typ)
	}
}
