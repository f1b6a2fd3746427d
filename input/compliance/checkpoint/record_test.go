package checkpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var ident = checkpoint.Identity{Endpoint: "activities", BaseURL: "https://api.anthropic.com", Filters: "sha256:abc"}

// ts formats a record time as stored.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func ids(pairs ...string) checkpoint.IDSet {
	s := checkpoint.IDSet{}
	for i := 0; i < len(pairs); i += 2 {
		s.Add(pairs[i], at(pairs[i+1]))
	}
	return s
}

func TestNewRecordResumesAtFloor(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-18T00:00:00Z"))
	assert.Equal(t, "2026-11-18T00:00:00Z", ts(r.Floor))
	assert.Equal(t, r.Floor, r.ScannedTo)
	require.NoError(t, r.Validate())
}

func TestCommitNeverMovesScannedToBackwards(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z")}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	// A slice below the committed edge (max_slice < overlap, clock step) commits later.
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T09:58:00Z"), IDs: ids("a", "2026-11-25T09:57:00Z")}}, 5*time.Minute, nil, at("2026-11-25T10:03:00Z"))
	assert.Equal(t, "2026-11-25T10:00:00Z", ts(r.ScannedTo))
	assert.Contains(t, r.Seen.IDs(), "a", "ids of a low slice are still remembered")
}

func TestCommitPrunesSeenInclusivelyAtScannedToMinusOverlap(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{{
		To: at("2026-11-25T10:00:00Z"),
		IDs: ids(
			"old", "2026-11-25T09:54:59Z",
			"edge", "2026-11-25T09:55:00Z",
			"new", "2026-11-25T09:59:59Z",
		),
	}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	assert.NotContains(t, r.Seen.IDs(), "old")
	assert.Contains(t, r.Seen.IDs(), "edge", "the re-read band [scanned_to-overlap, scanned_to) is inclusive")
	assert.Contains(t, r.Seen.IDs(), "new")
	assert.Equal(t, "2026-11-25T09:55:00Z", ts(r.SeenFrom))
}

func TestCommitCascadeAppliesSeveralSlicesAsOneWrite(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{
		{To: at("2026-11-25T09:30:00Z"), IDs: ids("a", "2026-11-25T09:29:00Z")},
		{To: at("2026-11-25T10:00:00Z"), IDs: ids("b", "2026-11-25T09:59:00Z")},
	}, time.Hour, map[string]any{"latestTime": 1.0}, at("2026-11-25T10:02:00Z"))
	assert.Equal(t, "2026-11-25T10:00:00Z", ts(r.ScannedTo))
	assert.Equal(t, 2, r.Seen.Len())
	assert.Equal(t, map[string]any{"latestTime": 1.0}, r.State)
}

func TestSeenFromNeverLoweredWhenOverlapIsRaised(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z")}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:01:00Z")}}, 30*time.Minute, nil, at("2026-11-25T10:03:00Z"))
	assert.Equal(t, "2026-11-25T09:55:00Z", ts(r.SeenFrom))
}

