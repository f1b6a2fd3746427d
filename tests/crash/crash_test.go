package crash_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// scale is one size of the crash proof. The bound on what a kill may
// re-deliver is maxOpenSlices × target.
type scale struct {
	activities int // in the backfill, spread over two days
	target     int // target_per_slice
	kills      int
}

// full is the scale; -short keeps the same shape at a tenth of it.
// The burst runs with half the target, so that one slice holding the burst
// would exceed the bound within the ten kills (each run is killed before it
// writes activities/20 new ones).
var (
	full       = scale{activities: 200_000, target: 20_000, kills: 10}
	short      = scale{activities: 20_000, target: 2_000, kills: 10}
	fullBurst  = scale{activities: 200_000, target: 10_000, kills: 10}
	shortBurst = scale{activities: 20_000, target: 1_000, kills: 10}
)

const (
	maxOpenSlices = 2
	// maxSlice keeps the first slice of every run (which is maxSlice long)
	// under target_per_slice for two days of evenly spread data: 4h holds
	// about activities/12, the target is activities/10.
	maxSlice = 4 * time.Hour
	overlap  = 5 * time.Minute
	// span is how much history the backfill covers; it ends dataLag before
	// the real clock's now, well past settle (2m).
	span    = 48 * time.Hour
	dataLag = 5 * time.Minute
)

// TestSIGKILLAtRandomPointsLosesNothingAndEachKillRedeliversAtMostTheOpenSlices
// is the crash proof of issue 5, on two days of evenly spread activities.
func TestSIGKILLAtRandomPointsLosesNothingAndEachKillRedeliversAtMostTheOpenSlices(t *testing.T) {
	sc := full
	if testing.Short() {
		sc = short
	}
	crashProof(t, evenly, sc)
}

// TestSIGKILLDuringABurstAfterAQuietPeriodRedeliversAtMostTheOpenSlices is
// the same proof after a quiet period (issue 11 item 8): 1% of the
// activities spread over two days, then 99% in the last 30 minutes. The
// quiet part grows slices to max_slice; the burst then lands in one of them,
// and the slice's first page shows it: the slice is cut before anything of
// it is emitted, so the open slices stay count-bounded.
func TestSIGKILLDuringABurstAfterAQuietPeriodRedeliversAtMostTheOpenSlices(t *testing.T) {
	sc := fullBurst
	if testing.Short() {
		sc = shortBurst
	}
	crashProof(t, burstAfterQuiet, sc)
}

// shape generates the backfill's activities, ending at end.
type shape func(seed uint64, n int, end time.Time) []fakeapi.Activity

func evenly(seed uint64, n int, end time.Time) []fakeapi.Activity {
	return fakeapi.Generate(fakeapi.GenOptions{Seed: seed, Count: n, From: end.Add(-span), To: end})
}

// burstLen is how long the burst of burstAfterQuiet lasts.
const burstLen = 30 * time.Minute

func burstAfterQuiet(seed uint64, n int, end time.Time) []fakeapi.Activity {
	quiet := n / 100
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: seed, Count: quiet, From: end.Add(-span), To: end.Add(-burstLen)})
	return append(data, fakeapi.Generate(fakeapi.GenOptions{Seed: seed + 1, Count: n - quiet, From: end.Add(-burstLen), To: end})...)
}

