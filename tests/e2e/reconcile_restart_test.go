package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// reconcileConfig is the input of the restart and crash tests: regular jobs
// every 10 minutes, a reconciliation every hour over the two hours ending
// 30 minutes before its tick.
const reconcileConfig = `
  batch_size: %d
  endpoints:
    - name: activities
      schedule: "@every 10m"
      earliest: "2026-11-25T10:00:00Z"
      page_size: 100
      reconcile:
        schedule: "@every 1h"
        lookback: 2h
        settle: 30m
        run_on_start: %v
`

// lateData is 200 activities over [10:00, 12:00) indexed at once and n
// created in [11:00, 11:40) but indexed only at 12:30, when the regular
// jobs have long read their range.
func lateData(n int) (onTime, late []fakeapi.Activity) {
	onTime = spread("t", 200, at("2026-11-25T10:00:00Z"), 2*time.Hour)
	late = spread("late", n, at("2026-11-25T11:00:00Z"), 40*time.Minute)
	for i := range late {
		late[i].VisibleAt = at("2026-11-25T12:30:00Z")
	}
	return onTime, late
}

// Issue 16: the input stops between its regular jobs and the reconciliation
// that would have found the late activities. The process that starts next
// reads the record of delivered ids the first one wrote (and the
// checkpoint), runs its start-up regular job and reconciliation side by
// side, and delivers the late activities and nothing twice.
func TestReconcileAfterARestartBetweenRegularAndReconcileJobs(t *testing.T) {
	start := at("2026-11-25T12:00:00Z")
	onTime, late := lateData(6)
	r, tl := newTimedRig(t, start, fakeapi.Options{Dataset: append(onTime, late...)}, 0)
	config := r.config(fmt.Sprintf(reconcileConfig, 500, true))
	first := r.start(config, streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	startup := r.waitReconcile("the start-up reconciliation", func(report) bool { return true })
	assert.Contains(t, []string{"empty", "success"}, startup["outcome"], startup["error"])
	assert.Contains(t, []string{"", "0"}, startup["late_found"])
	for _, tick := range []string{"12:10", "12:20", "12:30", "12:40"} {
		tl.set(at("2026-11-25T" + tick + ":00Z"))
		r.waitJobTo(at("2026-11-25T" + tick + ":00Z").Add(-2 * time.Minute).Format(time.RFC3339))
	}
	require.Empty(t, r.sink.ackedIDs()[late[0].ID], "the regular jobs miss the late activities")
	require.NoError(t, first.stop())
	requireEachAckedOnce(t, onTime, r.sink.ackedIDs())

	tl.set(at("2026-11-25T13:00:00Z"))
	r.start(config, streamOptions{})
	rep := r.waitReconcile("the reconciliation after the restart", func(rep report) bool { return rep["window_to"] == "2026-11-25T12:30:00Z" })
	r.waitJobTo("2026-11-25T12:58:00Z")
	assert.Equal(t, "success", rep["outcome"], rep["error"])
	assert.Equal(t, "2026-11-25T10:30:00Z", rep["window_from"])
	assert.Equal(t, "6", rep["late_found"])
	assert.Equal(t, "150", rep["already_delivered"], "the on-time activities of [10:30, 12:30), delivered by the first process")
	requireEachAckedOnce(t, append(onTime, late...), r.sink.ackedIDs())
	assert.Len(t, r.sink.ackedIDs(), len(onTime)+len(late))
}
