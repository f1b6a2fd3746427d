package collector

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// Source walks the slices of an endpoint other than the Activity Feed
// (chats, files). The engine keeps everything else as it is for the feed:
// windows, adaptive slices, dedupe against the checkpoint and the open
// slices, batches, ack-gated commits in slice order, pending ids, fencing,
// orphaned batches and health. A Source is called on the job goroutine only.
type Source interface {
	// Probe makes one small request and returns the API's Date header (zero
	// if absent), so that a job's window is resolved on the API's clock; it
	// also surfaces a refused key before any slice is opened.
	Probe(ctx context.Context) (time.Time, error)
	// Walk reads one slice through w. It returns sealed when the walk
	// ended (has_more=false) and everything it claimed was handed out; cut
	// > 0, before anything of the slice was claimed, when its first page
	// shows it far denser than planned (see SliceWalk.Dense); and an error
	// that fails the slice (a *pager.GuardError for an answer that breaks a
	// guard, so that the failure names the way out). When Emit returns false
	// or w.Stopped(), it returns at once with sealed false.
	Walk(w *SliceWalk) (sealed bool, cut time.Duration, err error)
}

// SliceWalk is a Source's handle on one slice of a job. Its methods run on
// the job goroutine.
//
// Keys are what the checkpoint remembers (seen, pending): a Source claims
// every key its walk returns with Version (a top-level record: counted as
// returned, deduplicated, folded into user state) or Child (a record that
// belongs to a version: a message, a file), and emits what is fresh through
// the Unit of its version. A key is recorded as delivered (pending, when the
// slice cannot commit) only once the batch that carries it was acknowledged;
// a version's own key only once every batch of its unit was, so that a
// version whose messages were not all delivered is fetched again.
type SliceWalk struct {
	j    *job
	s    *slice
	info PageInfo
	page int
	open bool // info describes a page not reported yet
}

// Key is a dedupe key and the instant that places it in the window (pruned
// with the seen set once it is older than scanned_to - overlap).
type Key struct {
	ID string
	At time.Time
}

func (k Key) idAt() idAt { return idAt{k.ID, k.At.Unix()} }

// Context is the context of the slice's requests: it ends when the job
// stops fetching (job_timeout, shutdown, failure).
func (w *SliceWalk) Context() context.Context { return w.j.fetchCtx }

// Range is the slice's [from, to) on the second grid.
func (w *SliceWalk) Range() window.Range { return w.s.rng }

// Bounds are the slice's bounds as sent to the API (RFC 3339, UTC).
func (w *SliceWalk) Bounds() (from, to string) { return w.s.from, w.s.to }

// Stopped reports whether the job must stop fetching.
func (w *SliceWalk) Stopped() bool { return w.j.stopped() }

// Page records one answer of the slice's listing (page numbers, request-id,
// the API's clock) and returns the origin of the items taken from it.
func (w *SliceWalk) Page(meta api.Meta, records int) *Origin {
	j := w.j
	w.flush()
	w.page++
	j.rep.Pages++
	j.rep.FinalRequestID = meta.RequestID
	j.c.observeServerDate(meta.ServerDate)
	w.open = true
	w.info = PageInfo{JobID: j.id, Slice: "[" + w.s.from + ", " + w.s.to + ")", Page: w.page, Activities: records,
		RequestID: meta.RequestID, Started: j.rep.Start}
	return &Origin{JobID: j.id, Endpoint: j.c.cfg.Endpoint, SliceFrom: w.s.from, SliceTo: w.s.to,
		Page: w.page, RequestID: meta.RequestID, State: j.saved}
}

// Observe records an answer made for a record (its messages, a download):
// only the API's clock is taken from it.
func (w *SliceWalk) Observe(meta api.Meta) {
	w.j.c.observeServerDate(meta.ServerDate)
	w.j.rep.FinalRequestID = meta.RequestID
}

// flush reports the page in progress to the hooks.
func (w *SliceWalk) flush() {
	j := w.j
	if !w.open {
		return
	}
	w.open = false
	w.info.EmittedSoFar = j.rep.Emitted
	if total := j.rng.To.Sub(j.rng.From); total > 0 {
		w.info.Progress = float64(w.s.rng.To.Sub(j.rng.From)) / float64(total)
	}
	j.c.deps.Hooks.page(w.info)
}

// Dense decides from the first page of an ascending walk (oldest first)
// whether the slice is far denser than planned. A full page of n records
// from oldest to newest shows the density of the slice from oldest on
// (before oldest it is empty); when the rest of the slice would hold more
// than window.DenseFactor × target_per_slice at that density, Dense returns
// the length that keeps the empty start plus about target_per_slice
// records (never below min_slice) and true. The Source then returns that
// cut without claiming anything of the page.
func (w *SliceWalk) Dense(oldest, newest time.Time, n int) (time.Duration, bool) {
	r := w.s.rng
	quiet := max(oldest.UTC().Truncate(time.Second).Sub(r.From), 0)
	span := newest.Sub(oldest)
	burst, dense := window.DenseLength(r.To.Sub(r.From)-quiet, span, n, w.j.c.cfg.Slices)
	if !dense || quiet+burst >= r.To.Sub(r.From) {
		return 0, false
	}
	return quiet + burst, true
}

