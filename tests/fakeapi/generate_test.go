package fakeapi_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestGenerateInvariants pins what every consumer of the dataset relies on:
// unique well-formed ids, valid JSON that agrees with the indexed fields, every
// activity type and actor variant, null orgs where the docs say so, same-second
// ties, hostile strings, and ascending (created_at, id) order.
func TestGenerateInvariants(t *testing.T) {
	from := t0.Add(-6 * time.Hour)
	acts := fakeapi.Generate(fakeapi.GenOptions{Seed: 7, Count: 12000, From: from, To: t0})
	require.Len(t, acts, 12000)

	seen := map[string]bool{}
	types := map[string]int{}
	actors := map[string]int{}
	perSecond := map[time.Time]int{}
	var all bytes.Buffer
	for i, a := range acts {
		require.Regexp(t, `^activity_[0-9A-Za-z]{26}$`, a.ID)
		require.False(t, seen[a.ID], "duplicate id %s", a.ID)
		seen[a.ID] = true
		require.False(t, a.CreatedAt.Before(from), "created_at %v before From", a.CreatedAt)
		require.True(t, a.CreatedAt.Before(t0), "created_at %v not before To", a.CreatedAt)
		require.Zero(t, a.CreatedAt.Nanosecond(), "Millis off must give whole seconds")
		if i > 0 {
			prev := acts[i-1]
			ordered := prev.CreatedAt.Before(a.CreatedAt) || (prev.CreatedAt.Equal(a.CreatedAt) && prev.ID < a.ID)
			require.True(t, ordered, "not ascending at %d", i)
		}
		require.True(t, json.Valid(a.JSON), "invalid JSON: %s", a.JSON)
		var m map[string]any
		require.NoError(t, json.Unmarshal(a.JSON, &m))
		for _, k := range []string{"id", "created_at", "type", "actor", "organization_id", "organization_uuid"} {
			require.Contains(t, m, k, "missing %s in %s", k, a.JSON)
		}
		assert.Equal(t, a.ID, m["id"])
		assert.Equal(t, a.Type, m["type"])
		assert.Equal(t, a.CreatedAt.Format(time.RFC3339), m["created_at"])
		actor := m["actor"].(map[string]any)
		assert.Equal(t, a.ActorType, actor["type"])
		if a.OrgID == "" {
			assert.Nil(t, m["organization_id"])
			assert.Nil(t, m["organization_uuid"])
		} else {
			assert.Equal(t, a.OrgID, m["organization_id"])
			assert.Equal(t, a.OrgUUID, m["organization_uuid"])
		}
		switch a.ActorType {
		case "user_actor":
			assert.Equal(t, a.ActorID, actor["user_id"])
		case "api_actor":
			assert.Equal(t, a.ActorID, actor["api_key_id"])
		}
		switch a.Type {
		case "sso_login_initiated", "sso_login_succeeded", "social_login_succeeded", "user_logged_out", "compliance_api_accessed":
			assert.Empty(t, a.OrgID, "%s must have a null organization", a.Type)
		case "claude_chat_created", "claude_file_uploaded", "group_member_added":
			assert.NotEmpty(t, a.OrgID, "%s belongs to an organization", a.Type)
		}
		switch a.Type {
		case "compliance_api_accessed":
			assert.Equal(t, "api_actor", a.ActorType)
			for _, k := range []string{"request_id", "url", "request_method", "status_code"} {
				assert.Contains(t, m, k)
			}
		case "sso_login_initiated":
			assert.Equal(t, "unauthenticated_user_actor", a.ActorType)
		case "claude_file_uploaded":
			assert.Equal(t, "user_actor", a.ActorType)
			assert.Contains(t, m, "claude_file_id")
			assert.Contains(t, m, "filename")
		case "claude_chat_created":
			assert.Contains(t, m, "claude_chat_id")
		}
		types[a.Type]++
		actors[a.ActorType]++
		perSecond[a.CreatedAt]++
		all.Write(a.JSON)
	}

	assert.GreaterOrEqual(t, len(types), 40, "distinct activity types")
	assert.ElementsMatch(t, fakeapi.ActivityTypes(), keys(types), "every catalogue type appears")
	assert.ElementsMatch(t, fakeapi.ActorTypes(), keys(actors), "every actor variant appears")
	assert.Len(t, fakeapi.ActorTypes(), 11)

	bursts := 0
	for _, n := range perSecond {
		if n >= 5 {
			bursts++
		}
	}
	assert.Greater(t, bursts, 100, "seconds holding 5 or more activities")

	text := all.String()
	for _, want := range []string{`\"`, `\\`, `\n`, `\t`, `\u0001`, "ü", "履歴書", "🚀", "</script>"} {
		assert.Contains(t, text, want)
	}
}

// TestGenerateIsDeterministic: the same options give byte-identical datasets;
// another seed gives another dataset.
func TestGenerateIsDeterministic(t *testing.T) {
	opts := fakeapi.GenOptions{Seed: 3, Count: 3000, From: t0.Add(-time.Hour), To: t0, Millis: true}
	a, b := fakeapi.Generate(opts), fakeapi.Generate(opts)
	require.Equal(t, len(a), len(b))
	for i := range a {
		require.Equal(t, a[i].ID, b[i].ID)
		require.Equal(t, string(a[i].JSON), string(b[i].JSON))
	}
	opts.Seed = 4
	c := fakeapi.Generate(opts)
	assert.NotEqual(t, a[0].ID, c[0].ID)
}

// TestGenerateMillisGivesSomeMillisecondTimestamps: with Millis, some records
// carry milliseconds (formatted .000Z), most stay on whole seconds.
func TestGenerateMillisGivesSomeMillisecondTimestamps(t *testing.T) {
	acts := fakeapi.Generate(fakeapi.GenOptions{Seed: 1, Count: 4000, To: t0, Millis: true})
	withMs := 0
	for _, a := range acts {
		var h activityHead
		require.NoError(t, json.Unmarshal(a.JSON, &h))
		parsed, err := time.Parse(time.RFC3339Nano, h.CreatedAt)
		require.NoError(t, err)
		require.True(t, parsed.Equal(a.CreatedAt), "%s vs %v", h.CreatedAt, a.CreatedAt)
		if a.CreatedAt.Nanosecond() != 0 {
			withMs++
			require.Regexp(t, `\.\d{3}Z$`, h.CreatedAt)
		} else {
			require.Regexp(t, `:\d\dZ$`, h.CreatedAt)
		}
	}
	assert.Greater(t, withMs, len(acts)/8)
	assert.Less(t, withMs, len(acts)/2)
}

// TestGenerateCoversTypesAndActorsInSmallDatasets: coverage is forced, not
// left to chance, once Count exceeds types + actors.
func TestGenerateCoversTypesAndActorsInSmallDatasets(t *testing.T) {
	n := len(fakeapi.ActivityTypes()) + len(fakeapi.ActorTypes())
	acts := fakeapi.Generate(fakeapi.GenOptions{Seed: 99, Count: n, To: t0})
	types, actors := map[string]int{}, map[string]int{}
	for _, a := range acts {
		types[a.Type]++
		actors[a.ActorType]++
	}
	assert.Len(t, types, len(fakeapi.ActivityTypes()))
	assert.Len(t, actors, len(fakeapi.ActorTypes()))
	assert.Empty(t, fakeapi.Generate(fakeapi.GenOptions{Count: 0}))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
