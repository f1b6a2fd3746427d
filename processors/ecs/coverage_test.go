package ecs

import (
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
)

// TestEveryCataloguedTypeHasASpecificCategorization: each type of the
// catalogue gets at least one category, event.types its categories expect,
// and an outcome, never the defaults of unknown types.
func TestEveryCataloguedTypeHasASpecificCategorization(t *testing.T) {
	entries := catalog.Entries()
	assert.Len(t, categorizations, len(entries))
	for _, e := range entries {
		c, known := lookup(e.Type)
		if !assert.True(t, known, e.Type) {
			continue
		}
		assert.NotEmpty(t, c.category, "%s: no event.category", e.Type)
		assert.NotEmpty(t, c.types, "%s: no event.type", e.Type)
		for _, typ := range c.types {
			assert.True(t, expected(c.category, typ), "%s: event.type %s is expected by none of %v", e.Type, typ, c.category)
		}
		assert.Contains(t, []string{outcomeSuccess, outcomeFailure, outcomeUnknown}, c.outcome, e.Type)
	}
}

// TestOverridesAndDeviationsNameCataloguedTypes keeps the hand-written lists
// honest: each names a catalogued type, a deviation is not also overridden
// back to Elastic's, and an override changes what the rules give.
func TestOverridesAndDeviationsNameCataloguedTypes(t *testing.T) {
	for typ := range typeOverrides {
		e, ok := catalog.Lookup(typ)
		if !assert.True(t, ok, "override of %s, which the catalogue does not list", typ) {
			continue
		}
		o := typeOverrides[typ]
		delete(typeOverrides, typ)
		byRules := categorize(*e)
		typeOverrides[typ] = o
		assert.NotEqual(t, byRules, categorize(*e), "the override of %s changes nothing", typ)
	}
	for typ, d := range deviations {
		_, ok := catalog.Lookup(typ)
		assert.True(t, ok, "deviation %s is not catalogued", typ)
		_, overridden := typeOverrides[typ]
		assert.False(t, overridden, "%s is both a deviation and an override", typ)
		assert.NotEmpty(t, d.reason, typ)
		assert.NotEmpty(t, d.elastic, typ)
	}
	assert.True(t, slices.IsSorted(deviationOrder()), "deviationOrder sorts")
}

// TestUnknownTypesOfKnownFamiliesCategorizeLikeTheirSiblings: a type the
// catalogue does not list takes its family's categories and its verb's type.
func TestUnknownTypesOfKnownFamiliesCategorizeLikeTheirSiblings(t *testing.T) {
	tests := []struct {
		typ      string
		category []string
		types    []string
		outcome  string
	}{
		{"mcp_server_frozen", []string{"configuration"}, []string{"change"}, outcomeUnknown},
		{"mcp_server_paused", []string{"configuration"}, []string{"change"}, outcomeSuccess},
		{"mcp_server_archived", []string{"configuration"}, []string{"deletion"}, outcomeSuccess},
		{"claude_file_downloaded", []string{"file", "web"}, []string{"access"}, outcomeSuccess},
		{"org_sso_banner_toggled", []string{"iam", "configuration"}, []string{"change"}, outcomeSuccess},
		{"group_member_pinned", []string{"iam"}, []string{"change", "group"}, outcomeUnknown},
		{"subscription_renewal_failed", []string{"configuration"}, []string{"change"}, outcomeFailure},
		{"teleport_session_beamed", nil, []string{"info"}, outcomeUnknown},
	}
	for _, tt := range tests {
		c, known := lookup(tt.typ)
		assert.False(t, known, tt.typ)
		assert.Equal(t, tt.category, c.category, "%s category", tt.typ)
		assert.Equal(t, tt.types, c.types, "%s types", tt.typ)
		assert.Equal(t, tt.outcome, c.outcome, "%s outcome", tt.typ)
	}
}

// TestDeviationsAreListedInTheREADME keeps the README's list of deliberate
// deviations from Elastic's mapping in step with the table.
func TestDeviationsAreListedInTheREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if !assert.NoError(t, err) {
		return
	}
	for _, typ := range deviationOrder() {
		assert.Contains(t, string(readme), "`"+typ+"`", "README does not list the deviation of %s", typ)
	}
}
