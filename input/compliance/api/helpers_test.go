package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// testKey is distinctive so that a leak is found by a plain substring search.
const testKey = "sk-ant-api01-LEAKCANARY-7f3a9c2e5b1d"

// t0 is the fake clock's start.
var t0 = time.Date(2026, 4, 21, 14, 38, 0, 0, time.UTC)

// fakeClock is Config.Now and Config.Sleep: sleeping records the duration
// and advances the clock, so no test waits for real.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// step answers one request of a scripted server.
type step func(w http.ResponseWriter, r *http.Request)

// script is an httptest server answering request i with steps[i] and
// recording every request.
type script struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	steps []step
}

func newScript(t *testing.T, steps ...step) *script {
	t.Helper()
	s := &script{steps: steps}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		i := len(s.reqs)
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.mu.Unlock()
		if i >= len(s.steps) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = fmt.Fprintf(w, "script: unexpected request %d", i+1)
			return
		}
		s.steps[i](w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *script) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// page answers 200 with body and a request-id.
func page(body string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.Header().Set("request-id", "req_ok")
		_, _ = w.Write([]byte(body))
	}
}

const emptyPage = `{"data":[],"has_more":false,"first_id":null,"last_id":null}`

// fail answers status with headers and an error body of the documented shape
// (an empty errType sends body verbatim as text).
func fail(status int, errType, message string, headers ...string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if errType == "" {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(message))
			return
		}
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%q},"request_id":"req_body"}`, errType, message)
	}
}

// newClient builds a client for srv with the fake clock, default retry and
// budget policies, and a jitter source fixed at the midpoint (no jitter).
func newClient(t *testing.T, url string, clock *fakeClock, mods ...func(*api.Config)) *api.Client {
	t.Helper()
	cfg := api.Config{
		BaseURL:          url,
		APIKey:           testKey,
		AnthropicVersion: "2023-06-01",
		UserAgent:        "compliance-connect-test/1",
		Retry:            api.DefaultRetryPolicy(),
		Budget:           api.DefaultBudget(),
		Now:              clock.Now,
		Sleep:            clock.Sleep,
		Rand:             func() float64 { return 0.5 },
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := api.New(cfg)
	require.NoError(t, err)
	return c
}

func secs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}
