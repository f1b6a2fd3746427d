package e2e_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 11 §10: above state.max_seen_ids a commit drops the oldest seconds
// of seen instead of failing (the input never wedges on a store limit), says
// so (a warning, compliance_checkpoint_seen_dropped) and shows the size
// (compliance_checkpoint_seen_ids). The ids dropped are delivered again when
// a later job re-reads them in its overlap: duplicates, never a gap.
func TestASeenSetAboveTheCapDegradesToDuplicatesNotFailures(t *testing.T) {
	data := spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	st := r.start(r.render(inputConfig{state: "    max_seen_ids: 5", extra: `
  min_slice: 1h
  overlap: 1h
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`}), streamOptions{metrics: true})
	r.waitJobTo("2026-11-25T11:58:00Z")
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, 5, rec.Seen.Len(), "the newest 5 ids are kept")
	assert.Equal(t, "2026-11-25T11:00:00Z", ts(rec.SeenFrom), "seen_from stays (at the floor): the dropped seconds are read again")
	assert.True(t, r.logs.contains(0, "state.max_seen_ids (5)", "15 ids", "duplicates, never a gap"), r.logs.dump())

	// The next jobs re-read the overlap and deliver the 15 dropped ids again.
	require.Eventually(t, func() bool { return len(r.sink.delivered()) >= 2*len(data)-5 }, 30*time.Second, 5*time.Millisecond)
	got := count(r.sink.delivered())
	for _, a := range data {
		require.GreaterOrEqual(t, got[a.ID], 1, "%s was never delivered", a.ID)
	}
	scr := st.scrape()
	assert.EqualValues(t, 5, scr.must(t, "compliance_checkpoint_seen_ids", "endpoint", "activities"))
	assert.GreaterOrEqual(t, scr.must(t, "compliance_checkpoint_seen_dropped", "endpoint", "activities"), 15.0)
	code, body := st.get("/ready")
	assert.Equal(t, 200, code, "above the cap the input stays ready: %s", body)
}

// Issue 12 §5: a state directory other users can write lets them rewind or
// stop collection; the input says so at start-up.
func TestAStateDirectoryOthersCanWriteIsWarnedAbout(t *testing.T) {
	data := spread("a", 3, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{})
	require.NoError(t, os.Chmod(r.dir, 0o777))
	r.start(r.config("  min_slice: 1h"+everyJobOverTheHour), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	assert.True(t, r.logs.contains(0, "state.path", r.dir, "world-writable", "chmod 700"), r.logs.dump())
}
