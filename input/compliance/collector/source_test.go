package collector_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

// versionSource is a minimal Source: versions of records, oldest first by
// their time, each with children emitted one per batch after the version's
// own batch.
type versionSource struct {
	mu       sync.Mutex
	clock    *clock
	versions []fakeVersion
	probes   int
	marks    []string // "key: the mark seen before it" of every fresh version
}

type fakeVersion struct {
	key      string
	at       time.Time
	children []string
	silent   bool // emits nothing (a chat without files, for the files endpoint)
	// childAt places children (default: at); those before the slice are
	// not returned, like messages created before a window.
	childAt map[string]time.Time
}

func (f *versionSource) Probe(context.Context) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	return f.clock.Now().Truncate(time.Second), nil
}

func (f *versionSource) Walk(w *collector.SliceWalk) (bool, time.Duration, error) {
	f.mu.Lock()
	r := w.Range()
	var in []fakeVersion
	for _, v := range f.versions {
		if !v.at.Before(r.From) && v.at.Before(r.To) {
			in = append(in, v)
		}
	}
	f.mu.Unlock()
	origin := w.Page(api.Meta{RequestID: "req", ServerDate: f.clock.Now().Truncate(time.Second)}, len(in))
	for _, v := range in {
		u := w.Version(collector.Key{ID: v.key, At: v.at}, nil)
		if u == nil {
			continue
		}
		item := func(id string) []collector.Item {
			return []collector.Item{{Origin: origin, Record: &collector.Record{Body: []byte(id)}}}
		}
		base := strings.Split(v.key, "@")[0]
		prev, ok := w.MarkOf(base)
		f.marks = append(f.marks, fmt.Sprintf("%s: %v %s", v.key, ok, prev.Format("15:04")))
		w.Mark(base, v.at)
		if v.silent {
			u.Close()
			continue
		}
		if !u.Emit(item(v.key), nil, nil) {
			return false, 0, nil
		}
		for _, c := range v.children {
			k := collector.Key{ID: c, At: v.at}
			if t, ok := v.childAt[c]; ok {
				k.At = t
			}
			if k.At.Before(r.From) || !w.Child(k) {
				continue
			}
			if !u.Emit(item(c), []collector.Key{k}, nil) {
				return false, 0, nil
			}
		}
		w.Count("versions_emitted", 1)
		u.Close()
	}
	return true, 0, nil
}

func (e *testEnv) sourceCollector(key string, src collector.Source) *collector.Collector {
	e.t.Helper()
	e.cfg.Endpoint, e.cfg.PositionKey = "chats", "updated_at"
	deps := collector.Deps{Source: src, Clock: e.clock, Keeper: checkpoint.NewKeeper(e.store, key), Log: e.log}
	c, err := collector.New(e.cfg, deps)
	require.NoError(e.t, err)
	return c
}

// bodies consumes like consume but records the record bodies.
func bodies(t *testing.T, c *collector.Collector, policy func(body string) error) (func() []string, func()) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case b := <-c.Batches():
				body := string(b.Items[0].Record.Body)
				mu.Lock()
				got = append(got, body)
				mu.Unlock()
				var err error
				if policy != nil {
					err = policy(body)
				}
				b.Ack(err)
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}, func() { cancel(); <-done }
}

func TestASourceCollectsVersionsAndChildrenOnceAndCommitsTheirKeys(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T09:00:00Z")
	src := &versionSource{clock: e.clock, versions: []fakeVersion{
		{key: "chat_a@09:30", at: at("2026-11-25T09:30:00Z"), children: []string{"msg:a1", "msg:a2"}},
		{key: "chat_b@11:55", at: at("2026-11-25T11:55:00Z"), children: []string{"msg:b1"}},
	}}
	c := e.sourceCollector("k", src)
	got, stop := bodies(t, c, nil)
	defer stop()

	rep, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"chat_a@09:30", "msg:a1", "msg:a2", "chat_b@11:55", "msg:b1"}, got())
	assert.Equal(t, 2, rep.Counts["versions_emitted"])
	assert.Equal(t, 5, rep.Emitted)
	rec := e.record("k")
	assert.Equal(t, "updated_at", rec.Identity.Key)
	assert.Equal(t, "2026-11-25T11:58:00Z", rec.ScannedTo.Format(time.RFC3339))
	for _, k := range []string{"chat_b@11:55", "msg:b1"} {
		assert.True(t, rec.Seen.Has(k), k)
	}
	assert.False(t, rec.Seen.Has("msg:a1"), "pruned below scanned_to - overlap")
	assert.Equal(t, 1, src.probes, "the API's clock is read through the source")

	// chat_b is in the overlap of the next job: dropped, its children too.
	e.clock.Advance(5 * time.Minute)
	src.mu.Lock()
	src.versions = append(src.versions, fakeVersion{key: "chat_b@12:01", at: at("2026-11-25T12:01:00Z"), children: []string{"msg:b1", "msg:b2"},
		childAt: map[string]time.Time{"msg:b1": at("2026-11-25T11:55:00Z")}})
	src.mu.Unlock()
	rep, err = run(t, c)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Duplicates)
	assert.Equal(t, []string{"chat_a@09:30", "msg:a1", "msg:a2", "chat_b@11:55", "msg:b1", "chat_b@12:01", "msg:b2"}, got(),
		"the edited version comes again with its new child only")
	assert.Equal(t, []string{"chat_a@09:30: false 00:00", "chat_b@11:55: false 00:00", "chat_b@12:01: true 11:55"}, src.marks,
		"a version finds the mark its chat's committed version left")
	assert.Equal(t, at("2026-11-25T12:01:00Z"), e.record("k").Marks["chat_b"])
}

