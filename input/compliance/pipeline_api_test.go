package compliance

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
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

// kindsPipeline has one endpoint of each kind, its checkpoints in a memory
// cache (OpenPipeline opens it without creating anything).
const kindsPipeline = `
input:
  label: kinds
  anthropic_compliance:
    api_key: a-key
    base_url: http://127.0.0.1:1
    state: { cache: mem, allow_volatile: true }
    endpoints:
      - name: activities
      - name: users
        emit: changes
      - name: chats
        filters: { organization_ids: [org-a], user_ids: [user_01] }
      - name: files
      - name: roles
        state_tracking: { enabled: false }
cache_resources:
  - label: mem
    memory: { compaction_interval: "" }
`

func TestOpenPipelineListsEveryKindOfEndpointWithItsScopesAndCheckpoint(t *testing.T) {
	p, err := OpenPipeline([]byte(kindsPipeline), PipelineOptions{State: true, Probe: true})
	require.NoError(t, err)
	defer func() { _ = p.Close(context.Background()) }()
	type row struct {
		endpoint, kind string
		scopes         []string
		state, snap    bool
	}
	var got []row
	for _, ep := range p.Endpoints {
		got = append(got, row{ep.Endpoint, ep.Kind, ep.Scopes, ep.State != nil, ep.Snapshot != nil})
		assert.NotNil(t, ep.Client, ep.Endpoint)
	}
	assert.Equal(t, []row{
		{"activities", KindFeed, []string{scopeActivities}, true, false},
		{"users", KindSnapshot, []string{scopeUserData, scopeOrgData}, false, true},
		{"chats", KindContent, []string{scopeUserData}, true, false},
		{"files", KindContent, []string{scopeUserData}, true, false},
		{"roles", KindSnapshot, []string{scopeOrgData}, false, false},
	}, got)

	chats := p.Endpoints[2]
	assert.Empty(t, chats.Filters, "the feed's filters are the feed's only")
	id := chats.State.Identity()
	assert.Equal(t, "updated_at", id.Key, "the identity the chats collector writes (contentCollectorConfig)")
	assert.Equal(t, content.Filters{OrganizationIDs: []string{"org-a"}, UserIDs: []string{"user_01"}, ProjectIDs: []string{}}.Hash(), id.Filters)
	assert.Equal(t, "anthropic_compliance/kinds/chats", chats.State.Key)
	assert.Equal(t, "anthropic_compliance/kinds/users", p.Endpoints[1].Snapshot.Key)
	assert.Equal(t, "changes", p.Endpoints[1].Snapshot.Emit)
}

func TestOpenPipelineAPIRefusesAnEndpointThatIsNotTheFeed(t *testing.T) {
	_, err := OpenPipelineAPI([]byte(kindsPipeline), "", "chats", "test", api.Hooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `endpoint "chats" is a content endpoint, not the Activity Feed`)
	_, err = OpenPipelineAPI([]byte(kindsPipeline), "", "messages", "test", api.Hooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `has no enabled endpoint "messages" (it has: activities)`)
}

