package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// onceResults collects what WithOnceResult reports (the binary's exit code).
type onceResults chan error

func (o onceResults) option() compliance.Option {
	return compliance.WithOnceResult(func(_ string, err error) { o <- err })
}

// wait returns the next result.
func (o onceResults) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-o:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("no `once` result within 30s")
		return nil
	}
}

// received reports whether a result is waiting, without taking it.
func (o onceResults) received() bool { return len(o) > 0 }

// Issue 11 item 2: a `once` backfill with state tracking off collects exactly
// [earliest, latest), not [earliest - settle, latest - settle).
func TestModesOnceWithTrackingOffCollectsExactlyItsRange(t *testing.T) {
	inRange := spread("in", 60, at("2026-11-25T08:00:00Z"), 2*time.Hour)
	data := append([]fakeapi.Activity{
		act("activity_01before", "claude_chat_created", at("2026-11-25T07:59:59Z")),
		act("activity_01after", "claude_chat_created", at("2026-11-25T10:00:00Z")),
		act("activity_01lastsecond", "claude_chat_created", at("2026-11-25T09:59:30Z")),
	}, inRange...)
	results := make(onceResults, 1)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{results.option()}})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: once
      earliest: "2026-11-25T08:00:00Z"
      latest: "2026-11-25T10:00:00Z"
      state_tracking:
        enabled: false
`), streamOptions{})
	require.NoError(t, st.waitEnded())
	require.NoError(t, results.wait(t))
	requireExactlyOnce(t, append(ids(inRange), "activity_01lastsecond"), r.sink.delivered())
}

// Issue 11 item 3: a `once` backfill whose `latest` is inside the settle
// margin and cannot wait that long within job_timeout fails at once, says
// why and when it could run, and the binary exits non-zero.
func TestModesOnceWhoseLatestIsNotSettledFailsSayingWhen(t *testing.T) {
	data := spread("a", 30, at("2026-11-25T11:00:00Z"), 59*time.Minute)
	results := make(onceResults, 1)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{results.option()}})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: once
      earliest: "2026-11-25T11:00:00Z"
      latest: now
      job_timeout: 30s
`), streamOptions{})
	require.NoError(t, st.waitEnded())
	err := results.wait(t)
	require.Error(t, err, "the range up to now is not settled: the backfill must not report success")
	assert.Contains(t, err.Error(), "not settled")
	assert.Contains(t, err.Error(), "run it after 2026-11-25T12:02:00Z")
	assert.Empty(t, r.sink.delivered())
}

// Issue 11 items 3 and 5: with the input's clock an hour ahead of the API's,
// `latest: now` means the API's now; the backfill waits (job_timeout 0)
// until it is settled and collects up to it. Before, it stopped at the
// clamped clock's now - settle, two minutes short, and exited 0.
func TestModesOnceWithTheLocalClockAheadCollectsUpToTheAPIsNow(t *testing.T) {
	data := spread("a", 120, at("2026-11-25T11:00:00Z"), time.Hour)
	results := make(onceResults, 1)
	r, tl := newTimedRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, time.Hour, results.option())
	r.start(r.config(`
  endpoints:
    - name: activities
      schedule: once
      earliest: -1h
      latest: now
      job_timeout: 0
`), streamOptions{})
	require.True(t, tl.playUntil(results.received, 20*time.Second, at("2026-11-25T12:03:00Z")), r.logs.dump())
	require.NoError(t, results.wait(t))
	requireExactlyOnce(t, ids(data), r.sink.delivered())
	assert.True(t, r.logs.contains(0, "waiting", "settled"), "the wait is logged")
}

// Issue 11 item 4: a `once` backfill with the HA lease waits for the lease
// and never reports success for work it did not do. The first replica finds
// the lease free and collects everything; a replica that cannot get the
// lease within job_timeout fails saying who holds it; a replica that gets it
// after another completed the backfill succeeds saying so, and sends
// nothing.
func TestModesOnceWithTheLeaseNeverReportsSuccessWithoutWork(t *testing.T) {
	data := spread("a", 50, at("2026-11-25T10:00:00Z"), time.Hour)
	results := make(onceResults, 3)
	r, tl := newTimedRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, 0, results.option())
	cfg := r.render(inputConfig{
		state: `    cache: shared
    lease:
      enabled: true
      ttl: 1h
      renew_interval: 20ms`,
		extra: `  endpoints:
    - name: activities
      schedule: once
      earliest: "2026-11-25T10:00:00Z"
      latest: "2026-11-25T11:00:00Z"
      job_timeout: 1m`,
	})
	resources := "cache_resources:\n  - label: shared\n    e2e_flaky_cache: {}\n"

	first := r.start(cfg, streamOptions{resources: resources})
	require.NoError(t, first.waitEnded())
	require.NoError(t, results.wait(t), "the lease is free: the first replica collects")
	requireExactlyOnce(t, ids(data), r.sink.delivered())
	var onceKey string
	r.cache.mu.Lock()
	for k := range r.cache.data {
		if strings.Contains(k, "/once/") && !strings.HasSuffix(k, ".lease") {
			onceKey = k
		}
	}
	_, leaseLeft := r.cache.data[onceKey+".lease"]
	r.cache.mu.Unlock()
	require.NotEmpty(t, onceKey)
	assert.False(t, leaseLeft, "the lease is released when the backfill ends")

	const other = "other-replica/7/0123456789ab"
	require.NoError(t, r.cache.Set(t.Context(), onceKey+".lease", []byte(other), nil))
	second := r.start(cfg, streamOptions{resources: resources})
	require.True(t, tl.playUntil(results.received, 10*time.Second, at("2026-11-25T12:02:00Z")), r.logs.dump())
	err := results.wait(t)
	require.Error(t, err, "a replica that never got the lease did no work")
	assert.Contains(t, err.Error(), other)
	assert.Contains(t, err.Error(), "job_timeout")
	require.NoError(t, second.waitEnded())
	assert.True(t, r.logs.contains(0, "waits for the collection lease", other), "who holds the lease is logged")

	require.NoError(t, r.cache.Delete(t.Context(), onceKey+".lease")) // the other replica finished
	third := r.start(cfg, streamOptions{resources: resources})
	require.NoError(t, third.waitEnded())
	require.NoError(t, results.wait(t), "the backfill was completed by another replica")
	assert.True(t, r.logs.contains(0, "already complete"))
	requireExactlyOnce(t, ids(data), r.sink.delivered())
}
