package collector_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// every returns one activity every step in [from, to).
func every(prefix string, from, to time.Time, step time.Duration) []api.Activity {
	var out []api.Activity
	for t, i := from, 0; t.Before(to); t, i = t.Add(step), i+1 {
		out = append(out, api.Activity{ID: fmt.Sprintf("%s_%06d", prefix, i), Type: "claude_chat_created", CreatedAt: t})
	}
	return out
}

// between returns the activities created in [from, to).
func between(acts []api.Activity, from, to time.Time) []api.Activity {
	var out []api.Activity
	for _, a := range acts {
		if !a.CreatedAt.Before(from) && a.CreatedAt.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// Issue 11 item 1: with state tracking off, a job's window is a function of
// its scheduled tick, so -1m@m..@m every minute tiles exactly although the
// job starts a fraction of a second after its tick and the API's clock (a
// Date header of whole seconds) is a fraction ahead or behind. A window
// whose end the API's clock has not reached yet waits for it.
func TestUntrackedMinuteWindowsTileExactlyWhateverTheClocksFractions(t *testing.T) {
	tests := []struct {
		name         string
		serverBehind time.Duration
	}{
		{"API clock 0.4s behind the local one", 400 * time.Millisecond},
		{"API clock 0.4s ahead of the local one", -400 * time.Millisecond},
		{"clocks agree", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "2026-11-25T12:00:00Z")
			e.cfg.StateTracking = false
			e.cfg.Earliest = timeexpr.MustParse("-1m@m")
			e.cfg.Latest = timeexpr.MustParse("@m")
			e.cfg.Slices = window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 1000}
			e.feed.server = func() time.Time { return e.clock.Now().Add(-tt.serverBehind) }
			e.feed.date = func() time.Time { return e.feed.server().Truncate(time.Second) }
			acts := every("a", at("2026-11-25T11:50:00Z"), at("2026-11-25T12:20:00Z"), 10*time.Second)
			e.feed.add(acts...)
			// The last activity of each minute is indexed just inside settle:
			// a window read before the API's clock reaches its tick misses it.
			for m := at("2026-11-25T11:50:00Z"); m.Before(at("2026-11-25T12:20:00Z")); m = m.Add(time.Minute) {
				a := api.Activity{ID: "late_" + m.Format("1504"), Type: "x", CreatedAt: m.Add(time.Minute - 100*time.Millisecond)}
				e.feed.addVisible(a, a.CreatedAt.Add(2*time.Minute-100*time.Millisecond))
				acts = append(acts, a)
			}
			c := e.collector(key)
			k, stop := consume(t, c, nil)
			defer stop()

			jitter := []time.Duration{0, 300 * time.Millisecond, 999 * time.Millisecond, time.Millisecond, 650 * time.Millisecond}
			first := at("2026-11-25T12:01:00Z")
			const jobs = 10
			for i := range jobs {
				tick := first.Add(time.Duration(i) * time.Minute)
				e.clock.Set(tick.Add(jitter[i%len(jitter)]))
				rep, err := startJob(c, tick, make(chan struct{})).waitAdvancing(t, e.clock, tick.Add(5*time.Second))
				require.NoError(t, err, "job %d", i)
				assert.Equal(t, window.Format(tick.Add(-3*time.Minute)), rep.From, "job %d starts at earliest(tick) - settle", i)
				assert.Equal(t, window.Format(tick.Add(-2*time.Minute)), rep.To, "job %d ends at latest(tick) - settle", i)
			}
			want := between(acts, first.Add(-3*time.Minute), first.Add((jobs-3)*time.Minute))
			assert.ElementsMatch(t, ids(want), k.ids(), "every activity of the tiled windows exactly once")
		})
	}
}

