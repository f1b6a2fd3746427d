package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/emit"
)

// job is one run of the collector.
type job struct {
	c    *Collector
	id   string
	soft <-chan struct{}
	// deadline is closed when job_timeout passes (never without one).
	deadline chan struct{}
	// fetchCtx ends on soft stop, job_timeout or the job's end: sends and
	// requests stop; ctx ending is a hard stop: nothing more is written.
	fetchCtx context.Context
	ctx      context.Context

	acks      *emit.Acks
	nextBatch int
	cp        *Checkpoint // the stored checkpoint (nil: none yet, or no store)
	complete  bool        // the run's position was recorded (or, without a store, every message acknowledged)
	failure   error
	counts    map[string]int
	rep       collector.Report
}

// run runs the job and returns its failure.
func (j *job) run() error {
	c := j.c
	if c.ckpt != nil {
		if err := j.loadCheckpoint(); err != nil {
			return err
		}
		if c.late != nil {
			if err := j.recordLateAcks(); err != nil {
				return err
			}
		}
	}
	if c.cfg.Emit == EmitChanges {
		return j.runChanges()
	}
	return j.runSnapshot()
}

// loadCheckpoint reads the stored checkpoint and checks its identity.
func (j *job) loadCheckpoint() error {
	c := j.c
	data, err := c.ckpt.load(j.ctx)
	if err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	if isTombstone(data) {
		c.deps.Log.Infof("job %s: the checkpoint %s was deleted by an operator: starting over", j.id, c.deps.Store.Describe(c.ckpt.key))
		c.late = nil
		return nil // the next write continues its revisions
	}
	cp, err := DecodeCheckpoint(data)
	if err != nil {
		return &checkpoint.CorruptError{Where: c.deps.Store.Describe(c.ckpt.key), Err: err}
	}
	want := c.cfg.Identity()
	if cp.Identity != want {
		if !c.cfg.Adopt {
			return fmt.Errorf("checkpoint %s was written for %v, this config collects %v: refusing to reuse it "+
				"(set state.adopt to take it over for one run, or give this endpoint its own state.key)", c.deps.Store.Describe(c.ckpt.key), cp.Identity, want)
		}
		c.deps.Log.Warnf("adopting checkpoint %s written for %v (state.adopt)", c.deps.Store.Describe(c.ckpt.key), cp.Identity)
		if cp.Identity.Emit != want.Emit {
			cp.Hashes, cp.RecordsDoc, cp.RecordsID = nil, "", ""
		}
		cp.Identity = want
	}
	j.cp = cp
	return nil
}

// isTombstone reports whether a stored document is the tombstone an
// operator's delete leaves (a small document: a checkpoint is not decoded).
func isTombstone(data []byte) bool {
	if len(data) > 4<<10 {
		return false
	}
	_, err := checkpoint.Decode(data)
	return errors.Is(err, checkpoint.ErrDeleted)
}

// --- emit: snapshot -----------------------------------------------------

