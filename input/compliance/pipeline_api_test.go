package compliance

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

func TestEveryEndpointHasAScope(t *testing.T) {
	for _, name := range endpointNames() { // one row per endpoint of the spec's enum
		assert.NotEmpty(t, EndpointScope(name), name)
	}
	for name, want := range map[string]string{
		"activities":            "read:compliance_activities",
		"organizations":         "read:compliance_org_data",
		"users":                 "read:compliance_user_data and read:compliance_org_data",
		"roles":                 "read:compliance_org_data",
		"groups":                "read:compliance_org_data and read:compliance_user_data",
		"organization_settings": "read:compliance_org_data",
		"projects":              "read:compliance_user_data",
		"chats":                 "read:compliance_user_data",
		"files":                 "read:compliance_user_data",
	} {
		assert.Equal(t, want, EndpointScope(name), name)
	}
	assert.Empty(t, EndpointScope("sessions"), "an endpoint without a row has no scope")
	for _, e := range []string{api.EndpointUsers, api.EndpointGroupMembers, api.EndpointProjectCollaborators} {
		assert.Equal(t, "read:compliance_user_data", requestScope(e), e)
	}
	for _, e := range []string{api.EndpointOrganizations, api.EndpointRoles, api.EndpointRolePermissions, api.EndpointGroups, api.EndpointOrganizationSettings} {
		assert.Equal(t, "read:compliance_org_data", requestScope(e), e)
	}
}

func TestOpenPipelineReadsEveryInputWithoutTouchingItsStore(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PIPELINE_TEST_KEY", "")
	pipeline := `
input:
  label: first
  anthropic_compliance:
    api_key: ${PIPELINE_TEST_KEY}
    state: { path: ` + filepath.Join(dir, "missing") + ` }
    endpoints:
      - name: activities
        schedule: '@every 2m'
        page_size: 250
        filters: { exclude_activity_types: [compliance_api_accessed] }
input_resources:
  - label: second
    anthropic_compliance:
      api_key: a-key
      state: { cache: mem, allow_volatile: true, adopt: true }
cache_resources:
  - label: mem
    memory: { compaction_interval: "" }
`
	p, err := OpenPipeline([]byte(pipeline), PipelineOptions{State: true, Probe: true})
	require.NoError(t, err)
	defer func() { _ = p.Close(context.Background()) }()
	assert.Equal(t, []string{"first", "second"}, p.Inputs)
	require.Len(t, p.Endpoints, 2)

	first, second := p.Endpoints[0], p.Endpoints[1]
	assert.True(t, first.KeyMissing, "an unset variable leaves the key empty")
	assert.Nil(t, first.Client, "no client is built without a key")
	assert.Equal(t, "read:compliance_activities", first.Scope)
	assert.Equal(t, 250, first.PageSize)
	assert.Equal(t, "@every 2m", first.Schedule.String())
	assert.Equal(t, []string{"compliance_api_accessed"}, first.Filters.ExcludeActivityTypes)
	assert.Equal(t, filepath.Join(dir, "missing"), first.Store.Path)
	assert.False(t, first.Store.Exists)
	assert.Nil(t, first.State, "a missing state.path has no checkpoint to read")
	assert.NoDirExists(t, filepath.Join(dir, "missing"), "the store is not created")

	assert.False(t, second.KeyMissing)
	assert.NotNil(t, second.Client)
	assert.Equal(t, StateStore{Cache: "mem", CacheType: "memory", CacheConfig: map[string]any{"compaction_interval": ""}, AllowVolatile: true, Adopt: true}, second.Store)
	require.NotNil(t, second.State)
	assert.Equal(t, "anthropic_compliance/second/activities", second.State.Key)
	where, err := second.State.Probe(context.Background())
	require.NoError(t, err)
	assert.Contains(t, where, "anthropic_compliance/.preflight-probe")
	_, err = second.State.Show(context.Background())
	assert.ErrorIs(t, err, ErrNoCheckpoint, "the probe left nothing behind under the checkpoint's key")
}

func TestOpenPipelineAPIStillChoosesOneInput(t *testing.T) {
	two := []byte(`
input:
  label: a
  anthropic_compliance: { api_key: k }
input_resources:
  - label: b
    anthropic_compliance: { api_key: "" }
`)
	_, err := OpenPipelineAPI(two, "", "activities", "test", api.Hooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "choose one with --label")
	_, err = OpenPipelineAPI(two, "b", "activities", "test", api.Hooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api_key: must not be empty")
	src, err := OpenPipelineAPI(two, "a", "activities", "test", api.Hooks{})
	require.NoError(t, err)
	assert.Equal(t, "a", src.Label)
	require.NoError(t, src.Close(context.Background()))
}