// Issue 11 item 1: a daily -1d@d..@d job in a zone with DST collects each
// calendar day once, including the 23- and 25-hour days, although each job
// starts a little after midnight and the API's clock is half a second behind.
func TestUntrackedDailyWindowsAcrossDSTChangesNeitherLoseNorDoubleADay(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	spec, err := schedule.Parse("0 0 * * *", berlin)
	require.NoError(t, err)
	tests := []struct {
		name  string
		start time.Time // the first tick
		short time.Time // the tick that ends a day of other than 24 hours
		hours int
	}{
		{"spring forward", time.Date(2026, 3, 26, 0, 0, 0, 0, berlin), time.Date(2026, 3, 30, 0, 0, 0, 0, berlin), 23},
		{"fall back", time.Date(2026, 10, 22, 0, 0, 0, 0, berlin), time.Date(2026, 10, 26, 0, 0, 0, 0, berlin), 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "2026-01-01T00:00:00Z")
			e.clock.Set(tt.start)
			e.cfg.StateTracking = false
			e.cfg.Location = berlin
			e.cfg.Earliest = timeexpr.MustParse("-1d@d")
			e.cfg.Latest = timeexpr.MustParse("@d")
			e.cfg.Slices = window.SliceConfig{MinSlice: time.Hour, MaxSlice: 24 * time.Hour, Target: 100000}
			e.feed.date = func() time.Time { return e.clock.Now().Add(-500 * time.Millisecond).Truncate(time.Second) }
			acts := every("d", tt.start.Add(-72*time.Hour), tt.start.Add(9*24*time.Hour), 20*time.Minute)
			e.feed.add(acts...)
			c := e.collector(key)
			k, stop := consume(t, c, nil)
			defer stop()

			var first, prevTo time.Time
			prevTick := tt.start.AddDate(0, 0, -1)
			for tick := tt.start; tick.Before(tt.start.AddDate(0, 0, 6)); tick = spec.Next(tick) {
				e.clock.Set(tick.Add(200 * time.Millisecond))
				rep, err := startJob(c, tick, make(chan struct{})).waitAdvancing(t, e.clock, tick.Add(5*time.Second))
				require.NoError(t, err)
				from, to := at(rep.From), at(rep.To)
				if first.IsZero() {
					first = from
				} else {
					assert.Equal(t, prevTo, from, "tick %s: the window starts where the previous one ended", tick)
				}
				assert.Equal(t, tick.Sub(prevTick), to.Sub(from), "tick %s: one calendar day", tick)
				if tick.Equal(tt.short) {
					assert.Equal(t, time.Duration(tt.hours)*time.Hour, to.Sub(from))
				}
				prevTo, prevTick = to, tick
			}
			assert.ElementsMatch(t, ids(between(acts, first, prevTo)), k.ids(), "every day exactly once")
		})
	}
}

// Issue 11 item 1 (continuity): with tracking off, a window that would start
// after what the previous jobs collected (the job before failed) is
// extended back to it; nothing is lost and nothing repeats.
func TestUntrackedWindowAfterAFailedJobReachesBackToWhatWasCollected(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.StateTracking = false
	e.cfg.Earliest = timeexpr.MustParse("-1m@m")
	e.cfg.Latest = timeexpr.MustParse("@m")
	e.cfg.Slices = window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 1000}
	acts := every("a", at("2026-11-25T11:55:00Z"), at("2026-11-25T12:10:00Z"), 15*time.Second)
	e.feed.add(acts...)
	var down sync.Mutex
	failing := false
	e.feed.fail = func(int, api.ListParams) error {
		down.Lock()
		defer down.Unlock()
		if failing {
			return errors.New("network down")
		}
		return nil
	}
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	runTick := func(tick string) (collector.Report, error) {
		e.clock.Set(at(tick))
		return runAt(t, c, at(tick))
	}
	_, err := runTick("2026-11-25T12:01:00Z") // [11:58, 11:59)
	require.NoError(t, err)
	down.Lock()
	failing = true
	down.Unlock()
	_, err = runTick("2026-11-25T12:02:00Z") // [11:59, 12:00) fails
	require.Error(t, err)
	down.Lock()
	failing = false
	down.Unlock()
	rep, err := runTick("2026-11-25T12:03:00Z")
	require.NoError(t, err)
	assert.Equal(t, "2026-11-25T11:59:00Z", rep.From, "extended back to the failed window")
	assert.Equal(t, "2026-11-25T12:01:00Z", rep.To)
	assert.NotEmpty(t, e.log.matching("starts after what this process collected last"))
	assert.ElementsMatch(t, ids(between(acts, at("2026-11-25T11:58:00Z"), at("2026-11-25T12:01:00Z"))), k.ids())
}

