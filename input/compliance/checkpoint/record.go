// Package checkpoint holds the collector's durable record (how far the feed
// has been scanned, the ids already delivered near that edge, the user
// state), the rules that move it, and a keeper that loads it and saves it
// through one compare-and-swap of any Store. It knows nothing of Benthos.
package checkpoint

import (
	"errors"
	"fmt"
	"maps"
	"time"
)

// Version is the record format written by this package for the Activity
// Feed. Version 1 documents written before the revision came first are read
// unchanged.
const Version = 1

// VersionKeyed is the same document for a window on another timestamp than
// created_at: its identity names that timestamp (identity.key, e.g.
// "updated_at" for chats). Version 1 records keep meaning created_at.
const VersionKeyed = 2

// Identity names what a record collects. A record whose identity differs from
// the running configuration is refused rather than silently reused, because
// resuming another filter set's position skips data.
type Identity struct {
	Endpoint string `json:"endpoint"`
	BaseURL  string `json:"base_url"`
	Filters  string `json:"filters"`        // "sha256:<hex>" of the canonical filter set
	Mode     string `json:"mode,omitempty"` // "" (continuous) or "once"
	// Key names the timestamp the window runs on; "" means created_at
	// (version 1 records).
	Key string `json:"key,omitempty"`
}

// Record is one collector's checkpoint document. Times are parsed once, when
// the document is decoded, and formatted (RFC 3339, UTC) when it is encoded:
// comparisons are between times, never between strings.
type Record struct {
	Version  int
	Identity Identity
	// Floor is the resolved `earliest` of the first job, persisted before the
	// first request; collection never reads below it.
	Floor time.Time
	// Until is the resolved `latest` of a `once` backfill (zero otherwise).
	Until time.Time
	// ScannedTo is the exclusive upper bound of everything committed.
	ScannedTo time.Time
	// SeenFrom is the lower bound of Seen: ids below it were pruned (zero:
	// unset).
	SeenFrom time.Time
	// Seen holds the ids returned by committed slices at or above SeenFrom
	// (all of them, unless the seen cap dropped the oldest seconds).
	Seen SeenSet
	// Pending holds ids delivered (acked) by slices that did not commit; they
	// are not re-delivered and are dropped once ScannedTo passes them.
	Pending IDSet
	// Marks are a Source's per-record watermarks (chats: for each chat, the
	// newest message time its committed versions covered), kept while they
	// are newer than scanned_to minus the source's horizon. Nil for the feed.
	Marks map[string]time.Time
	// State is the user state folded by the state update/merge mappings. It
	// never moves the collection window.
	State     map[string]any
	Rev       int64
	UpdatedAt time.Time
}

func utc(t time.Time) time.Time { return t.UTC() }

