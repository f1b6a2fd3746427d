package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultBucket is the length of created_at one document of the delivered-ids
// record covers (see DESIGN-reconcile.md next to the collector).
const DefaultBucket = 10 * time.Minute

// HashID is the digest the delivered-ids record keeps of an activity id: the
// first 8 bytes of its SHA-256, big-endian. Two ids share a digest with
// probability 2^-64; the record is never asked about ids of another bucket.
func HashID(id string) uint64 {
	sum := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint64(sum[:8])
}

// Span is a [From, To) range of created_at on the second grid.
type Span struct {
	From, To time.Time
}

// Bucket is one document of the delivered-ids record: the digests of the
// ids delivered with created_at in [From, To), and the parts of that range
// it covers, where every id delivered is recorded. A Bucket is never changed
// once built (a Record makes a new one), so a reader may keep it.
type Bucket struct {
	Identity  Identity
	From, To  time.Time
	Covered   []Span // sorted, disjoint, within [From, To)
	UpdatedAt time.Time
	// Note says why a bucket loaded for reading covers nothing ("" when it
	// was read from its document); Unreadable when its document does not
	// decode.
	Note       string
	Unreadable bool
	index      int64
	hashes     []uint64 // sorted, unique
}

// Len is the number of ids recorded.
func (b *Bucket) Len() int { return len(b.hashes) }

// Has reports whether id was recorded as delivered.
func (b *Bucket) Has(id string) bool { return b.HasHash(HashID(id)) }

// HasHash reports whether the digest h was recorded.
func (b *Bucket) HasHash(h uint64) bool {
	_, ok := slices.BinarySearch(b.hashes, h)
	return ok
}

