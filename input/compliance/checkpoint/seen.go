package checkpoint

import (
	"slices"
	"time"
)

// SeenSet holds the ids of committed slices, grouped by the second they
// were created in. It is built for the commit path, where the collector
// clones the record, commits a slice into the clone and keeps the clone once
// it is stored:
//
//   - each second's ids are a sorted slice that is never changed once
//     stored (a change makes a new slice), so Clone copies one map entry per
//     second (the overlap: 300 for 5 minutes), not one per id;
//   - membership goes through an index (id → second) shared by the clones
//     of a record and checked against the version's own second, so every
//     version answers exactly; the index is rebuilt when ids no version
//     holds make up half of it;
//   - pruning drops whole seconds, and encoding walks the seconds in order
//     with no sorting.
//
// A SeenSet is not safe for concurrent use (the job goroutine owns the
// collector's record); its zero value is empty and ready to use.
type SeenSet struct {
	secs  map[int64][]string
	n     int
	index *seenIndex
}

type seenIndex struct{ m map[string]int64 }

func (s *SeenSet) init() {
	if s.secs == nil {
		s.secs = map[int64][]string{}
	}
	if s.index == nil {
		s.index = &seenIndex{m: map[string]int64{}}
	}
}

// Len is the number of ids.
func (s *SeenSet) Len() int { return s.n }

// Has reports whether id is in the set.
func (s *SeenSet) Has(id string) bool {
	if s.index == nil {
		return false
	}
	sec, ok := s.index.m[id]
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(s.secs[sec], id)
	return found
}

// Add records an id created at createdAt.
func (s *SeenSet) Add(id string, createdAt time.Time) {
	s.AddAll(IDSet{id: createdAt.Unix()})
}

// AddAll adds every id of ids (with its second).
func (s *SeenSet) AddAll(ids IDSet) {
	if len(ids) == 0 {
		return
	}
	s.init()
	bySec := map[int64][]string{}
	for id, sec := range ids {
		if old, ok := s.index.m[id]; ok && old != sec {
			s.remove(id, old) // the id moved to another second (never seen in practice)
		}
		if !s.inSecond(id, sec) {
			bySec[sec] = append(bySec[sec], id)
		}
		s.index.m[id] = sec
	}
	for sec, add := range bySec {
		slices.Sort(add)
		old := s.secs[sec]
		merged := make([]string, 0, len(old)+len(add))
		i, j := 0, 0
		for i < len(old) && j < len(add) {
			if old[i] < add[j] {
				merged = append(merged, old[i])
				i++
			} else {
				merged = append(merged, add[j])
				j++
			}
		}
		merged = append(append(merged, old[i:]...), add[j:]...)
		s.secs[sec] = merged
		s.n += len(add)
	}
	if len(s.index.m) > 2*s.n+1024 {
		s.reindex()
	}
}

func (s *SeenSet) inSecond(id string, sec int64) bool {
	_, found := slices.BinarySearch(s.secs[sec], id)
	return found
}

// remove drops id from second sec (copy on write).
func (s *SeenSet) remove(id string, sec int64) {
	old := s.secs[sec]
	i, found := slices.BinarySearch(old, id)
	if !found {
		return
	}
	s.n--
	if len(old) == 1 {
		delete(s.secs, sec)
		return
	}
	s.secs[sec] = slices.Delete(slices.Clone(old), i, i+1)
}

// reindex gives this version an index of its own ids only.
func (s *SeenSet) reindex() {
	m := make(map[string]int64, s.n)
	for sec, ids := range s.secs {
		for _, id := range ids {
			m[id] = sec
		}
	}
	s.index = &seenIndex{m: m}
}

// PruneBelow drops the ids created before bound.
func (s *SeenSet) PruneBelow(bound time.Time) {
	b := bound.Unix()
	for sec, ids := range s.secs {
		if sec < b {
			s.n -= len(ids)
			delete(s.secs, sec)
		}
	}
}

// Clone returns a copy that shares the unchanged seconds and the index.
func (s *SeenSet) Clone() SeenSet {
	c := SeenSet{n: s.n, index: s.index, secs: make(map[int64][]string, len(s.secs))}
	for sec, ids := range s.secs {
		c.secs[sec] = ids
	}
	return c
}

// IDs returns the set as a map of id to second.
func (s *SeenSet) IDs() IDSet {
	out := make(IDSet, s.n)
	for sec, ids := range s.secs {
		for _, id := range ids {
			out[id] = sec
		}
	}
	return out
}

// seconds returns the seconds that hold ids, in order.
func (s *SeenSet) seconds() []int64 {
	secs := make([]int64, 0, len(s.secs))
	for sec := range s.secs {
		secs = append(secs, sec)
	}
	slices.Sort(secs)
	return secs
}

// MarshalJSON writes the grouped form.
func (s SeenSet) MarshalJSON() ([]byte, error) { return s.appendJSON(nil, ""), nil }

func (s *SeenSet) appendJSON(b []byte, indent string) []byte {
	if s.n == 0 {
		return append(b, "{}"...)
	}
	b = append(b, '{')
	for i, sec := range s.seconds() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendGroup(b, indent, sec, s.secs[sec])
	}
	b = append(b, '\n')
	b = append(b, indent...)
	return append(b, '}')
}

// fromGroups builds a set from parsed groups (second → ids, any order).
func seenFromGroups(groups map[int64][]string) SeenSet {
	s := SeenSet{secs: make(map[int64][]string, len(groups))}
	for sec, ids := range groups {
		if !slices.IsSorted(ids) {
			slices.Sort(ids)
		}
		ids = slices.Compact(ids)
		s.secs[sec] = ids
		s.n += len(ids)
	}
	s.reindex()
	return s
}
