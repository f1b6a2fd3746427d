package compliance

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// BenchmarkCheckpointCommit measures one commit of a collector whose
// overlap (5 minutes) holds n ids, as the job does it: clone the record,
// apply a slice (one second's worth of new ids; the oldest second leaves the
// overlap), and save it through the keeper into the embedded directory
// (encode, lock, compare-and-swap, temp file, fsync, rename, fsync of the
// directory). Run one size per process, so that peak-RSS-MiB is that size's:
//
//	for n in 10k 100k 1M; do go test ./input/compliance -run '^$' -bench "CheckpointCommit/ids=$n\$" -benchtime 10x; done
func BenchmarkCheckpointCommit(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run("ids="+size.name, func(b *testing.B) {
			ctx := context.Background()
			const overlap = 5 * time.Minute
			seconds := int(overlap / time.Second)
			perSecond := size.n / seconds
			start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			id := 0
			second := func(at time.Time) checkpoint.IDSet {
				s := make(checkpoint.IDSet, perSecond)
				for range perSecond {
					s.Add(fmt.Sprintf("activity_01%022d", id), at)
					id++
				}
				return s
			}
			cfg := &inputConfig{StatePath: filepath.Join(b.TempDir(), "state"), Settle: 2 * time.Minute}
			store, err := openStateStore(ctx, nil, cfg, options{})
			if err != nil {
				b.Fatal(err)
			}
			keeper := checkpoint.NewKeeper(store, "bench", checkpoint.WithSeenCap(2*size.n, nil))
			rec := checkpoint.New(checkpoint.Identity{Endpoint: "activities", BaseURL: "https://api.anthropic.com", Filters: "sha256:x"}, start)
			scanned := start
			for range seconds {
				rec.Commit([]checkpoint.SliceCommit{{To: scanned.Add(time.Second), IDs: second(scanned)}}, overlap, nil, scanned)
				scanned = scanned.Add(time.Second)
			}
			if err := keeper.Save(ctx, rec); err != nil {
				b.Fatal(err)
			}
			doc, _ := rec.Encode()
			slices := make([]checkpoint.IDSet, b.N)
			for i := range slices {
				slices[i] = second(scanned.Add(time.Duration(i) * time.Second))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				next := rec.Clone()
				next.Commit([]checkpoint.SliceCommit{{To: scanned.Add(time.Second), IDs: slices[i]}}, overlap, map[string]any{"latestTime": 1.0}, scanned)
				if err := keeper.Save(ctx, next); err != nil {
					b.Fatal(err)
				}
				rec = next
				scanned = scanned.Add(time.Second)
			}
			b.StopTimer()
			b.ReportMetric(float64(len(doc))/(1<<20), "doc-MiB")
			b.ReportMetric(float64(rec.Seen.Len()), "seen-ids")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
			}
		})
	}
}

// BenchmarkCheckpointLoad measures what a job start reads: the stored
// document decoded (once per job, not per commit).
//
//	go test ./input/compliance -run '^$' -bench CheckpointLoad -benchtime 10x
func BenchmarkCheckpointLoad(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ids=%d", n), func(b *testing.B) {
			rec := checkpoint.New(checkpoint.Identity{Endpoint: "activities"}, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
			at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			for i := range n {
				rec.Seen.Add(fmt.Sprintf("activity_01%022d", i), at.Add(time.Duration(i%300)*time.Second))
			}
			doc, err := rec.Encode()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(doc)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := checkpoint.Decode(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
