package snapshot_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/emit"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const testKey = "sk-ant-api01-snapshot-test-key"

// t0 is where the fake's world ends and its clock starts.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// growth changes users, groups, projects and settings every few minutes.
var growth = fakeapi.WorldGrowth{UserChangesPerHour: 40, GroupChangesPerHour: 40, ProjectChangesPerHour: 30, SettingChangesPerHour: 20}

// rig is the fake API over a growing world, a client of it, a checkpoint
// store and a consumer of the collector's batches.
type rig struct {
	t      testing.TB
	clock  *fakeapi.ManualClock
	api    *fakeapi.Server
	client *api.Client
	store  *checkpoint.MemoryStore
	out    chan emit.Batch
	sink   *sink
}

func newRig(t testing.TB, wo fakeapi.WorldOptions, fake func(*fakeapi.Options)) *rig {
	t.Helper()
	if wo.To.IsZero() {
		wo.To = t0
	}
	w, err := fakeapi.NewWorld(wo)
	require.NoError(t, err)
	r := &rig{t: t, clock: fakeapi.NewManualClock(wo.To), store: checkpoint.NewMemoryStore(), out: make(chan emit.Batch)}
	o := fakeapi.Options{World: w, Clock: r.clock.Now, APIKeys: []string{testKey}, MaxRecords: -1}
	if fake != nil {
		fake(&o)
	}
	r.api, err = fakeapi.New(o)
	require.NoError(t, err)
	hs := httptest.NewServer(r.api)
	t.Cleanup(hs.Close)
	retry := api.DefaultRetryPolicy()
	retry.InitialInterval = time.Millisecond
	r.client, err = api.New(api.Config{BaseURL: hs.URL, APIKey: testKey, AnthropicVersion: "2023-06-01",
		Retry: retry, Budget: api.DefaultBudget(), Now: r.clock.Now})
	require.NoError(t, err)
	r.sink = newSink(r.out)
	t.Cleanup(r.sink.stop)
	return r
}

// config is a collector config of endpoint with small pages and batches.
func config(endpoint, mode string) snapshot.Config {
	return snapshot.Config{Endpoint: endpoint, BaseURL: "https://api.example", Emit: mode, IncludePrevious: true,
		MaxRecords: 1_000_000, PageSize: 7, BatchSize: 5, AckWarnAfter: time.Hour}
}

// wallNow reads the fake's clock and makes real timers.
type wallNow struct{ now func() time.Time }

func (c wallNow) Now() time.Time                        { return c.now() }
func (wallNow) NewTimer(d time.Duration) schedule.Timer { return schedule.RealClock{}.NewTimer(d) }

// collector builds a collector of cfg on the rig's store (a new one is a
// restart: nothing survives but the store).
func (r *rig) collector(cfg snapshot.Config, mods ...func(*snapshot.Deps)) *snapshot.Collector {
	r.t.Helper()
	deps := snapshot.Deps{API: r.client, Store: r.store, Key: "anthropic_compliance/test/" + cfg.Endpoint,
		Clock: wallNow{r.clock.Now}, Out: r.out, ScopeOf: scopeOf}
	for _, m := range mods {
		m(&deps)
	}
	c, err := snapshot.New(cfg, deps)
	require.NoError(r.t, err)
	return c
}

// scopeOf is the input's table, for the endpoints these tests use.
func scopeOf(e string) string {
	switch e {
	case api.EndpointUsers, api.EndpointGroupMembers, api.EndpointProjects, api.EndpointProjectAttachments, api.EndpointProjectCollaborators,
		api.EndpointProjectDocuments:
		return fakeapi.ScopeUserData
	}
	return fakeapi.ScopeOrgData
}

// run runs one job to its end.
func run(t *testing.T, c *snapshot.Collector) (collector.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.RunJob(ctx, time.Time{}, make(chan struct{}))
}

// mustRun runs a job that must succeed.
func mustRun(t *testing.T, c *snapshot.Collector) collector.Report {
	t.Helper()
	rep, err := run(t, c)
	require.NoError(t, err)
	require.Equal(t, collector.OutcomeSuccess, rep.Outcome, rep.Error)
	return rep
}

