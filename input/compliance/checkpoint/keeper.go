package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotFound is returned by a Store when the key holds nothing.
var ErrNotFound = errors.New("checkpoint not found")

// ErrFenced is returned (wrapped) by a Store when a fenced write was refused
// because the writer no longer holds the lease.
var ErrFenced = errors.New("this instance does not hold the collection lease")

// ErrUnreadable is returned (wrapped) by Store.Swap when the stored value has
// no readable revision.
var ErrUnreadable = errors.New("the stored checkpoint has no readable revision")

// Fence names the lease a write requires (see Store.Swap); the zero Fence
// requires none.
type Fence struct {
	Key   string
	Token string
}

// ReplaceUnreadable is the expect of a Swap that repairs a corrupt value.
const ReplaceUnreadable int64 = -1

// Store is the key/value backend of checkpoints: a cache resource, or the
// embedded durable directory. It never expires what it holds.
type Store interface {
	// Load returns the stored document, or an error wrapping ErrNotFound.
	Load(ctx context.Context, key string) ([]byte, error)
	// Swap is the only write: value (a document of revision expect+1) is
	// stored if, atomically with the write, the stored document has revision
	// expect (0: nothing stored) and, unless fence is zero, the fence's lease
	// is held by its token. Otherwise nothing is written and the error is a
	// *ConflictError (Found, FoundMissing set), one wrapping ErrFenced, or
	// one wrapping ErrUnreadable. expect ReplaceUnreadable replaces only a
	// stored value that is not a document.
	Swap(ctx context.Context, key string, expect int64, value []byte, fence Fence) error
	// Describe says where key lives, for error messages and logs
	// (e.g. "file ./compliance-state/…" or "cache resource redis_state key …").
	Describe(key string) string
}

// ConflictError reports a foreign write: the stored record changed since this
// keeper last read or wrote it (another instance, or an operator edit).
type ConflictError struct {
	Where        string
	Expected     int64
	Found        int64
	FoundMissing bool
}

func (e *ConflictError) Error() string {
	if e.FoundMissing {
		return fmt.Sprintf("checkpoint %s vanished after this process read it at rev %d: refusing to start over silently "+
			"(an operator's `state delete` leaves a tombstone instead; a checkpoint that vanishes was evicted or removed "+
			"behind the input's back: restart the input to start again from `earliest`)", e.Where, e.Expected)
	}
	return fmt.Sprintf("checkpoint %s was changed by someone else (expected rev %d, found rev %d): refusing to overwrite it; "+
		"the next job resumes from the stored record (if two instances share this key, give each its own key or enable the lease)",
		e.Where, e.Expected, e.Found)
}

