package collector_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// Issue 16 (repair): a `once` run restricted to a set of ids walks its range
// as any backfill does, but emits only the activities whose id is in the
// set; the others count as returned and filtered. Ids of the set outside the
// range, or unknown to the API, are simply not found.
func TestOnceRestrictedToIDsEmitsExactlyThoseOfItsRange(t *testing.T) {
	for _, tracking := range []bool{true, false} {
		t.Run(fmt.Sprintf("state tracking %v", tracking), func(t *testing.T) {
			e := newEnv(t, "2026-11-25T12:00:00Z")
			e.cfg.StateTracking = tracking
			e.cfg.Once = true
			e.cfg.Earliest = timeexpr.MustParse("2026-11-25T08:00:00Z")
			e.cfg.Latest = timeexpr.MustParse("2026-11-25T10:00:00Z")
			e.cfg.Slices = window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 30}
			e.cfg.PageSize = 7 // several pages per slice
			acts := every("a", at("2026-11-25T07:50:00Z"), at("2026-11-25T10:10:00Z"), 30*time.Second)
			e.feed.add(acts...)
			inRange := between(acts, at("2026-11-25T08:00:00Z"), at("2026-11-25T10:00:00Z"))
			want := []string{inRange[0].ID, inRange[17].ID, inRange[18].ID, inRange[len(inRange)-1].ID}
			e.cfg.OnlyIDs = collector.NewIDSet([]string{
				" " + want[2] + " ", want[0], want[3], want[1], want[0], "", // blanks, spaces and repeats are ignored
				acts[0].ID,             // created before the range
				"activity_not_in_feed", // unknown to the API
			})
			c := e.collector("once-ids-key")
			k, stop := consume(t, c, nil)
			defer stop()
			rep, err := run(t, c)
			require.NoError(t, err)
			assert.True(t, rep.Complete)
			assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
			assert.ElementsMatch(t, want, k.ids())
			assert.Equal(t, len(inRange), rep.Returned, "the whole range is walked")
			assert.Equal(t, len(want), rep.Emitted)
			assert.Equal(t, len(inRange)-len(want), rep.Filtered)
			assert.Greater(t, rep.Slices, 1)
			if tracking {
				rec := e.record("once-ids-key")
				assert.Equal(t, "2026-11-25T10:00:00Z", window.Format(rec.ScannedTo))
				assert.Equal(t, e.cfg.Identity(), rec.Identity)
			}
		})
	}
}

// The id set is part of the checkpoint identity, so a restricted run never
// resumes (nor is resumed by) the checkpoint of an unrestricted run or of
// another id set, even under the same key.
func TestIDRestrictionIsPartOfTheCheckpointIdentity(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Once = true
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T08:00:00Z")
	e.cfg.Latest = timeexpr.MustParse("2026-11-25T10:00:00Z")
	plain := e.cfg.Identity()
	e.cfg.OnlyIDs = collector.NewIDSet([]string{"b", "a"})
	ab := e.cfg.Identity()
	assert.NotEqual(t, plain, ab)
	assert.Equal(t, plain.Mode, ab.Mode)
	e.cfg.OnlyIDs = collector.NewIDSet([]string{"a", "b", "a", " b"})
	assert.Equal(t, ab, e.cfg.Identity(), "order, repeats and spaces do not change the set")
	e.cfg.OnlyIDs = collector.NewIDSet([]string{"a", "c"})
	assert.NotEqual(t, ab, e.cfg.Identity())

	e.feed.add(every("a", at("2026-11-25T08:00:00Z"), at("2026-11-25T10:00:00Z"), time.Minute)...)
	e.cfg.OnlyIDs = nil
	plainRun := e.collector("shared-key")
	_, stop := consume(t, plainRun, nil)
	_, err := run(t, plainRun) // writes the initial checkpoint (and more)
	stop()
	require.NoError(t, err)

	e.cfg.OnlyIDs = collector.NewIDSet([]string{"a_000001"})
	restricted := e.collector("shared-key")
	k, stop := consume(t, restricted, nil)
	defer stop()
	_, err = run(t, restricted)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "belongs to another collector")
	assert.Empty(t, k.ids())
}

func TestIDRestrictionNeedsAOnceRunAndAtLeastOneID(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	deps := collector.Deps{Lister: e.feed, Clock: schedule.NewFakeClock(at("2026-11-25T12:00:00Z")), Keeper: nil}
	e.cfg.StateTracking = false

	e.cfg.OnlyIDs = collector.NewIDSet([]string{"a"})
	_, err := collector.New(e.cfg, deps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "needs schedule: once")

	e.cfg.Once = true
	e.cfg.OnlyIDs = collector.NewIDSet([]string{" ", ""})
	_, err = collector.New(e.cfg, deps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds no ids")

	e.cfg.OnlyIDs = collector.NewIDSet([]string{"a"})
	_, err = collector.New(e.cfg, deps)
	require.NoError(t, err)
}
