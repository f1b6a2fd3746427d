package content_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/content"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// The figures of the README ("Chats, messages and files"): a backfill of
// the fake's organisation through the collector (the fake in the same
// process, over loopback HTTP), each record acknowledged as it arrives.
//
//	go test ./input/compliance/content -run xxx -bench . -benchtime 3x

// BenchmarkChatsWithMessages backfills 2000 chats with up to 12 messages
// each, one message per chat message: chats/s and messages/s.
func BenchmarkChatsWithMessages(b *testing.B) {
	for _, mode := range []string{content.PerMessage, content.PerChat} {
		b.Run(mode, func(b *testing.B) {
			var chats, messages int
			var took time.Duration
			for range b.N {
				r := newRig(b, fakeapi.WorldOptions{Seed: 2, Chats: 2000, MaxMessages: 12}, nil)
				cfg := r.engine("chats", content.Filters{})
				cfg.BatchSize, cfg.Slices.Target, cfg.Slices.MaxSlice = 500, 1000, 6*time.Hour
				src, err := content.NewChats(content.ChatsConfig{PageSize: 1000, BatchSize: 500, IncludeMessages: true,
					MessageMode: mode, MessagesSince: content.SinceNew}, r.client, content.Hooks{})
				require.NoError(b, err)
				c := r.collector(cfg, src)
				r.sink(c)
				start := time.Now()
				rep, err := runJob(b, c)
				took += time.Since(start)
				require.NoError(b, err)
				chats += rep.Counts[content.CountChatsEmitted]
				messages += rep.Counts[content.CountMessagesEmitted]
			}
			b.ReportMetric(float64(chats)/took.Seconds(), "chats/s")
			b.ReportMetric(float64(messages)/took.Seconds(), "messages/s")
		})
	}
}

// BenchmarkFilesLargerThanABatch downloads files of 8 MiB (every other
// file; the rest up to 64 KiB) with file_workers 1 and 2, for two sizes of
// organisation: MiB/s, and the peak of the heap while it ran, which stays
// near file_workers × 8 MiB (plus the collector's and the fake's own) however
// many files there are.
func BenchmarkFilesLargerThanABatch(b *testing.B) {
	for _, chats := range []int{12, 48} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("chats=%d/workers=%d", chats, workers), func(b *testing.B) {
				var bytes int64
				var took time.Duration
				var peak uint64
				for range b.N {
					r := newRig(b, fakeapi.WorldOptions{Seed: 6, Chats: chats, MaxMessages: 4, FileFraction: 1,
						LargeFileSize: 8 << 20, LargeFileEvery: 2}, nil)
					cfg := r.engine("files", content.Filters{})
					cfg.Slices.MinSlice, cfg.Slices.MaxSlice = 24*time.Hour, 24*time.Hour
					src, err := content.NewFiles(content.FilesConfig{PageSize: 1000, MaxFileSize: 16 << 20, Workers: workers, Retries: 2},
						r.client, content.Hooks{}, nil)
					require.NoError(b, err)
					c := r.collector(cfg, src)
					r.sink(c).setPolicy(func(d []delivered) (bool, error) {
						for i := range d {
							d[i].body = nil // an output that wrote the bytes and let them go
						}
						return false, nil
					})
					runtime.GC()
					stop := sampleHeap(&peak)
					start := time.Now()
					rep, err := runJob(b, c)
					took += time.Since(start)
					stop()
					require.NoError(b, err)
					bytes += int64(rep.Counts[content.CountFileBytes])
				}
				b.ReportMetric(float64(bytes)/(1<<20)/took.Seconds(), "MiB/s")
				b.ReportMetric(float64(bytes)/(1<<20)/float64(b.N), "MiB/op")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			})
		}
	}
}

// sampleHeap records the largest live heap (bytes in heap objects) seen
// every millisecond until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			*peak = max(*peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
