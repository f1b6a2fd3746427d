package e2e_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// Issue 11 item 7: an output outage of more than three job intervals, then
// recovery. With auto_replay_nacks (the default) Benthos holds each failed
// batch and re-sends it until it succeeds: the job that emitted it times
// out, the jobs due while it is held are skipped (outcome awaiting_acks),
// and its late ack is recorded as pending before the next job emits
// anything. Without replay, every job during the outage fails on its nack
// and the next one collects again. Either way every activity is delivered
// (acknowledged) exactly once: zero extra copies.
func TestModesOutputOutageThenRecoveryDeliversEveryActivityExactlyOnce(t *testing.T) {
	for _, replay := range []bool{true, false} {
		t.Run(fmt.Sprintf("auto_replay_nacks %v", replay), func(t *testing.T) {
			start := at("2026-11-25T12:00:00Z")
			data := spread("a", 300, at("2026-11-25T11:00:00Z"), 55*time.Minute)
			r, tl := newTimedRig(t, start, fakeapi.Options{Dataset: data}, 0)
			r.sink.setPolicy(func(delivery) verdict { return nackIt })
			st := r.start(r.config(fmt.Sprintf(`
  auto_replay_nacks: %v
  drain_grace: 10s
  min_slice: 1h
  endpoints:
    - name: activities
      schedule: "@every 5m"
      earliest: "2026-11-25T11:00:00Z"
      page_size: 100
      job_timeout: 1m
`, replay)), streamOptions{metrics: true})

			reports := func(outcome string) int {
				n := 0
				for _, rep := range r.logs.jobReports() {
					if rep["outcome"] == outcome {
						n++
					}
				}
				return n
			}
			began := time.Now()
			phase := func(what string) { t.Logf("%s after %v", what, time.Since(began).Round(time.Millisecond)) }
			ended := func(n int) func() bool { return func() bool { return len(r.logs.jobReports()) >= n } }
			// The start-up job and three more ticks fall in the outage. The
			// first job's time is played in small steps, so that even a
			// loaded machine fetches its pages before its job_timeout.
			require.True(t, tl.playUntil(ended(1), 2*time.Second, start.Add(2*time.Minute)), r.logs.dump())
			for i := 1; i <= 3; i++ {
				tl.set(start.Add(time.Duration(i) * 5 * time.Minute))
				require.True(t, tl.playUntil(ended(i+1), 10*time.Second, start.Add(time.Duration(i)*5*time.Minute+2*time.Minute)), r.logs.dump())
			}
			phase("outage played")
			assert.Empty(t, r.sink.ackedIDs(), "the output was down")
			if replay {
				assert.Equal(t, 1, reports("timeout"), "the job that emitted them times out with its batches held")
				assert.Equal(t, 3, reports("awaiting_acks"), "the jobs due meanwhile are skipped:\n%s", r.logs.dump())
				assert.True(t, r.logs.contains(0, "skipped", "still held by the pipeline", "auto_replay_nacks"))
				assert.Equal(t, 3.0, st.scrape().must(t, "compliance_jobs", "outcome", "awaiting_acks"))
			} else {
				assert.Equal(t, 4, reports("failed"), "every job fails on its nack")
			}

			// The output recovers; new activities arrive meanwhile.
			r.sink.setPolicy(nil)
			if replay {
				// What the timed-out job emitted (all of data, unless a loaded
				// machine let its job_timeout pass first: the rest is then
				// collected by the next job) is re-sent by Benthos.
				held := 0
				for _, rep := range r.logs.jobReports() {
					if rep["outcome"] == "timeout" {
						held, _ = strconv.Atoi(rep["activities_emitted"])
					}
				}
				require.Positive(t, held, r.logs.dump())
				require.Eventually(t, func() bool { return len(r.sink.ackedIDs()) >= held }, 30*time.Second, 5*time.Millisecond,
					"Benthos re-sends the held batches once the output works")
			}
			phase("recovered")
			fresh := spread("b", 40, at("2026-11-25T11:56:00Z"), 20*time.Minute)
			require.NoError(t, r.api.Add(fresh...))
			// The sink counts a batch as acked before Benthos hands the ack
			// to the input, so the first tick after recovery may still find
			// a batch in flight and be skipped: the next tick then runs.
			succeeded := false
			for tick := 20; tick <= 35 && !succeeded; tick += 5 {
				tl.set(start.Add(time.Duration(tick) * time.Minute))
				succeeded = tl.playUntil(func() bool { return reports("success") == 1 }, 2*time.Second, start.Add(time.Duration(tick+2)*time.Minute))
			}
			require.True(t, succeeded, r.logs.dump())
			phase("the next job succeeded")
			for _, rep := range r.logs.jobReports() {
				t.Logf("job %s: %s %s", rep["job_id"], rep["outcome"], rep["error"])
			}

			want := append(ids(data), ids(fresh)...)
			acked := r.sink.ackedIDs()
			var extra []string
			for id, n := range acked {
				if n > 1 {
					extra = append(extra, id)
				}
			}
			assert.Zero(t, len(extra), "activities acknowledged more than once, e.g. %v", head(extra))
			assert.Len(t, acked, len(want), "every activity acknowledged")
			var missing []string
			for _, id := range want {
				if acked[id] == 0 {
					missing = append(missing, id)
				}
			}
			assert.Zero(t, len(missing), "activities never acknowledged, e.g. %v", head(missing))
		})
	}
}