func second(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// New returns the record written before a collector's first request: it
// resumes at floor, so a first job that fails cannot drop history.
func New(id Identity, floor time.Time) *Record {
	f := second(floor)
	version := Version
	if id.Key != "" {
		version = VersionKeyed
	}
	return &Record{
		Version:   version,
		Identity:  id,
		Floor:     f,
		ScannedTo: f,
		SeenFrom:  f,
		Pending:   IDSet{},
		State:     map[string]any{},
	}
}

// ScannedToTime returns ScannedTo.
func (r *Record) ScannedToTime() time.Time { return r.ScannedTo }

// FloorTime returns Floor.
func (r *Record) FloorTime() time.Time { return r.Floor }

// SeenFromTime returns SeenFrom (zero when unset).
func (r *Record) SeenFromTime() time.Time { return r.SeenFrom }

// UntilTime returns Until (zero when unset).
func (r *Record) UntilTime() time.Time { return r.Until }

// Known reports whether id was delivered before: committed or pending.
func (r *Record) Known(id string) bool {
	if r.Seen.Has(id) {
		return true
	}
	_, pending := r.Pending[id]
	return pending
}

// SliceCommit is what a committed slice contributes to the record.
type SliceCommit struct {
	To  time.Time // the slice's exclusive upper bound
	IDs IDSet     // every id its walk returned, emitted or dropped as duplicate
	// Marks are the watermarks the slice moved (the later one wins).
	Marks map[string]time.Time
}

// Commit applies committed slices in order. scanned_to never moves backwards;
// seen gains every id of the slices and is pruned to created_at >=
// scanned_to - overlap (seen_from records that bound); pending ids below the
// new scanned_to are dropped because the committed walks returned them.
func (r *Record) Commit(slices []SliceCommit, overlap time.Duration, state map[string]any, now time.Time) {
	scanned := r.ScannedTo
	for _, s := range slices {
		if s.To.After(scanned) {
			scanned = utc(s.To)
		}
		r.Seen.AddAll(s.IDs)
		for id, t := range s.Marks {
			if old, ok := r.Marks[id]; !ok || t.After(old) {
				if r.Marks == nil {
					r.Marks = map[string]time.Time{}
				}
				r.Marks[id] = t.UTC()
			}
		}
	}
	r.ScannedTo = scanned
	bound := second(scanned.Add(-overlap))
	if r.SeenFrom.After(bound) {
		// Never lower seen_from: ids below it are gone.
		bound = r.SeenFrom
	}
	r.Seen.PruneBelow(bound)
	r.SeenFrom = bound
	r.Pending.PruneBelow(scanned)
	if state != nil {
		r.State = state
	}
	r.UpdatedAt = second(now)
}

// PruneMarks drops the marks older than bound.
func (r *Record) PruneMarks(bound time.Time) {
	for id, t := range r.Marks {
		if t.Before(bound) {
			delete(r.Marks, id)
		}
	}
}

// AddPending records ids delivered by slices that could not commit.
func (r *Record) AddPending(ids IDSet, now time.Time) {
	for id, sec := range ids {
		if !r.Seen.Has(id) {
			r.Pending[id] = sec
		}
	}
	r.UpdatedAt = second(now)
}

// Rewind moves collection on purpose: scanned_to (and seen_from) become to,
// seen and pending are cleared. Used by operators through `state rewind`.
func (r *Record) Rewind(to time.Time, now time.Time) {
	to = second(to)
	r.ScannedTo = to
	r.SeenFrom = to
	if to.Before(r.Floor) {
		r.Floor = to
	}
	r.Seen = SeenSet{}
	r.Pending = IDSet{}
	r.Marks = nil
	r.UpdatedAt = second(now)
}

// CapSeen keeps at most max ids in Seen by dropping whole seconds, oldest
// first, and reports how many ids were dropped and the first second kept.
// SeenFrom is left where it is: the next jobs still re-read the dropped
// seconds and deliver their ids again (duplicates), never skip them. A max of
// 0 or less keeps everything.
func (r *Record) CapSeen(max int) (dropped int, keptFrom time.Time) {
	if max <= 0 || r.Seen.Len() <= max {
		return 0, time.Time{}
	}
	secs := r.Seen.seconds()
	excess := r.Seen.Len() - max
	cut := secs[len(secs)-1] + 1 // drops everything if the newest second alone is too big
	for _, sec := range secs {
		if excess <= 0 {
			cut = sec
			break
		}
		excess -= len(r.Seen.secs[sec])
	}
	before := r.Seen.Len()
	r.Seen.PruneBelow(time.Unix(cut, 0))
	return before - r.Seen.Len(), time.Unix(cut, 0).UTC()
}

// Validate checks a decoded record for the invariants the collector relies on.
func (r *Record) Validate() error {
	switch {
	case r.Version != Version && r.Version != VersionKeyed:
		return fmt.Errorf("version: unsupported checkpoint version %d (this build reads %d and %d)", r.Version, Version, VersionKeyed)
	case r.Version == VersionKeyed && r.Identity.Key == "":
		return errors.New("identity.key: missing (a version 2 record names the timestamp its window runs on)")
	case r.Version == Version && r.Identity.Key != "":
		return fmt.Errorf("identity.key: %q in a version 1 record (version 1 windows run on created_at)", r.Identity.Key)
	}
	if r.Identity.Endpoint == "" {
		return errors.New("identity.endpoint: missing")
	}
	if r.Floor.IsZero() {
		return errors.New("floor: missing")
	}
	if r.ScannedTo.IsZero() {
		return errors.New("scanned_to: missing")
	}
	if r.ScannedTo.Before(r.Floor) {
		return fmt.Errorf("scanned_to: %s is before floor %s", formatTime(r.ScannedTo), formatTime(r.Floor))
	}
	if r.Rev < 0 {
		return fmt.Errorf("rev: negative (%d)", r.Rev)
	}
	return nil
}

// Clone returns a copy that the caller may change without changing r (the
// user state is copied through JSON; seen shares what does not change).
func (r *Record) Clone() *Record {
	c := *r
	c.Seen = r.Seen.Clone()
	c.Pending = r.Pending.Clone()
	if r.Marks != nil {
		c.Marks = maps.Clone(r.Marks)
	}
	c.State = cloneState(r.State)
	return &c
}

//------------------------------------------------------------------------------

// DeletedError is what decoding a tombstone returns: an operator deleted the
// checkpoint on purpose (`state delete`), which is not the same as a
// checkpoint that vanished. The tombstone keeps the revision counting, so
// that a job that read the checkpoint before the delete can never write over
// it.
type DeletedError struct {
	Rev int64
	At  time.Time
}

func (e *DeletedError) Error() string {
	return fmt.Sprintf("the checkpoint was deleted by an operator at %s (rev %d); the next job starts again from `earliest`",
		formatTime(e.At), e.Rev)
}

// ErrDeleted matches a *DeletedError with errors.Is.
var ErrDeleted = errors.New("checkpoint deleted by an operator")

func (e *DeletedError) Is(target error) bool { return target == ErrDeleted }

// Tombstone returns the document an operator's delete writes as revision rev.
func Tombstone(id Identity, rev int64, at time.Time) ([]byte, error) {
	return encodeTombstone(id, rev, second(at))
}
