package content_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const testKey = "sk-ant-api01-content-test-key-0123456789"

// worldTo is where the fake's base world ends.
var worldTo = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// rig is the fake API over a world on a fake clock (the collector's, the
// client's and the fake's), with a hook in front of it, and a client.
type rig struct {
	t      testing.TB
	clock  *schedule.FakeClock
	srv    *fakeapi.Server
	client *api.Client
	store  *checkpoint.MemoryStore

	mu   sync.Mutex
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func newRig(t testing.TB, wo fakeapi.WorldOptions, mod func(*fakeapi.Options)) *rig {
	t.Helper()
	if wo.To.IsZero() {
		wo.To, wo.From = worldTo, worldTo.Add(-24*time.Hour)
	}
	world, err := fakeapi.NewWorld(wo)
	require.NoError(t, err)
	r := &rig{t: t, clock: schedule.NewFakeClock(wo.To.Add(10 * time.Minute)), store: checkpoint.NewMemoryStore()}
	o := fakeapi.Options{World: world, Clock: r.clock.Now, APIKeys: []string{testKey}, MaxRecords: -1}
	if mod != nil {
		mod(&o)
	}
	r.srv, err = fakeapi.New(o)
	require.NoError(t, err)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		hook := r.hook
		r.mu.Unlock()
		if hook != nil && hook(w, req) {
			return
		}
		r.srv.ServeHTTP(w, req)
	}))
	t.Cleanup(hs.Close)
	retry := api.DefaultRetryPolicy()
	r.client, err = api.New(api.Config{
		BaseURL: hs.URL, APIKey: testKey, Retry: retry, Budget: api.DefaultBudget(), Now: r.clock.Now,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	})
	require.NoError(t, err)
	return r
}

func (r *rig) setHook(fn func(w http.ResponseWriter, req *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = fn
}

// engine is the collector's config for a content endpoint: fixed small
// slices so that a day of chats spans many of them.
func (r *rig) engine(endpoint string, f content.Filters) collector.Config {
	return collector.Config{
		Endpoint: endpoint, BaseURL: "https://api.example", PageSize: 50,
		Settle: 2 * time.Minute, Overlap: 5 * time.Minute,
		Slices:        window.SliceConfig{MinSlice: 10 * time.Minute, MaxSlice: 30 * time.Minute, Target: 40},
		MaxOpenSlices: 2,
		Earliest:      timeexpr.MustParse(worldTo.Add(-24 * time.Hour).Format(time.RFC3339)),
		Latest:        timeexpr.MustParse("now"),
		StateTracking: true, BatchSize: 7, DrainGrace: 5 * time.Second,
		FiltersHash: f.Hash(), PositionKey: "updated_at", MarkHorizon: 7 * 24 * time.Hour,
	}
}

func (r *rig) collector(cfg collector.Config, src collector.Source) *collector.Collector {
	r.t.Helper()
	c, err := collector.New(cfg, collector.Deps{Source: src, Clock: r.clock, Keeper: checkpoint.NewKeeper(r.store, "k/"+cfg.Endpoint)})
	require.NoError(r.t, err)
	return c
}

func (r *rig) record(endpoint string) *checkpoint.Record {
	r.t.Helper()
	rec, err := checkpoint.NewKeeper(r.store, "k/"+endpoint).Load(context.Background())
	require.NoError(r.t, err)
	return rec
}

// delivered is one message the pipeline received.
type delivered struct {
	body []byte
	meta map[string]string
}

func (d delivered) typ() string { return d.meta["compliance_record_type"] }

// sink receives a collector's batches and acks them by its policy.
type sink struct {
	mu      sync.Mutex
	got     []delivered
	held    []collector.Batch
	policy  func(batch []delivered) (hold bool, err error)
	batches int
}

func (r *rig) sink(c *collector.Collector) *sink {
	s := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case b := <-c.Batches():
				batch := make([]delivered, len(b.Items))
				for i, it := range b.Items {
					m := map[string]string{}
					for _, f := range it.Record.Meta {
						m[f.Key] = f.Value
					}
					batch[i] = delivered{body: it.Record.Body, meta: m}
				}
				s.mu.Lock()
				policy := s.policy
				s.batches++
				s.mu.Unlock()
				var hold bool
				var err error
				if policy != nil {
					hold, err = policy(batch)
				}
				s.mu.Lock()
				if err == nil {
					s.got = append(s.got, batch...)
				}
				if hold {
					s.held = append(s.held, b)
				}
				s.mu.Unlock()
				if !hold {
					b.Ack(err)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	r.t.Cleanup(func() { cancel(); <-done })
	return s
}

func (s *sink) all() []delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivered(nil), s.got...)
}

func (s *sink) setPolicy(p func([]delivered) (bool, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

func (s *sink) release() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, b := range held {
		b.Ack(nil)
	}
}

// runJob runs one job to its end.
func runJob(t testing.TB, c *collector.Collector) (collector.Report, error) {
	t.Helper()
	type result struct {
		rep collector.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := c.RunJob(context.Background(), time.Time{}, make(chan struct{}))
		done <- result{rep, err}
	}()
	select {
	case res := <-done:
		return res.rep, res.err
	case <-time.After(60 * time.Second):
		t.Fatal("job did not end within 60s")
		return collector.Report{}, nil
	}
}

// messagesOf returns the message ids a delivered record carries: its own
// (chat_message) or its chat_messages (per_chat).
func messagesOf(t testing.TB, d delivered) []string {
	t.Helper()
	if d.typ() == content.RecordMessage {
		return []string{d.meta["chat_message_id"]}
	}
	var doc struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"chat_messages"`
	}
	require.NoError(t, json.Unmarshal(d.body, &doc), "%s", d.body)
	out := make([]string, len(doc.Messages))
	for i, m := range doc.Messages {
		out[i] = m.ID
	}
	return out
}

// notFound answers 404 like the API for a chat that no longer exists.
func notFound(w http.ResponseWriter, what string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req_hook")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"type":"error","error":{"type":"not_found_error","message":"` + what + `"},"request_id":"req_hook"}`))
}

func isMessagesOf(req *http.Request, chatID string) bool {
	return strings.HasSuffix(req.URL.Path, "/apps/chats/"+chatID+"/messages")
}
