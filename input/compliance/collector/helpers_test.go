package collector_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// clock is the collector's fake clock: time and timers move only when a
// test says so.
type clock = schedule.FakeClock

// feed is a minimal in-memory Activity Feed: newest first by (created_at,
// id), gte/lt bounds, after_id adjacency, visibility by a clock.
type feed struct {
	mu      sync.Mutex
	clock   *clock
	acts    []fakeAct
	calls   []api.ListParams
	fail    func(call int, p api.ListParams) error
	mutate  func(call int, p *api.Page)
	date    func() time.Time
	perPage int // overrides p.Limit when > 0
	// server, when set, is the API's clock for visibility (default: clock).
	server func() time.Time
}

type fakeAct struct {
	api.Activity
	visibleAt time.Time
}

func newFeed(c *clock) *feed { return &feed{clock: c} }

// add inserts activities visible from their created_at (no indexing lag).
func (f *feed) add(acts ...api.Activity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range acts {
		f.insert(a, a.CreatedAt)
	}
	f.sort()
}

func (f *feed) addVisible(a api.Activity, visibleAt time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.insert(a, visibleAt)
	f.sort()
}

func (f *feed) insert(a api.Activity, visibleAt time.Time) {
	if a.Raw == nil {
		a.Raw = []byte(fmt.Sprintf(`{"id":%q,"type":%q,"created_at":%q}`, a.ID, a.Type, a.CreatedAt.UTC().Format(time.RFC3339Nano)))
	}
	f.acts = append(f.acts, fakeAct{Activity: a, visibleAt: visibleAt})
}

func (f *feed) sort() {
	sort.Slice(f.acts, func(i, j int) bool {
		a, b := f.acts[i], f.acts[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.ID > b.ID
	})
}

func (f *feed) requests() []api.ListParams {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ListParams(nil), f.calls...)
}

func (f *feed) ListActivities(_ context.Context, p api.ListParams) (*api.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, p)
	n := len(f.calls)
	if f.fail != nil {
		if err := f.fail(n, p); err != nil {
			return nil, err
		}
	}
	gte, _ := time.Parse(time.RFC3339, p.CreatedAtGTE)
	lt, _ := time.Parse(time.RFC3339, p.CreatedAtLT)
	now := f.clock.Now()
	visibleNow := now
	if f.server != nil {
		visibleNow = f.server()
	}
	var list []api.Activity
	for _, a := range f.acts {
		if visibleNow.Before(a.visibleAt) || a.CreatedAt.Before(gte) || !a.CreatedAt.Before(lt) {
			continue
		}
		list = append(list, a.Activity)
	}
	start := 0
	if p.AfterID != "" {
		start = -1
		for i, a := range list {
			if a.ID == p.AfterID {
				start = i + 1
			}
		}
		if start < 0 {
			return nil, &api.Error{Status: 400, Type: "invalid_request_error", Message: "unknown after_id " + p.AfterID}
		}
	}
	limit := p.Limit
	if f.perPage > 0 {
		limit = f.perPage
	}
	end := min(start+limit, len(list))
	page := &api.Page{Activities: append([]api.Activity(nil), list[start:end]...), HasMore: end < len(list), RequestID: fmt.Sprintf("req_%d", n)}
	if len(page.Activities) > 0 {
		page.FirstID = page.Activities[0].ID
		page.LastID = page.Activities[len(page.Activities)-1].ID
	}
	if f.date != nil {
		page.ServerDate = f.date()
	} else {
		page.ServerDate = now.Truncate(time.Second)
	}
	if f.mutate != nil {
		f.mutate(n, page)
	}
	return page, nil
}

// spread returns n activities evenly spread over [from, from+span).
func spread(prefix string, n int, from time.Time, span time.Duration) []api.Activity {
	out := make([]api.Activity, n)
	for i := range out {
		out[i] = api.Activity{
			ID:        fmt.Sprintf("%s_%06d", prefix, i),
			Type:      "claude_chat_created",
			CreatedAt: from.Add(time.Duration(int64(span) * int64(i) / int64(n))).Truncate(time.Second),
		}
	}
	return out
}

// consumer receives batches and acks them by a policy.
type consumer struct {
	mu       sync.Mutex
	got      []string // activity ids in delivery order
	batches  int
	policy   func(b collector.Batch) error // nil = ack nil; returning errHold keeps the batch unacked
	held     []collector.Batch
	received chan struct{}
}

var errHold = fmt.Errorf("hold")

func consume(t *testing.T, c *collector.Collector, policy func(collector.Batch) error) (*consumer, func()) {
	t.Helper()
	k := &consumer{policy: policy, received: make(chan struct{}, 1<<16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case b := <-c.Batches():
				var err error
				if k.policy != nil {
					err = k.policy(b)
				}
				k.mu.Lock()
				k.batches++
				for _, it := range b.Items {
					k.got = append(k.got, it.Activity.ID)
				}
				if err == errHold {
					k.held = append(k.held, b)
				}
				k.mu.Unlock()
				if err != errHold {
					b.Ack(err)
				}
				k.received <- struct{}{}
			case <-ctx.Done():
				return
			}
		}
	}()
	return k, func() { cancel(); <-done }
}

