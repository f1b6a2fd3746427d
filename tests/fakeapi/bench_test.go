package fakeapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// discardWriter is a ResponseWriter that counts bytes and keeps only the
// body's tail, where the envelope's has_more and last_id are.
type discardWriter struct {
	h      http.Header
	status int
	n      int
	tail   []byte
}

func (w *discardWriter) Header() http.Header    { return w.h }
func (w *discardWriter) WriteHeader(status int) { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.tail = append(w.tail, p[max(0, len(p)-256):]...)
	w.tail = w.tail[max(0, len(w.tail)-256):]
	return len(p), nil
}

// nextCursor reads last_id from the envelope's tail; "" when the walk ended.
func (w *discardWriter) nextCursor() string {
	tail := string(w.tail)
	if strings.Contains(tail, `"has_more":false`) {
		return ""
	}
	_, after, ok := strings.Cut(tail, `"last_id":"`)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, `"`)
	return id
}

// BenchmarkServePage5000 walks a 1M dataset with after_id=last_id and
// limit=5000, restarting at the top when has_more is false (one op = one page
// served by the handler; MB/s is response bytes).
func BenchmarkServePage5000(b *testing.B) {
	srv, _ := benchServer(b)
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
			for b.Loop() {
				q := url.Values{"limit": {"5000"}}
				for k, v := range bc.extra {
					q[k] = v
				}
				if cursor != "" {
					q.Set("after_id", cursor)
				}
				req := httptest.NewRequest(http.MethodGet, fakeapi.ActivitiesPath+"?"+q.Encode(), nil)
				req.Header.Set("x-api-key", testKey)
				w.n, w.status, w.tail = 0, 0, w.tail[:0]
				srv.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				b.SetBytes(int64(w.n))
				cursor = w.nextCursor() // "" restarts the walk from the top
			}
		})
	}
}