func TestPendingIdsDroppedOnceScannedToPassesThem(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.AddPending(ids("p1", "2026-11-25T09:10:00Z", "p2", "2026-11-25T09:40:00Z"), at("2026-11-25T09:50:00Z"))
	assert.True(t, r.Known("p1"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T09:30:00Z"), IDs: ids("p1", "2026-11-25T09:10:00Z")}}, 5*time.Minute, nil, at("2026-11-25T09:51:00Z"))
	assert.NotContains(t, r.Pending, "p1")
	assert.Contains(t, r.Pending, "p2")
	assert.True(t, r.Known("p2"))
}

func TestRewindClearsSeenAndPending(t *testing.T) {
	r := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z"), IDs: ids("a", "2026-11-25T09:59:00Z")}}, 5*time.Minute, nil, at("2026-11-25T10:02:00Z"))
	r.AddPending(ids("p", "2026-11-25T10:01:00Z"), at("2026-11-25T10:02:00Z"))
	r.Rewind(at("2026-11-25T08:00:00Z"), at("2026-11-25T10:05:00Z"))
	assert.Equal(t, "2026-11-25T08:00:00Z", ts(r.ScannedTo))
	assert.Equal(t, "2026-11-25T08:00:00Z", ts(r.Floor), "rewinding below the floor lowers it")
	assert.Zero(t, r.Seen.Len())
	assert.Empty(t, r.Pending)
	require.NoError(t, r.Validate())
}

func TestIDSetJSONIsGroupedBySecondAndRoundTrips(t *testing.T) {
	s := ids("b", "2026-11-25T09:57:12Z", "a", "2026-11-25T09:57:12Z", "c", "2026-11-25T09:58:00Z")
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"2026-11-25T09:57:12Z":["a","b"],"2026-11-25T09:58:00Z":["c"]}`, string(b))
	var back checkpoint.IDSet
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
}

func TestDecodeRejectsBadDocumentsWithTheField(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not json", `{"version":1,`, "not a checkpoint document"},
		{"wrong version", `{"version":7,"identity":{"endpoint":"activities"},"floor":"2026-11-25T00:00:00Z","scanned_to":"2026-11-25T00:00:00Z"}`, "version"},
		{"bad scanned_to", `{"version":1,"identity":{"endpoint":"activities"},"floor":"2026-11-25T00:00:00Z","scanned_to":"yesterday"}`, "scanned_to"},
		{"scanned_to below floor", `{"version":1,"identity":{"endpoint":"activities"},"floor":"2026-11-25T00:00:00Z","scanned_to":"2026-11-24T00:00:00Z"}`, "before floor"},
		{"missing endpoint", `{"version":1,"identity":{},"floor":"2026-11-25T00:00:00Z","scanned_to":"2026-11-25T00:00:00Z"}`, "identity.endpoint"},
		{"bad seen key", `{"version":1,"identity":{"endpoint":"activities"},"floor":"2026-11-25T00:00:00Z","scanned_to":"2026-11-25T00:00:00Z","seen":{"x":["a"]}}`, "id set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkpoint.Decode([]byte(tt.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestKeeperFirstSaveCreatesRevOne(t *testing.T) {
	ctx := context.Background()
	k := checkpoint.NewKeeper(checkpoint.NewMemoryStore(), "k")
	rec, err := k.Load(ctx)
	require.NoError(t, err)
	assert.Nil(t, rec, "a missing key is a fresh start")
	r := checkpoint.New(ident, at("2026-11-25T00:00:00Z"))
	require.NoError(t, k.Save(ctx, r))
	assert.EqualValues(t, 1, r.Rev)
	require.NoError(t, k.Save(ctx, r))
	assert.EqualValues(t, 2, r.Rev)
}

func TestKeeperRefusesForeignWrite(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	a := checkpoint.NewKeeper(store, "k")
	b := checkpoint.NewKeeper(store, "k")
	r := checkpoint.New(ident, at("2026-11-25T00:00:00Z"))
	require.NoError(t, a.Save(ctx, r))
	rb, err := b.Load(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Save(ctx, rb)) // the operator edit
	err = a.Save(ctx, r)
	var conflict *checkpoint.ConflictError
	require.ErrorAs(t, err, &conflict)
	assert.EqualValues(t, 1, conflict.Expected)
	assert.EqualValues(t, 2, conflict.Found)
	stored, err := checkpoint.NewKeeper(store, "k").Load(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, stored.Rev, "the foreign write was not overwritten")
}

func TestKeeperRefusesRacingFirstWrite(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	a := checkpoint.NewKeeper(store, "k")
	b := checkpoint.NewKeeper(store, "k")
	_, _ = a.Load(ctx)
	_, _ = b.Load(ctx)
	require.NoError(t, a.Save(ctx, checkpoint.New(ident, at("2026-11-25T00:00:00Z"))))
	var conflict *checkpoint.ConflictError
	require.ErrorAs(t, b.Save(ctx, checkpoint.New(ident, at("2026-11-20T00:00:00Z"))), &conflict)
}

func TestKeeperReportsVanishedRecordInsteadOfStartingOver(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	k := checkpoint.NewKeeper(store, "k")
	require.NoError(t, k.Save(ctx, checkpoint.New(ident, at("2026-11-25T00:00:00Z"))))
	store.Remove("k")
	_, err := k.Load(ctx)
	var conflict *checkpoint.ConflictError
	require.ErrorAs(t, err, &conflict)
	assert.True(t, conflict.FoundMissing)
	assert.Contains(t, err.Error(), "vanished")
	k.Forget()
	rec, err := k.Load(ctx)
	require.NoError(t, err)
	assert.Nil(t, rec)
}

func TestKeeperReportsCorruptRecordNamingWhereAndHowToReset(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	store.Put("k", []byte("{garbage"))
	_, err := checkpoint.NewKeeper(store, "k").Load(ctx)
	var corrupt *checkpoint.CorruptError
	require.ErrorAs(t, err, &corrupt)
	assert.Contains(t, err.Error(), "memory key k")
	assert.Contains(t, err.Error(), "state delete")
	assert.False(t, errors.Is(err, checkpoint.ErrNotFound))
}

func TestAKeyedIdentityIsAVersion2RecordThatRoundTrips(t *testing.T) {
	chats := checkpoint.Identity{Endpoint: "chats", BaseURL: "https://api.anthropic.com", Filters: "sha256:def", Key: "updated_at"}
	r := checkpoint.New(chats, at("2026-11-18T00:00:00Z"))
	assert.Equal(t, checkpoint.VersionKeyed, r.Version)
	r.Commit([]checkpoint.SliceCommit{{To: at("2026-11-25T10:00:00Z"), IDs: ids(
		"claude_chat_01a@2026-11-25T09:57:12Z", "2026-11-25T09:57:12Z",
		"msg:claude_chat_msg_01b", "2026-11-25T09:57:10Z")}}, 5*time.Minute, nil, at("2026-11-25T10:02:03Z"))
	data, err := r.Encode()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"version": 2`)
	assert.Contains(t, string(data), `"key":"updated_at"`)
	back, err := checkpoint.Decode(data)
	require.NoError(t, err)
	assert.Equal(t, chats, back.Identity)
	assert.True(t, back.Known("claude_chat_01a@2026-11-25T09:57:12Z"))
	assert.True(t, back.Known("msg:claude_chat_msg_01b"))

	feed := checkpoint.New(ident, at("2026-11-18T00:00:00Z"))
	assert.Equal(t, checkpoint.Version, feed.Version, "a created_at window stays a version 1 record")
}

func TestAVersionAndItsIdentityKeyMustAgree(t *testing.T) {
	tests := []struct {
		name    string
		version int
		key     string
		want    string
	}{
		{"version 2 without a key", 2, "", "identity.key: missing"},
		{"version 1 with a key", 1, "updated_at", "identity.key"},
		{"unknown version", 3, "updated_at", "unsupported checkpoint version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkpoint.New(checkpoint.Identity{Endpoint: "chats", Key: tt.key}, at("2026-11-18T00:00:00Z"))
			r.Version = tt.version
			assert.ErrorContains(t, r.Validate(), tt.want)
		})
	}
}

