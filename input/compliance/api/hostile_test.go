package api_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// hostileBodyBytes bounds what a hostile test server writes (the workplace
// rule: a test's traffic loops are bounded); the client gives up long before.
const hostileBodyBytes = 1 << 30

// writeZeros writes n zero bytes to w, stopping early when the client hangs up.
func writeZeros(w interface{ Write([]byte) (int, error) }, n int64) {
	buf := make([]byte, 256<<10)
	for n > 0 {
		k, err := w.Write(buf[:min(int64(len(buf)), n)])
		if err != nil {
			return
		}
		n -= int64(k)
	}
}

// gzipMember is one gzip member holding n zero bytes.
func gzipMember(t *testing.T, n int64) []byte {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	require.NoError(t, err)
	writeZeros(zw, n)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// allocatedDuring returns the bytes the process allocated while f ran (an
// upper bound of how far the heap grew) and f's result.
func allocatedDuring(f func() error) (uint64, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// TestAHostileBodyEndsTheCallAtTheCapWithoutHoldingIt serves bodies that no
// container could hold (endless, announced at 700 MiB, a gzip bomb) with the
// default cap of 64 MiB. Each must end the call with a malformed-response
// error naming the cap and the request-id, after one attempt (the same
// request would get the same body; the job ends, as on any guard), while the
// process allocates at most about twice the cap. The former reader, capped at
// 512 MiB and growing a bytes.Buffer by doubling, allocated over 1 GiB here
// (and a 700 MiB body peaked at 2.1 GB RSS).
func TestAHostileBodyEndsTheCallAtTheCapWithoutHoldingIt(t *testing.T) {
	const budget = 2*api.DefaultMaxResponseBytes + 16<<20
	tests := []struct {
		name string
		step step
	}{
		{"endless chunked body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("request-id", "req_hostile")
			writeZeros(w, hostileBodyBytes)
		}},
		{"700 MiB announced by Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("request-id", "req_hostile")
			w.Header().Set("content-length", strconv.Itoa(700<<20))
			writeZeros(w, 700<<20)
		}},
		{"gzip bomb", func(w http.ResponseWriter, _ *http.Request) {
			// Concatenated gzip members (which a gzip reader reads as one
			// stream), each about 1 KiB that inflates to 1 MiB.
			w.Header().Set("request-id", "req_hostile")
			w.Header().Set("content-encoding", "gzip")
			member := gzipMember(t, 1<<20)
			for range hostileBodyBytes >> 20 {
				if _, err := w.Write(member); err != nil {
					return
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.step, page(emptyPage))
			c := newClient(t, s.srv.URL, newClock())
			allocated, err := allocatedDuring(func() error {
				_, err := c.ListActivities(t.Context(), api.ListParams{Limit: 5000})
				return err
			})
			t.Logf("allocated %d MiB during the call; peak RSS of the test process so far: %s", allocated>>20, peakRSS())
			var merr *api.MalformedError
			require.True(t, errors.As(err, &merr), "a malformed-response error, got %v", err)
			assert.ErrorIs(t, err, api.ErrMalformed)
			assert.Contains(t, err.Error(), "larger than max_response_size (64MiB)")
			assert.Contains(t, err.Error(), "request-id req_hostile")
			assert.False(t, api.IsRetryable(err), "not retried: the next job tries again")
			assert.Len(t, s.Requests(), 1, "one attempt")
			assert.Less(t, allocated, uint64(budget), "allocated %d MiB reading a hostile body", allocated>>20)
		})
	}
}

// TestAPageJustUnderTheCapIsAccepted: the cap refuses only what exceeds it,
// with or without a Content-Length.
func TestAPageJustUnderTheCapIsAccepted(t *testing.T) {
	const limit = 1 << 20
	act := `{"id":"activity_1","type":"claude_chat_created","created_at":"2026-04-21T14:00:00Z","pad":"`
	body := `{"data":[` + act + strings.Repeat("x", limit-200) + `"}],"has_more":false,"first_id":"activity_1","last_id":"activity_1"}`
	require.Less(t, len(body), limit)
	for _, chunked := range []bool{false, true} {
		s := newScript(t, func(w http.ResponseWriter, _ *http.Request) {
			if !chunked {
				w.Header().Set("content-length", strconv.Itoa(len(body)))
			}
			_, _ = w.Write([]byte(body[:10]))
			if f, ok := w.(http.Flusher); ok && chunked {
				f.Flush()
			}
			_, _ = w.Write([]byte(body[10:]))
		})
		c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) { c.MaxResponseBytes = limit })
		pg, err := c.ListActivities(t.Context(), api.ListParams{})
		require.NoError(t, err, "chunked %v", chunked)
		require.Len(t, pg.Activities, 1)
	}
}

// TestAPageWithMoreActivitiesThanRequestedIsMalformed: the API never returns
// more than limit activities, so a page that does is a broken or hostile
// upstream; refusing it also bounds what decoding allocates (a 64 MiB body of
// tiny activities would otherwise decode to about a million of them).
func TestAPageWithMoreActivitiesThanRequestedIsMalformed(t *testing.T) {
	act := `{"id":"activity_%d","type":"claude_chat_created","created_at":"2026-04-21T14:00:00Z"}`
	body := func(n int) string {
		acts := make([]string, n)
		for i := range acts {
			acts[i] = strings.Replace(act, "%d", strconv.Itoa(i), 1)
		}
		return `{"data":[` + strings.Join(acts, ",") + `],"has_more":false}`
	}
	for _, tt := range []struct{ limit, served int }{{3, 4}, {0, api.MaxLimit + 1}, {api.MaxLimit, api.MaxLimit + 1}} {
		s := newScript(t, page(body(tt.served)), page(body(tt.limit)))
		c := newClient(t, s.srv.URL, newClock())
		_, err := c.ListActivities(t.Context(), api.ListParams{Limit: tt.limit})
		require.ErrorIs(t, err, api.ErrMalformed, "limit %d, served %d", tt.limit, tt.served)
		max := tt.limit
		if max == 0 {
			max = api.MaxLimit
		}
		assert.ErrorContains(t, err, "data: holds more than the "+strconv.Itoa(max)+" activities requested")
		assert.Len(t, s.Requests(), 1)
	}
	s := newScript(t, page(body(3)))
	pg, err := newClient(t, s.srv.URL, newClock()).ListActivities(t.Context(), api.ListParams{Limit: 3})
	require.NoError(t, err, "exactly the limit is fine")
	assert.Len(t, pg.Activities, 3)
}

// peakRSS is the process's peak resident set (VmHWM), for the test log.
func peakRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
