package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

func TestEncodeWritesRevAndVersionFirstAndTheIDSetsLast(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-18T00:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z"), IDs: ids("b", "2026-11-25T09:57:12Z", "a", "2026-11-25T09:57:12Z")}},
		5*time.Minute, map[string]any{"latestTime": 1.0}, at("2026-11-25T10:02:03Z"))
	r.Rev = 412
	b, err := r.Encode()
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("{\n  \"rev\": 412,\n  \"version\": 1,\n")), "%s", b)
	assert.Less(t, bytes.Index(b, []byte(`"state"`)), bytes.Index(b, []byte(`"seen"`)), "seen, the big member, is last")
	assert.Contains(t, string(b), "\"2026-11-25T09:57:12Z\": [\"a\", \"b\"]", "one line per second, ids sorted")
	back, err := checkpoint.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, r.Seen.IDs(), back.Seen.IDs())
	back.Seen, r.Seen = checkpoint.SeenSet{}, checkpoint.SeenSet{}
	assert.Equal(t, r, back)
}

// A version-1 document written before rev came first (rev near the end, id
// sets indented one id per line) is read as it is, and the keeper's next
// write moves it to the new layout at the next revision.
func TestAVersionOneDocumentWithRevLastIsReadAndRewrittenRevFirst(t *testing.T) {
	old, err := os.ReadFile("testdata/v1-rev-last.json")
	require.NoError(t, err)
	require.False(t, bytes.HasPrefix(old, []byte("{\n  \"rev\"")), "the fixture has rev last")
	rec, err := checkpoint.Decode(old)
	require.NoError(t, err)
	assert.EqualValues(t, 412, rec.Rev, "the top-level rev, not state.rev")
	assert.Equal(t, "2026-11-25T10:00:00Z", ts(rec.ScannedTo))
	assert.Equal(t, checkpoint.IDSet{
		"activity_01a": at("2026-11-25T09:57:12Z").Unix(),
		"activity_01b": at("2026-11-25T09:57:12Z").Unix(),
		"activity_01c": at("2026-11-25T09:58:00Z").Unix(),
	}, rec.Seen.IDs())
	assert.True(t, rec.Known("activity_02p"))
	assert.Equal(t, map[string]any{"latestTime": 1764064632000.0, "rev": 99.0}, rec.State)

	store := checkpoint.NewMemoryStore()
	store.Put("k", old)
	k := checkpoint.NewKeeper(store, "k")
	loaded, err := k.Load(context.Background())
	require.NoError(t, err)
	require.NoError(t, k.Save(context.Background(), loaded))
	now, err := store.Load(context.Background(), "k")
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(now, []byte("{\n  \"rev\": 413,")), "%s", now[:40])
}

// `state set` may write times with an offset: they are compared as times,
// not as strings, and written back in UTC.
func TestTimesWithAnOffsetCompareAsTimes(t *testing.T) {
	doc := `{"version":1,"identity":{"endpoint":"activities"},"floor":"2026-11-25T09:00:00Z",
"scanned_to":"2026-11-25T11:00:00+02:00","until":"2026-11-25T10:30:00Z","rev":3}`
	rec, err := checkpoint.Decode([]byte(doc))
	require.NoError(t, err)
	assert.True(t, rec.ScannedToTime().Before(rec.UntilTime()),
		"09:00Z is before 10:30Z, although the string \"2026-11-25T11:00:00+02:00\" sorts after \"2026-11-25T10:30:00Z\"")
	b, err := rec.Encode()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"scanned_to": "2026-11-25T09:00:00Z"`)
}

func TestIDSetsWithAnyIDsRoundTrip(t *testing.T) {
	s := checkpoint.IDSet{
		"activity_01plain":     at("2026-11-25T09:57:12Z").Unix(),
		`quote"and\backslash`:  at("2026-11-25T09:57:12Z").Unix(),
		"tab\tand unicode é ✓": at("2026-11-25T09:58:00Z").Unix(),
	}
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Seen.AddAll(s)
	b, err := r.Encode()
	require.NoError(t, err)
	back, err := checkpoint.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, s, back.Seen.IDs())
}

func TestDecodeNamesTheBrokenIDSet(t *testing.T) {
	base := `{"version":1,"identity":{"endpoint":"activities"},"floor":"2026-11-25T00:00:00Z","scanned_to":"2026-11-25T00:00:00Z",`
	for name, doc := range map[string]string{
		"seen":    base + `"seen":{"2026-11-25T00:00:00Z":["a",1]}}`,
		"pending": base + `"pending":{"2026-11-25T00:00:00Z":"a"}}`,
	} {
		_, err := checkpoint.Decode([]byte(doc))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name+":", name)
	}
}