// Issue 11 item 9: with tracking off a committed slice's ids are dropped
// (slices are disjoint in time); only the open slices' sets are kept. Before,
// every id of the job stayed in memory until it ended (a daily window at
// 10k/min: ~14M ids).
func TestUntrackedJobKeepsOnlyTheOpenSlicesIDs(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.StateTracking = false
	e.cfg.Earliest = timeexpr.MustParse("-2h@h")
	e.cfg.Latest = timeexpr.MustParse("@h")
	e.cfg.Slices = window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 100}
	acts := spread("a", 3000, at("2026-11-25T09:58:00Z"), 2*time.Hour)
	e.feed.add(acts...)
	maxSeen, commits := 0, 0
	e.hooks.OnCommit = func(ci collector.CommitInfo) { maxSeen = max(maxSeen, ci.Seen); commits++ }
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Greater(t, rep.Slices, 10)
	assert.Greater(t, commits, 10)
	assert.Zero(t, maxSeen, "committed slices keep no ids")
	assert.Len(t, k.ids(), 3000)
}

// Issue 11 item 2: a `once` backfill with tracking off reads exactly
// [earliest, latest), not shifted by settle.
func TestUntrackedOnceCollectsExactlyItsRange(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.StateTracking = false
	e.cfg.Once = true
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T08:00:00Z")
	e.cfg.Latest = timeexpr.MustParse("2026-11-25T10:00:00Z")
	acts := every("a", at("2026-11-25T07:50:00Z"), at("2026-11-25T10:10:00Z"), time.Minute)
	e.feed.add(acts...)
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.True(t, rep.Complete)
	assert.Equal(t, "2026-11-25T08:00:00Z", rep.From)
	assert.Equal(t, "2026-11-25T10:00:00Z", rep.To)
	assert.ElementsMatch(t, ids(between(acts, at("2026-11-25T08:00:00Z"), at("2026-11-25T10:00:00Z"))), k.ids())
}

// Issue 11 items 3 and 5: with the local clock an hour ahead, a `once`
// backfill resolves `latest: now` on the API's clock and, since that is
// inside the settle margin, waits until it is settled, then collects it all.
// Before, `until` came from the local clock and the job ended at the
// clamped clock's now - settle, short of it, reporting success.
func TestOnceWithTheLocalClockAheadWaitsForLatestToSettleAndCollectsItAll(t *testing.T) {
	for _, tracking := range []bool{true, false} {
		t.Run(fmt.Sprintf("state tracking %v", tracking), func(t *testing.T) {
			e := newEnv(t, "2026-11-25T13:00:00Z")
			e.cfg.StateTracking = tracking
			e.cfg.Once = true
			e.cfg.Earliest = timeexpr.MustParse("-2h")
			e.cfg.Latest = timeexpr.MustParse("now")
			e.feed.date = func() time.Time { return e.clock.Now().Add(-time.Hour).Truncate(time.Second) }
			acts := every("a", at("2026-11-25T09:30:00Z"), at("2026-11-25T12:00:00Z"), 30*time.Second)
			e.feed.add(acts...)
			c := e.collector("once-key")
			k, stop := consume(t, c, nil)
			defer stop()
			rep, err := startJob(c, time.Time{}, make(chan struct{})).waitAdvancing(t, e.clock, at("2026-11-25T13:05:00Z"))
			require.NoError(t, err)
			assert.True(t, rep.Complete)
			assert.Equal(t, "2026-11-25T10:00:00Z", rep.From, "earliest on the API's clock")
			assert.Equal(t, "2026-11-25T12:00:00Z", rep.ScannedTo, "latest on the API's clock, collected in full")
			assert.Equal(t, at("2026-11-25T13:02:00Z"), e.clock.Now(), "waited for settle on the injected clock")
			assert.ElementsMatch(t, ids(between(acts, at("2026-11-25T10:00:00Z"), at("2026-11-25T12:00:00Z"))), k.ids())
			if tracking {
				assert.Equal(t, "2026-11-25T12:00:00Z", window.Format(e.record("once-key").Until))
			}
		})
	}
}

