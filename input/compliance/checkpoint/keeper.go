package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrNotFound is returned by a Store when the key holds nothing.
var ErrNotFound = errors.New("checkpoint not found")

// ErrExists is returned by Store.Create when the key already holds a value.
var ErrExists = errors.New("checkpoint already exists")

// Store is the key/value backend of checkpoints: a Benthos cache resource or
// the embedded durable directory. Implementations translate their own
// not-found and already-exists errors into ErrNotFound and ErrExists, and must
// never expire what they hold.
type Store interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, value []byte) error
	Create(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
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
			"(if it was deleted on purpose, restart the input to start again from `earliest`)", e.Where, e.Expected)
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

// Keeper loads and saves one key's record with a rev check: every save
// re-reads the stored rev and refuses to overwrite a foreign write. It is not
// safe for concurrent use; the collector's job goroutine owns it.
type Keeper struct {
	store Store
	key   string
	rev   int64
	known bool // a record was read or written by this keeper
}

// NewKeeper returns a keeper for key.
func NewKeeper(store Store, key string) *Keeper {
	return &Keeper{store: store, key: key}
}

// Key is the store key this keeper owns.
func (k *Keeper) Key() string { return k.key }

// Where describes the record's location for messages.
func (k *Keeper) Where() string { return k.store.Describe(k.key) }

// Load reads the record; (nil, nil) means there is none yet. A record this
// keeper saw before that has since disappeared is a *ConflictError, and a
// value that does not decode is a *CorruptError: neither is treated as a
// fresh start.
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
	if err != nil {
		return nil, &CorruptError{Where: k.Where(), Err: err}
	}
	k.rev, k.known = rec.Rev, true
	return rec, nil
}

// Forget makes the keeper accept a missing record again (after an operator
// deleted it through this process).
func (k *Keeper) Forget() { k.known, k.rev = false, 0 }

// Save writes rec as the next revision. It re-reads the stored record first:
// a rev other than the one this keeper last saw is a *ConflictError and
// nothing is written. On success rec.Rev is the new revision.
func (k *Keeper) Save(ctx context.Context, rec *Record) error {
	data, err := k.store.Load(ctx, k.key)
	switch {
	case errors.Is(err, ErrNotFound):
		if k.known {
			return &ConflictError{Where: k.Where(), Expected: k.rev, FoundMissing: true}
		}
		return k.create(ctx, rec)
	case err != nil:
		return fmt.Errorf("re-reading checkpoint %s before writing: %w", k.Where(), err)
	}
	stored, err := Decode(data)
	if err != nil {
		return &CorruptError{Where: k.Where(), Err: err}
	}
	if !k.known || stored.Rev != k.rev {
		return &ConflictError{Where: k.Where(), Expected: k.rev, Found: stored.Rev}
	}
	out, err := encodeAt(rec, k.rev+1)
	if err != nil {
		return err
	}
	if err := k.store.Save(ctx, k.key, out); err != nil {
		return fmt.Errorf("writing checkpoint %s: %w", k.Where(), err)
	}
	rec.Rev, k.rev = k.rev+1, k.rev+1
	return nil
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

func (k *Keeper) create(ctx context.Context, rec *Record) error {
	out, err := encodeAt(rec, 1)
	if err != nil {
		return err
	}
	if err := k.store.Create(ctx, k.key, out); err != nil {
		if errors.Is(err, ErrExists) {
			return &ConflictError{Where: k.Where(), Expected: 0, Found: -1}
		}
		return fmt.Errorf("creating checkpoint %s: %w", k.Where(), err)
	}
	rec.Rev, k.rev, k.known = 1, 1, true
	return nil
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

func (m *MemoryStore) Save(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
	return nil
}

func (m *MemoryStore) Create(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; ok {
		return ErrExists
	}
	m.data[key] = append([]byte(nil), value...)
	return nil
}

func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

func (m *MemoryStore) Describe(key string) string { return "memory key " + key }