// crashProof backfills a dataset of the given shape with the real binary,
// into a file output, and kills it with SIGKILL at random points: alternately after a random delay
// (which may land during start-up, the first request or a commit) and after
// the output grew by a random number of bytes (which always lands
// mid-backfill, possibly while it re-delivers what the previous kill left
// open). After each kill the checkpoint must decode, and the activities in
// the output that the checkpoint does not cover (what the next run will
// deliver again) must be at most max_open_slices × target_per_slice. After
// the last restart it must collect everything: no activity missing, none
// unexpected, and every re-delivery accounted for by a kill.
//
// CRASH_SEED=<n> replays a run (the seed picks the dataset and the kills).
func crashProof(t *testing.T, gen shape, sc scale) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASH_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CRASH_SEED")
	}
	t.Logf("seed %d (replay with CRASH_SEED=%d); %d activities, target_per_slice %d, max_open_slices %d, %d kills",
		seed, seed, sc.activities, sc.target, maxOpenSlices, sc.kills)
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	bound := maxOpenSlices * sc.target
	began := time.Now()

	bin := buildBinary(t)
	now := time.Now().UTC().Truncate(time.Second)
	data := gen(seed, sc.activities, now.Add(-dataLag))
	ds := newDataset(data)
	require.Len(t, ds.created, sc.activities, "activity ids are unique")
	fake, err := fakeapi.Start(fakeapi.Options{APIKeys: []string{apiKey}, Dataset: data, MaxRecords: 1}, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = fake.Close() })

	dir := t.TempDir()
	w := &workdir{
		state:  filepath.Join(dir, "state"),
		output: filepath.Join(dir, "activities.ndjson"),
		config: filepath.Join(dir, "pipeline.yaml"),
		logs:   filepath.Join(dir, "binary.log"),
	}
	require.NoError(t, os.WriteFile(w.config, []byte(pipeline(fake.URL(), w, sc)), 0o600))
	logs := openLog(t, w.logs)

	out := &outputReader{path: w.output, seen: map[string]struct{}{}}
	var kills []killRecord
	for i := range sc.kills {
		p := startBinary(t, bin, w.config, logs, i)
		k := killRecord{n: i + 1}
		// No run writes more than limit new activities, so that every kill
		// lands before the backfill is complete however fast the machine.
		limit := sc.activities / (2 * sc.kills)
		if i%2 == 0 {
			// Anywhere: start-up, the first request, re-delivery, a commit.
			k.delay = time.Duration(rng.Int64N(int64(time.Second)))
			k.how = fmt.Sprintf("after %v", k.delay.Round(time.Millisecond))
			p.waitForNew(t, out, limit, time.Now().Add(k.delay))
		} else {
			// Mid-backfill: once this run has written some activities no
			// earlier run wrote.
			k.fresh = 1 + rng.IntN(limit)
			k.how = fmt.Sprintf("after %d new activities", k.fresh)
			p.waitForNew(t, out, k.fresh, time.Now().Add(time.Minute))
		}
		require.False(t, p.exited(), "run %d of the binary ended on its own before the kill: see %s\n%s", k.n, w.logs, tail(w.logs))
		k.ran = p.kill(t)

		out.poll(t)
		k.written, k.dupsBefore = out.endRun()
		k.temps = countTemps(t, w.state)
		k.rec = readCheckpoint(t, w.state, k.n)
		if k.rec == nil {
			require.Zero(t, len(out.ids), "kill %d: the output has activities but no checkpoint exists", k.n)
		}
		k.exposed = out.exposed(k.rec, ds, overlap)
		k.midBackfill = k.rec == nil || !k.rec.ScannedToTime().After(ds.last)
		kills = append(kills, k)
		t.Logf("kill %2d %-28s ran %-8v output %7d lines (+%6d, of which %6d re-delivered), exposed %6d, checkpoint %s, temp files %d",
			k.n, k.how, k.ran.Round(time.Millisecond), len(out.ids), k.written, k.dupsBefore, k.exposed, describe(k.rec), k.temps)
	}

	// The last restart collects everything; a commit of its own proves it
	// is up before it is stopped.
	finalStart := time.Now()
	var startRev int64
	if last := readCheckpointQuiet(w.state); last != nil {
		startRev = last.Rev
	}
	p := startBinary(t, bin, w.config, logs, sc.kills)
	var rec *checkpoint.Record
	require.Eventually(t, func() bool {
		rec = readCheckpointQuiet(w.state)
		return rec != nil && rec.Rev > startRev && rec.ScannedToTime().After(ds.last)
	}, 3*time.Minute, 20*time.Millisecond, "the restarted binary did not commit past the last activity (%s): see %s\n%s",
		ds.last.Format(time.RFC3339), w.logs, tail(w.logs))
	finalRun := time.Since(finalStart)
	p.stop(t)
	out.poll(t)
	_, lastDups := out.endRun()

	// Nothing missing, nothing foreign, every document valid JSON but those a
	// kill cut short (their activities were not acknowledged and are
	// written again in full).
	missing, unexpected, torn, bad := out.compare(t, ds)
	require.Empty(t, missing, "activities never written to the output as a complete document (first ones): %v", headOf(missing))
	require.Empty(t, unexpected, "output ids that are not in the dataset (first ones): %v", headOf(unexpected))
	require.Zero(t, bad, "output documents that are not valid JSON and were not cut by a kill")
	rec = readCheckpoint(t, w.state, sc.kills+1)
	require.NotNil(t, rec)

	// Every re-delivery is accounted for by a kill, and no kill exposed more
	// than the open slices can hold.
	total := len(out.ids) - len(out.seen)
	sumExposed, maxExposed, maxRedelivered, mid := 0, 0, 0, 0
	for i, k := range kills {
		redelivered := lastDups
		if i+1 < len(kills) {
			redelivered = kills[i+1].dupsBefore
		}
		require.LessOrEqual(t, k.exposed, bound, "kill %d (%s) left %d written activities outside the checkpoint; the bound is max_open_slices × target_per_slice = %d", k.n, k.how, k.exposed, bound)
		require.LessOrEqual(t, redelivered, bound, "the run after kill %d (%s) re-delivered %d activities; the bound is %d", k.n, k.how, redelivered, bound)
		sumExposed += k.exposed
		maxExposed = max(maxExposed, k.exposed)
		maxRedelivered = max(maxRedelivered, redelivered)
		if k.midBackfill {
			mid++
		}
	}
	require.Zero(t, kills[0].dupsBefore, "the first run cannot re-deliver anything")
	require.LessOrEqual(t, total, sumExposed, "duplicates in the output beyond what the kills left exposed")
	require.Equal(t, len(kills), mid, "kills after the backfill was complete test nothing")

	t.Logf("RESULT %d activities, %d kills (%d mid-backfill): 0 missing, %d duplicates in total (%.2f%%), at most %d re-delivered after one kill "+
		"(largest exposure %d; bound %d = %d × %d), %d documents cut by a kill, final run %v, whole test %v",
		sc.activities, len(kills), mid, total, 100*float64(total)/float64(sc.activities), maxRedelivered, maxExposed, bound,
		maxOpenSlices, sc.target, torn, finalRun.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
