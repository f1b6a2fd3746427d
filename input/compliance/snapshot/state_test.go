package snapshot_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestHashIsOfTheCanonicalRecord: key order and whitespace do not change a
// record's hash; a value does; a record that is not JSON is an error.
func TestHashIsOfTheCanonicalRecord(t *testing.T) {
	h := func(s string) uint64 {
		v, err := snapshot.Hash([]byte(s))
		require.NoError(t, err)
		return v
	}
	base := h(`{"id":"u1","name":"Ada","roles":["a","b"],"n":12345678901234567890}`)
	assert.Equal(t, base, h(` { "roles" : ["a","b"], "n":12345678901234567890, "name":"Ada","id":"u1" }`))
	assert.NotEqual(t, base, h(`{"id":"u1","name":"Ada","roles":["b","a"],"n":12345678901234567890}`), "list order is content")
	assert.NotEqual(t, base, h(`{"id":"u1","name":"Ada","roles":["a","b"],"n":12345678901234567891}`), "big numbers keep every digit")
	_, err := snapshot.Hash([]byte(`{"id":`))
	assert.Error(t, err)
	assert.Len(t, snapshot.FormatHash(base), 11)
	back, err := snapshot.ParseHash(snapshot.FormatHash(base))
	require.NoError(t, err)
	assert.Equal(t, base, back)
}

// TestCheckpointRoundTripsWithHashesGroupedByParent: the document starts
// with its revision, spells each parent of a key once, and reads back
// equal.
func TestCheckpointRoundTripsWithHashesGroupedByParent(t *testing.T) {
	cp := &snapshot.Checkpoint{
		Identity:   snapshot.Identity{Endpoint: "users", BaseURL: "https://api.example", Filters: "sha256:x", Emit: "changes"},
		SnapshotID: "users-1", CompletedAt: t0, Records: 4, RecordsDoc: "k/records/a", Rev: 7, UpdatedAt: t0.Add(time.Second),
		Hashes: map[string]uint64{"user:org-1/u1": 1, "user:org-1/u2": 2, "org:org-1": 3, "permission:o/r/act/type/": 4},
	}
	data, err := cp.Encode()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), `{"rev":7,`), string(data))
	assert.Contains(t, string(data), `"user:org-1":{"u1":"AAAAAAAAAAE","u2":"AAAAAAAAAAI"}`)
	assert.Contains(t, string(data), `"org:":{"org-1":"AAAAAAAAAAM"}`)
	back, err := snapshot.DecodeCheckpoint(data)
	require.NoError(t, err)
	assert.Equal(t, cp, back)

	for _, bad := range []string{`{"rev":1,"version":1}`, `{"rev":1,"version":2,"completed_at":"soon"}`,
		`{"rev":1,"version":2,"hashes":{"user:o":{"u":"short"}}}`, `not json`} {
		_, err := snapshot.DecodeCheckpoint([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// TestAMismatchedRecordsDocumentLeavesPreviousOutOnceAndIsRepaired: when
// the records document the checkpoint names belongs to another revision (an
// orphan of a crash, or an edit), removed records carry no previous version
// for that run, with a warning, and the next run has them again.
func TestAMismatchedRecordsDocumentLeavesPreviousOutOnceAndIsRepaired(t *testing.T) {
	r := newRig(t, small(12), nil)
	c := r.collector(config(snapshot.Users, snapshot.EmitChanges))
	mustRun(t, c)
	cp := r.stored(snapshot.Users)
	require.NotEmpty(t, cp.RecordsDoc)
	doc, err := r.store.Load(context.Background(), cp.RecordsDoc)
	require.NoError(t, err)
	var parsed map[string]any
	require.NoError(t, json.Unmarshal(doc, &parsed))
	parsed["id"] = "another run"
	tampered, err := json.Marshal(parsed)
	require.NoError(t, err)
	r.store.Put(cp.RecordsDoc, tampered)

	for round := range 2 {
		r.clock.Advance(time.Hour)
		r.sink.reset()
		mustRun(t, c)
		removed := 0
		for _, m := range r.sink.received() {
			if m.Meta[snapshot.MetaChange] != snapshot.Removed {
				continue
			}
			removed++
			var body struct{ Previous json.RawMessage }
			require.NoError(t, json.Unmarshal(m.Body, &body))
			if round == 0 {
				assert.Equal(t, "null", string(body.Previous), "no trusted previous version")
			} else {
				assert.NotEqual(t, "null", string(body.Previous), "the records document was repaired")
			}
		}
		require.NotZero(t, removed, "round %d: users left", round)
	}
}

// BenchmarkSnapshotOfUsers walks N users of the fake (in the same process)
// with emit: snapshot and then emit: changes, and reports records/s and the
// checkpoint's size per 10,000 records.
//
//	go test ./input/compliance/snapshot -run xxx -bench SnapshotOfUsers -benchtime 3x
func BenchmarkSnapshotOfUsers(b *testing.B) {
	const users = 20000
	for _, mode := range []string{snapshot.EmitSnapshot, snapshot.EmitChanges} {
		b.Run(mode, func(b *testing.B) {
			r := newRig(b, fakeapi.WorldOptions{Seed: 1, Orgs: 3, Users: users, Groups: 2, Projects: 1, Chats: 1}, nil)
			cfg := config(snapshot.Users, mode)
			cfg.PageSize, cfg.BatchSize = 1000, 500
			var records int
			start := time.Now()
			for i := 0; i < b.N; i++ {
				r.store = checkpoint.NewMemoryStore() // every run is a first run
				c := r.collector(cfg)
				rep, err := c.RunJob(context.Background(), time.Time{}, make(chan struct{}))
				if err != nil {
					b.Fatal(err)
				}
				records += rep.Returned
			}
			b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
			if data, err := r.store.Load(context.Background(), "anthropic_compliance/test/users"); err == nil && mode == snapshot.EmitChanges {
				b.ReportMetric(float64(len(data))*10000/float64(users), "checkpoint_bytes/10k")
			}
			if data, err := r.store.Load(context.Background(), "anthropic_compliance/test/users/records/a"); err == nil {
				b.ReportMetric(float64(len(data))*10000/float64(users), "records_doc_bytes/10k")
			}
		})
	}
}

// TestADeletedCheckpointStartsOver: the tombstone an operator's delete
// leaves makes the next run start over (every record added again), and the
// revisions continue past it.
func TestADeletedCheckpointStartsOver(t *testing.T) {
	r := newRig(t, small(14), nil)
	c := r.collector(config(snapshot.Users, snapshot.EmitChanges))
	mustRun(t, c)
	rev := r.stored(snapshot.Users).Rev
	r.store.Put("anthropic_compliance/test/users", []byte(`{"rev":`+itoa(rev+1)+`,"version":1,"deleted_at":"2026-11-25T10:00:00Z","identity":{"endpoint":"users","base_url":"https://api.example","filters":"x"}}`))
	r.sink.reset()
	rep := mustRun(t, r.collector(config(snapshot.Users, snapshot.EmitChanges)))
	assert.Equal(t, rep.Counts["records"], rep.Counts[snapshot.Added])
	assert.Equal(t, rev+2, r.stored(snapshot.Users).Rev)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
