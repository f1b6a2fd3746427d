package compliance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

// ErrNoCheckpoint is returned by StateTarget.Show when nothing is stored yet.
var ErrNoCheckpoint = errors.New("no checkpoint stored")

// ErrRefused wraps an edit refused because it would silently stop or redo
// collection (a future scanned_to, a rewind below earliest without force).
var ErrRefused = errors.New("refused")

// StateTarget is where one endpoint of one anthropic_compliance input keeps
// its checkpoint: what `compliance-connect state` and the HTTP state
// endpoints work on (Cribl's "Manage State"). Every write is one
// compare-and-swap from the revision just read, so it never overwrites a
// job's commit it did not see, and a job that read the checkpoint before the
// edit can never write over it.
type StateTarget struct {
	Label    string
	Endpoint string
	Key      string

	identity checkpoint.Identity
	store    checkpoint.Store
	settle   time.Duration
	clock    func() time.Time // the API's clock, as well as it is known
}

// Where describes the checkpoint's location.
func (t *StateTarget) Where() string { return t.store.Describe(t.Key) }

// maxEditAttempts bounds how often an edit is retried when a job commits
// between its read and its write.
const maxEditAttempts = 10

// stored is what an edit read: the record (nil when there is none) and the
// revision to swap from.
type stored struct {
	rec        *checkpoint.Record
	rev        int64
	deleted    *checkpoint.DeletedError
	unreadable error
}

func (t *StateTarget) read(ctx context.Context) (stored, error) {
	data, err := t.store.Load(ctx, t.Key)
	if errors.Is(err, checkpoint.ErrNotFound) {
		return stored{}, nil
	}
	if err != nil {
		return stored{}, err
	}
	rev, revErr := cas.Rev(data)
	if revErr != nil {
		return stored{rev: checkpoint.ReplaceUnreadable, unreadable: revErr}, nil
	}
	rec, err := checkpoint.Decode(data)
	if deleted, ok := errors.AsType[*checkpoint.DeletedError](err); ok {
		return stored{rev: rev, deleted: deleted}, nil
	}
	if err != nil {
		return stored{rev: rev, unreadable: err}, nil
	}
	return stored{rec: rec, rev: rev}, nil
}

// edit writes what build makes of the stored state, as one compare-and-swap,
// again (reading again) when a job committed in between.
func (t *StateTarget) edit(ctx context.Context, build func(s stored) ([]byte, error)) error {
	for attempt := 1; ; attempt++ {
		s, err := t.read(ctx)
		if err != nil {
			return err
		}
		doc, err := build(s)
		if err != nil {
			return err
		}
		err = t.store.Swap(ctx, t.Key, s.rev, doc, checkpoint.Fence{})
		if _, conflict := errors.AsType[*checkpoint.ConflictError](err); conflict && attempt < maxEditAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", t.Where(), err)
		}
		return nil
	}
}

func (t *StateTarget) noCheckpoint(s stored) error {
	if s.deleted != nil {
		return fmt.Errorf("%s: %w (%v)", t.Where(), ErrNoCheckpoint, s.deleted)
	}
	return fmt.Errorf("%s: %w yet", t.Where(), ErrNoCheckpoint)
}

// Show returns the stored checkpoint, or an error wrapping ErrNoCheckpoint.
func (t *StateTarget) Show(ctx context.Context) (*checkpoint.Record, error) {
	s, err := t.read(ctx)
	if err != nil {
		return nil, err
	}
	if s.unreadable != nil {
		return nil, &checkpoint.CorruptError{Where: t.Where(), Err: s.unreadable}
	}
	if s.rec == nil {
		return nil, t.noCheckpoint(s)
	}
	return s.rec, nil
}

// checkScannedTo refuses a scanned_to that would stop collection silently
// (later than the API's clock plus settle: every job would be empty) and,
// without force, one below floor (the resolved earliest): that re-sends
// everything since.
func (t *StateTarget) checkScannedTo(field string, to, floor time.Time, force bool) error {
	if limit := t.clock().Add(t.settle); to.After(limit) {
		return fmt.Errorf("%w: %s %s is later than the API's clock plus settle (%s): no job would collect anything until then, "+
			"a silent hole in the audit trail", ErrRefused, field, formatRFC3339(to), formatRFC3339(limit))
	}
	if !force && to.Before(floor) {
		return fmt.Errorf("%w: %s %s is before earliest (the checkpoint's floor, %s): everything since would be collected and "+
			"delivered again; repeat with --force (HTTP: ?force=true) if that is what you want", ErrRefused, field, formatRFC3339(to), formatRFC3339(floor))
	}
	return nil
}

