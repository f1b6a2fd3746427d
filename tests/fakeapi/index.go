package fakeapi

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// index keeps every stored activity sorted ascending by (created_at, id), so
// that pages, cursors and time bounds are binary searches plus a short scan.
// Descending order reads the same slice backwards. It is not safe for
// concurrent use; Server guards it with its mutex.
type index struct {
	lag   time.Duration // visibility delay of activities with a zero VisibleAt
	order []*Activity
	byID  map[string]*Activity
	types map[string]struct{}
}

func newIndex(lag time.Duration) *index {
	return &index{lag: lag, byID: map[string]*Activity{}, types: map[string]struct{}{}}
}

// visibleAt is when a becomes queryable: its VisibleAt, or CreatedAt + lag
// when VisibleAt is zero.
func (x *index) visibleAt(a *Activity) time.Time {
	if a.VisibleAt.IsZero() {
		return a.CreatedAt.Add(x.lag)
	}
	return a.VisibleAt
}

// insertBatchThreshold is the batch size above which add merges instead of
// inserting one activity at a time.
const insertBatchThreshold = 64

// add stores acts (which the index then owns). It fails, storing nothing, on an
// invalid activity or an id that is already stored or repeated in acts.
func (x *index) add(acts []*Activity) error {
	seen := make(map[string]struct{}, len(acts))
	for i, a := range acts {
		if err := a.validate(); err != nil {
			return fmt.Errorf("activity %d: %w", i, err)
		}
		if _, dup := x.byID[a.ID]; dup {
			return fmt.Errorf("activity %d: id %q is already stored", i, a.ID)
		}
		if _, dup := seen[a.ID]; dup {
			return fmt.Errorf("activity %d: id %q appears twice", i, a.ID)
		}
		seen[a.ID] = struct{}{}
	}
	for _, a := range acts {
		x.byID[a.ID] = a
		x.types[a.Type] = struct{}{}
	}
	switch {
	case len(acts) <= insertBatchThreshold:
		for _, a := range acts {
			x.order = slices.Insert(x.order, x.search(a), a)
		}
	case len(x.order) == 0:
		x.order = slices.Clone(acts)
		if !slices.IsSortedFunc(x.order, compareActivities) {
			slices.SortFunc(x.order, compareActivities)
		}
	default:
		batch := slices.Clone(acts)
		slices.SortFunc(batch, compareActivities)
		x.order = mergeSorted(x.order, batch)
	}
	return nil
}

// mergeSorted merges two ascending slices into a new one.
func mergeSorted(a, b []*Activity) []*Activity {
	out := make([]*Activity, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if b[j].before(a[i]) {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// search returns the first position whose activity does not sort before a,
// i.e. a's position if it is stored.
func (x *index) search(a *Activity) int {
	return sort.Search(len(x.order), func(p int) bool { return !x.order[p].before(a) })
}

// bounds returns [lo, hi): the positions whose created_at lies within q's time
// bounds.
func (x *index) bounds(q *query) (lo, hi int) {
	lo, hi = 0, len(x.order)
	if q.lower.set {
		lo = sort.Search(len(x.order), func(p int) bool {
			c := x.order[p].CreatedAt.Compare(q.lower.t)
			return c > 0 || (c == 0 && q.lower.inclusive)
		})
	}
	if q.upper.set {
		hi = sort.Search(len(x.order), func(p int) bool {
			c := x.order[p].CreatedAt.Compare(q.upper.t)
			return c > 0 || (c == 0 && !q.upper.inclusive)
		})
	}
	return lo, max(lo, hi)
}

// collect walks positions from start by step (+1 or -1), staying within
// [lo, hi), and returns up to n activities that are visible at now and match q.
func (x *index) collect(start, step, lo, hi, n int, q *query, now time.Time) []*Activity {
	out := make([]*Activity, 0, min(n, 1024))
	if step > 0 {
		for p := max(start, lo); p < hi && len(out) < n; p++ {
			if a := x.order[p]; !x.visibleAt(a).After(now) && q.match(a) {
				out = append(out, a)
			}
		}
		return out
	}
	for p := min(start, hi-1); p >= lo && len(out) < n; p-- {
		if a := x.order[p]; !x.visibleAt(a).After(now) && q.match(a) {
			out = append(out, a)
		}
	}
	return out
}

// page applies the adjacency model of compliance-api.md §3.4 to the activities
// that match q at now. cursor is the stored activity the request's after_id or
// before_id names (nil without a cursor). A cursor that q's filters or time
// bounds exclude is located by its position in the unfiltered order, so a walk
// continues from where it was whatever the filters (filter-independent cursors).
func (x *index) page(q *query, cursor *Activity, now time.Time) (items []*Activity, hasMore bool) {
	lo, hi := x.bounds(q)
	d := 1 // L order: ascending positions for asc, descending for desc
	if !q.asc {
		d = -1
	}
	startOfL := lo
	if d < 0 {
		startOfL = hi - 1
	}
	want := q.limit + 1
	switch {
	case cursor == nil:
		items = x.collect(startOfL, d, lo, hi, want, q, now)
	case q.cursorParam == paramAfterID:
		items = x.collect(x.search(cursor)+d, d, lo, hi, want, q, now)
	default: // before_id: the limit activities just before the cursor in L
		items = x.collect(x.search(cursor)-d, -d, lo, hi, want, q, now)
	}
	hasMore = len(items) > q.limit
	items = items[:min(len(items), q.limit)]
	if cursor != nil && q.cursorParam == paramBeforeID {
		slices.Reverse(items)
	}
	return items, hasMore
}
