// Package cas is the compare-and-swap contract between this module's durable
// caches (atomic_file, redis) and the anthropic_compliance input: how a
// document carries its revision, the one atomic write every checkpoint writer
// goes through, and how a cache resource hands that write to the input
// through Benthos' shared resource map. It imports nothing but the standard
// library, so that both sides can depend on it.
//
// A document is a JSON object whose first member is "rev", a non-negative
// integer: {"rev":412,...}. Reading the revision therefore reads a few dozen
// bytes, never the whole document. Documents written before this contract
// (the rev anywhere in the object) are still read, by a full scan.
package cas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Store is a key/value store whose every write is a compare-and-swap on the
// revision of a document.
type Store interface {
	// Get returns the value of key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Swap stores value under key if, in one atomic step, the revision
	// stored under key is expect (0: nothing is stored) and, unless fence
	// is zero, fence.Token holds the lease fence.Key. value must be a
	// document of revision expect+1. A stored revision other than expect
	// is a *ConflictError, a fence that does not hold a *FencedError, a
	// stored value that is not a document an error wrapping ErrUnreadable;
	// nothing is written in each case.
	//
	// expect ReplaceUnreadable replaces a stored value only if it is not a
	// readable document (an operator repairing a corrupt checkpoint); value
	// may then have any revision.
	Swap(ctx context.Context, key string, expect int64, value []byte, fence Fence) error
}

// Leaser is implemented by stores that hold leases atomically on the server
// (redis): the HA lease of the input uses it instead of add-then-read.
type Leaser interface {
	// AcquireLease takes key for holder for ttl when it is free, or renews
	// it when holder already holds it. It returns whether holder holds it
	// now and, if not, who does.
	AcquireLease(ctx context.Context, key, holder string, ttl time.Duration) (held bool, current string, err error)
	// ReleaseLease deletes key if holder holds it.
	ReleaseLease(ctx context.Context, key, holder string) (bool, error)
}

// ReplaceUnreadable is the expect of a Swap that repairs a corrupt value.
const ReplaceUnreadable int64 = -1

// Fence names a lease that must be held by Token for a write to happen. The
// zero Fence fences nothing.
type Fence struct {
	Key   string // the lease's key in the same store
	Token string // the holder this writer is
}

// IsZero reports whether f fences nothing.
func (f Fence) IsZero() bool { return f.Key == "" && f.Token == "" }

var (
	// ErrNotFound is returned (wrapped) by Get for a key with no value.
	ErrNotFound = errors.New("cas: key not found")
	// ErrUnreadable is returned (wrapped) by Swap when the stored value is
	// not a document with a revision.
	ErrUnreadable = errors.New("cas: the stored value has no readable revision")
)

// ConflictError is a Swap refused because the stored revision is not the
// expected one.
type ConflictError struct {
	Expected int64
	Found    int64 // 0 with Missing
	Missing  bool  // nothing is stored
}

func (e *ConflictError) Error() string {
	if e.Missing {
		return fmt.Sprintf("cas: expected revision %d, nothing is stored", e.Expected)
	}
	return fmt.Sprintf("cas: expected revision %d, found %d", e.Expected, e.Found)
}

// FencedError is a Swap refused because the fence's lease is not held by its
// token.
type FencedError struct {
	Lease  string
	Holder string // "" when nobody holds it
}

func (e *FencedError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("cas: lease %s is not held by this writer (nobody holds it)", e.Lease)
	}
	return fmt.Sprintf("cas: lease %s is held by %q, not by this writer", e.Lease, e.Holder)
}

// HeadSize is how many leading bytes of a document always hold its revision
// when it was written under this contract.
const HeadSize = 64

// Rev returns the revision of a document: from its first member when that is
// "rev" (reading at most HeadSize bytes), else by a full scan of the object's
// top-level members (documents written before this contract).
func Rev(doc []byte) (int64, error) {
	if rev, ok := HeadRev(doc); ok {
		return rev, nil
	}
	var v struct {
		Rev *json.Number `json:"rev"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if v.Rev == nil {
		return 0, fmt.Errorf("%w: no rev member", ErrUnreadable)
	}
	rev, err := strconv.ParseInt(v.Rev.String(), 10, 64)
	if err != nil || rev < 0 {
		return 0, fmt.Errorf("%w: rev %s is not a non-negative integer", ErrUnreadable, v.Rev.String())
	}
	return rev, nil
}

// HeadRev reads the revision from the head of a document: `{` then the member
// "rev" with an integer, whitespace allowed. It reports false when the head
// does not have that shape (an older document, or not a document).
func HeadRev(doc []byte) (int64, bool) {
	if len(doc) > HeadSize {
		doc = doc[:HeadSize]
	}
	rest, ok := bytes.CutPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("{"))
	if !ok {
		return 0, false
	}
	rest, ok = bytes.CutPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte(`"rev"`))
	if !ok {
		return 0, false
	}
	rest, ok = bytes.CutPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte(":"))
	if !ok {
		return 0, false
	}
	rest = bytes.TrimLeft(rest, " \t\r\n")
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	// The number must end inside the head, followed by a delimiter.
	if n == 0 || n == len(rest) || n > 18 {
		return 0, false
	}
	if c := rest[n]; c != ',' && c != '}' && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
		return 0, false
	}
	rev, err := strconv.ParseInt(string(rest[:n]), 10, 64)
	if err != nil {
		return 0, false
	}
	return rev, true
}

// CheckNext verifies that value is a document of revision expect+1 (any
// revision for ReplaceUnreadable), as Swap requires.
func CheckNext(expect int64, value []byte) error {
	rev, err := Rev(value)
	if err != nil {
		return fmt.Errorf("cas: the new value: %w", err)
	}
	if expect != ReplaceUnreadable && rev != expect+1 {
		return fmt.Errorf("cas: the new value has revision %d, a swap from %d must write %d", rev, expect, expect+1)
	}
	return nil
}

// ResourceKey is the key under which a cache resource of this module puts
// its Store in Benthos' shared resource map (service.Resources.SetGeneric),
// so that an input naming the resource can reach the atomic write that the
// Benthos cache interface does not offer.
type ResourceKey struct{ Label string }

// Registry is the part of service.Resources this package needs; the caches
// pass their *service.Resources.
type Registry interface {
	Label() string
	SetGeneric(key, value any)
	GetGeneric(key any) (any, bool)
}

// Register makes s reachable as the CAS of the cache resource whose
// constructor received res. A cache without a label (not a resource) is not
// registered.
func Register(res Registry, s Store) {
	if res == nil || res.Label() == "" {
		return
	}
	res.SetGeneric(ResourceKey{Label: res.Label()}, s)
}

// Lookup returns the Store registered by the cache resource label, if it is
// one of this module's caches.
func Lookup(res Registry, label string) (Store, bool) {
	if res == nil {
		return nil, false
	}
	v, ok := res.GetGeneric(ResourceKey{Label: label})
	if !ok {
		return nil, false
	}
	s, ok := v.(Store)
	return s, ok
}
