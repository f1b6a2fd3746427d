package preflight_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// scoped gives the test key exactly scopes.
func scoped(scopes ...string) rigOption {
	return func(o *fakeapi.Options) {
		o.APIKeys = nil
		o.Scopes = map[string][]string{testKey: scopes}
	}
}

const (
	feedEP  = "- name: activities\n  schedule: '*/5 * * * *'\n"
	usersEP = "- name: users\n"
	chatsEP = "- name: chats\n"
	filesEP = "- name: files\n"
)

// Every endpoint's scopes are checked, one request per distinct scope of
// the input; a 403 names the missing scope and every endpoint that needs it.
func TestScopesOfEveryEndpointKind(t *testing.T) {
	lacksUserData := "the key lacks read:compliance_user_data, which endpoints users, chats of this input need"
	tests := []struct {
		name      string
		endpoints string
		opts      []rigOption
		key       expect
		want      map[string]expect // per endpoint subject
		requests  int
	}{
		{name: "a key with every scope passes every endpoint", endpoints: feedEP + usersEP + chatsEP + filesEP,
			key: expect{status: preflight.OK, contains: []string{"the key is accepted"}},
			want: map[string]expect{
				"endpoint activities": {status: preflight.OK, contains: []string{"the key has read:compliance_activities"}},
				"endpoint users": {status: preflight.OK, contains: []string{"the key has read:compliance_user_data (GET /v1/compliance/apps/chats?limit=1",
					"read:compliance_org_data (GET /v1/compliance/organizations?limit=1"}},
				"endpoint chats": {status: preflight.OK, contains: []string{"the key has read:compliance_user_data"}},
				"endpoint files": {status: preflight.OK, contains: []string{"the key has read:compliance_user_data"}},
			},
			requests: 3},
		{name: "a key without user data fails users and chats, naming the scope and both endpoints",
			endpoints: feedEP + usersEP + chatsEP, opts: []rigOption{scoped(fakeapi.ScopeActivities, fakeapi.ScopeOrgData)},
			key: expect{status: preflight.OK},
			want: map[string]expect{
				"endpoint activities": {status: preflight.OK},
				"endpoint users": {status: preflight.Fail, contains: []string{lacksUserData, "403", "the key has read:compliance_org_data"},
					fix: "read:compliance_user_data and read:compliance_org_data"},
				"endpoint chats": {status: preflight.Fail, contains: []string{lacksUserData, "403"}, fix: "scopes are fixed when a key is created"},
			},
			requests: 3},
		{name: "without the feed the first probe checks the key",
			endpoints: usersEP + chatsEP, opts: []rigOption{scoped(fakeapi.ScopeOrgData)},
			key: expect{status: preflight.OK, contains: []string{"the key is known", "its scopes are checked below"}},
			want: map[string]expect{
				"endpoint users": {status: preflight.Fail, contains: []string{lacksUserData}},
				"endpoint chats": {status: preflight.Fail, contains: []string{lacksUserData}},
			},
			requests: 2},
		{name: "a refused key leaves every scope unverified after one request",
			endpoints: usersEP + chatsEP, opts: []rigOption{scoped(fakeapi.ScopeOrgData)},
			key: expect{status: preflight.Fail, contains: []string{"refused the key"}, fix: "Compliance Access Key"},
			want: map[string]expect{
				"endpoint users": {status: preflight.Skip, contains: []string{"the key was refused"}},
				"endpoint chats": {status: preflight.Skip, contains: []string{"the key was refused"}},
			},
			requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1, tt.opts...)
			r.endpoint = tt.endpoints
			if tt.key.status == preflight.Fail {
				r.key = "sk-ant-api01-unknown-key"
			}
			rep := r.check()
			tt.key.assert(t, result(t, rep, preflight.CheckKey, "compliance"))
			for subject, want := range tt.want {
				want.assert(t, result(t, rep, preflight.CheckScope, subject))
			}
			assert.Equal(t, tt.requests, rep.APIRequests, "one request per distinct scope")
			assert.Equal(t, tt.requests, r.fake.Stats().Requests, "requests the API saw")
		})
	}
}

// The cost of the other kinds is not invented; their checkpoints are read.
func TestCostAndCheckpointOfTheOtherKinds(t *testing.T) {
	r := newRig(t, 1)
	r.endpoint = feedEP + usersEP + "  emit: changes\n" + chatsEP
	rep := r.check()
	for _, ep := range []string{"endpoint users", "endpoint chats"} {
		res := result(t, rep, preflight.CheckCost, ep)
		assert.Equal(t, preflight.Skip, res.Status, "%+v", res)
		assert.Contains(t, res.Message, "not estimated")
	}
	assert.Equal(t, preflight.OK, result(t, rep, preflight.CheckCost, "endpoint activities").Status)
	users := result(t, rep, preflight.CheckCheckpoint, "endpoint users")
	assert.Equal(t, preflight.OK, users.Status)
	assert.Contains(t, users.Message, "no checkpoint yet")
	chats := result(t, rep, preflight.CheckCheckpoint, "endpoint chats")
	assert.Equal(t, preflight.OK, chats.Status)
	assert.Contains(t, chats.Message, "the first job starts at earliest")
	require.Equal(t, preflight.OK, result(t, rep, preflight.CheckStore, "compliance").Status)
}

// A snapshot endpoint's checkpoint is read (its last complete run), and an
// input with only snapshot endpoints still has its store probed.
func TestASnapshotEndpointsCheckpointIsRead(t *testing.T) {
	r := newRig(t, 1)
	r.endpoint = usersEP
	dir := filepath.Join(r.dir, "state")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	cp := &snapshot.Checkpoint{Identity: snapshot.Identity{Endpoint: "users", BaseURL: r.url, Emit: "snapshot", Filters: collector.Filters{}.Hash()},
		SnapshotID: "users-1", CompletedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Records: 42, Rev: 3}
	data, err := cp.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "anthropic_compliance%2Fcompliance%2Fusers"), data, 0o600))

	rep := r.check()
	assert.Equal(t, preflight.OK, result(t, rep, preflight.CheckStore, "compliance").Status)
	assert.Contains(t, result(t, rep, preflight.CheckStore, "compliance").Message, "is writable")
	res := result(t, rep, preflight.CheckCheckpoint, "endpoint users")
	assert.Equal(t, preflight.OK, res.Status, "%+v", res)
	assert.Contains(t, res.Message, "matches this config (rev 3): last complete run users-1 at 2026-12-01T00:00:00Z, 42 records")

	cp.Identity.Emit = "changes"
	data, err = cp.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "anthropic_compliance%2Fcompliance%2Fusers"), data, 0o600))
	res = result(t, r.check(), preflight.CheckCheckpoint, "endpoint users")
	assert.Equal(t, preflight.Fail, res.Status)
	assert.Contains(t, res.Message, "written for another configuration")
	assert.Contains(t, res.Fix, "state delete --endpoint users")
}
