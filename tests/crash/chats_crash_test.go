package crash_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// chatScale is one size of the chats crash proof.
type chatScale struct {
	chats  int // chats of the world, spread over two days
	target int // target_per_slice (chat versions)
	kills  int
}

var (
	chatsFull  = chatScale{chats: 6000, target: 400, kills: 8}
	chatsShort = chatScale{chats: 1500, target: 100, kills: 6}
)

const (
	// chatsStateFile is the checkpoint of anthropic_compliance/crash/chats.
	chatsStateFile = "anthropic_compliance%2Fcrash%2Fchats"
	// chatMarker starts every chat and message document: nested ids (files,
	// artifacts) never start with claude_chat_.
	chatMarker  = `{"id":"claude_chat_`
	maxMessages = 10
)

// TestSIGKILLWhileCollectingChatsWithMessagesLosesNothing is the crash proof
// for the chats endpoint with include_messages: the real binary backfills
// two days of chats with their messages (one message per chat message) into
// a file output and is killed with SIGKILL at random points. After each
// kill the checkpoint decodes and the chat versions the next run will
// deliver again are at most max_open_slices × target_per_slice (each with
// its messages not acknowledged yet); after the last restart every chat
// and every message of a chat not deleted in claude.ai is in the output,
// nothing else is, and every re-delivery is accounted for by a kill.
//
// CRASH_SEED=<n> replays a run.
func TestSIGKILLWhileCollectingChatsWithMessagesLosesNothing(t *testing.T) {
	sc := chatsFull
	if testing.Short() {
		sc = chatsShort
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASH_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CRASH_SEED")
	}
	rng := rand.New(rand.NewPCG(seed, 0x63686174))
	bound := maxOpenSlices * sc.target
	began := time.Now()

	bin := buildBinary(t)
	now := time.Now().UTC().Truncate(time.Second)
	world, err := fakeapi.NewWorld(fakeapi.WorldOptions{Seed: seed, Chats: sc.chats, MaxMessages: maxMessages,
		From: now.Add(-dataLag - span), To: now.Add(-dataLag)})
	require.NoError(t, err)
	fake, err := fakeapi.Start(fakeapi.Options{APIKeys: []string{apiKey}, World: world, MaxRecords: 1}, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = fake.Close() })
	ds := newChatDataset(fake.Server.Snapshot())
	t.Logf("seed %d (replay with CRASH_SEED=%d); %d chats (%d deleted), %d messages, target_per_slice %d, max_open_slices %d, %d kills",
		seed, seed, len(ds.updated), ds.deleted, len(ds.chatOf), sc.target, maxOpenSlices, sc.kills)

	dir := t.TempDir()
	w := &workdir{
		state:  filepath.Join(dir, "state"),
		output: filepath.Join(dir, "chats.ndjson"),
		config: filepath.Join(dir, "pipeline.yaml"),
		logs:   filepath.Join(dir, "binary.log"),
	}
	require.NoError(t, os.WriteFile(w.config, []byte(chatsPipeline(fake.URL(), w, sc)), 0o600))
	logs := openLog(t, w.logs)
	out := &outputReader{path: w.output, marker: chatMarker, seen: map[string]struct{}{}}
	records := len(ds.updated) + len(ds.chatOf)

	type chatKill struct {
		killRecord
		exposedChats int
	}
	var kills []chatKill
	for i := range sc.kills {
		p := startBinary(t, bin, w.config, logs, i)
		k := chatKill{killRecord: killRecord{n: i + 1}}
		limit := records / (2 * sc.kills)
		if i%2 == 0 {
			k.delay = time.Duration(rng.Int64N(int64(time.Second)))
			k.how = fmt.Sprintf("after %v", k.delay.Round(time.Millisecond))
			p.waitForNew(t, out, limit, time.Now().Add(k.delay))
		} else {
			k.fresh = 1 + rng.IntN(limit)
			k.how = fmt.Sprintf("after %d new records", k.fresh)
			p.waitForNew(t, out, k.fresh, time.Now().Add(time.Minute))
		}
		require.False(t, p.exited(), "run %d of the binary ended on its own before the kill: see %s\n%s", k.n, w.logs, tail(w.logs))
		k.ran = p.kill(t)
		out.poll(t)
		k.written, k.dupsBefore = out.endRun()
		k.rec = readChatsCheckpoint(t, w.state, k.n)
		k.exposedChats, k.exposed = ds.exposed(out, k.rec)
		k.midBackfill = k.rec == nil || !k.rec.ScannedToTime().After(ds.last)
		kills = append(kills, k)
		t.Logf("kill %2d %-24s ran %-8v output %7d records (+%6d, of which %6d re-delivered), exposed %4d chats / %6d records, checkpoint %s",
			k.n, k.how, k.ran.Round(time.Millisecond), len(out.ids), k.written, k.dupsBefore, k.exposedChats, k.exposed, describe(k.rec))
	}

	var startRev int64
	if last := readChatsCheckpointQuiet(w.state); last != nil {
		startRev = last.Rev
	}
	finalStart := time.Now()
	p := startBinary(t, bin, w.config, logs, sc.kills)
	require.Eventually(t, func() bool {
		rec := readChatsCheckpointQuiet(w.state)
		return rec != nil && rec.Rev > startRev && rec.ScannedToTime().After(ds.last)
	}, 5*time.Minute, 20*time.Millisecond, "the restarted binary did not commit past the last chat: see %s\n%s", w.logs, tail(w.logs))
	finalRun := time.Since(finalStart)
	p.stop(t)
	out.poll(t)
	_, lastDups := out.endRun()

	missing, unexpected, torn, bad := out.compare(t, ds.dataset())
	require.Empty(t, missing, "chats or messages never written as a complete document (first ones): %v", headOf(missing))
	require.Empty(t, unexpected, "documents that are not chats or messages of the world (first ones): %v", headOf(unexpected))
	require.Zero(t, bad, "output documents that are not valid JSON and were not cut by a kill")

	total := len(out.ids) - len(out.seen)
	sumExposed, maxChats, maxRedelivered, mid := 0, 0, 0, 0
	for i, k := range kills {
		redelivered := lastDups
		if i+1 < len(kills) {
			redelivered = kills[i+1].dupsBefore
		}
		require.LessOrEqual(t, k.exposedChats, bound, "kill %d (%s) left %d delivered chat versions outside the checkpoint; the bound is max_open_slices × target_per_slice = %d",
			k.n, k.how, k.exposedChats, bound)
		sumExposed += k.exposed
		maxChats = max(maxChats, k.exposedChats)
		maxRedelivered = max(maxRedelivered, redelivered)
		if k.midBackfill {
			mid++
		}
	}
	require.Zero(t, kills[0].dupsBefore, "the first run cannot re-deliver anything")
	require.LessOrEqual(t, total, sumExposed, "duplicates in the output beyond what the kills left exposed")
	require.Equal(t, len(kills), mid, "kills after the backfill was complete test nothing")
	t.Logf("RESULT %d chats and %d messages, %d kills: 0 missing, %d duplicates in total (%.2f%%), at most %d records re-delivered after one kill, "+
		"at most %d chat versions exposed (bound %d = %d × %d), %d documents cut by a kill, final run %v, whole test %v",
		len(ds.updated), len(ds.chatOf), len(kills), total, 100*float64(total)/float64(records), maxRedelivered, maxChats, bound,
		maxOpenSlices, sc.target, torn, finalRun.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

func chatsPipeline(baseURL string, w *workdir, sc chatScale) string {
	return fmt.Sprintf(`http:
  enabled: false
logger:
  level: INFO
  format: logfmt
input:
  label: crash
  anthropic_compliance:
    api_key: ${%s}
    base_url: %s
    state:
      path: %s
    overlap: %s
    max_slice: %s
    target_per_slice: %d
    max_open_slices: %d
    batch_size: 100
    endpoints:
      - name: chats
        schedule: "@every 1s"
        earliest: -3d
        include_messages: true
output:
  file:
    path: %s
    codec: lines
shutdown_timeout: 20s
`, apiKeyEnv, baseURL, w.state, overlap, maxSlice, sc.target, maxOpenSlices, w.output)
}

// chatDataset indexes the world's chats and messages.
type chatDataset struct {
	updated map[string]time.Time // chat id -> updated_at
	chatOf  map[string]string    // message id of a live chat -> chat id
	msgAt   map[string]time.Time
	deleted int
	last    time.Time // newest updated_at
}

func newChatDataset(s fakeapi.Snapshot) *chatDataset {
	ds := &chatDataset{updated: map[string]time.Time{}, chatOf: map[string]string{}, msgAt: map[string]time.Time{}}
	for _, c := range s.Chats {
		ds.updated[c.ID] = c.UpdatedAt
		ds.last = later(ds.last, c.UpdatedAt)
		if c.Deleted {
			ds.deleted++ // a tombstone: its messages are never fetched
			continue
		}
		for _, m := range c.MessageIDs {
			ds.chatOf[m] = c.ID
		}
	}
	return ds
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dataset is the id set compare expects: every chat and message.
func (ds *chatDataset) dataset() *dataset {
	d := &dataset{created: map[string]time.Time{}, last: ds.last}
	for id, at := range ds.updated {
		d.created[id] = at
	}
	for id := range ds.chatOf {
		d.created[id] = time.Time{}
	}
	return d
}

// exposed counts what the next run will deliver again: the written chats
// that its first job reads (updated_at >= max(scanned_to - overlap,
// seen_from, floor)) and whose version key the checkpoint does not know
// (seen or pending), and their written messages whose key it does not know
// either.
func (ds *chatDataset) exposed(out *outputReader, rec *checkpoint.Record) (chats, records int) {
	known := func(key string) bool { return rec != nil && rec.Known(key) }
	var from time.Time
	if rec != nil {
		from = later(later(rec.ScannedToTime().Add(-overlap), rec.SeenFromTime()), rec.FloorTime())
	}
	open := map[string]bool{}
	for id := range out.seen {
		if at, ok := ds.updated[id]; ok && !at.Before(from) && !known(id+"@"+at.UTC().Format(time.RFC3339Nano)) {
			open[id] = true
			chats++
		}
	}
	records = chats
	for id := range out.seen {
		if chat, ok := ds.chatOf[id]; ok && open[chat] && !known("msg:"+id) {
			records++
		}
	}
	return chats, records
}

func readChatsCheckpoint(t *testing.T, stateDir string, kill int) *checkpoint.Record {
	t.Helper()
	path := filepath.Join(stateDir, chatsStateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	rec, err := checkpoint.Decode(data)
	require.NoError(t, err, "after kill %d the checkpoint %s does not decode", kill, path)
	return rec
}

func readChatsCheckpointQuiet(stateDir string) *checkpoint.Record {
	data, err := os.ReadFile(filepath.Join(stateDir, chatsStateFile))
	if err != nil {
		return nil
	}
	rec, err := checkpoint.Decode(data)
	if err != nil {
		return nil
	}
	return rec
}