// stored reads the rig's checkpoint of endpoint.
func (r *rig) stored(endpoint string) *snapshot.Checkpoint {
	r.t.Helper()
	data, err := r.store.Load(context.Background(), "anthropic_compliance/test/"+endpoint)
	if errors.Is(err, checkpoint.ErrNotFound) {
		return nil
	}
	require.NoError(r.t, err)
	cp, err := snapshot.DecodeCheckpoint(data)
	require.NoError(r.t, err)
	return cp
}

// ---------------------------------------------------------------------------

// msg is one message as the sink received it.
type msg struct {
	Body  json.RawMessage
	Meta  map[string]string
	Batch int
}

// verdict is what the sink does with a batch.
type verdict int

const (
	ackIt verdict = iota
	holdIt
	nackIt
)

// sink consumes batches like the pipeline: it records every message and
// acks, holds or nacks each batch by its policy.
type sink struct {
	mu     sync.Mutex
	got    []msg
	acked  []msg
	held   []emit.Batch
	n      int
	policy func(n int, b emit.Batch) verdict
	done   chan struct{}
	wg     sync.WaitGroup
}

func newSink(in <-chan emit.Batch) *sink {
	s := &sink{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case b := <-in:
				s.take(b)
			case <-s.done:
				return
			}
		}
	}()
	return s
}

func (s *sink) take(b emit.Batch) {
	s.mu.Lock()
	s.n++
	n := s.n
	var msgs []msg
	for _, m := range b.Messages {
		meta := map[string]string{}
		for _, kv := range m.Meta {
			meta[kv.Key] = kv.Value
		}
		msgs = append(msgs, msg{Body: m.Body, Meta: meta, Batch: n})
	}
	s.got = append(s.got, msgs...)
	v := ackIt
	if s.policy != nil {
		v = s.policy(n, b)
	}
	switch v {
	case ackIt:
		s.acked = append(s.acked, msgs...)
	case holdIt:
		s.held = append(s.held, b)
	}
	s.mu.Unlock()
	switch v {
	case ackIt:
		b.Ack(nil)
	case nackIt:
		b.Ack(errors.New("the sink refuses this batch"))
	}
}

func (s *sink) stop() {
	close(s.done)
	s.wg.Wait()
}

func (s *sink) setPolicy(fn func(n int, b emit.Batch) verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = fn
}

// release acks every held batch.
func (s *sink) release() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	for _, b := range held {
		for _, m := range b.Messages {
			meta := map[string]string{}
			for _, kv := range m.Meta {
				meta[kv.Key] = kv.Value
			}
			s.acked = append(s.acked, msg{Body: m.Body, Meta: meta})
		}
	}
	s.mu.Unlock()
	for _, b := range held {
		b.Ack(nil)
	}
}

func (s *sink) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// reset forgets what was received and acked.
func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.acked = nil, nil
}

func (s *sink) received() []msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *sink) ackedMsgs() []msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acked)
}

// keys returns the record keys of msgs (markers left out).
func keys(msgs []msg) []string {
	var out []string
	for _, m := range msgs {
		if k := m.Meta[snapshot.MetaRecordKey]; k != "" {
			out = append(out, k)
		}
	}
	return out
}

// byChange groups the record keys of change messages by change.
func byChange(msgs []msg) map[string][]string {
	out := map[string][]string{}
	for _, m := range msgs {
		out[m.Meta[snapshot.MetaChange]] = append(out[m.Meta[snapshot.MetaChange]], m.Meta[snapshot.MetaRecordKey])
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// ---------------------------------------------------------------------------
// The oracle: what the fake's world holds, as record keys.

// userKeys are the users endpoint's keys of a fake snapshot.
func userKeys(s fakeapi.Snapshot) []string {
	var out []string
	for org, ids := range s.Users {
		for _, id := range ids {
			out = append(out, "user:"+org+"/"+id)
		}
	}
	slices.Sort(out)
	return out
}

// memberKeys are the member keys of the groups endpoint.
func memberKeys(s fakeapi.Snapshot) []string {
	var out []string
	for g, ids := range s.Groups {
		for _, id := range ids {
			out = append(out, "member:"+g+"/"+id)
		}
	}
	slices.Sort(out)
	return out
}

// minus is a - b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// ofType keeps the keys of type typ.
func ofType(ks []string, typ string) []string {
	var out []string
	for _, k := range ks {
		if len(k) > len(typ) && k[:len(typ)+1] == typ+":" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