// Issue 11 item 3: a `once` whose latest will not be settled within its
// job_timeout fails at once, saying why and when it could run; it never
// reports success for a range it did not collect.
func TestOnceWhoseSettleWaitCannotFitJobTimeoutFailsAtOnceSayingWhen(t *testing.T) {
	e := newEnv(t, "2026-11-25T13:00:00Z") // the API's clock is an hour behind
	e.cfg.Once = true
	e.cfg.JobTimeout = 5 * time.Minute
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.cfg.Latest = timeexpr.MustParse("2026-11-25T12:30:00Z")
	e.feed.date = func() time.Time { return e.clock.Now().Add(-time.Hour).Truncate(time.Second) }
	e.feed.add(every("a", at("2026-11-25T11:00:00Z"), at("2026-11-25T12:00:00Z"), time.Minute)...)
	c := e.collector("once-key")
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c) // no clock movement needed: it fails at once
	require.Error(t, err)
	assert.False(t, rep.Complete)
	assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
	assert.Contains(t, err.Error(), "not settled")
	assert.Contains(t, err.Error(), "run it after 2026-11-25T12:32:00Z")
	assert.Contains(t, err.Error(), "job_timeout")
	assert.Empty(t, k.ids())
}

// Issue 11 item 4 (collector side): a `once` whose checkpoint is already
// complete (another replica did it) succeeds and says so.
func TestOnceWhoseCheckpointIsAlreadyCompleteSucceedsSayingSo(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Once = true
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T08:00:00Z")
	e.cfg.Latest = timeexpr.MustParse("2026-11-25T10:00:00Z")
	e.feed.add(every("a", at("2026-11-25T08:00:00Z"), at("2026-11-25T10:00:00Z"), time.Minute)...)
	first := e.collector("once-key")
	k1, stop1 := consume(t, first, nil)
	_, err := run(t, first)
	require.NoError(t, err)
	stop1()
	require.Len(t, k1.ids(), 120)

	again := e.collector("once-key") // the replica that got the lease next
	k2, stop2 := consume(t, again, nil)
	defer stop2()
	rep, err := run(t, again)
	require.NoError(t, err)
	assert.True(t, rep.Complete)
	assert.Equal(t, collector.OutcomeEmpty, rep.Outcome)
	assert.Empty(t, k2.ids())
	assert.NotEmpty(t, e.log.matching("already complete"))
}

// Issue 11 item 5: on a fresh start, `earliest` resolves on the API's clock
// (learned with one small request first): with the local clock 5 minutes
// ahead and `earliest: now`, the activities of those 5 minutes are collected.
func TestFreshStartWithTheLocalClockAheadResolvesEarliestOnTheAPIClock(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:05:00Z")
	e.cfg.Earliest = timeexpr.MustParse("now")
	e.feed.date = func() time.Time { return e.clock.Now().Add(-5 * time.Minute).Truncate(time.Second) }
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, "2026-11-25T12:00:00Z", window.Format(e.record(key).Floor), "the API's now, not the local one")

	acts := every("a", at("2026-11-25T12:00:30Z"), at("2026-11-25T12:08:00Z"), time.Minute)
	e.feed.add(acts...)
	e.clock.Set(at("2026-11-25T12:15:00Z")) // the API reads 12:10
	_, err = run(t, c)
	require.NoError(t, err)
	assert.ElementsMatch(t, ids(acts), k.ids(), "12:00:30 .. 12:07:30: nothing of the skew is lost")
}