func TestAVersionIsPendingOnlyOnceEveryBatchOfItWasAcknowledged(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	src := &versionSource{clock: e.clock, versions: []fakeVersion{
		{key: "chat_a@11:10", at: at("2026-11-25T11:10:00Z"), children: []string{"msg:a1", "msg:a2", "msg:a3"}},
		{key: "chat_c@11:20", at: at("2026-11-25T11:20:00Z"), children: nil},
	}}
	c := e.sourceCollector("k", src)
	nack := true
	got, stop := bodies(t, c, func(body string) error {
		if body == "msg:a2" && nack {
			nack = false
			return errors.New("output refused")
		}
		return nil
	})
	defer stop()

	_, err := run(t, c)
	require.Error(t, err, "a nack fails the job")
	rec := e.record("k")
	pending := make([]string, 0, len(rec.Pending))
	for id := range rec.Pending {
		pending = append(pending, id)
	}
	sort.Strings(pending)
	assert.NotContains(t, pending, "chat_a@11:10", "a version with an undelivered child is fetched again")
	assert.NotContains(t, pending, "msg:a2")
	assert.Contains(t, pending, "msg:a1")

	// The batches job 1 handed out before the nack failed it are still
	// received and acknowledged after it ended: wait for them, then note
	// what was delivered (everything received but the refused msg:a2).
	require.Eventually(t, func() bool { return c.HeldBatches() == 0 }, 10*time.Second, time.Millisecond)
	first := got()
	delivered := map[string]bool{}
	for _, b := range first {
		delivered[b] = b != "msg:a2"
	}

	e.clock.Advance(time.Minute)
	_, err = run(t, c)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return e.record("k").ScannedTo.Format(time.RFC3339) == "2026-11-25T11:59:00Z"
	}, 10*time.Second, time.Millisecond, "the second job commits its window once everything is acknowledged")
	want := []string{"chat_a@11:10", "msg:a2"}
	for _, k := range []string{"msg:a3", "chat_c@11:20"} {
		if !delivered[k] {
			want = append(want, k)
		}
	}
	assert.Equal(t, want, got()[len(first):],
		"the version is emitted again with the children not delivered yet, not with msg:a1 (nor what job 1 delivered after the nack)")
}

func TestAVersionThatEmitsNothingIsDeliveredWhenItsUnitCloses(t *testing.T) {
	// The files endpoint claims chat versions that have no file: such a unit
	// has no batch, and closing it records the version as delivered (pending
	// when its slice fails), so it is not fetched again.
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T11:00:00Z")
	src := &versionSource{clock: e.clock, versions: []fakeVersion{
		{key: "chat_a@11:05", at: at("2026-11-25T11:05:00Z"), silent: true},
		{key: "chat_b@11:15", at: at("2026-11-25T11:15:00Z")},
	}}
	c := e.sourceCollector("k", src)
	_, stop := bodies(t, c, func(body string) error {
		if body == "chat_b@11:15" {
			return fmt.Errorf("refused")
		}
		return nil
	})
	defer stop()
	_, err := run(t, c)
	require.Error(t, err)
	rec := e.record("k")
	assert.Contains(t, rec.Pending, "chat_a@11:05")
	assert.NotContains(t, rec.Pending, "chat_b@11:15")
}

func TestMarksOlderThanTheHorizonArePrunedAtCommit(t *testing.T) {
	e := newEnv(t, "2026-11-25T12:00:00Z")
	e.cfg.Earliest = timeexpr.MustParse("2026-11-25T09:00:00Z")
	e.cfg.MarkHorizon = time.Hour
	src := &versionSource{clock: e.clock, versions: []fakeVersion{
		{key: "chat_a@09:30", at: at("2026-11-25T09:30:00Z"), silent: true},
		{key: "chat_b@11:30", at: at("2026-11-25T11:30:00Z"), silent: true},
	}}
	c := e.sourceCollector("k", src)
	_, stop := bodies(t, c, nil)
	defer stop()
	_, err := run(t, c)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"chat_b": at("2026-11-25T11:30:00Z")}, e.record("k").Marks,
		"chat_a's mark is older than scanned_to (11:58) - 1h")
}