// runSnapshot walks the list, emitting every record as it comes, then the
// marker once every record was acknowledged, then records the run.
func (j *job) runSnapshot() error {
	c := j.c
	started := c.deps.Clock.Now()
	var batch []emit.Message
	walked := 0
	byType := map[string]int{}
	w := j.walker(func(r Record) error {
		if walked++; walked > c.cfg.MaxRecords {
			return j.tooMany()
		}
		byType[r.Type]++
		batch = append(batch, emit.Message{Body: r.Raw, Meta: j.meta(r.Type, r.Key, r.RequestID,
			emit.Meta{Key: MetaSnapshotID, Value: j.id})})
		if len(batch) >= c.cfg.BatchSize {
			err := j.send(batch)
			batch = nil
			return err
		}
		return nil
	})
	err := w.walk(j.fetchCtx)
	j.walked(w, walked, byType)
	if err == nil && len(batch) > 0 {
		err = j.send(batch)
	}
	if err != nil {
		return j.stopOr(err)
	}
	if err := j.waitAcks(); err != nil {
		return err
	}
	completed := c.deps.Clock.Now()
	marker, err := json.Marshal(map[string]any{
		"snapshot_id": j.id, "endpoint": c.cfg.Endpoint, "records": walked, "by_type": byType,
		"started_at": started.UTC().Format(time.RFC3339Nano), "completed_at": completed.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return err
	}
	if err := j.send([]emit.Message{{Body: marker, Meta: j.meta(MarkerType, "", "",
		emit.Meta{Key: MetaSnapshotID, Value: j.id}, emit.Meta{Key: MetaSnapshotComplete, Value: "true"})}}); err != nil {
		return j.stopOr(err)
	}
	j.counts["marker"] = 1
	if err := j.waitAcks(); err != nil {
		return err
	}
	if c.ckpt == nil {
		j.complete = true
		return nil
	}
	cp := j.cp
	if cp == nil {
		cp = &Checkpoint{Identity: c.cfg.Identity()}
	}
	next := *cp
	next.SnapshotID, next.CompletedAt, next.Records = j.id, completed, walked
	next.Hashes, next.RecordsDoc, next.RecordsID = nil, "", ""
	if err := j.save(&next, nil, 0, true); err != nil {
		return err
	}
	j.complete = true
	return nil
}

// --- emit: changes ------------------------------------------------------

// current is a record of this run's walk.
type current struct {
	raw  json.RawMessage
	typ  string
	hash uint64
	rid  string
}

// change is one change a run emits.
type change struct {
	kind string
	key  string
	typ  string
	hash uint64 // the current hash (added, changed)
	cur  json.RawMessage
	prev json.RawMessage
	rid  string
}

// pendingWrite is what a changes run leaves to record: its changes, the
// batches that carry them and their acknowledgements.
type pendingWrite struct {
	jobID   string
	changes []change
	batches [][2]int // batch number -> [from, to) of changes
	sentAll bool     // every change is in a batch handed out
	acks    *emit.Acks
	applied map[int]bool // batches recorded
	// records are the records the checkpoint's hashes describe (with
	// include_previous), updated as changes are recorded; recordsStale says
	// that the stored document must be written even without a change.
	records      map[string]json.RawMessage
	recordsStale bool
}

// runChanges walks the whole list into memory, compares it with the
// checkpoint's hashes and emits the changes; nothing is emitted before the
// walk completed.
func (j *job) runChanges() error {
	c := j.c
	records := map[string]*current{}
	var order []string
	byType := map[string]int{}
	walked := 0
	w := j.walker(func(r Record) error {
		if walked++; walked > c.cfg.MaxRecords {
			return j.tooMany()
		}
		h, err := Hash(r.Raw)
		if err != nil {
			return fmt.Errorf("record %s (request-id %s): %w", r.Key, r.RequestID, err)
		}
		if _, dup := records[r.Key]; dup {
			j.counts["duplicates"]++
		} else {
			order = append(order, r.Key)
			byType[r.Type]++
		}
		records[r.Key] = &current{raw: r.Raw, typ: r.Type, hash: h, rid: r.RequestID}
		return nil
	})
	err := w.walk(j.fetchCtx)
	j.walked(w, walked, byType)
	if err != nil {
		return j.stopOr(err) // nothing was emitted: no removed from a failed walk
	}

	forgot := 0
	if j.cp != nil && !c.cfg.IncludeDocuments {
		forgot = j.forgetDocuments()
	}
	var hashes map[string]uint64
	if j.cp != nil {
		hashes = j.cp.Hashes
	}
	// A document that answered 404 after being listed keeps its recorded
	// hash: the run that no longer lists it reports it removed.
	kept := map[string]bool{}
	for _, key := range w.unavailable {
		if _, ok := hashes[key]; ok {
			kept[key] = true
		}
	}
	changes := diff(hashes, records, order, kept)
	for _, ch := range changes {
		j.counts[ch.kind]++
	}
	pw := &pendingWrite{jobID: j.id, changes: changes, acks: j.acks, applied: map[int]bool{}}
	if c.cfg.IncludePrevious {
		// The previous versions are read only when a change needs them.
		var prev map[string]json.RawMessage
		if j.counts[Changed]+j.counts[Removed]+len(kept) > 0 {
			if prev, err = j.loadRecords(); err != nil {
				return err
			}
		}
		// The records document describes the recorded hashes: this walk's
		// version of every unchanged record, and the recorded version of
		// each changed or removed one until its change is recorded.
		pw.records = make(map[string]json.RawMessage, len(records))
		for key, r := range records {
			if h, ok := hashes[key]; ok && h == r.hash {
				pw.records[key] = r.raw
			}
		}
		for key := range kept {
			if prev[key] != nil {
				pw.records[key] = prev[key]
			}
		}
		for i := range changes {
			ch := &changes[i]
			if ch.kind != Added {
				ch.prev = prev[ch.key]
				if ch.prev != nil {
					pw.records[ch.key] = ch.prev
				}
			}
		}
		// Forgotten documents leave the stored records (their content) now.
		pw.recordsStale = j.cp == nil || j.cp.RecordsID == "" || forgot > 0
	}
	if j.cp == nil && c.cfg.SilentBaseline {
		c.deps.Log.Infof("job %s: first run with baseline: silent: recording %d records without emitting them", j.id, len(changes))
		pw.batches, pw.sentAll = [][2]int{{0, len(changes)}}, true
		return j.recordChanges(pw, func(int) bool { return true })
	}
	for _, kind := range []string{Added, Changed, Removed} {
		if n := j.counts[kind]; n > 0 && c.deps.Hooks.OnChanges != nil {
			c.deps.Hooks.OnChanges(kind, n)
		}
	}
	sendErr := j.sendChanges(pw)
	if sendErr == nil {
		sendErr = j.waitAcks()
	}
	if sendErr != nil && !errors.Is(sendErr, ErrJobTimeout) {
		j.drain() // a refused batch: the others already delivered may still be acknowledged
	}
	if j.ctx.Err() != nil {
		return errStopped // a hard stop writes nothing
	}
	if err := j.recordChanges(pw, pw.acks.Acked); err != nil {
		return err
	}
	if pw.acks.Outstanding() > 0 {
		c.late = pw // their acks may still come: the next job records them
	}
	return j.stopOr(sendErr)
}

// diff compares this run's records with the recorded hashes: added and
// changed in walk order, then removed in key order; a recorded key of kept
// is not removed.
func diff(hashes map[string]uint64, records map[string]*current, order []string, kept map[string]bool) []change {
	var out []change
	for _, key := range order {
		r := records[key]
		old, known := hashes[key]
		switch {
		case !known:
			out = append(out, change{kind: Added, key: key, typ: r.typ, hash: r.hash, cur: r.raw, rid: r.rid})
		case old != r.hash:
			out = append(out, change{kind: Changed, key: key, typ: r.typ, hash: r.hash, cur: r.raw, rid: r.rid})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(hashes)) {
		if _, ok := records[key]; !ok && !kept[key] {
			typ := key
			if i := indexByte(key, ':'); i >= 0 {
				typ = key[:i]
			}
			out = append(out, change{kind: Removed, key: key, typ: typ})
		}
	}
	return out
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// forgetDocuments drops the documents' hashes from the loaded checkpoint
// when include_documents is off, so that turning it off does not report
// every document removed; the run's write records their absence. It
// returns how many it dropped.
func (j *job) forgetDocuments() int {
	hashes := make(map[string]uint64, len(j.cp.Hashes))
	dropped := 0
	for key, h := range j.cp.Hashes {
		if strings.HasPrefix(key, DocumentType+":") {
			dropped++
			continue
		}
		hashes[key] = h
	}
	if dropped == 0 {
		return 0
	}
	j.c.deps.Log.Infof("job %s: include_documents is off: forgetting the hashes of %d project documents without emitting them as removed", j.id, dropped)
	cp := *j.cp
	cp.Hashes = hashes
	j.cp = &cp
	return dropped
}

// sendChanges emits the changes in batches.
func (j *job) sendChanges(pw *pendingWrite) error {
	size := j.c.cfg.BatchSize
	for from := 0; from < len(pw.changes); from += size {
		to := min(from+size, len(pw.changes))
		msgs := make([]emit.Message, 0, to-from)
		for _, ch := range pw.changes[from:to] {
			body, err := changeBody(ch)
			if err != nil {
				return err
			}
			msgs = append(msgs, emit.Message{Body: body, Meta: j.meta(ch.typ, ch.key, ch.rid,
				emit.Meta{Key: MetaSnapshotID, Value: j.id}, emit.Meta{Key: MetaChange, Value: ch.kind})})
		}
		n := j.nextBatch
		for len(pw.batches) <= n {
			pw.batches = append(pw.batches, [2]int{})
		}
		pw.batches[n] = [2]int{from, to}
		if err := j.send(msgs); err != nil {
			return err
		}
	}
	pw.sentAll = true
	return nil
}

// changeBody is {"change","key","current","previous"}.
func changeBody(ch change) ([]byte, error) {
	null := json.RawMessage("null")
	cur, prev := ch.cur, ch.prev
	if cur == nil {
		cur = null
	}
	if prev == nil {
		prev = null
	}
	return json.Marshal(struct {
		Change   string          `json:"change"`
		Key      string          `json:"key"`
		Current  json.RawMessage `json:"current"`
		Previous json.RawMessage `json:"previous"`
	}{ch.kind, ch.key, cur, prev})
}

// recordChanges records the changes of the batches of pw that acked
// reports acknowledged and that are not recorded yet; when every change is
// recorded, the run is complete and its position is recorded too. Nothing
// is written when there is nothing new.
func (j *job) recordChanges(pw *pendingWrite, acked func(n int) bool) error {
	c := j.c
	next := &Checkpoint{Identity: c.cfg.Identity()}
	if j.cp != nil {
		cp := *j.cp
		next = &cp
	}
	hashes := make(map[string]uint64, len(next.Hashes))
	maps.Copy(hashes, next.Hashes)
	applied := 0
	for n, rng := range pw.batches {
		if pw.applied[n] || !acked(n) {
			continue
		}
		pw.applied[n] = true
		for _, ch := range pw.changes[rng[0]:rng[1]] {
			applied++
			if ch.kind == Removed {
				delete(hashes, ch.key)
				if pw.records != nil {
					delete(pw.records, ch.key)
				}
				continue
			}
			hashes[ch.key] = ch.hash
			if pw.records != nil {
				pw.records[ch.key] = ch.cur
			}
		}
	}
	complete := pw.sentAll && len(pw.applied) == len(pw.batches)
	if applied == 0 && !(complete && len(pw.changes) == 0) {
		return nil
	}
	next.Hashes = hashes
	if complete {
		next.SnapshotID, next.CompletedAt, next.Records = pw.jobID, c.deps.Clock.Now(), len(hashes)
	}
	records := pw.records
	if applied == 0 && !pw.recordsStale {
		records = nil // unchanged: the checkpoint keeps naming the stored document
	}
	if err := j.save(next, records, applied, complete); err != nil {
		return err
	}
	if records != nil {
		pw.recordsStale = false
	}
	j.counts["changes_recorded"] += applied
	if complete && pw.jobID == j.id {
		j.complete = true
	}
	return nil
}

// recordLateAcks records the changes of an earlier job acknowledged after
// it ended, before this job compares anything.
func (j *job) recordLateAcks() error {
	c := j.c
	pw := c.late
	c.late = nil
	if err := j.recordChanges(pw, pw.acks.Acked); err != nil {
		c.late = pw
		return fmt.Errorf("recording the changes of job %s acknowledged after it ended: %w", pw.jobID, err)
	}
	if n := j.counts["changes_recorded"]; n > 0 {
		c.deps.Log.Infof("job %s: recorded %d changes of job %s acknowledged after it ended", j.id, n, pw.jobID)
		j.counts["late_changes_recorded"] = n
	}
	delete(j.counts, "changes_recorded")
	return nil
}

// loadRecords reads the records document the checkpoint names; a missing or
// mismatched one leaves `previous` empty for this run, with a warning.
func (j *job) loadRecords() (map[string]json.RawMessage, error) {
	c := j.c
	cp := j.cp
	if cp.RecordsDoc == "" {
		return nil, nil
	}
	k := c.slotOf(cp.RecordsDoc)
	if k == nil {
		c.deps.Log.Warnf("job %s: the checkpoint names records document %q, not one of this key's: previous versions are left out this run", j.id, cp.RecordsDoc)
		return nil, nil
	}
	data, err := k.load(j.ctx)
	if err != nil {
		return nil, err
	}
	var doc recordsDoc
	if data != nil {
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, &checkpoint.CorruptError{Where: c.deps.Store.Describe(k.key), Err: err}
		}
	}
	if data == nil || doc.ID != cp.RecordsID {
		c.deps.Log.Warnf("job %s: records document %s is not the one the checkpoint names (%q): previous versions are left out this run", j.id, cp.RecordsDoc, cp.RecordsID)
		return nil, nil
	}
	return doc.Records, nil
}

// slotOf returns the keeper of a records document key.
func (c *Collector) slotOf(key string) *keeper {
	for _, k := range c.slots {
		if k.key == key {
			return k
		}
	}
	return nil
}

// --- shared -------------------------------------------------------------

// walker returns the walker of this job's endpoint.
func (j *job) walker(visit func(Record) error) *walker {
	c := j.c
	return &walker{api: c.deps.API, endpoint: c.cfg.Endpoint, pageSize: c.cfg.PageSize, orgIDs: c.cfg.OrganizationIDs,
		scopeOf: c.deps.ScopeOf, visit: visit, documents: c.cfg.IncludeDocuments}
}

// walked fills the report from a walk.
func (j *job) walked(w *walker, records int, byType map[string]int) {
	j.rep.Pages = w.requests
	j.rep.Returned = records
	j.rep.FinalRequestID = w.lastRequestID
	j.counts["records"] = records
	for t, n := range byType {
		j.counts["records_"+t] = n
	}
	if h := j.c.deps.Hooks.OnRequest; h != nil {
		for range w.requests {
			h()
		}
	}
	for _, key := range w.unavailable {
		j.c.deps.Log.Warnf("job %s: project document %s answered 404 after its project listed it (deleted meanwhile?): skipped", j.id, strings.TrimPrefix(key, DocumentType+":"))
	}
	if n := len(w.unavailable); n > 0 {
		j.counts["documents_unavailable"] = n
	}
	if len(w.missingOrgs) > 0 {
		j.c.deps.Log.Warnf("job %s: filters.organization_ids names organizations the key does not list: %v", j.id, w.missingOrgs)
	}
}

func (j *job) tooMany() error {
	return fmt.Errorf("the walk returned more than max_records (%d) records: raise max_records if the organisation is that large", j.c.cfg.MaxRecords)
}

// meta is the metadata of one message.
func (j *job) meta(typ, key, requestID string, extra ...emit.Meta) []emit.Meta {
	m := []emit.Meta{
		{Key: MetaEndpoint, Value: j.c.cfg.Endpoint},
		{Key: MetaJobID, Value: j.id},
		{Key: MetaRecordType, Value: typ},
	}
	if key != "" {
		m = append(m, emit.Meta{Key: MetaRecordKey, Value: key})
	}
	if requestID != "" {
		m = append(m, emit.Meta{Key: MetaRequestID, Value: requestID})
	}
	return append(m, extra...)
}

// send hands one batch to the pipeline, unless a batch was refused or the
// job is stopping.
func (j *job) send(msgs []emit.Message) error {
	if err := j.acks.Failed(); err != nil {
		return fmt.Errorf("the output refused a batch: %w", err)
	}
	n := j.nextBatch
	j.nextBatch++
	b := emit.Batch{Endpoint: j.c.cfg.Endpoint, Messages: msgs, Ack: j.acks.Track(n)}
	select {
	case j.c.deps.Out <- b:
		j.rep.Emitted += len(msgs)
		return nil
	case <-j.fetchCtx.Done():
		j.acks.Untrack()
		return j.stopReason()
	}
}

// stopReason is why fetchCtx ended.
func (j *job) stopReason() error {
	select {
	case <-j.soft:
		return errStopped
	default:
	}
	if j.ctx.Err() != nil {
		return errStopped
	}
	select {
	case <-j.deadline:
		return ErrJobTimeout
	default:
	}
	return context.Canceled
}

// stopOr turns an error caused by the job stopping into the stop's reason.
func (j *job) stopOr(err error) error {
	if err != nil && j.fetchCtx.Err() != nil && errors.Is(err, context.Canceled) {
		return j.stopReason()
	}
	return err
}

// waitAcks waits until every batch handed out was acknowledged. A nack fails
// the job; job_timeout leaves drain_grace for the outstanding ones; a soft
// stop does not wait.
func (j *job) waitAcks() error {
	c := j.c
	clock := c.deps.Clock
	warn := clock.NewTimer(c.cfg.AckWarnAfter)
	defer func() { warn.Stop() }()
	waitStart := clock.Now()
	var grace <-chan time.Time
	for {
		if err := j.acks.Failed(); err != nil {
			return fmt.Errorf("the output refused a batch: %w", err)
		}
		n := j.acks.Outstanding()
		if n == 0 {
			return nil
		}
		select {
		case <-j.soft:
			return errStopped
		default:
		}
		deadline := (<-chan struct{})(j.deadline)
		if grace == nil {
			select {
			case <-j.deadline:
				t := clock.NewTimer(c.cfg.DrainGrace)
				defer t.Stop()
				grace, deadline = t.C(), nil
			default:
			}
		} else {
			deadline = nil
		}
		select {
		case <-j.acks.Changed():
		case <-deadline:
		case <-grace:
			c.deps.Log.Warnf("job %s: %d batches still unacknowledged after the %v drain grace; the run is not recorded. "+
				"The next job waits for their acknowledgements", j.id, n, c.cfg.DrainGrace)
			return ErrJobTimeout
		case <-j.soft:
		case <-j.ctx.Done():
			return errStopped
		case <-warn.C():
			c.deps.Log.Warnf("job %s has walked its list but %d batches have been waiting for acknowledgement for %v. "+
				"Likely causes: an output batching by count with no `period`, or a message that fails downstream and is replayed forever "+
				"(auto_replay_nacks); add a `period` or a dead-letter `fallback` output", j.id, n, clock.Now().Sub(waitStart).Truncate(time.Second))
			warn = clock.NewTimer(c.cfg.AckWarnAfter)
		}
	}
}

// drain waits, for at most drain_grace, until every batch handed out was
// acknowledged or refused, so that a failed run records every change that
// was delivered. It does not wait when the input is closing.
func (j *job) drain() {
	c := j.c
	if j.acks.Outstanding() == 0 {
		return
	}
	t := c.deps.Clock.NewTimer(c.cfg.DrainGrace)
	defer t.Stop()
	for j.acks.Outstanding() > 0 {
		select {
		case <-j.acks.Changed():
		case <-t.C():
			return
		case <-j.soft:
			return
		case <-j.ctx.Done():
			return
		}
	}
}

// save writes the checkpoint (and, with records, the records document it
// names first) by compare-and-swap, after checking the lease.
func (j *job) save(next *Checkpoint, records map[string]json.RawMessage, changes int, complete bool) error {
	c := j.c
	ctx := j.ctx
	if ctx.Err() != nil {
		return errStopped
	}
	fail := func(err error) error {
		c.deps.Hooks.commit(CommitInfo{JobID: j.id, Err: err})
		if !errors.Is(err, checkpoint.ErrFenced) {
			c.setHealth(fmt.Errorf("checkpoint write failed: %w", err))
		}
		return err
	}
	if c.deps.CheckFence != nil {
		if err := c.deps.CheckFence(ctx); err != nil {
			return fail(fmt.Errorf("%w: %v", checkpoint.ErrFenced, err))
		}
	}
	next.UpdatedAt = c.deps.Clock.Now()
	if records != nil {
		// The records go to the slot the checkpoint does not name, so that
		// a crash before the checkpoint's write leaves the named one intact.
		slot := c.slots[0]
		if j.cp != nil && j.cp.RecordsDoc == c.slots[0].key {
			slot = c.slots[1]
		}
		if !slot.known {
			switch _, err := slot.load(ctx); {
			case isCorrupt(err):
				// Only this collector writes the slot, and only the slot
				// the checkpoint does not name: replace what is there.
				slot.rev, slot.known = checkpoint.ReplaceUnreadable, true
			case err != nil:
				return fail(err)
			}
		}
		id := fmt.Sprintf("%s/%d", j.id, c.ckpt.rev+1)
		if _, err := slot.save(ctx, func(rev int64) ([]byte, error) { return encodeRecords(rev, id, records) }); err != nil {
			return fail(err)
		}
		next.RecordsDoc, next.RecordsID = slot.key, id
	}
	rev, err := c.ckpt.save(ctx, func(rev int64) ([]byte, error) {
		next.Rev = rev
		return next.Encode()
	})
	if err != nil {
		return fail(err)
	}
	next.Rev = rev
	j.cp = next
	c.deps.Hooks.commit(CommitInfo{JobID: j.id, Rev: rev, Complete: complete, Changes: changes})
	return nil
}

func isCorrupt(err error) bool {
	_, ok := errors.AsType[*checkpoint.CorruptError](err)
	return ok
}

func (h Hooks) commit(ci CommitInfo) {
	if h.OnCommit != nil {
		h.OnCommit(ci)
	}
}

// finish fills the report, updates health and returns.
func (j *job) finish() (collector.Report, error) {
	c := j.c
	rep := &j.rep
	if j.failure != nil && j.ctx.Err() != nil {
		j.failure = errStopped
	}
	if j.failure == nil && !j.complete {
		j.failure = errors.New("the run ended without being recorded")
	}
	rep.Outstanding = j.acks.Outstanding()
	rep.End = c.deps.Clock.Now()
	rep.DurationSeconds = rep.End.Sub(rep.Start).Seconds()
	rep.Complete = c.cfg.Once && j.complete
	rep.Counts = j.counts
	switch {
	case j.failure == nil:
		rep.Outcome = collector.OutcomeSuccess
	case errors.Is(j.failure, errStopped):
		rep.Outcome = collector.OutcomeStopped
	case errors.Is(j.failure, ErrJobTimeout):
		rep.Outcome = collector.OutcomeTimeout
	default:
		rep.Outcome = collector.OutcomeFailed
	}
	if j.failure != nil {
		rep.Error = j.failure.Error()
	}
	if c.deps.Hooks.OnRun != nil && rep.Pages > 0 {
		outcome := rep.Outcome
		if j.complete {
			outcome = "complete"
		}
		c.deps.Hooks.OnRun(outcome, rep.Returned)
	}
	c.updateHealth(j.failure)
	if j.failure != nil {
		return *rep, j.failure
	}
	return *rep, nil
}

// updateHealth applies a job's outcome to the collector's health.
func (c *Collector) updateHealth(failure error) {
	switch {
	case failure == nil:
		c.failed, c.lastFail = 0, ""
		c.setHealth(nil)
		return
	case errors.Is(failure, errStopped):
		return
	}
	c.failed++
	c.lastFail = failure.Error()
	var corrupt *checkpoint.CorruptError
	var conflict *checkpoint.ConflictError
	switch {
	case isAPIRefusal(failure):
		c.setHealth(fmt.Errorf("the Compliance API refused the key: %w", failure))
	case errors.As(failure, &corrupt), errors.As(failure, &conflict):
		c.setHealth(failure)
	case c.failed >= c.cfg.MaxFailedJobs:
		c.setHealth(fmt.Errorf("collection is stalled: %d consecutive jobs failed; last: %s", c.failed, c.lastFail))
	}
}
