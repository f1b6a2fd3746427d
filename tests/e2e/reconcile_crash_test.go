package e2e_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 16: the process dies in the middle of a reconciliation (a hard stop:
// nothing more is written, held batches are never acknowledged) after the
// output acknowledged three of its eight late activities, one batch each,
// and while it holds the fourth. The next process's reconciliation emits
// the five that were not acknowledged and none of the three: each
// acknowledgement is recorded as it arrives. Nothing is lost; the output
// received the held one twice but acknowledged it once. (An acknowledgement
// whose record write the crash interrupts is emitted again: the duplicates
// of a crash are at most the late activities acknowledged since the last
// record write, see TestReconcileCrashMidJobLosesNothingAndRepeatsOnlyUnrecordedAcks
// in the collector.)
func TestReconcileCrashMidJobLosesNothingAndRepeatsNothingRecorded(t *testing.T) {
	start := at("2026-11-25T12:00:00Z")
	onTime, late := lateData(8)
	r, tl := newTimedRig(t, start, fakeapi.Options{Dataset: append(onTime, late...)}, 0)
	var reconciled atomic.Int32
	r.sink.setPolicy(func(d delivery) verdict {
		if isReconcile(d) && reconciled.Add(1) > 3 {
			return holdIt
		}
		return ackIt
	})
	config := r.config(fmt.Sprintf(reconcileConfig, 1, false))
	st := r.start(config, streamOptions{maxInFlight: 1})
	r.waitJobTo("2026-11-25T11:58:00Z")
	for tick := start.Add(10 * time.Minute); !tick.After(start.Add(time.Hour)); tick = tick.Add(10 * time.Minute) {
		tl.set(tick)
		r.waitJobTo(tick.Add(-2 * time.Minute).Format(time.RFC3339))
	}
	// The 13:00 reconciliation walks [10:30, 12:30): three late activities
	// acknowledged and recorded, the fourth held by the output.
	ledger := r.ledger(stateKey, 2*time.Hour+30*time.Minute)
	var acked []fakeapi.Activity
	require.Eventually(t, func() bool {
		if r.sink.heldCount() != 1 {
			return false
		}
		got := r.sink.ackedIDs()
		acked = acked[:0]
		for _, a := range late {
			if got[a.ID] > 0 {
				acked = append(acked, a)
			}
		}
		if len(acked) != 3 {
			return false
		}
		for _, a := range acked {
			if !recorded(t, ledger, a.ID, a.CreatedAt, tl.now()) {
				return false
			}
		}
		return true
	}, 30*time.Second, 5*time.Millisecond, "three late activities acknowledged and recorded, one held")
	held := r.sink.heldIDs()
	st.crash()
	r.sink.setPolicy(nil)

	tl.set(at("2026-11-25T13:05:00Z"))
	r.start(sprintfRunOnStart(config), streamOptions{})
	rep := r.waitReconcile("the reconciliation after the crash", func(rep report) bool { return rep["window_to"] == "2026-11-25T12:35:00Z" })
	assert.Equal(t, "success", rep["outcome"], rep["error"])
	assert.Equal(t, "5", rep["late_found"], "the eight late activities but the three recorded")
	r.waitJobTo("2026-11-25T13:03:00Z")

	requireEachAckedOnce(t, append(onTime, late...), r.sink.ackedIDs())
	delivered := count(r.sink.delivered())
	for _, a := range acked {
		assert.Equal(t, 1, delivered[a.ID], "%s was recorded before the crash: never emitted again", a.ID)
	}
	require.Len(t, held, 1)
	assert.Equal(t, 2, delivered[held[0]], "held when the process died: emitted again, acknowledged once")
}

// sprintfRunOnStart is the config with the reconciliation also run at
// start-up.
func sprintfRunOnStart(config string) string {
	return strings.Replace(config, "run_on_start: false", "run_on_start: true", 1)
}
