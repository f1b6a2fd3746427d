package fakeapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestLagHidesActivitiesUntilCreatedAtPlusLag: an activity is served only once
// the clock reaches created_at + Lag (inclusive).
func TestLagHidesActivitiesUntilCreatedAtPlusLag(t *testing.T) {
	const lag = 30 * time.Second
	ds := fakeapi.Generate(fakeapi.GenOptions{Seed: 20, Count: 600, From: t0.Add(-5 * time.Minute), To: t0})
	newest := ds[len(ds)-1].CreatedAt
	clock := fakeapi.NewManualClock(newest)
	r := start(t, fakeapi.Options{Clock: clock.Now, Lag: lag, Dataset: ds})

	for _, at := range []time.Time{newest, newest.Add(lag - time.Second), newest.Add(lag)} {
		clock.Set(at)
		want := []string{}
		for i := len(ds) - 1; i >= 0; i-- {
			if !ds[i].CreatedAt.Add(lag).After(at) {
				want = append(want, ds[i].ID)
			}
		}
		assert.Equal(t, want, ids(t, page(t, r.URL(), vals("limit", "5000"))), "clock at %v", at)
		assert.Equal(t, want, idsOf(r.Server.Visible(at)))
	}
	assert.Len(t, r.Server.Visible(newest.Add(lag)), len(ds), "everything visible at newest + lag")
}

// growthOptions is a server that only grows, from t0 on.
func growthOptions(clock *fakeapi.ManualClock, g fakeapi.Growth) fakeapi.Options {
	g.Start = t0
	return fakeapi.Options{Clock: clock.Now, Lag: 10 * time.Second, Growth: g}
}

// TestGrowthIsDeterministicWhateverTheRequests: the same seed and clock path
// give the same activities whether the server was asked every step, only at
// the end, or synced once after one big jump.
func TestGrowthIsDeterministicWhateverTheRequests(t *testing.T) {
	g := fakeapi.Growth{PerSecond: 2.5, LateFraction: 0.2, MaxLateness: 30 * time.Second, Seed: 42}
	end := t0.Add(45 * time.Second)

	busyClock := fakeapi.NewManualClock(t0)
	busy := start(t, growthOptions(busyClock, g))
	for busyClock.Now().Before(end) {
		busyClock.Advance(700 * time.Millisecond)
		page(t, busy.URL(), vals("limit", "3"))
		page(t, busy.URL(), vals("limit", "1", "order", "asc"))
	}
	busyClock.Set(end)
	busy.Server.Sync()

	quietClock := fakeapi.NewManualClock(t0)
	quiet := start(t, growthOptions(quietClock, g))
	for quietClock.Now().Before(end) {
		quietClock.Advance(3 * time.Second)
	}
	quietClock.Set(end)
	page(t, quiet.URL(), nil)

	jumpClock := fakeapi.NewManualClock(t0)
	jump, err := fakeapi.New(growthOptions(jumpClock, g))
	require.NoError(t, err)
	jumpClock.Set(end)
	jump.Sync()

	want := busy.Server.All()
	require.Greater(t, len(want), 80)
	for _, other := range [][]fakeapi.Activity{quiet.Server.All(), jump.All()} {
		require.Len(t, other, len(want))
		for i := range want {
			assert.Equal(t, want[i].ID, other[i].ID)
			assert.Equal(t, string(want[i].JSON), string(other[i].JSON))
			assert.True(t, want[i].VisibleAt.Equal(other[i].VisibleAt))
		}
	}

	g.Seed = 43
	otherSeedClock := fakeapi.NewManualClock(t0)
	otherSeed, err := fakeapi.New(growthOptions(otherSeedClock, g))
	require.NoError(t, err)
	otherSeedClock.Set(end)
	otherSeed.Sync()
	assert.NotEqual(t, want[0].ID, otherSeed.All()[0].ID)
}

// TestGrowthCreatesActivitiesPerElapsedSecond: PerSecond 3 gives exactly three
// activities per whole second after Start, created on that second and visible
// Lag later.
func TestGrowthCreatesActivitiesPerElapsedSecond(t *testing.T) {
	clock := fakeapi.NewManualClock(t0)
	s, err := fakeapi.New(growthOptions(clock, fakeapi.Growth{PerSecond: 3, Seed: 1}))
	require.NoError(t, err)
	s.Sync()
	assert.Empty(t, s.All(), "nothing at Start")
	clock.Advance(10*time.Second + 999*time.Millisecond)
	s.Sync()
	all := s.All()
	require.Len(t, all, 30)
	for _, a := range all {
		assert.True(t, a.CreatedAt.After(t0) && !a.CreatedAt.After(t0.Add(10*time.Second)), "%v", a.CreatedAt)
		assert.Equal(t, a.CreatedAt.Add(10*time.Second), a.VisibleAt)
		assert.True(t, json.Valid(a.JSON))
	}
	assert.Empty(t, s.Visible(clock.Now()), "all within the 10s lag")
}

