package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const (
	haKeyA = "sk-ant-api01-e2e-ha-instance-a-0123456789"
	haKeyB = "sk-ant-api01-e2e-ha-instance-b-0123456789"
	// haKey is the checkpoint key of the input labelled ha; the lease lives
	// next to it.
	haKey      = "anthropic_compliance/ha/activities"
	haLeaseKey = haKey + ".lease"
)

// haInput is the input both HA instances run: same label, same shared
// redis store, a 2s lease renewed every 500ms, a job every 200ms.
func haInput(baseURL, apiKey string) string {
	return fmt.Sprintf(`
label: ha
anthropic_compliance:
  api_key: %s
  base_url: %s
  settle: 60s
  state:
%s
  retries:
    initial_interval: 0s
  endpoints:
    - name: activities
      schedule: "@every 200ms"
      earliest: -3h
`, apiKey, baseURL, leaseOn("ha_state"))
}

// Two instances share a Redis checkpoint with the lease on. Instance A (the
// real binary) takes the lease and collects; instance B (in process) stands
// by and sends no request while A holds it. A is killed with SIGKILL, so it
// never releases the lease: B takes over once the lease expires, resumes from
// A's checkpoint and collects what arrived meanwhile. Nothing is missing and
// nothing A delivered is delivered again.
func TestStandbyTakesOverWithinTheLeaseTTLAfterTheHolderIsKilled(t *testing.T) {
	rds := newHARedis(t)
	now := time.Now().UTC().Truncate(time.Second)
	// The first batch reaches into the overlap of A's last window, so B's
	// first job must deduplicate against A's seen ids.
	first := spread("haa", 3000, now.Add(-2*time.Hour), 2*time.Hour-2*time.Minute)
	fake, err := fakeapi.Start(fakeapi.Options{APIKeys: []string{haKeyA, haKeyB}, Dataset: first, MaxRecords: -1}, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = fake.Close() })

	outA := filepath.Join(t.TempDir(), "a.ndjson")
	a := startHABinary(t, "http:\n  enabled: false\n"+rds.resources()+"input:\n"+indent(haInput(fake.URL(), "${HA_KEY}"), "  ")+
		fmt.Sprintf("output:\n  file:\n    path: %s\n    codec: lines\n", outA), "HA_KEY="+haKeyA)
	tokenA := fmt.Sprintf("/%d/", a.pid())
	require.Eventually(t, func() bool {
		v, _ := rds.get(t, haLeaseKey)
		return strings.Contains(v, tokenA)
	}, 30*time.Second, 10*time.Millisecond, "instance A (pid %d) never took the lease", a.pid())
	require.Eventually(t, func() bool {
		rec := rds.record(t, haKey)
		return rec != nil && ts(rec.ScannedTo) > first[len(first)-1].CreatedAt.UTC().Format(time.RFC3339)
	}, 30*time.Second, 10*time.Millisecond, "instance A never committed past its data")

	b, bOut := startHAInstance(t, rds.resources(), haInput(fake.URL(), haKeyB))
	require.Eventually(t, func() bool {
		return b.logs.contains(0, "standing by: the collection lease", tokenA)
	}, 30*time.Second, 10*time.Millisecond, "instance B never saw A's lease:\n%s", b.logs.dump())
	// A keeps collecting (a job every 200ms, each one a commit) while B
	// stands by through several of its own renewals.
	revBefore := rds.record(t, haKey).Rev
	require.Eventually(t, func() bool { return rds.record(t, haKey).Rev >= revBefore+5 }, 30*time.Second, 10*time.Millisecond)
	require.Empty(t, requestsBy(fake.Server, haKeyB), "the standby sent requests while A held the lease")
	require.Empty(t, bOut.delivered(), "the standby delivered while A held the lease")
	require.Empty(t, b.logs.jobReports(), "the standby ran jobs while A held the lease")

	a.kill(t)
	killed := time.Now()
	// Activities that reached the API while nobody collected; created
	// inside the overlap, below the settle edge, so B's first job reads them.
	second := spread("hab", 200, killed.Add(-150*time.Second), time.Minute)
	require.NoError(t, fake.Server.Add(second...))

	tokenB := fmt.Sprintf("/%d/", os.Getpid())
	require.Eventually(t, func() bool {
		v, _ := rds.get(t, haLeaseKey)
		return strings.Contains(v, tokenB)
	}, 30*time.Second, 10*time.Millisecond, "instance B never took over the lease:\n%s", b.logs.dump())
	require.Eventually(t, func() bool { return len(bOut.delivered()) >= len(second) }, 30*time.Second, 10*time.Millisecond,
		"instance B delivered %d of %d:\n%s", len(bOut.delivered()), len(second), b.logs.dump())

	requireExactlyOnce(t, ids(first), fileIDs(t, outA))
	requireExactlyOnce(t, ids(second), bOut.delivered())
	reqB := requestsBy(fake.Server, haKeyB)
	require.NotEmpty(t, reqB)
	for _, rec := range reqB {
		require.True(t, rec.Arrived.After(killed), "request %d of the standby arrived before the holder was killed", rec.Seq)
	}
	rec := rds.record(t, haKey)
	assert.Greater(t, ts(rec.ScannedTo), second[len(second)-1].CreatedAt.UTC().Format(time.RFC3339))
	t.Logf("the standby sent its first request %v after the holder was killed (lease ttl 2s, renew_interval 500ms)",
		reqB[0].Arrived.Sub(killed).Round(time.Millisecond))
}