func TestMarksAreCommittedLaterWinsPrunedAndRoundTrip(t *testing.T) {
	r := checkpoint.New(checkpoint.Identity{Endpoint: "chats", Key: "updated_at"}, at("2026-11-25T09:00:00Z"))
	r.Commit([]checkpoint.SliceCommit{
		{To: at("2026-11-25T10:00:00Z"), Marks: map[string]time.Time{"chat_a": at("2026-11-25T09:30:00Z"), "chat_b": at("2026-11-25T09:40:00Z")}},
		{To: at("2026-11-25T11:00:00Z"), Marks: map[string]time.Time{"chat_a": at("2026-11-25T10:30:00.5Z")}},
	}, 5*time.Minute, nil, at("2026-11-25T11:02:00Z"))
	assert.Equal(t, at("2026-11-25T10:30:00.5Z"), r.Marks["chat_a"], "the later slice's mark wins")
	clone := r.Clone()
	clone.Marks["chat_c"] = at("2026-11-25T10:59:00Z")
	assert.NotContains(t, r.Marks, "chat_c", "a clone's marks are its own")

	data, err := r.Encode()
	require.NoError(t, err)
	back, err := checkpoint.Decode(data)
	require.NoError(t, err)
	assert.Equal(t, r.Marks, back.Marks)

	back.PruneMarks(at("2026-11-25T10:00:00Z"))
	assert.Equal(t, map[string]time.Time{"chat_a": at("2026-11-25T10:30:00.5Z")}, back.Marks)
	back.Rewind(at("2026-11-25T09:00:00Z"), at("2026-11-25T11:05:00Z"))
	assert.Empty(t, back.Marks, "a rewind forgets the marks with seen and pending")

	feed := checkpoint.New(ident, at("2026-11-25T09:00:00Z"))
	data, err = feed.Encode()
	require.NoError(t, err)
	assert.NotContains(t, string(data), "marks", "a record without marks is written as before")
}

func TestAMarkThatIsNotATimeIsACorruptDocument(t *testing.T) {
	r := checkpoint.New(checkpoint.Identity{Endpoint: "chats", Key: "updated_at"}, at("2026-11-25T09:00:00Z"))
	r.Marks = map[string]time.Time{"chat_a": at("2026-11-25T09:30:00Z")}
	data, err := r.Encode()
	require.NoError(t, err)
	bad := strings.Replace(string(data), `"2026-11-25T09:30:00Z"`, `"yesterday"`, 1)
	_, err = checkpoint.Decode([]byte(bad))
	assert.ErrorContains(t, err, "marks.chat_a")
}