// Issue 11 item 7: with auto_replay_nacks (the default), an output outage
// makes Benthos hold every batch and re-send it until it succeeds. The job
// that emitted them times out; while its batches are held, later jobs are
// skipped (outcome awaiting_acks, a log line with the count); when the
// output recovers, their late acks are recorded as pending before the next
// job emits anything: every activity is delivered exactly once.
func TestOutputOutageWithReplayNeverEmitsHeldActivitiesAgain(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.cfg.JobTimeout = time.Minute
	e.cfg.DrainGrace = 10 * time.Second
	e.cfg.BatchSize = 10
	acts := spread("a", 40, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	e.feed.add(acts...)
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()

	rep, err := startJob(c, time.Time{}, make(chan struct{})).waitAdvancing(t, e.clock, e.clock.Now().Add(2*time.Minute))
	require.ErrorIs(t, err, collector.ErrJobTimeout)
	assert.Equal(t, 4, rep.Outstanding)
	assert.Equal(t, 4, c.HeldBatches())
	requests := len(e.feed.requests())
	for range 3 { // three more job intervals of outage
		e.clock.Advance(5 * time.Minute)
		rep, err = run(t, c)
		require.NoError(t, err)
		assert.Equal(t, collector.OutcomeAwaitingAcks, rep.Outcome)
		assert.Equal(t, 4, rep.Outstanding)
	}
	assert.Equal(t, requests, len(e.feed.requests()), "a skipped job sends no request")
	assert.Len(t, e.log.matching("skipped", "4 batches", "auto_replay_nacks"), 3)

	k.mu.Lock()
	k.policy = nil
	k.mu.Unlock()
	k.releaseHeld(nil) // the output recovered: Benthos re-sends and acks
	assert.Zero(t, c.HeldBatches())
	e.clock.Advance(5 * time.Minute)
	rep, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
	assert.Zero(t, rep.Emitted, "nothing held was emitted again")
	assert.ElementsMatch(t, ids(acts), k.ids(), "each activity handed out exactly once")
	rec := e.record(key)
	assert.Equal(t, window.Format(e.clock.Now().Add(-2*time.Minute)), window.Format(rec.ScannedTo))
	assert.Empty(t, rec.Pending, "pending cleared once scanned_to passed it")
}

// Issue 11 item 7: a late nack (auto_replay_nacks false) records nothing:
// those activities are collected again, once.
func TestLateNacksOfAnEndedJobRecordNothingAndAreCollectedAgainOnce(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.cfg.JobTimeout = time.Minute
	e.cfg.DrainGrace = 10 * time.Second
	e.cfg.BatchSize = 10
	acts := spread("a", 40, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	e.feed.add(acts...)
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()
	_, err := startJob(c, time.Time{}, make(chan struct{})).waitAdvancing(t, e.clock, e.clock.Now().Add(2*time.Minute))
	require.ErrorIs(t, err, collector.ErrJobTimeout)
	k.mu.Lock()
	k.policy = nil
	k.mu.Unlock()
	k.releaseHeld(errors.New("output refused the batch"))
	e.clock.Advance(5 * time.Minute)
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, 40, rep.Emitted)
	assert.Len(t, k.ids(), 80, "40 nacked, then 40 delivered")
	assert.ElementsMatch(t, ids(acts), uniq(k.ids()))
	assert.Empty(t, e.record(key).Pending)
}

// Issue 11 item 8: after a quiet period slices have grown to max_slice; a
// burst then fills one. Its first page shows it (a full page close to the
// slice end), so the page is not emitted and the slice is cut to hold about
// target_per_slice; no slice holds more than twice the target.
func TestBurstAfterAQuietPeriodIsCutBeforeItsFirstPageIsEmitted(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.PageSize = 100
	e.cfg.Slices = window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 200}
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T05:00:00Z")
	quiet := every("q", at("2026-11-25T05:00:00Z"), at("2026-11-25T11:20:00Z"), 30*time.Minute)
	burst := spread("b", 3000, at("2026-11-25T11:40:00Z"), 15*time.Minute) // 200 a minute
	e.feed.add(quiet...)
	e.feed.add(burst...)
	emitted := map[string]int{}
	e.hooks.OnPage = func(p collector.PageInfo) { emitted[p.Slice] += p.Emitted }
	c := e.collector(key)
	k, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Positive(t, rep.SlicesCut)
	largest := 0
	for _, n := range emitted {
		largest = max(largest, n)
	}
	assert.LessOrEqual(t, largest, 2*e.cfg.Slices.Target, "largest slice: %d activities", largest)
	assert.ElementsMatch(t, append(ids(quiet), ids(burst)...), k.ids())
}

