package window_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFormatTruncatesToWholeSecondsInUTC(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"whole second", at("2026-11-25T10:00:00Z"), "2026-11-25T10:00:00Z"},
		{"nanoseconds dropped", at("2026-11-25T10:00:00.999999999Z"), "2026-11-25T10:00:00Z"},
		{"zone converted", at("2026-11-25T12:00:01.5+02:00"), "2026-11-25T10:00:01Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, window.Format(tt.in))
			back, err := window.Parse(window.Format(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, window.Format(back))
		})
	}
}

func TestIncrementalRange(t *testing.T) {
	base := window.Incremental{
		Now:       at("2026-11-25T10:10:30.75Z"),
		Settle:    2 * time.Minute,
		Overlap:   5 * time.Minute,
		ScannedTo: at("2026-11-25T10:05:00Z"),
	}
	tests := []struct {
		name     string
		mutate   func(*window.Incremental)
		wantFrom string
		wantTo   string
		empty    bool
	}{
		{"to is now minus settle truncated, from is scanned_to minus overlap", nil,
			"2026-11-25T10:00:00Z", "2026-11-25T10:08:30Z", false},
		{"latest earlier than now minus settle caps to", func(in *window.Incremental) { in.Latest = at("2026-11-25T10:07:00Z") },
			"2026-11-25T10:00:00Z", "2026-11-25T10:07:00Z", false},
		{"raised overlap never reads below seen_from", func(in *window.Incremental) {
			in.Overlap = 30 * time.Minute
			in.SeenFrom = at("2026-11-25T10:00:00Z")
		}, "2026-11-25T10:00:00Z", "2026-11-25T10:08:30Z", false},
		{"floor clamps from on the first jobs", func(in *window.Incremental) { in.Floor = at("2026-11-25T10:03:00Z") },
			"2026-11-25T10:03:00Z", "2026-11-25T10:08:30Z", false},
		{"from at or after to is empty (settle raised, clock stepped back)", func(in *window.Incremental) {
			in.Now = at("2026-11-25T10:01:00Z")
		}, "2026-11-25T10:00:00Z", "2026-11-25T09:59:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			if tt.mutate != nil {
				tt.mutate(&in)
			}
			r := window.IncrementalRange(in)
			assert.Equal(t, tt.wantFrom, window.Format(r.From))
			assert.Equal(t, tt.wantTo, window.Format(r.To))
			assert.Equal(t, tt.empty, r.Empty())
		})
	}
}

func TestUntrackedWindowsShiftedBySettleTileWithoutGaps(t *testing.T) {
	// Cribl-style -5m@m..@m every 5 minutes: successive windows must tile.
	settle := 2 * time.Minute
	w1 := window.Untracked(at("2026-11-25T10:00:00Z"), at("2026-11-25T10:05:00Z"), settle)
	w2 := window.Untracked(at("2026-11-25T10:05:00Z"), at("2026-11-25T10:10:00Z"), settle)
	assert.Equal(t, "2026-11-25T09:58:00Z", window.Format(w1.From))
	assert.Equal(t, window.Format(w1.To), window.Format(w2.From), "no gap between consecutive windows")
}

func TestPlannerTilesRangeWithIdenticalBoundaryStrings(t *testing.T) {
	cfg := window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 100}
	rng := window.Range{From: at("2026-11-25T00:00:00Z"), To: at("2026-11-25T03:30:00Z")}
	p := window.NewPlanner(rng, cfg, 0)
	var got []window.Range
	for {
		s, ok := p.Next()
		if !ok {
			break
		}
		got = append(got, s)
		p.Observe(s, 100) // exactly on target: length stays
	}
	require.Len(t, got, 4)
	assert.Equal(t, window.Format(rng.From), window.Format(got[0].From))
	for i := 1; i < len(got); i++ {
		assert.Equal(t, window.Format(got[i-1].To), window.Format(got[i].From), "slice %d", i)
	}
	assert.Equal(t, window.Format(rng.To), window.Format(got[len(got)-1].To))
}