// CoveredWithin returns the covered parts of [from, to), in order.
func (b *Bucket) CoveredWithin(from, to time.Time) []Span {
	var out []Span
	for _, s := range b.Covered {
		f, t := later(s.From, from), earlier(s.To, to)
		if f.Before(t) {
			out = append(out, Span{f, t})
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// merged returns a copy of b with the digests hs and the spans added, and
// how many digests were new; changed is false when nothing was added.
func (b *Bucket) merged(hs []uint64, spans []Span) (next *Bucket, added int, changed bool) {
	slices.Sort(hs)
	hs = slices.Compact(hs)
	var fresh []uint64
	for _, h := range hs {
		if !b.HasHash(h) {
			fresh = append(fresh, h)
		}
	}
	covered := mergeSpans(append(slices.Clone(b.Covered), spans...))
	if len(fresh) == 0 && slices.Equal(covered, b.Covered) {
		return b, 0, false
	}
	n := *b
	n.Note = ""
	n.Covered = covered
	if len(fresh) > 0 {
		all := make([]uint64, 0, len(b.hashes)+len(fresh))
		i, j := 0, 0
		for i < len(b.hashes) && j < len(fresh) {
			if b.hashes[i] < fresh[j] {
				all = append(all, b.hashes[i])
				i++
			} else {
				all = append(all, fresh[j])
				j++
			}
		}
		n.hashes = append(append(all, b.hashes[i:]...), fresh[j:]...)
	}
	return &n, len(fresh), true
}

// mergeSpans sorts spans and joins those that overlap or touch.
func mergeSpans(spans []Span) []Span {
	spans = slices.DeleteFunc(spans, func(s Span) bool { return !s.From.Before(s.To) })
	slices.SortFunc(spans, func(a, b Span) int { return a.From.Compare(b.From) })
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && !s.From.After(out[n-1].To) {
			out[n-1].To = later(out[n-1].To, s.To)
			continue
		}
		out = append(out, s)
	}
	return out
}

//------------------------------------------------------------------------------

// Delivered is the record of the activity ids an endpoint delivered (acked)
// over a retention period, kept for reconciliation jobs: created_at is cut
// into buckets, each one document of the store holding the ids' digests
// (HashID) and the covered parts of its range. The documents live in a ring
// of slots under "<checkpoint key>/delivered/<slot>": bucket i is slot i mod
// Slots(), which holds Slots() consecutive buckets, more than the retention,
// so a bucket's slot is reused only once the bucket is older than the
// retention (the pruning: no key is ever deleted, none expires). Every write
// is one compare-and-swap, like the checkpoint's. It is safe for concurrent
// use: an endpoint's regular jobs and its reconciliation jobs share one.
type Delivered struct {
	store     Store
	prefix    string
	identity  Identity
	bucket    time.Duration
	retention time.Duration
	slots     int64
	fence     Fence
	precheck  func(context.Context) error

	mu    sync.Mutex
	cache map[int64]cachedBucket // by slot: the last buckets read or written, at most two
}

// maxSwapAttempts bounds the writes of one bucket lost to other writers.
const maxSwapAttempts = 5

type cachedBucket struct {
	b   *Bucket
	rev int64
}

// DeliveredOption configures a Delivered.
type DeliveredOption func(*Delivered)

// WithDeliveredFence makes every write require the lease f (HA), checked by
// the store with the write; precheck, when set, is asked first (stores that
// cannot check the fence atomically).
func WithDeliveredFence(f Fence, precheck func(context.Context) error) DeliveredOption {
	return func(d *Delivered) { d.fence, d.precheck = f, precheck }
}

// WithBucket sets the bucket length (DefaultBucket otherwise): whole
// seconds, at least one.
func WithBucket(length time.Duration) DeliveredOption {
	return func(d *Delivered) { d.bucket = length }
}

// NewDelivered returns the record of the checkpoint at key, for collectors of
// identity id, keeping ids created within retention of the present.
func NewDelivered(store Store, key string, id Identity, retention time.Duration, opts ...DeliveredOption) *Delivered {
	d := &Delivered{store: store, prefix: DeliveredPrefix(key), identity: id, bucket: DefaultBucket, retention: retention, cache: map[int64]cachedBucket{}}
	for _, o := range opts {
		o(d)
	}
	d.bucket = max(d.bucket.Truncate(time.Second), time.Second)
	// The buckets of the retention, the one being written and one on each
	// side for a job that runs while the oldest bucket leaves it.
	d.slots = int64((retention+d.bucket-1)/d.bucket) + 3
	return d
}

// DeliveredPrefix is the key prefix of the record of the checkpoint at key.
func DeliveredPrefix(key string) string { return key + "/delivered/" }

// Slots is the number of documents the record uses at most.
func (d *Delivered) Slots() int { return int(d.slots) }

// BucketLength is the length of created_at one document covers.
func (d *Delivered) BucketLength() time.Duration { return d.bucket }

// Retention is how far back from the present ids are kept.
func (d *Delivered) Retention() time.Duration { return d.retention }

// Where describes the slot holding the bucket of t, for messages.
func (d *Delivered) Where(t time.Time) string { return d.store.Describe(d.key(d.index(t))) }

func (d *Delivered) index(t time.Time) int64 {
	s := t.Unix()
	l := int64(d.bucket / time.Second)
	if s < 0 {
		return (s - l + 1) / l
	}
	return s / l
}

func (d *Delivered) bounds(i int64) (time.Time, time.Time) {
	from := time.Unix(i*int64(d.bucket/time.Second), 0).UTC()
	return from, from.Add(d.bucket)
}

func (d *Delivered) slot(i int64) int64 { return ((i % d.slots) + d.slots) % d.slots }

func (d *Delivered) key(i int64) string { return d.prefix + strconv.FormatInt(d.slot(i), 10) }

// oldest is the first bucket kept at now: the retention plus one bucket.
func (d *Delivered) oldest(now time.Time) int64 { return d.index(now) - d.slots + 2 }

// Oldest is the start of the oldest bucket kept at now.
func (d *Delivered) Oldest(now time.Time) time.Time {
	from, _ := d.bounds(d.oldest(now))
	return from
}

// RecordResult says what one Record did.
type RecordResult struct {
	Written int // documents written
	Added   int // ids not recorded before
	// Dropped counts ids (and Unkept spans) older than the retention, or
	// whose slot already holds a later bucket: they are not kept.
	Dropped int
	// Replaced names documents that did not decode and were replaced.
	Replaced []string
}

// Record adds ids (id → created_at in unix seconds), each delivered and
// acknowledged, and marks covered as covered: every id delivered with
// created_at in those spans is among ids or recorded before. Buckets are
// written oldest first, each in one compare-and-swap (retried from a fresh
// read when another writer got there first: the record only grows); an error
// leaves the buckets not written yet as they were.
func (d *Delivered) Record(ctx context.Context, ids IDSet, covered []Span, now time.Time) (RecordResult, error) {
	var res RecordResult
	oldest := d.oldest(now)
	type change struct {
		hashes []uint64
		spans  []Span
	}
	changes := map[int64]*change{}
	at := func(i int64) *change {
		c, ok := changes[i]
		if !ok {
			c = &change{}
			changes[i] = c
		}
		return c
	}
	for id, sec := range ids {
		i := d.index(time.Unix(sec, 0))
		if i < oldest {
			res.Dropped++
			continue
		}
		at(i).hashes = append(at(i).hashes, HashID(id))
	}
	for _, s := range covered {
		for f := s.From.UTC().Truncate(time.Second); f.Before(s.To); {
			i := d.index(f)
			_, end := d.bounds(i)
			t := earlier(end, s.To.UTC())
			if i >= oldest {
				at(i).spans = append(at(i).spans, Span{f, t})
			}
			f = end
		}
	}
	order := slices.Sorted(maps.Keys(changes))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, i := range order {
		if err := d.apply(ctx, i, changes[i].hashes, changes[i].spans, now, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// apply adds to bucket i; d.mu is held.
func (d *Delivered) apply(ctx context.Context, i int64, hs []uint64, spans []Span, now time.Time, res *RecordResult) error {
	key := d.key(i)
	for attempt := 1; ; attempt++ {
		cur, rev, decodeErr, err := d.read(ctx, i, false)
		if err != nil {
			return err
		}
		corrupt := decodeErr != nil
		if cur != nil && cur.index > i {
			res.Dropped += len(hs)
			return nil
		}
		base := cur
		if base == nil || base.index != i || base.Identity != d.identity {
			from, to := d.bounds(i)
			base = &Bucket{Identity: d.identity, From: from, To: to, index: i}
		}
		next, added, changed := base.merged(hs, spans)
		if !changed {
			return nil
		}
		next.UpdatedAt = now.UTC().Truncate(time.Second)
		doc, err := encodeBucket(next, rev+1)
		if err != nil {
			return err
		}
		expect := rev
		if corrupt && rev == 0 {
			expect = ReplaceUnreadable
		}
		if d.precheck != nil {
			if err := d.precheck(ctx); err != nil {
				return fmt.Errorf("writing delivered ids %s: %w: %w", d.store.Describe(key), ErrFenced, err)
			}
		}
		err = d.store.Swap(ctx, key, expect, doc, d.fence)
		if _, conflict := errors.AsType[*ConflictError](err); conflict {
			delete(d.cache, d.slot(i)) // another writer: read again and merge
			if attempt < maxSwapAttempts {
				continue
			}
			return fmt.Errorf("writing delivered ids %s: another writer changed it %d times in a row "+
				"(two instances writing one record without the HA lease?)", d.store.Describe(key), attempt)
		}
		if err != nil {
			delete(d.cache, d.slot(i))
			return fmt.Errorf("writing delivered ids %s: %w", d.store.Describe(key), err)
		}
		if corrupt {
			res.Replaced = append(res.Replaced, d.store.Describe(key))
		}
		next.index = i
		d.remember(d.slot(i), next, rev+1)
		res.Written++
		res.Added += added
		return nil
	}
}

// read returns the bucket stored in i's slot (nil: nothing stored, or a
// document that does not decode, then corrupt, with decodeErr) and its
// revision. fresh skips the cache.
func (d *Delivered) read(ctx context.Context, i int64, fresh bool) (b *Bucket, rev int64, decodeErr, err error) {
	slot := d.slot(i)
	if c, ok := d.cache[slot]; ok && !fresh {
		return c.b, c.rev, nil, nil
	}
	data, err := d.store.Load(ctx, d.key(i))
	if errors.Is(err, ErrNotFound) {
		delete(d.cache, slot)
		return nil, 0, nil, nil
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("reading delivered ids %s: %w", d.store.Describe(d.key(i)), err)
	}
	b, rev, decodeErr = decodeBucket(data, d.bucket)
	if decodeErr != nil {
		delete(d.cache, slot)
		rev, _ = docRev(data)
		return nil, rev, decodeErr, nil
	}
	b.index = d.index(b.From)
	d.remember(slot, b, rev)
	return b, rev, nil, nil
}

func (d *Delivered) remember(slot int64, b *Bucket, rev int64) {
	if len(d.cache) >= 2 {
		if _, ok := d.cache[slot]; !ok {
			// Keep the most recent bucket: regular jobs write the newest.
			var drop int64
			first := true
			for s, c := range d.cache {
				if first || c.b.index < d.cache[drop].b.index {
					drop, first = s, false
				}
			}
			delete(d.cache, drop)
		}
	}
	d.cache[slot] = cachedBucket{b: b, rev: rev}
}

// Load reads the bucket holding created_at t from the store, for a
// reconciliation job at now. A bucket with nothing recorded, older than the
// retention, whose slot holds another bucket, written for another identity
// or whose document does not decode (Unreadable) covers nothing, and its
// Note says why. The bucket returned is never changed by later writes.
func (d *Delivered) Load(ctx context.Context, t, now time.Time) (*Bucket, error) {
	i := d.index(t)
	from, to := d.bounds(i)
	empty := func(note string) *Bucket {
		return &Bucket{Identity: d.identity, From: from, To: to, Note: note, index: i}
	}
	if i < d.oldest(now) {
		return empty("older than the retention of the record of delivered ids"), nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b, _, decodeErr, err := d.read(ctx, i, true)
	switch {
	case err != nil:
		return nil, err
	case decodeErr != nil:
		e := empty(fmt.Sprintf("%s does not decode (%v); the next write of its range replaces it", d.store.Describe(d.key(i)), decodeErr))
		e.Unreadable = true
		return e, nil
	case b == nil, b.index < i:
		return empty("nothing recorded"), nil
	case b.index > i:
		return empty("its slot holds a later bucket"), nil
	case b.Identity != d.identity:
		return empty(fmt.Sprintf("recorded for another identity (%+v)", b.Identity)), nil
	}
	return b, nil
}