func (k *consumer) ids() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.got...)
}

func (k *consumer) releaseHeld(err error) {
	k.mu.Lock()
	held := k.held
	k.held = nil
	k.mu.Unlock()
	for _, b := range held {
		b.Ack(err)
	}
}

func (k *consumer) heldCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held)
}

type testEnv struct {
	t     *testing.T
	clock *clock
	feed  *feed
	store *checkpoint.MemoryStore
	cfg   collector.Config
	hooks collector.Hooks
	state collector.StateFuncs
	log   *logCapture
}

// logCapture keeps the collector's log lines.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *logCapture) Debugf(format string, args ...any) { l.add("DEBUG", format, args...) }
func (l *logCapture) Infof(format string, args ...any)  { l.add("INFO", format, args...) }
func (l *logCapture) Warnf(format string, args ...any)  { l.add("WARN", format, args...) }
func (l *logCapture) Errorf(format string, args ...any) { l.add("ERROR", format, args...) }

// matching returns the lines containing every part.
func (l *logCapture) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func newEnv(t *testing.T, now string) *testEnv {
	c := schedule.NewFakeClock(at(now))
	return &testEnv{
		t:     t,
		clock: c,
		log:   &logCapture{},
		feed:  newFeed(c),
		store: checkpoint.NewMemoryStore(),
		cfg: collector.Config{
			Endpoint: "activities",
			BaseURL:  "https://api.example",
			PageSize: 100,
			Settle:   2 * time.Minute,
			Overlap:  5 * time.Minute,
			// Fixed one-hour slices keep most scenarios easy to read; tests
			// of adaptation lower MinSlice.
			Slices:        window.SliceConfig{MinSlice: time.Hour, MaxSlice: time.Hour, Target: 1000},
			MaxOpenSlices: 2,
			Earliest:      timeexpr.MustParse("-1d@d"),
			Latest:        timeexpr.MustParse("now"),
			StateTracking: true,
			BatchSize:     50,
			DrainGrace:    5 * time.Second,
		},
	}
}

func (e *testEnv) collector(key string) *collector.Collector {
	e.t.Helper()
	deps := collector.Deps{Lister: e.feed, Clock: e.clock, Hooks: e.hooks, State: e.state, Log: e.log}
	if e.cfg.StateTracking {
		deps.Keeper = checkpoint.NewKeeper(e.store, key)
	}
	c, err := collector.New(e.cfg, deps)
	require.NoError(e.t, err)
	return c
}

func (e *testEnv) record(key string) *checkpoint.Record {
	e.t.Helper()
	r, err := checkpoint.NewKeeper(e.store, key).Load(context.Background())
	require.NoError(e.t, err)
	return r
}

// run runs one job (ticked now) to its end with a never-closing soft channel.
func run(t *testing.T, c *collector.Collector) (collector.Report, error) {
	t.Helper()
	return runAt(t, c, time.Time{})
}

// runAt runs one job for tick to its end.
func runAt(t *testing.T, c *collector.Collector, tick time.Time) (collector.Report, error) {
	t.Helper()
	j := startJob(c, tick, make(chan struct{}))
	return j.wait(t)
}

// runningJob is a job started in the background.
type runningJob struct {
	done chan struct{}
	rep  collector.Report
	err  error
}

func startJob(c *collector.Collector, tick time.Time, soft chan struct{}) *runningJob {
	j := &runningJob{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.rep, j.err = c.RunJob(context.Background(), tick, soft)
	}()
	return j
}

// wait waits for the job to end (at most 30s of real time, a hang).
func (j *runningJob) wait(t *testing.T) (collector.Report, error) {
	t.Helper()
	select {
	case <-j.done:
		return j.rep, j.err
	case <-time.After(30 * time.Second):
		t.Fatal("job did not end within 30s")
		return collector.Report{}, nil
	}
}

// ended reports whether the job has returned.
func (j *runningJob) ended() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// waitAdvancing waits for the job to end, moving the fake clock to the next
// timer deadline whenever the job waits on one and nothing else happens:
// it plays time forward for a job that waits on the clock (settle waits,
// job_timeout, drain grace) without any sleep. Deadlines later than limit
// are never reached (the test fails instead).
func (j *runningJob) waitAdvancing(t *testing.T, c *clock, limit time.Time) (collector.Report, error) {
	t.Helper()
	giveUp := time.After(30 * time.Second)
	for {
		changed := c.Changed()
		if next, ok := c.NextDeadline(); ok && !next.After(limit) && quiet(j.done, changed) {
			c.Set(next)
			continue
		}
		select {
		case <-j.done:
			return j.rep, j.err
		case <-changed:
		case <-giveUp:
			t.Fatal("job did not end within 30s")
			return collector.Report{}, nil
		}
	}
}

// quiet reports whether neither channel fires within a moment: the job is
// blocked on the clock rather than working. (Real work between two clock
// waits takes microseconds; the moment only saves spinning.)
func quiet(done <-chan struct{}, changed <-chan struct{}) bool {
	select {
	case <-done:
		return false
	case <-changed:
		return false
	case <-time.After(2 * time.Millisecond):
		return true
	}
}

func ids(acts []api.Activity) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.ID
	}
	return out
}
