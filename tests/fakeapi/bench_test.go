package fakeapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const benchCount = 1_000_000

// BenchmarkGenerate1M measures generating a million activities (one op = the
// whole dataset).
func BenchmarkGenerate1M(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		acts := fakeapi.Generate(fakeapi.GenOptions{Seed: 1, Count: benchCount, From: t0.Add(-30 * 24 * time.Hour), To: t0})
		if len(acts) != benchCount {
			b.Fatalf("got %d activities", len(acts))
		}
	}
}

var bench struct {
	once sync.Once
	srv  *fakeapi.Server
	ids  []string // newest first
}

func benchServer(b *testing.B) (*fakeapi.Server, []string) {
	bench.once.Do(func() {
		ds := fakeapi.Generate(fakeapi.GenOptions{Seed: 1, Count: benchCount, From: t0.Add(-30 * 24 * time.Hour), To: t0})
		s, err := fakeapi.New(fakeapi.Options{Dataset: ds, Clock: func() time.Time { return t0 }})
		if err != nil {
			panic(err)
		}
		bench.srv = s
		for _, a := range s.Visible(t0) {
			bench.ids = append(bench.ids, a.ID)
		}
	})
	return bench.srv, bench.ids
}

// discardWriter is a ResponseWriter that only counts bytes.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkServePage5000 walks a 1M dataset with after_id and limit=5000 (one
// op = one page served by the handler, bytes/op = response size).
func BenchmarkServePage5000(b *testing.B) {
	srv, ids := benchServer(b)
	window := url.Values{
		"created_at.gte": {t0.Add(-10 * 24 * time.Hour).Format(time.RFC3339)},
		"created_at.lt":  {t0.Add(-5 * 24 * time.Hour).Format(time.RFC3339)},
	}
	for _, bc := range []struct {
		name  string
		extra url.Values
	}{
		{"walk", nil},
		{"walk-in-time-window", window},
		{"walk-filtered-type", url.Values{"activity_types[]": {"claude_file_uploaded"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			cursor := ""
			for i := 0; b.Loop(); i++ {
				q := url.Values{"limit": {"5000"}}
				for k, v := range bc.extra {
					q[k] = v
				}
				if cursor != "" {
					q.Set("after_id", cursor)
				}
				req := httptest.NewRequest(http.MethodGet, fakeapi.ActivitiesPath+"?"+q.Encode(), nil)
				req.Header.Set("x-api-key", testKey)
				w.n, w.status = 0, 0
				srv.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				b.SetBytes(int64(w.n))
				// Continue the walk 5000 further down (restart near the end).
				next := (i + 1) * 5000 % (len(ids) - 5000)
				cursor = ids[next]
				if next == 0 {
					cursor = ""
				}
			}
		})
	}
}
