package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

var ledgerID = checkpoint.Identity{Endpoint: "activities", BaseURL: "https://api.example", Filters: "sha256:0"}

const ledgerKey = "anthropic_compliance/e2e/activities"

func tm(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func idsAt(pairs ...any) checkpoint.IDSet {
	out := checkpoint.IDSet{}
	for i := 0; i < len(pairs); i += 2 {
		out[pairs[i].(string)] = tm(pairs[i+1].(string)).Unix()
	}
	return out
}

func span(from, to string) checkpoint.Span { return checkpoint.Span{From: tm(from), To: tm(to)} }

func load(t *testing.T, d *checkpoint.Delivered, at, now string) *checkpoint.Bucket {
	t.Helper()
	b, err := d.Load(context.Background(), tm(at), tm(now))
	require.NoError(t, err)
	return b
}

// Ids are recorded in the bucket of their created_at, covered spans are cut
// at bucket bounds and merged, and a second instance reads what the first
// wrote (the record survives a restart).
func TestDeliveredRecordsIdsAndCoverageByBucket(t *testing.T) {
	store := checkpoint.NewMemoryStore()
	d := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour)
	now := "2026-11-25T12:00:00Z"
	res, err := d.Record(context.Background(),
		idsAt("a1", "2026-11-25T10:05:00Z", "a2", "2026-11-25T10:09:59Z", "b1", "2026-11-25T10:10:00Z"),
		[]checkpoint.Span{span("2026-11-25T10:03:00Z", "2026-11-25T10:12:00Z")}, tm(now))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.RecordResult{Written: 2, Added: 3}, res)
	// A later commit extends the coverage; re-recording known ids adds none.
	res, err = d.Record(context.Background(), idsAt("a1", "2026-11-25T10:05:00Z", "b2", "2026-11-25T10:12:30Z"),
		[]checkpoint.Span{span("2026-11-25T10:12:00Z", "2026-11-25T10:14:00Z")}, tm(now))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.RecordResult{Written: 1, Added: 1}, res)
	res, err = d.Record(context.Background(), idsAt("b2", "2026-11-25T10:12:30Z"), nil, tm(now))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.RecordResult{}, res, "nothing new: nothing written")

	restarted := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour)
	a := load(t, restarted, "2026-11-25T10:00:00Z", now)
	assert.Equal(t, []checkpoint.Span{span("2026-11-25T10:03:00Z", "2026-11-25T10:10:00Z")}, a.Covered)
	assert.True(t, a.Has("a1"))
	assert.True(t, a.Has("a2"))
	assert.False(t, a.Has("b1"), "b1 is in the next bucket")
	assert.Equal(t, 2, a.Len())
	b := load(t, restarted, "2026-11-25T10:19:59Z", now)
	assert.Equal(t, []checkpoint.Span{span("2026-11-25T10:10:00Z", "2026-11-25T10:14:00Z")}, b.Covered)
	assert.Equal(t, []checkpoint.Span{span("2026-11-25T10:11:00Z", "2026-11-25T10:14:00Z")},
		b.CoveredWithin(tm("2026-11-25T10:11:00Z"), tm("2026-11-25T10:30:00Z")))
	assert.True(t, b.Has("b1") && b.Has("b2"))
	assert.Empty(t, b.Note)
	quiet := load(t, restarted, "2026-11-25T11:00:00Z", now)
	assert.Empty(t, quiet.Covered)
	assert.Equal(t, "nothing recorded", quiet.Note)
}