// requestsBy returns the requests the fake answered for key, in arrival order.
func requestsBy(s *fakeapi.Server, key string) []fakeapi.RequestRecord {
	var out []fakeapi.RequestRecord
	for _, r := range s.Requests() {
		if r.KeyID == fakeapi.KeyID(key) {
			out = append(out, r)
		}
	}
	return out
}

// leaseOn is the state block of a lease on cache: a 2s TTL renewed every
// 500ms.
func leaseOn(cache string) string {
	return `    cache: ` + cache + `
    lease:
      enabled: true
      ttl: 2s
      renew_interval: 500ms`
}

// An instance holds the lease and has a slice delivered but not yet acked.
// Someone else takes the lease (written over by hand, as a standby would
// after the holder stalled for a whole TTL). When the acks arrive, the
// holder's commit is refused with the lease error, its pending write too, and
// the checkpoint in Redis is left exactly as it was; the instance then stands
// by.
func TestCommitOfAnInstanceThatLostItsLeaseIsRefused(t *testing.T) {
	rds := newHARedis(t)
	data := spread("a", 1000, at("2026-11-25T11:20:00Z"), 20*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	r.start(r.render(inputConfig{state: leaseOn("ha_state"), extra: "  min_slice: 1h" + everyJobOverTheHour}), streamOptions{resources: rds.resources()})
	r.sink.waitHeld(t, 2) // the one slice's two batches of 500

	before, ok := rds.get(t, stateKey)
	require.True(t, ok, "the initial checkpoint is written before the first request")
	lease, ok := rds.get(t, stateKey+".lease")
	require.True(t, ok)
	const thief = "another-host/1/000000000000"
	require.NoError(t, rds.raw.Set(context.Background(), rds.prefix+stateKey+".lease", thief, time.Minute).Err())
	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)

	rep := r.waitJob("a job failed by the lease", func(rep report) bool { return rep["outcome"] == "failed" })
	assert.Contains(t, rep["error"], "does not hold the collection lease")
	require.Eventually(t, func() bool { return r.logs.contains(0, "the collection lease", thief) }, 10*time.Second, 10*time.Millisecond,
		"the holder (%s) never logged that it stands by for %s:\n%s", lease, thief, r.logs.dump())
	after, _ := rds.get(t, stateKey)
	assert.Equal(t, before, after, "the checkpoint was written by an instance without the lease")
	assert.Len(t, r.logs.jobReports(), 1, "the instance ran jobs without the lease")
	now, _ := rds.get(t, stateKey+".lease")
	assert.Equal(t, thief, now, "the lease was taken back from its holder")
}

// A lease needs a cache that honours TTLs. On one that refuses them
// (atomic_file) no instance can ever hold the lease, so nothing is
// collected: that must be an error at start-up or a not-ready input with the
// reason, never an instance that stands by forever while /ready says 200.
func TestLeaseOnACacheWithoutTTLsIsReportedInsteadOfStandingByForever(t *testing.T) {
	data := spread("a", 10, at("2026-11-25T11:20:00Z"), 20*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	cfg := r.render(inputConfig{state: leaseOn("files"), extra: "  min_slice: 1h" + everyJobOverTheHour})
	resources := "cache_resources:\n  - label: files\n    atomic_file:\n      directory: " + t.TempDir() + "\n"
	if _, err := r.build(cfg, streamOptions{resources: resources}); err != nil {
		assert.Contains(t, err.Error(), "lease")
		return
	}
	// Benthos builds the input when the stream runs: the refusal ends it.
	st := r.start(cfg, streamOptions{resources: resources})
	err := st.waitEnded()
	require.Error(t, err, "the input never collects (no lease can be held) yet runs")
	assert.Contains(t, err.Error(), "state.lease")
	assert.Contains(t, err.Error(), "redis")
	assert.Empty(t, r.sink.delivered())
}
