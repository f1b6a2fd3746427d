package e2e_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// ---------------------------------------------------------------------------
// Test data.

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// act builds a minimal valid activity.
func act(id, typ string, createdAt time.Time) fakeapi.Activity {
	ts := createdAt.UTC().Format(time.RFC3339Nano)
	return fakeapi.Activity{
		ID: id, Type: typ, CreatedAt: createdAt, ActorType: "user_actor", ActorID: "user_e2e",
		JSON: fmt.Appendf(nil, `{"id":%q,"created_at":%q,"organization_id":null,"organization_uuid":null,"actor":{"type":"user_actor","user_id":"user_e2e","email_address":"e2e@example.com"},"type":%q}`, id, ts, typ),
	}
}

// spread returns n activities evenly spread over [from, from+span), on whole
// seconds, with ids prefix000000.., cycling through a few types.
func spread(prefix string, n int, from time.Time, span time.Duration) []fakeapi.Activity {
	types := []string{"claude_chat_created", "claude_file_uploaded", "sso_login_succeeded", "claude_project_created"}
	out := make([]fakeapi.Activity, n)
	for i := range out {
		at := from.Add(time.Duration(int64(span) * int64(i) / int64(n))).Truncate(time.Second)
		out[i] = act(fmt.Sprintf("activity_01%s%06d", prefix, i), types[i%len(types)], at)
	}
	return out
}

// after returns the activities created at or after ts.
func after(data []fakeapi.Activity, ts string) []fakeapi.Activity {
	var out []fakeapi.Activity
	for _, a := range data {
		if !a.CreatedAt.Before(at(ts)) {
			out = append(out, a)
		}
	}
	return out
}

func ids(acts []fakeapi.Activity) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.ID
	}
	return out
}

// count maps each id to the number of times it occurs.
func count(list []string) map[string]int {
	out := make(map[string]int, len(list))
	for _, id := range list {
		out[id]++
	}
	return out
}