// The record keeps its retention and no more: older ids are not written, a
// bucket past it is not read, and a slot is reused only by a bucket a whole
// ring later, which replaces what it held.
func TestDeliveredPrunesBeyondItsRetentionByReusingSlots(t *testing.T) {
	store := checkpoint.NewMemoryStore()
	d := checkpoint.NewDelivered(store, ledgerKey, ledgerID, time.Hour)
	require.Equal(t, 9, d.Slots(), "6 buckets of retention + 3")
	ctx := context.Background()
	_, err := d.Record(ctx, idsAt("old", "2026-11-25T10:05:00Z"), []checkpoint.Span{span("2026-11-25T10:00:00Z", "2026-11-25T10:10:00Z")}, tm("2026-11-25T10:20:00Z"))
	require.NoError(t, err)
	assert.Equal(t, tm("2026-11-25T09:10:00Z"), d.Oldest(tm("2026-11-25T10:20:00Z")))

	later := tm("2026-11-25T11:35:00Z") // bucket 10:00 is now beyond the retention
	res, err := d.Record(ctx, idsAt("late", "2026-11-25T10:06:00Z"), nil, later)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Dropped)
	assert.Zero(t, res.Written)
	assert.Equal(t, "older than the retention of the record of delivered ids", load(t, d, "2026-11-25T10:06:00Z", "2026-11-25T11:35:00Z").Note)

	// 11:30 is 9 buckets after 10:00: same slot.
	_, err = d.Record(ctx, idsAt("new", "2026-11-25T11:31:00Z"), []checkpoint.Span{span("2026-11-25T11:30:00Z", "2026-11-25T11:33:00Z")}, later)
	require.NoError(t, err)
	raw, err := store.Load(ctx, ledgerKey+"/delivered/"+fmt.Sprint(tm("2026-11-25T10:00:00Z").Unix()/600%9))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"from": "2026-11-25T11:30:00Z"`)
	assert.Contains(t, string(raw), `"ids": 1,`)
	b := load(t, d, "2026-11-25T11:31:00Z", "2026-11-25T11:35:00Z")
	assert.True(t, b.Has("new"))
	assert.False(t, b.Has("old"))

	// A record made with a clock running behind cannot put an older bucket
	// back into the slot of a later one.
	res, err = d.Record(ctx, idsAt("behind", "2026-11-25T10:07:00Z"), nil, tm("2026-11-25T10:20:00Z"))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.RecordResult{Dropped: 1}, res)
	assert.Equal(t, "its slot holds a later bucket", load(t, d, "2026-11-25T10:07:00Z", "2026-11-25T10:20:00Z").Note)
}

// Buckets written for another identity (filters adopted) or that do not
// decode cover nothing; the next write of their range replaces them.
func TestDeliveredReplacesForeignAndUnreadableBuckets(t *testing.T) {
	now := tm("2026-11-25T12:00:00Z")
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		stored func(t *testing.T, store *checkpoint.MemoryStore, key string)
		note   string
	}{
		{"another identity", func(t *testing.T, store *checkpoint.MemoryStore, key string) {
			other := checkpoint.NewDelivered(store, ledgerKey, checkpoint.Identity{Endpoint: "activities", Filters: "sha256:1"}, 24*time.Hour)
			_, err := other.Record(ctx, idsAt("x", "2026-11-25T10:05:00Z"), []checkpoint.Span{span("2026-11-25T10:00:00Z", "2026-11-25T10:10:00Z")}, now)
			require.NoError(t, err)
		}, "recorded for another identity"},
		{"not JSON", func(_ *testing.T, store *checkpoint.MemoryStore, key string) { store.Put(key, []byte("garbage")) }, "does not decode"},
		{"ids do not match", func(_ *testing.T, store *checkpoint.MemoryStore, key string) {
			store.Put(key, []byte(`{"rev": 4, "version": 1, "identity": {}, "from": "2026-11-25T10:00:00Z", "to": "2026-11-25T10:10:00Z", "covered": [], "ids": 2, "encoding": "sha256-64/delta-uvarint/base64", "hashes": "AQ=="}`))
		}, "ids: 2, but hashes holds 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := checkpoint.NewMemoryStore()
			d := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour)
			key := ledgerKey + "/delivered/" + fmt.Sprint(tm("2026-11-25T10:00:00Z").Unix()/600%int64(d.Slots()))
			tc.stored(t, store, key)
			b := load(t, d, "2026-11-25T10:05:00Z", "2026-11-25T12:00:00Z")
			assert.Empty(t, b.Covered)
			assert.Contains(t, b.Note, tc.note)
			res, err := d.Record(ctx, idsAt("y", "2026-11-25T10:06:00Z"), []checkpoint.Span{span("2026-11-25T10:06:00Z", "2026-11-25T10:07:00Z")}, now)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Written)
			b = load(t, d, "2026-11-25T10:05:00Z", "2026-11-25T12:00:00Z")
			assert.Equal(t, []checkpoint.Span{span("2026-11-25T10:06:00Z", "2026-11-25T10:07:00Z")}, b.Covered)
			assert.True(t, b.Has("y"))
			assert.False(t, b.Has("x"))
		})
	}
}

// Two writers of one record: the regular and the reconciliation jobs of an
// instance share one Delivered (its writes are serialised); a second writer
// of the same store (another instance, before the lease fences it) makes a
// compare-and-swap fail, which is read again and merged: nothing recorded is
// lost.
func TestDeliveredWritersLoseNothing(t *testing.T) {
	store := checkpoint.NewMemoryStore()
	now := tm("2026-11-25T12:00:00Z")
	ctx := context.Background()
	a := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour)
	b := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour)
	_, err := a.Record(ctx, idsAt("a0", "2026-11-25T10:05:00Z"), nil, now)
	require.NoError(t, err)
	_, err = b.Record(ctx, idsAt("b0", "2026-11-25T10:05:00Z"), nil, now)
	require.NoError(t, err)
	res, err := a.Record(ctx, idsAt("a1", "2026-11-25T10:05:00Z"), nil, now) // a's revision is stale
	require.NoError(t, err)
	assert.Equal(t, checkpoint.RecordResult{Written: 1, Added: 1}, res)

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				_, err := a.Record(ctx, idsAt(fmt.Sprintf("w%d-%d", w, i), "2026-11-25T10:05:00Z"), nil, now)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	got := load(t, checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour), "2026-11-25T10:05:00Z", "2026-11-25T12:00:00Z")
	assert.Equal(t, 83, got.Len())
	for _, id := range []string{"a0", "b0", "a1", "w0-0", "w1-39"} {
		assert.True(t, got.Has(id), id)
	}
}

// A write refused for the lease fails the record and writes nothing.
func TestDeliveredWritesAreFenced(t *testing.T) {
	store := checkpoint.NewMemoryStore()
	lost := errors.New("this instance lost the lease")
	d := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour,
		checkpoint.WithDeliveredFence(checkpoint.Fence{}, func(context.Context) error { return lost }))
	_, err := d.Record(context.Background(), idsAt("x", "2026-11-25T10:05:00Z"), nil, tm("2026-11-25T12:00:00Z"))
	require.ErrorIs(t, err, checkpoint.ErrFenced)
	require.ErrorIs(t, err, lost)
	_, err = store.Load(context.Background(), ledgerKey+"/delivered/0")
	assert.ErrorIs(t, err, checkpoint.ErrNotFound)
}

// The stored document is readable JSON with the revision first, and a
// hostile document is refused with the reason, never read as a bucket.
func TestDeliveredDocumentFormat(t *testing.T) {
	store := checkpoint.NewMemoryStore()
	d := checkpoint.NewDelivered(store, ledgerKey, ledgerID, 24*time.Hour)
	_, err := d.Record(context.Background(), idsAt("x", "2026-11-25T10:05:00Z", "y", "2026-11-25T10:05:01Z"),
		[]checkpoint.Span{span("2026-11-25T10:00:00Z", "2026-11-25T10:10:00Z")}, tm("2026-11-25T12:00:00Z"))
	require.NoError(t, err)
	key := ledgerKey + "/delivered/" + fmt.Sprint(tm("2026-11-25T10:00:00Z").Unix()/600%int64(d.Slots()))
	raw, err := store.Load(context.Background(), key)
	require.NoError(t, err)
	doc := string(raw)
	assert.True(t, strings.HasPrefix(doc, "{\n  \"rev\": 1,\n  \"version\": 1,"), doc)
	assert.Contains(t, doc, `"covered": [["2026-11-25T10:00:00Z", "2026-11-25T10:10:00Z"]],`)
	assert.Contains(t, doc, `"ids": 2,`)

	for _, tc := range []struct{ name, doc, want string }{
		{"repeated hash", strings.Replace(doc, `"ids": 2`, `"ids": 3`, 1), "ids: 3"},
		{"wrong length", strings.Replace(doc, `"to": "2026-11-25T10:10:00Z"`, `"to": "2026-11-25T11:00:00Z"`, 1), "is not a bucket of 10m0s"},
		{"span outside", strings.Replace(doc, `["2026-11-25T10:00:00Z", "2026-11-25T10:10:00Z"]`, `["2026-11-25T09:00:00Z", "2026-11-25T10:10:00Z"]`, 1), "covered"},
		{"unknown encoding", strings.Replace(doc, "delta-uvarint", "gzip", 1), "encoding"},
		{"zero delta", strings.Replace(doc, `"ids": 2`, `"ids": 2`, 1)[:strings.Index(doc, `"hashes": "`)] + `"hashes": "AQA="` + "\n}\n", "not strictly increasing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.Put(key, []byte(tc.doc))
			b := load(t, d, "2026-11-25T10:05:00Z", "2026-11-25T12:00:00Z")
			assert.True(t, b.Unreadable)
			assert.Contains(t, b.Note, tc.want)
			assert.Empty(t, b.Covered)
		})
	}
}