// Version claims the key of a top-level record the listing returned (a
// chat version), created (or changed) at k.At; doc is the record, for the
// state update mapping. It returns the record's Unit when the key was not
// delivered before, nil for a duplicate (counted and dropped).
func (w *SliceWalk) Version(k Key, doc []byte) *Unit {
	j, s, c := w.j, w.s, w.j.c
	s.returned++
	j.rep.Returned++
	if j.known(k.ID) {
		s.ids[k.ID] = k.At.Unix()
		w.info.Duplicates++
		j.rep.Duplicates++
		return nil
	}
	s.ids[k.ID] = k.At.Unix()
	if c.cfg.StateTracking && k.At.Before(j.prevScanned) {
		j.rep.LateCatches++
		c.deps.Hooks.lateCatch(j.prevScanned.Sub(k.At))
	}
	if next, err := c.deps.State.Update(s.state, api.Activity{ID: k.ID, CreatedAt: k.At, Raw: doc}); err != nil {
		c.deps.Log.Warnf("state update mapping failed on %s (state unchanged): %v", k.ID, err)
	} else if next != nil {
		s.state = next
	}
	s.delivered++
	if j.rep.FirstID == "" {
		j.rep.FirstID = k.ID
	}
	j.rep.LastID = k.ID
	return &Unit{w: w, key: k.idAt()}
}

// Child claims the key of a record that belongs to a version (a message, a
// file). It returns whether it is fresh; a duplicate is only recorded.
func (w *SliceWalk) Child(k Key) bool {
	known := w.j.known(k.ID)
	w.s.ids[k.ID] = k.At.Unix()
	return !known
}

// Mark moves the watermark of id (e.g. a chat: the newest message time its
// version covered) to at, if later. Marks are committed with the slice and
// read back by MarkOf in later jobs.
func (w *SliceWalk) Mark(id string, at time.Time) {
	if w.s.marks == nil {
		w.s.marks = map[string]time.Time{}
	}
	if old, ok := w.s.marks[id]; !ok || at.After(old) {
		w.s.marks[id] = at
	}
}

// MarkOf returns the watermark of id: the latest one of this job's open
// slices, or the committed one.
func (w *SliceWalk) MarkOf(id string) (time.Time, bool) {
	for i := len(w.j.open) - 1; i >= 0; i-- {
		if t, ok := w.j.open[i].marks[id]; ok {
			return t, true
		}
	}
	t, ok := w.j.rec.Marks[id]
	return t, ok
}

// MarkFloor is the earliest time a record without a mark may need: the
// checkpoint's floor, or scanned_to - MarkHorizon (the marks kept) when
// that is later.
func (w *SliceWalk) MarkFloor() time.Time {
	rec := w.j.rec
	floor := rec.FloorTime()
	if h := w.j.c.cfg.MarkHorizon; h > 0 {
		if b := w.j.prevScanned.Add(-h); b.After(floor) {
			floor = b
		}
	}
	return floor
}

// Count adds n to the job report's counter name.
func (w *SliceWalk) Count(name string, n int) {
	if n == 0 {
		return
	}
	if w.j.rep.Counts == nil {
		w.j.rep.Counts = map[string]int{}
	}
	w.j.rep.Counts[name] += n
}

// Unit is what one fresh version emits: its batches (the version's record,
// its messages or files). The version's key counts as delivered once the
// unit is closed and every batch of it was acknowledged with nil.
type Unit struct {
	w   *SliceWalk
	key idAt

	mu     sync.Mutex // batches are acknowledged on the pipeline's goroutines
	left   int        // batches handed out (or about to be), not yet acknowledged
	closed bool
	failed bool // a batch was nacked
}

// Emit hands out one batch of the unit: items, whose own keys (claimed with
// Child) are children. onAck, if set, is called once when the batch is
// acknowledged (also after its job ended), on the acknowledging goroutine:
// it must not block. Emit returns false when the job stopped before the
// batch was taken.
func (u *Unit) Emit(items []Item, children []Key, onAck func(error)) bool {
	w := u.w
	own := make([]idAt, len(children))
	for i, k := range children {
		own[i] = k.idAt()
	}
	u.mu.Lock()
	u.left++
	u.mu.Unlock()
	var once sync.Once
	ack := func(err error) {
		once.Do(func() {
			if onAck != nil {
				onAck(err)
			}
			ids := own
			u.mu.Lock()
			u.left--
			if err != nil {
				u.failed = true
			}
			if u.left == 0 && u.closed && !u.failed {
				ids = append(slices.Clip(own), u.key)
			}
			u.mu.Unlock()
			w.j.deliverAck(w.s, ids, err)
		})
	}
	if !w.j.send(w.s, Batch{Items: items, Ack: ack}) {
		return false // never acknowledged: the unit cannot complete
	}
	w.j.rep.Emitted += len(items)
	w.info.Emitted += len(items)
	return true
}

// Close says the unit emits nothing more. Call it only when everything the
// version has to emit was emitted: a unit left open is never recorded as
// delivered (the version is fetched again if its slice does not commit).
func (u *Unit) Close() {
	u.mu.Lock()
	u.closed = true
	done := u.left == 0 && !u.failed
	u.mu.Unlock()
	if done {
		// Every batch was acknowledged already (or there was none): the
		// key is delivered now, on the job goroutine that owns the slice.
		u.w.s.acked[u.key.id] = u.key.sec
	}
}

// walkSource is walk for a Source.
func (j *job) walkSource(ctx context.Context, s *slice, src Source) (bool, time.Duration, error) {
	w := &SliceWalk{j: j, s: s}
	defer w.flush()
	sealed, cut, err := src.Walk(w)
	if err != nil && j.fetchCtx.Err() != nil && ctx.Err() == nil {
		return false, 0, nil // stopped mid-request: the slice stays open
	}
	if err != nil || cut > 0 {
		return false, cut, err
	}
	return sealed, 0, nil
}