// TestLateArrivalsAppearBehindTheCursor: a late arrival's created_at lies up
// to MaxLateness before the second it is created in, and it stays invisible
// until that second + Lag, so a window that already covered its created_at
// does not see it.
func TestLateArrivalsAppearBehindTheCursor(t *testing.T) {
	g := fakeapi.Growth{PerSecond: 4, LateFraction: 0.3, MaxLateness: time.Minute, Seed: 7}
	scout := fakeapi.NewManualClock(t0)
	s, err := fakeapi.New(growthOptions(scout, g))
	require.NoError(t, err)
	scout.Set(t0.Add(3 * time.Minute))
	s.Sync()
	var late *fakeapi.Activity
	lateCount := 0
	for _, a := range s.All() {
		created := a.VisibleAt.Add(-10 * time.Second) // the creation second
		if a.CreatedAt.Before(created) {
			lateCount++
			assert.False(t, a.CreatedAt.Before(created.Add(-time.Minute)), "lateness beyond MaxLateness")
			if late == nil && created.Sub(a.CreatedAt) > 20*time.Second {
				late = &a
			}
		}
	}
	require.NotNil(t, late)
	assert.InDelta(t, 0.3, float64(lateCount)/float64(len(s.All())), 0.1)

	clock := fakeapi.NewManualClock(t0)
	r := start(t, growthOptions(clock, g))
	window := vals("created_at.gte", late.CreatedAt.Format(time.RFC3339), "created_at.lte", late.CreatedAt.Format(time.RFC3339), "limit", "5000")
	clock.Set(late.CreatedAt.Add(10 * time.Second)) // its created_at is past the lag...
	assert.NotContains(t, ids(t, page(t, r.URL(), window)), late.ID, "...but it is not indexed yet")
	clock.Set(late.VisibleAt)
	assert.Contains(t, ids(t, page(t, r.URL(), window)), late.ID)
}

// TestSelfEventsRecordEachHandledRequest: each request for an accepted key adds
// one compliance_api_accessed activity (api_actor with a key hash, never the
// key), subject to the lag; 401s and injected faults add none.
func TestSelfEventsRecordEachHandledRequest(t *testing.T) {
	const key = "sk-ant-api01-secret-value"
	clock := fakeapi.NewManualClock(t0)
	r := start(t, fakeapi.Options{Clock: clock.Now, Lag: 5 * time.Second, SelfEvents: true, APIKeys: []string{key}})
	selfEvents := func() []fakeapi.Activity {
		var out []fakeapi.Activity
		for _, a := range r.Server.All() {
			if a.Type == "compliance_api_accessed" {
				out = append(out, a)
			}
		}
		return out
	}

	ok := get(t, r.URL(), "limit=10&activity_types[]=compliance_api_accessed", key, "User-Agent", `agent "x"`)
	require.Equal(t, http.StatusOK, ok.status)
	bad := get(t, r.URL(), "limit=0", key)
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Equal(t, http.StatusUnauthorized, get(t, r.URL(), "", "wrong").status)
	r.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultServerError})
	require.Equal(t, http.StatusInternalServerError, get(t, r.URL(), "", key).status)

	events := selfEvents()
	require.Len(t, events, 2)
	byRequest := map[string]map[string]any{}
	for _, e := range events {
		assert.NotContains(t, string(e.JSON), key)
		assert.Equal(t, "api_actor", e.ActorType)
		assert.Equal(t, fakeapi.KeyID(key), e.ActorID)
		assert.Empty(t, e.OrgID)
		assert.True(t, e.CreatedAt.Equal(t0))
		var m map[string]any
		require.NoError(t, json.Unmarshal(e.JSON, &m))
		assert.Nil(t, m["organization_id"])
		assert.Equal(t, "GET", m["request_method"])
		assert.True(t, strings.Contains(m["url"].(string), "/v1/compliance/activities?"), m["url"])
		actor := m["actor"].(map[string]any)
		assert.Equal(t, fakeapi.KeyID(key), actor["api_key_id"])
		byRequest[m["request_id"].(string)] = m
	}
	require.Contains(t, byRequest, ok.header.Get("request-id"))
	assert.EqualValues(t, 200, byRequest[ok.header.Get("request-id")]["status_code"])
	assert.Equal(t, `agent "x"`, byRequest[ok.header.Get("request-id")]["actor"].(map[string]any)["user_agent"])
	require.Contains(t, byRequest, bad.header.Get("request-id"))
	assert.EqualValues(t, 400, byRequest[bad.header.Get("request-id")]["status_code"])

	q := "activity_types[]=compliance_api_accessed"
	before := get(t, r.URL(), q, key)
	assert.JSONEq(t, `{"data":[],"has_more":false,"first_id":null,"last_id":null}`, string(before.body), "lag hides them")
	clock.Advance(5 * time.Second)
	var env envelope
	require.NoError(t, json.Unmarshal(get(t, r.URL(), q, key).body, &env))
	assert.Len(t, env.Data, 3, "two earlier events plus the one of the hidden-lag request")
	for _, rec := range r.Server.Requests() {
		assert.NotContains(t, rec.Query.Encode(), key)
	}
}

// TestManualClockMovesOnlyWhenTold.
func TestManualClockMovesOnlyWhenTold(t *testing.T) {
	c := fakeapi.NewManualClock(t0)
	assert.Equal(t, t0, c.Now())
	assert.Equal(t, t0.Add(time.Second), c.Advance(time.Second))
	c.Set(t0.Add(-time.Hour))
	assert.Equal(t, t0.Add(-time.Hour), c.Now())
}