// CorruptError reports a stored value that is not a valid checkpoint.
type CorruptError struct {
	Where string
	Err   error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint %s is unreadable: %v; it was not replaced. Inspect it, then fix it with "+
		"`compliance-connect state set` or reset it with `compliance-connect state delete`", e.Where, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// SeenStats describes the seen set of a record about to be saved.
type SeenStats struct {
	IDs      int       // ids kept
	Dropped  int       // ids dropped by the cap in this save
	KeptFrom time.Time // first second kept, when some were dropped
	Max      int       // the cap
}

// Option configures a Keeper.
type Option func(*Keeper)

// WithFence makes every save require the lease f (HA): the store checks it
// atomically with the write.
func WithFence(f Fence) Option { return func(k *Keeper) { k.fence = f } }

// WithSeenCap keeps at most max ids in seen (see Record.CapSeen) and reports
// every save's seen statistics to observe (which may be nil).
func WithSeenCap(max int, observe func(SeenStats)) Option {
	return func(k *Keeper) { k.maxSeen, k.observe = max, observe }
}

// Keeper loads and saves one key's record. Every save is one compare-and-swap
// from the revision this keeper last read or wrote, so a foreign write (an
// operator edit or delete, another instance) is never overwritten. It is not
// safe for concurrent use; the collector's job goroutine owns it.
type Keeper struct {
	store   Store
	key     string
	rev     int64
	known   bool // a document (record or tombstone) was read or written by this keeper
	fence   Fence
	maxSeen int
	observe func(SeenStats)
}

// NewKeeper returns a keeper for key.
func NewKeeper(store Store, key string, opts ...Option) *Keeper {
	k := &Keeper{store: store, key: key}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Key is the store key this keeper owns.
func (k *Keeper) Key() string { return k.key }

// Where describes the record's location for messages.
func (k *Keeper) Where() string { return k.store.Describe(k.key) }

// Load reads the record; (nil, nil) means there is none: never written, or
// deleted by an operator (a tombstone, after which the next save continues
// its revisions). A record this keeper saw before that has since vanished
// without a tombstone is a *ConflictError, and a value that does not decode
// is a *CorruptError: neither is treated as a fresh start.
func (k *Keeper) Load(ctx context.Context) (*Record, error) {
	data, err := k.store.Load(ctx, k.key)
	if errors.Is(err, ErrNotFound) {
		if k.known {
			return nil, &ConflictError{Where: k.Where(), Expected: k.rev, FoundMissing: true}
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", k.Where(), err)
	}
	rec, err := Decode(data)
	if deleted, ok := errors.AsType[*DeletedError](err); ok {
		k.rev, k.known = deleted.Rev, true
		return nil, nil
	}
	if err != nil {
		return nil, &CorruptError{Where: k.Where(), Err: err}
	}
	k.rev, k.known = rec.Rev, true
	return rec, nil
}

// Forget makes the keeper accept a missing record again.
func (k *Keeper) Forget() { k.known, k.rev = false, 0 }

// Save writes rec as the next revision, by one compare-and-swap from the
// revision this keeper last saw. A foreign write since is a *ConflictError
// (and an operator's delete since also matches ErrDeleted), a lost lease
// wraps ErrFenced; nothing is written then. On success rec.Rev is the new
// revision. With a seen cap, rec.Seen is capped first.
func (k *Keeper) Save(ctx context.Context, rec *Record) error {
	if k.maxSeen > 0 || k.observe != nil {
		dropped, keptFrom := rec.CapSeen(k.maxSeen)
		if k.observe != nil {
			k.observe(SeenStats{IDs: rec.Seen.Len(), Dropped: dropped, KeptFrom: keptFrom, Max: k.maxSeen})
		}
	}
	next := k.rev + 1
	out, err := encodeAt(rec, next)
	if err != nil {
		return err
	}
	if err := k.store.Swap(ctx, k.key, k.rev, out, k.fence); err != nil {
		if conflict, ok := errors.AsType[*ConflictError](err); ok {
			conflict.Where, conflict.Expected = k.Where(), k.rev
			return k.explain(ctx, conflict)
		}
		if errors.Is(err, ErrUnreadable) {
			return &CorruptError{Where: k.Where(), Err: err}
		}
		return fmt.Errorf("writing checkpoint %s: %w", k.Where(), err)
	}
	rec.Rev, k.rev, k.known = next, next, true
	return nil
}

// explain adds to a conflict whether the foreign write was an operator's
// delete (a tombstone is small: only small documents are decoded).
func (k *Keeper) explain(ctx context.Context, conflict *ConflictError) error {
	if conflict.FoundMissing {
		return conflict
	}
	data, err := k.store.Load(ctx, k.key)
	if err != nil || len(data) > 4<<10 {
		return conflict
	}
	if _, err := Decode(data); errors.Is(err, ErrDeleted) {
		return fmt.Errorf("%w: %w", err, conflict)
	}
	return conflict
}

// encodeAt renders rec as revision rev without changing it.
func encodeAt(rec *Record, rev int64) ([]byte, error) {
	saved := rec.Rev
	rec.Rev = rev
	out, err := rec.Encode()
	rec.Rev = saved
	if err != nil {
		return nil, fmt.Errorf("encoding checkpoint: %w", err)
	}
	return out, nil
}

// MemoryStore is an in-process Store for tests and for `allow_volatile`
// setups. It is safe for concurrent use.
type MemoryStore struct {
	mu   sync.Mutex
	data map[string][]byte
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{data: map[string][]byte{}}
}

func (m *MemoryStore) Load(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (m *MemoryStore) Swap(_ context.Context, key string, expect int64, value []byte, fence Fence) error {
	if fence != (Fence{}) {
		return errors.New("memory store: fenced writes are not supported")
	}
	next, err := docRev(value)
	if err != nil || (expect != ReplaceUnreadable && next != expect+1) {
		return fmt.Errorf("memory store: the new value must be revision %d", expect+1)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.data[key]
	found, rerr := int64(0), error(nil)
	if ok {
		found, rerr = docRev(old)
	}
	switch {
	case expect == ReplaceUnreadable:
		if rerr == nil {
			return &ConflictError{Found: found, FoundMissing: !ok}
		}
	case rerr != nil:
		return fmt.Errorf("memory store: %w", ErrUnreadable)
	case !ok && expect != 0, ok && found != expect:
		return &ConflictError{Found: found, FoundMissing: !ok}
	}
	m.data[key] = append([]byte(nil), value...)
	return nil
}

// Put stores value as is (test fixtures: corrupt or old documents).
func (m *MemoryStore) Put(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
}

// Remove deletes key behind every keeper's back (an eviction).
func (m *MemoryStore) Remove(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
}

func (m *MemoryStore) Describe(key string) string { return "memory key " + key }