func TestCapSeenDropsTheOldestSecondsAndKeepsSeenFrom(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:55:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z"), IDs: ids(
		"a1", "2026-11-25T09:56:00Z", "a2", "2026-11-25T09:56:00Z",
		"b1", "2026-11-25T09:57:00Z", "b2", "2026-11-25T09:57:00Z",
		"c1", "2026-11-25T09:58:00Z",
	)}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	dropped, keptFrom := r.CapSeen(3)
	assert.Equal(t, 2, dropped, "whole seconds go, oldest first, until at most 3 remain")
	assert.Equal(t, "2026-11-25T09:57:00Z", ts(keptFrom))
	assert.Equal(t, ids("b1", "2026-11-25T09:57:00Z", "b2", "2026-11-25T09:57:00Z", "c1", "2026-11-25T09:58:00Z"), r.Seen.IDs())
	assert.Equal(t, "2026-11-25T09:55:00Z", ts(r.SeenFrom),
		"seen_from stays: the dropped second is read again and its ids delivered again (duplicates, never a gap)")
	dropped, _ = r.CapSeen(3)
	assert.Zero(t, dropped)
}

func TestKeeperCapsSeenOnSaveAndReportsIt(t *testing.T) {
	var stats []checkpoint.SeenStats
	k := checkpoint.NewKeeper(checkpoint.NewMemoryStore(), "k", checkpoint.WithSeenCap(2, func(s checkpoint.SeenStats) { stats = append(stats, s) }))
	r := checkpoint.New(ident, at("2026-11-25T09:55:00Z"))
	require.NoError(t, k.Save(context.Background(), r))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z"), IDs: ids(
		"a", "2026-11-25T09:56:00Z", "b", "2026-11-25T09:57:00Z", "c", "2026-11-25T09:58:00Z",
	)}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	require.NoError(t, k.Save(context.Background(), r), "a commit above the cap degrades, it does not fail")
	require.Len(t, stats, 2)
	assert.Equal(t, checkpoint.SeenStats{IDs: 0, Max: 2}, stats[0])
	assert.Equal(t, 2, stats[1].IDs)
	assert.Equal(t, 1, stats[1].Dropped)
	assert.Equal(t, "2026-11-25T09:57:00Z", ts(stats[1].KeptFrom))
}

// An operator's delete leaves a tombstone: a keeper loading it starts over
// (nil record) and continues the revisions; a keeper that read the record
// before the delete can never write over it.
func TestATombstoneIsAFreshStartThatALateWriterCannotOverwrite(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	job := checkpoint.NewKeeper(store, "k")
	r := checkpoint.New(ident, at("2026-11-25T00:00:00Z"))
	require.NoError(t, job.Save(ctx, r))
	require.NoError(t, job.Save(ctx, r)) // rev 2

	tomb, err := checkpoint.Tombstone(ident, 3, at("2026-11-25T12:00:00Z"))
	require.NoError(t, err)
	require.NoError(t, store.Swap(ctx, "k", 2, tomb, checkpoint.Fence{}))

	err = job.Save(ctx, r)
	require.ErrorIs(t, err, checkpoint.ErrDeleted, "the late write is refused and says why")
	var conflict *checkpoint.ConflictError
	require.ErrorAs(t, err, &conflict)
	assert.EqualValues(t, 3, conflict.Found)
	assert.Contains(t, err.Error(), "deleted by an operator")

	_, err = checkpoint.Decode(tomb)
	var deleted *checkpoint.DeletedError
	require.ErrorAs(t, err, &deleted)
	assert.EqualValues(t, 3, deleted.Rev)

	rec, err := job.Load(ctx)
	require.NoError(t, err)
	assert.Nil(t, rec, "a tombstone is a fresh start, not a vanished checkpoint")
	fresh := checkpoint.New(ident, at("2026-11-25T06:00:00Z"))
	require.NoError(t, job.Save(ctx, fresh))
	assert.EqualValues(t, 4, fresh.Rev, "revisions continue after the tombstone")
}

func TestKeeperSaveIsOneCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{MemoryStore: checkpoint.NewMemoryStore()}
	k := checkpoint.NewKeeper(store, "k")
	_, err := k.Load(ctx)
	require.NoError(t, err)
	r := checkpoint.New(ident, at("2026-11-25T00:00:00Z"))
	store.loads = 0
	for range 3 {
		require.NoError(t, k.Save(ctx, r))
	}
	assert.Zero(t, store.loads, "a save never reads (and decodes) the stored document")
	assert.Equal(t, 3, store.swaps)
}

type countingStore struct {
	*checkpoint.MemoryStore
	loads, swaps int
}

func (c *countingStore) Load(ctx context.Context, key string) ([]byte, error) {
	c.loads++
	return c.MemoryStore.Load(ctx, key)
}

func (c *countingStore) Swap(ctx context.Context, key string, expect int64, value []byte, f checkpoint.Fence) error {
	c.swaps++
	return c.MemoryStore.Swap(ctx, key, expect, value, f)
}