// Set validates doc as a checkpoint of this target and stores it as the next
// revision. A running input notices: a job that read the checkpoint before
// cannot commit over it, and the next job resumes from doc. A scanned_to in
// the future is refused; one below the stored checkpoint's floor (a rewind
// below earliest) needs force.
func (t *StateTarget) Set(ctx context.Context, doc []byte, force bool) (*checkpoint.Record, error) {
	rec, err := checkpoint.Decode(doc)
	if errors.Is(err, checkpoint.ErrDeleted) {
		return nil, errors.New("the document is a tombstone: use `state delete` to delete the checkpoint")
	}
	if err != nil {
		return nil, err
	}
	if rec.Identity != t.identity {
		return nil, fmt.Errorf("the document's identity %+v does not match this input's %+v; fix the identity block (changing it on purpose is what state.adopt is for)", rec.Identity, t.identity)
	}
	err = t.edit(ctx, func(s stored) ([]byte, error) {
		floor := rec.ScannedTo // nothing stored: no rewind
		if s.rec != nil {
			floor = s.rec.Floor
		}
		if err := t.checkScannedTo("scanned_to", rec.ScannedTo, floor, force); err != nil {
			return nil, err
		}
		rec.Rev = s.rev + 1
		if s.unreadable != nil {
			rec.Rev = max(rec.Rev, 1) // replacing a corrupt record on purpose
		}
		rec.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		return rec.Encode()
	})
	return rec, err
}

// Rewind moves collection on purpose: scanned_to becomes to, seen and pending
// are cleared, and the next job collects from there. A rewind below the
// checkpoint's floor (earliest) needs force.
func (t *StateTarget) Rewind(ctx context.Context, to time.Time, force bool) (*checkpoint.Record, error) {
	var out *checkpoint.Record
	err := t.edit(ctx, func(s stored) ([]byte, error) {
		if s.unreadable != nil {
			return nil, &checkpoint.CorruptError{Where: t.Where(), Err: s.unreadable}
		}
		if s.rec == nil {
			return nil, t.noCheckpoint(s)
		}
		if err := t.checkScannedTo("rewind_to", to, s.rec.Floor, force); err != nil {
			return nil, err
		}
		out = s.rec
		out.Rewind(to, time.Now())
		out.Rev = s.rev + 1
		return out.Encode()
	})
	return out, err
}

// Delete replaces the checkpoint with a tombstone: the next job starts again
// from `earliest` (without a restart), and a job that read the checkpoint
// before can never write it back.
func (t *StateTarget) Delete(ctx context.Context) error {
	return t.edit(ctx, func(s stored) ([]byte, error) {
		if s.rec == nil && s.unreadable == nil {
			return nil, t.noCheckpoint(s)
		}
		rev := s.rev + 1
		if s.unreadable != nil {
			rev = 1
		}
		return checkpoint.Tombstone(t.identity, rev, time.Now())
	})
}

// ParseRewind reads a rewind target (the HTTP endpoint's rewind_to, the
// CLI's --to): an RFC 3339 time or a time expression such as -1d@d.
func ParseRewind(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("rewind_to is required (an RFC 3339 time or a time expression such as -1d@d)")
	}
	e, err := timeexpr.Parse(s)
	if err != nil {
		return time.Time{}, err
	}
	return e.Resolve(time.Now(), time.UTC), nil
}

func formatRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

//------------------------------------------------------------------------------

// serverClock is the API's clock as the input last saw it (a response's Date
// header plus the local time elapsed since), or the local clock before any
// response.
type serverClock struct {
	local func() time.Time

	mu      sync.Mutex
	date    time.Time
	localAt time.Time
}

func (c *serverClock) observe(date time.Time) {
	if c == nil || date.IsZero() {
		return
	}
	c.mu.Lock()
	c.date, c.localAt = date, c.local()
	c.mu.Unlock()
}

func (c *serverClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	local := c.local()
	if c.date.IsZero() {
		return local
	}
	return c.date.Add(local.Sub(c.localAt))
}