// The state target of a content endpoint takes the checkpoint its collector
// writes (identity.key updated_at, its own filters hash) and refuses one of
// another identity: `state set` and the HTTP PUT compare with it.
func TestAContentStateTargetAcceptsItsCollectorsCheckpointOnly(t *testing.T) {
	ctx := context.Background()
	targets, _, closeRes, err := OpenStateTargets(ctx, []byte(kindsPipeline))
	require.NoError(t, err)
	defer func() { _ = closeRes(ctx) }()
	var endpoints []string
	for _, tg := range targets {
		endpoints = append(endpoints, tg.Endpoint)
	}
	require.Equal(t, []string{"activities", "chats", "files"}, endpoints, "the feed and content endpoints with state tracking")
	chats := targets[1]

	cfg := parseTestPipeline(t, kindsPipeline)
	written := contentCollectorConfig(cfg, cfg.Endpoints[2]).Identity()
	doc := func(id checkpoint.Identity) []byte {
		rec := checkpoint.New(id, time.Now().Add(-48*time.Hour))
		rec.ScannedTo = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		out, err := rec.Encode()
		require.NoError(t, err)
		return out
	}
	rec, err := chats.Set(ctx, doc(written), false)
	require.NoError(t, err)
	assert.Equal(t, int64(1), rec.Rev)

	feedIdentity := collectorConfig(cfg, cfg.Endpoints[2]).Identity()
	_, err = chats.Set(ctx, doc(feedIdentity), false)
	require.Error(t, err, "a record of the feed's identity is not this endpoint's")
	assert.Contains(t, err.Error(), "does not match this input's")

	rewound, err := chats.Rewind(ctx, time.Now().Add(-40*time.Hour), false)
	require.NoError(t, err)
	assert.Equal(t, "updated_at", rewound.Identity.Key)
	assert.Equal(t, int64(2), rewound.Rev)
}

func TestASnapshotTargetShowsAndDeletesByCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	p, err := OpenPipelineState(ctx, []byte(kindsPipeline))
	require.NoError(t, err)
	defer func() { _ = p.Close(ctx) }()
	var users *SnapshotTarget
	for _, ep := range p.Endpoints {
		if ep.Endpoint == "users" {
			users = ep.Snapshot
			assert.Equal(t, KindSnapshot, ep.Kind)
			assert.Nil(t, ep.Target, "a snapshot checkpoint is not a feed record")
		}
	}
	require.NotNil(t, users)
	store := users.store

	_, _, err = users.Show(ctx)
	assert.ErrorIs(t, err, ErrNoCheckpoint)
	assert.ErrorIs(t, users.Delete(ctx), ErrNoCheckpoint, "nothing to delete")

	cp := &snapshot.Checkpoint{Identity: users.Identity(), SnapshotID: "users-1", CompletedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Records: 2, Hashes: map[string]uint64{"user:o/u1": 1, "user:o/u2": 2}, Rev: 1}
	data, err := cp.Encode()
	require.NoError(t, err)
	require.NoError(t, store.Swap(ctx, users.Key, 0, data, checkpoint.Fence{}))

	shown, raw, err := users.Show(ctx)
	require.NoError(t, err)
	assert.Equal(t, data, raw, "show prints the document as stored")
	assert.Equal(t, "users-1", shown.SnapshotID)

	require.NoError(t, users.Delete(ctx))
	stored, err := store.Load(ctx, users.Key)
	require.NoError(t, err)
	_, err = checkpoint.Decode(stored)
	assert.ErrorIs(t, err, checkpoint.ErrDeleted, "a tombstone, which the snapshot collector takes as: start over")
	rev, err := cas.Rev(stored)
	require.NoError(t, err)
	assert.Equal(t, int64(2), rev, "the next revision: a job that read rev 1 cannot write over it")
	_, _, err = users.Show(ctx)
	assert.ErrorIs(t, err, ErrNoCheckpoint)
	assert.Contains(t, err.Error(), "the next run starts over")

	// An unreadable document is what delete resets.
	require.NoError(t, store.Swap(ctx, users.Key, 2, []byte(`{"rev":3,"version":2,"completed_at":"yesterday"}`), checkpoint.Fence{}))
	_, _, err = users.Show(ctx)
	var corrupt *checkpoint.CorruptError
	require.ErrorAs(t, err, &corrupt)
	require.NoError(t, users.Delete(ctx))
	_, _, err = users.Show(ctx)
	assert.ErrorIs(t, err, ErrNoCheckpoint)
}

// parseTestPipeline parses the one input of a pipeline as the input would.
func parseTestPipeline(t *testing.T, pipeline string) *inputConfig {
	t.Helper()
	p, err := readPipeline([]byte(pipeline))
	require.NoError(t, err)
	require.Len(t, p.inputs, 1)
	cfg, err := p.inputs[0].parse()
	require.NoError(t, err)
	return cfg
}