func TestAFencedOutWriteIsReported(t *testing.T) {
	k := checkpoint.NewKeeper(fencedStore{}, "k", checkpoint.WithFence(checkpoint.Fence{Key: "k.lease", Token: "me"}))
	err := k.Save(context.Background(), checkpoint.New(ident, at("2026-11-25T00:00:00Z")))
	require.ErrorIs(t, err, checkpoint.ErrFenced)
}

type fencedStore struct{}

func (fencedStore) Load(context.Context, string) ([]byte, error) { return nil, checkpoint.ErrNotFound }
func (fencedStore) Swap(_ context.Context, _ string, _ int64, _ []byte, f checkpoint.Fence) error {
	if f.Token != "me" {
		return errors.New("no fence passed")
	}
	return fmt.Errorf("lease held by another: %w", checkpoint.ErrFenced)
}
func (fencedStore) Describe(key string) string { return key }

// The window the issue saw a delete resurrected in: after the job's keeper
// read what it compares against and right before its write. The edit is made
// there (by another keeper standing for the operator); the job's write is
// refused and the edit stays.
func TestAnEditJustBeforeTheJobsWriteIsNeverOverwritten(t *testing.T) {
	ctx := context.Background()
	for _, edit := range []string{"rewind", "delete"} {
		t.Run(edit, func(t *testing.T) {
			store := &hookStore{MemoryStore: checkpoint.NewMemoryStore()}
			job := checkpoint.NewKeeper(store, "k")
			r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
			require.NoError(t, job.Save(ctx, r))
			rec, err := job.Load(ctx)
			require.NoError(t, err)

			var edited []byte
			store.beforeSwap = func() {
				store.beforeSwap = nil
				op := checkpoint.NewKeeper(store.MemoryStore, "k")
				current, err := op.Load(ctx)
				require.NoError(t, err)
				if edit == "delete" {
					edited, err = checkpoint.Tombstone(ident, current.Rev+1, at("2026-11-25T12:00:00Z"))
					require.NoError(t, err)
					require.NoError(t, store.MemoryStore.Swap(ctx, "k", current.Rev, edited, checkpoint.Fence{}))
					return
				}
				current.Rewind(at("2026-11-25T08:00:00Z"), at("2026-11-25T12:00:00Z"))
				require.NoError(t, op.Save(ctx, current))
				edited, _ = store.MemoryStore.Load(ctx, "k")
			}
			rec.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z")}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
			err = job.Save(ctx, rec)
			var conflict *checkpoint.ConflictError
			require.ErrorAs(t, err, &conflict, "the job's write went through")
			now, err := store.Load(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, string(edited), string(now), "the operator's %s was overwritten", edit)
		})
	}
}

type hookStore struct {
	*checkpoint.MemoryStore
	beforeSwap func()
}

func (h *hookStore) Swap(ctx context.Context, key string, expect int64, value []byte, f checkpoint.Fence) error {
	if h.beforeSwap != nil {
		h.beforeSwap()
	}
	return h.MemoryStore.Swap(ctx, key, expect, value, f)
}

// The collector commits into a clone and keeps the original when the write
// is refused: each version answers for its own ids, although clones share
// what did not change.
func TestAClonesCommitLeavesTheOriginalExactlyAsItWas(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z"), IDs: ids("a", "2026-11-25T09:56:00Z", "b", "2026-11-25T09:59:00Z")}},
		5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	before := r.Seen.IDs()
	next := r.Clone()
	next.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:04:00Z"), IDs: ids("c", "2026-11-25T09:59:00Z", "d", "2026-11-25T10:03:00Z")}},
		5*time.Minute, nil, at("2026-11-25T10:05:00Z"))
	assert.Equal(t, before, r.Seen.IDs(), "the original's ids")
	for id, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false} {
		assert.Equal(t, want, r.Known(id), "original knows %s", id)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true, "d": true} {
		assert.Equal(t, want, next.Known(id), "clone knows %s (a was pruned: 09:56 < 10:04 - 5m)", id)
	}
	// Many generations: the shared index is rebuilt, answers stay exact.
	cur := next
	for i := range 3000 {
		n := cur.Clone()
		sec := at("2026-11-25T10:04:00Z").Add(time.Duration(i) * time.Second)
		n.Commit([]checkpoint.SliceCommit{{To: sec.Add(time.Second), IDs: ids(fmt.Sprintf("x%d", i), sec.Format(time.RFC3339))}}, 5*time.Minute, nil, sec)
		cur = n
	}
	assert.Equal(t, 300, cur.Seen.Len(), "5 minutes of one id a second")
	assert.True(t, cur.Known("x2999"))
	assert.False(t, cur.Known("x2699"), "pruned")
	assert.True(t, cur.Known("x2700"))
	assert.True(t, next.Known("c"), "an old version still answers for itself")
}
