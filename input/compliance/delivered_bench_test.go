package compliance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// BenchmarkDeliveredDay measures the record of delivered ids over one day of
// reconciliation (`lookback: 24h`, `settle: 1h`) holding n ids spread evenly
// over 24 hours, in the embedded directory (every write a compare-and-swap
// with fsync), as the input uses it:
//
//   - the regular jobs record it, one commit per 20,000 ids (the default
//     target_per_slice) with the commit's range covered: record-ms is the
//     mean time of one such write;
//   - a reconciliation then reads it bucket by bucket and looks up each of
//     the n ids: lookup-s is that pass (without the API walk);
//   - store-MiB and docs are what the directory holds, peak-RSS-MiB the whole
//     process (ids are generated as needed, never all held).
//
// One size per process, so that peak-RSS-MiB is that size's:
//
//	for n in 1M 14M; do go test ./input/compliance -run '^$' -bench "DeliveredDay/ids=$n\$" -benchtime 1x; done
func BenchmarkDeliveredDay(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1M", 1_000_000}, {"14M", 14_400_000}} {
		b.Run("ids="+size.name, func(b *testing.B) {
			for range b.N {
				deliveredDay(b, size.n)
			}
		})
	}
}

func deliveredDay(b *testing.B, n int) {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "state")
	store, err := openStateStore(ctx, nil, &inputConfig{StatePath: dir}, options{})
	if err != nil {
		b.Fatal(err)
	}
	const key = "anthropic_compliance/bench/activities"
	id := checkpoint.Identity{Endpoint: "activities", BaseURL: "https://api.anthropic.com", Filters: "sha256:x"}
	d := checkpoint.NewDelivered(store, key, id, 25*time.Hour)
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	step := 24 * time.Hour / time.Duration(n)
	createdAt := func(i int) time.Time { return start.Add(time.Duration(i) * step) }
	name := func(i int) string { return fmt.Sprintf("activity_01%024d", i) }
	const perCommit = 20_000

	b.ResetTimer()
	began := time.Now()
	commits := 0
	for lo := 0; lo < n; lo += perCommit {
		hi := min(lo+perCommit, n)
		ids := make(checkpoint.IDSet, hi-lo)
		for i := lo; i < hi; i++ {
			ids[name(i)] = createdAt(i).Unix()
		}
		to := createdAt(hi)
		if hi == n {
			to = start.Add(24 * time.Hour)
		}
		span := checkpoint.Span{From: createdAt(lo).Truncate(time.Second), To: to.Truncate(time.Second)}
		if _, err := d.Record(ctx, ids, []checkpoint.Span{span}, to.Add(7*time.Minute)); err != nil {
			b.Fatal(err)
		}
		commits++
	}
	recording := time.Since(began)

	began = time.Now()
	now := start.Add(25 * time.Hour)
	i := 0
	for bucket := start; bucket.Before(start.Add(24 * time.Hour)); bucket = bucket.Add(d.BucketLength()) {
		bk, err := d.Load(ctx, bucket, now)
		if err != nil {
			b.Fatal(err)
		}
		if len(bk.CoveredWithin(bucket, bucket.Add(d.BucketLength()))) != 1 {
			b.Fatalf("bucket %s: covered %v (%s)", bucket, bk.Covered, bk.Note)
		}
		for ; i < n && createdAt(i).Before(bk.To); i++ {
			if !bk.Has(name(i)) {
				b.Fatalf("%s is not recorded", name(i))
			}
		}
	}
	if i != n {
		b.Fatalf("looked up %d of %d ids", i, n)
	}
	lookup := time.Since(began)
	b.StopTimer()

	var bytes int64
	docs := 0
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), "delivered") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		bytes += info.Size()
		docs++
	}
	b.ReportMetric(float64(bytes)/(1<<20), "store-MiB")
	b.ReportMetric(float64(bytes)/float64(n), "bytes/id")
	b.ReportMetric(float64(docs), "docs")
	b.ReportMetric(float64(recording.Milliseconds())/float64(commits), "record-ms")
	b.ReportMetric(lookup.Seconds(), "lookup-s")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
