package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 11 item 1, through the engine: state tracking off, `-1m@m`..`@m`
// on a cron of every minute. Each job's window is a function of its
// scheduled tick, so the windows tile exactly although the input's clock is
// a fraction of a second ahead of (or behind) the API's; a window whose end
// the API's clock has not reached waits for it, so an activity indexed just
// inside settle is not missed. Every activity is delivered exactly once.
func TestModesUntrackedMinuteCronTilesExactlyWithSkewedClocks(t *testing.T) {
	for _, ahead := range []time.Duration{300 * time.Millisecond, -300 * time.Millisecond} {
		t.Run(fmt.Sprintf("input clock %v ahead", ahead), func(t *testing.T) {
			start := at("2026-11-25T12:00:00Z")
			var data []fakeapi.Activity
			for i, ts := 0, at("2026-11-25T11:50:00Z"); ts.Before(at("2026-11-25T12:20:00Z")); i, ts = i+1, ts.Add(10*time.Second) {
				data = append(data, act(fmt.Sprintf("activity_01tile%04d", i), "claude_chat_created", ts))
			}
			for m := at("2026-11-25T11:50:00Z"); m.Before(at("2026-11-25T12:20:00Z")); m = m.Add(time.Minute) {
				late := act("activity_01late"+m.Format("1504"), "claude_chat_created", m.Add(time.Minute-100*time.Millisecond))
				late.VisibleAt = late.CreatedAt.Add(2*time.Minute - 100*time.Millisecond) // indexed just inside settle
				data = append(data, late)
			}
			r, tl := newTimedRig(t, start, fakeapi.Options{Dataset: data}, ahead)
			r.start(r.config(`
  min_slice: 1m
  endpoints:
    - name: activities
      schedule: "* * * * *"
      run_on_start: false
      earliest: -1m@m
      latest: "@m"
      state_tracking:
        enabled: false
`), streamOptions{})
			tl.waitBlocked(1) // the schedule waits for its first tick

			first := at("2026-11-25T12:01:00Z")
			const jobs = 8
			for i := range jobs {
				tick := first.Add(time.Duration(i) * time.Minute)
				to := tick.Add(-2 * time.Minute).Format(time.RFC3339)
				tl.set(tick.Add(-ahead)) // the input's clock reads the tick
				done := func() bool {
					for _, rep := range r.logs.jobReports() {
						if rep["window_to"] == to {
							return true
						}
					}
					return false
				}
				require.True(t, tl.playUntil(done, 750*time.Millisecond, tick.Add(10*time.Second)), "no job for the tick %s:\n%s", tick, r.logs.dump())
			}
			reps := r.logs.jobReports()
			require.Len(t, reps, jobs)
			for i, rep := range reps {
				tick := first.Add(time.Duration(i) * time.Minute)
				assert.Equal(t, "success", rep["outcome"], rep["error"])
				assert.Equal(t, tick.Add(-3*time.Minute).Format(time.RFC3339), rep["window_from"], "job %d", i)
				assert.Equal(t, tick.Add(-2*time.Minute).Format(time.RFC3339), rep["window_to"], "job %d", i)
			}
			var want []string
			for _, a := range data {
				if !a.CreatedAt.Before(first.Add(-3*time.Minute)) && a.CreatedAt.Before(first.Add((jobs-3)*time.Minute)) {
					want = append(want, a.ID)
				}
			}
			requireExactlyOnce(t, want, r.sink.delivered())
		})
	}
}