// keys returns the keys of m, sorted.
func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// uniq returns list without repeats, in first-seen order.
func uniq(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range list {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Delivery checks.

// deliveryCount compares what was delivered with the expected ids.
type deliveryCount struct {
	missing    []string // expected, never delivered
	unexpected []string // delivered, not expected
	duplicated []string // delivered more than once
	duplicates int      // deliveries beyond the first of an id
}

// countDelivery compares got with want; every list is sorted.
func countDelivery(want, got []string) deliveryCount {
	var c deliveryCount
	seen := count(got)
	wanted := count(want)
	for id, n := range seen {
		if n > 1 {
			c.duplicated = append(c.duplicated, id)
			c.duplicates += n - 1
		}
		if wanted[id] == 0 {
			c.unexpected = append(c.unexpected, id)
		}
	}
	for id := range wanted {
		if seen[id] == 0 {
			c.missing = append(c.missing, id)
		}
	}
	slices.Sort(c.missing)
	slices.Sort(c.unexpected)
	slices.Sort(c.duplicated)
	return c
}

// requireExactlyOnce fails unless got holds every id of want exactly once and
// nothing else.
func requireExactlyOnce(t *testing.T, want, got []string) {
	t.Helper()
	c := countDelivery(want, got)
	require.True(t, len(c.duplicated) == 0 && len(c.missing) == 0 && len(c.unexpected) == 0,
		"want %d activities exactly once, got %d deliveries: %d duplicated %v, %d missing %v, %d unexpected %v",
		len(count(want)), len(got), len(c.duplicated), head(c.duplicated), len(c.missing), head(c.missing), len(c.unexpected), head(c.unexpected))
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// ---------------------------------------------------------------------------
// Checkpoint watch.

// checkpointWatch polls the checkpoint while a stream runs and checks the
// collection model's promise at every revision it sees: every activity of
// the dataset created in [floor, scanned_to) has already been delivered.
type checkpointWatch struct {
	stopOnce   sync.Once
	done       chan struct{}
	finished   chan struct{}
	revs       atomic.Int64
	violations []string
}

func (r *rig) watchCheckpoint(data []fakeapi.Activity) *checkpointWatch {
	sorted := slices.Clone(data)
	slices.SortFunc(sorted, func(a, b fakeapi.Activity) int { return a.CreatedAt.Compare(b.CreatedAt) })
	w := &checkpointWatch{done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(w.finished)
		lastRev := int64(-1)
		var lastStat os.FileInfo
		delivered := map[string]bool{}
		seen := 0     // deliveries folded into delivered
		verified := 0 // sorted[:verified] are below a checked scanned_to and delivered
		for {
			select {
			case <-w.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			// Decode only a file that changed (every write is a rename, so
			// a new revision is a new file).
			st, err := os.Stat(r.store.Path(stateKey))
			if err != nil || (lastStat != nil && os.SameFile(st, lastStat) && st.ModTime().Equal(lastStat.ModTime())) {
				continue
			}
			lastStat = st
			rec := readRecord(r.store, stateKey)
			if rec == nil || rec.Rev == lastRev {
				continue
			}
			lastRev = rec.Rev
			w.revs.Add(1)
			got := r.sink.delivered() // read after the checkpoint: deliveries only grow
			for _, id := range got[seen:] {
				delivered[id] = true
			}
			seen = len(got)
			floor, scanned := rec.FloorTime(), rec.ScannedToTime()
			for verified < len(sorted) && sorted[verified].CreatedAt.Before(scanned) {
				a := sorted[verified]
				if !a.CreatedAt.Before(floor) && !delivered[a.ID] {
					if len(w.violations) < 10 {
						w.violations = append(w.violations, fmt.Sprintf("rev %d scanned_to %s passed undelivered activity %s created %s",
							rec.Rev, ts(rec.ScannedTo), a.ID, a.CreatedAt.UTC().Format(time.RFC3339Nano)))
					}
					break
				}
				verified++
			}
		}
	}()
	return w
}

// stop ends the watch and returns what it found.
func (w *checkpointWatch) stop() (revisions int64, violations []string) {
	w.stopOnce.Do(func() { close(w.done) })
	<-w.finished
	return w.revs.Load(), w.violations
}

// readRecord reads the checkpoint from store without failing the test (it
// runs on the watch's goroutine); nil when there is none (yet) or it cannot
// be read.
func readRecord(store *atomicfile.Store, key string) *checkpoint.Record {
	data, err := store.Get(key)
	if err != nil {
		return nil
	}
	rec, err := checkpoint.Decode(data)
	if err != nil {
		return nil
	}
	return rec
}

// ---------------------------------------------------------------------------
// Secrets.

// pieceLen is the length of the key pieces a leak check looks for: a leak
// may be partial (an error quoting a snippet, a message cut at 1 KiB).
const pieceLen = 12

// leaks returns each line of the named texts that contains a piece of
// secret, with the piece and where it sits in the key.
func leaks(secret string, texts map[string]string) []string {
	var out []string
	for name, text := range texts {
		for line := range strings.SplitSeq(text, "\n") {
			for i := 0; i+pieceLen <= len(secret); i++ {
				piece := secret[i : i+pieceLen]
				at := strings.Index(line, piece)
				if at < 0 {
					continue
				}
				out = append(out, fmt.Sprintf("%s: %q (bytes %d..%d of the key) in %q", name, piece, i, i+pieceLen,
					line[max(0, at-100):min(len(line), at+40)]))
				break
			}
		}
	}
	return out
}

// apiKeyLeaks is leaks for the secret part of apiKey (everything after the
// public "sk-ant-api01-", which a log may name as the key's kind).
func apiKeyLeaks(what, text string) []string {
	return leaks(strings.TrimPrefix(apiKey, "sk-ant-api01-"), map[string]string{what: text})
}

// requireNoAPIKey fails when text holds a piece of the API key.
func requireNoAPIKey(t *testing.T, what, text string) {
	t.Helper()
	if found := apiKeyLeaks(what, text); len(found) > 0 {
		t.Errorf("%s contain a piece of the API key: %v", what, found)
	}
}