func TestNextLengthAdaptsToDensity(t *testing.T) {
	cfg := window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 20000}
	tests := []struct {
		name       string
		observed   time.Duration
		activities int
		want       time.Duration
	}{
		{"dense slice shrinks proportionally", time.Hour, 80000, 15 * time.Minute},
		{"sparse slice grows proportionally", 10 * time.Minute, 10000, 20 * time.Minute},
		{"growth capped at max_slice", 30 * time.Minute, 1, time.Hour},
		{"shrink floored at min_slice", time.Hour, 10_000_000, time.Minute},
		{"empty slice doubles", 10 * time.Minute, 0, 20 * time.Minute},
		{"empty slice doubling capped", 45 * time.Minute, 0, time.Hour},
		{"result truncated to whole seconds", 61 * time.Second, 30000, 40 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.name == "result truncated to whole seconds" {
				c.MinSlice = time.Second
			}
			assert.Equal(t, tt.want, window.NextLength(tt.observed, tt.activities, c))
		})
	}
}

func TestHalveShrinksButNotBelowMinSlice(t *testing.T) {
	cfg := window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 1}
	assert.Equal(t, 30*time.Minute, window.Halve(time.Hour, cfg))
	assert.Equal(t, time.Minute, window.Halve(time.Minute, cfg))
}

func TestSliceConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  window.SliceConfig
		ok   bool
	}{
		{"defaults", window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 20000}, true},
		{"sub-second min", window.SliceConfig{MinSlice: 500 * time.Millisecond, MaxSlice: time.Hour, Target: 1}, false},
		{"max below min", window.SliceConfig{MinSlice: time.Hour, MaxSlice: time.Minute, Target: 1}, false},
		{"fractional max", window.SliceConfig{MinSlice: time.Second, MaxSlice: 1500 * time.Millisecond, Target: 1}, false},
		{"zero target", window.SliceConfig{MinSlice: time.Second, MaxSlice: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestDenseLengthCutsASliceWhoseFirstPageShowsABurst(t *testing.T) {
	cfg := window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 20000}
	tests := []struct {
		name     string
		sliceLen time.Duration
		covered  time.Duration // from the page's oldest activity to the slice end
		n        int
		want     time.Duration
		cut      bool
	}{
		// 5000 in the last 3 minutes of an hour-long slice: ~100k expected.
		{"burst at the end of a quiet hour is cut to target at its density", time.Hour, 3 * time.Minute, 5000, 12 * time.Minute, true},
		{"about target: walked as planned", time.Hour, 15 * time.Minute, 5000, 0, false},
		{"twice target exactly is not far more", time.Hour, 450 * time.Second, 5000, 0, false},
		{"never below min_slice", time.Hour, 2 * time.Second, 5000, time.Minute, true},
		{"a slice at min_slice is walked as it is", time.Minute, time.Second, 5000, 0, false},
		{"a covered span under a second counts as one second", time.Hour, 0, 5000, time.Minute, true},
		{"whole seconds", time.Hour, 100 * time.Second, 3000, 666 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := window.DenseLength(tt.sliceLen, tt.covered, tt.n, cfg)
			assert.Equal(t, tt.cut, cut)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPlannerCutPlansTheRestOfTheSliceAfterIt(t *testing.T) {
	cfg := window.SliceConfig{MinSlice: time.Minute, MaxSlice: time.Hour, Target: 100}
	rng := window.Range{From: at("2026-11-25T00:00:00Z"), To: at("2026-11-25T02:00:00Z")}
	p := window.NewPlanner(rng, cfg, time.Hour)
	s, ok := p.Next()
	require.True(t, ok)
	cut := p.Cut(s, 10*time.Minute)
	assert.Equal(t, "[2026-11-25T00:00:00Z, 2026-11-25T00:10:00Z)", cut.String())
	next, ok := p.Next()
	require.True(t, ok)
	assert.Equal(t, "[2026-11-25T00:10:00Z, 2026-11-25T00:20:00Z)", next.String(), "the rest follows, at the cut length")
}