// Issue 11 "Also": a guard that fails the same slice on every job keeps
// failing loudly, and its error (and the not-ready reason) names the slice,
// page, request-id and activity, and how to skip past it.
func TestGuardFailingEveryJobSaysWhereAndHowToSkipPastIt(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	e.feed.add(spread("a", 10, at("2026-11-25T11:00:00Z"), 50*time.Minute)...)
	e.feed.perPage = 3
	e.feed.mutate = func(_ int, p *api.Page) {
		if len(p.Activities) > 0 && p.Activities[0].ID == "a_000006" { // page 2 of the slice, every time
			p.Activities = append(p.Activities, api.Activity{ID: "a_stray", Type: "x", CreatedAt: at("2026-11-25T10:00:00Z")})
		}
	}
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	var err error
	for range 3 {
		_, err = run(t, c)
		require.Error(t, err)
	}
	for _, text := range []string{err.Error(), c.Health().Error()} {
		assert.Contains(t, text, "slice [2026-11-25T11:00:00Z, 2026-11-25T11:58:00Z)")
		assert.Contains(t, text, "page 2")
		assert.Contains(t, text, "activity a_stray")
		assert.Contains(t, text, "request-id req_")
		assert.Contains(t, text, "state rewind -c <this config> --to 2026-11-25T11:58:00Z")
		assert.Contains(t, text, "giving up the activities of [2026-11-25T11:00:00Z, 2026-11-25T11:58:00Z) not delivered yet")
	}
	assert.Contains(t, c.Health().Error(), "3 consecutive jobs failed")
}

// Issue 11 "Also": ack_warn_after warns while a job is blocked mid-window
// with max_open_slices slices open (before, only in the drain phase).
func TestJobBlockedAtMaxOpenSlicesWarnsAfterAckWarnAfter(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T08:00:00Z")
	e.cfg.AckWarnAfter = time.Minute
	e.feed.add(spread("a", 40, at("2026-11-25T08:00:00Z"), 4*time.Hour)...)
	var waits []int
	var mu sync.Mutex
	e.hooks.OnAckWait = func(n int, _ time.Duration) { mu.Lock(); waits = append(waits, n); mu.Unlock() }
	c := e.collector(key)
	k, stop := consume(t, c, func(collector.Batch) error { return errHold })
	defer stop()
	j := startJob(c, time.Time{}, make(chan struct{}))
	require.Eventually(t, func() bool { return k.heldCount() == 2 && e.clock.Waiters() == 1 }, 10*time.Second, time.Millisecond,
		"two slices (one batch each) out, the job blocked for room")
	e.clock.Advance(time.Minute)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(waits) == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, []int{2}, waits)
	assert.Len(t, e.log.matching("WARN", "max_open_slices", "2 batches", "period"), 1)
	k.mu.Lock()
	k.policy = nil
	k.mu.Unlock()
	k.releaseHeld(nil)
	_, err := j.wait(t)
	require.NoError(t, err)
}

// Issue 12 item 2: a stored checkpoint whose scanned_to lies beyond the
// API's clock plus settle would make every job empty (and successful) until
// then: the job fails and the collector is not ready, saying why.
func TestStoredCheckpointInTheFutureMakesTheCollectorNotReadyWithTheReason(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	rec := checkpoint.New(e.cfg.Identity(), at("2026-11-25T00:00:00Z"))
	rec.Rewind(at("2099-01-01T00:00:00Z"), at("2026-11-25T12:00:00Z"))
	require.NoError(t, checkpoint.NewKeeper(e.store, key).Save(context.Background(), rec))
	c := e.collector(key)
	_, stop := consume(t, c, nil)
	defer stop()
	rep, err := run(t, c)
	require.Error(t, err)
	assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
	require.Error(t, c.Health(), "not ready at once")
	for _, text := range []string{err.Error(), c.Health().Error()} {
		assert.Contains(t, text, "scanned_to 2099-01-01T00:00:00Z, later than the API's clock (2026-11-25T12:00:00Z) + settle")
		assert.Contains(t, text, "state rewind")
	}

	// Fixed by an operator: the next job works and the collector is ready.
	k := checkpoint.NewKeeper(e.store, key)
	stored, err := k.Load(context.Background())
	require.NoError(t, err)
	stored.Rewind(at("2026-11-25T11:00:00Z"), at("2026-11-25T12:00:00Z"))
	require.NoError(t, k.Save(context.Background(), stored))
	c2 := e.collector(key)
	_, stop2 := consume(t, c2, nil)
	defer stop2()
	_, err = run(t, c2)
	require.NoError(t, err)
	assert.NoError(t, c2.Health())
}
