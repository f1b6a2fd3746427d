package fakeapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestSetKeysRevokesFixesAndRescopesKeysWhileRunning: SetKeys takes effect on
// the next request, with the meaning of Options.APIKeys and Options.Scopes.
func TestSetKeysRevokesFixesAndRescopesKeysWhileRunning(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 3}, func(o *fakeapi.Options) { o.APIKeys = []string{"old"} })
	status := func(key string) int { return get(t, r.URL(), "", key).status }

	require.Equal(t, http.StatusOK, status("old"))
	require.Equal(t, http.StatusUnauthorized, status("new"))

	require.NoError(t, r.Server.SetKeys([]string{"new"}, nil))
	assert.Equal(t, http.StatusUnauthorized, status("old"), "revoked")
	assert.Equal(t, http.StatusOK, status("new"), "accepted")

	require.NoError(t, r.Server.SetKeys(nil, map[string][]string{"new": {"read:compliance_user_data"}}))
	decodeError(t, get(t, r.URL(), "", "new"), http.StatusForbidden, "permission_error")

	require.NoError(t, r.Server.SetKeys(nil, map[string][]string{"new": {"read:compliance_user_data", fakeapi.RequiredScope}}))
	assert.Equal(t, http.StatusOK, status("new"), "scope granted")

	require.NoError(t, r.Server.SetKeys(nil, nil))
	assert.Equal(t, http.StatusOK, status(fakeapi.DefaultAPIKey), "no keys means the default key")
	assert.Equal(t, http.StatusUnauthorized, status("new"))

	require.Error(t, r.Server.SetKeys([]string{""}, nil))
	require.Error(t, r.Server.SetKeys(nil, map[string][]string{"": {fakeapi.RequiredScope}}))
	assert.Equal(t, http.StatusOK, status(fakeapi.DefaultAPIKey), "a rejected SetKeys changes nothing")
}

// TestRequestRecordsCarryTheWallClockArrival: Arrived follows the real clock
// even when the fake's clock stands still, so a test can measure real waits.
func TestRequestRecordsCarryTheWallClockArrival(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 3}, nil)
	before := time.Now()
	get(t, r.URL(), "", testKey)
	time.Sleep(20 * time.Millisecond)
	get(t, r.URL(), "", testKey)
	after := time.Now()

	recs := r.Server.Requests()
	require.Len(t, recs, 2)
	assert.Equal(t, recs[0].Time, recs[1].Time, "the fake clock stood still")
	assert.False(t, recs[0].Arrived.Before(before))
	assert.False(t, recs[1].Arrived.After(after))
	assert.GreaterOrEqual(t, recs[1].Arrived.Sub(recs[0].Arrived), 20*time.Millisecond)
}
