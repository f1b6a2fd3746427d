package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// IDSet is a fixed set of activity ids. A `once` job given one
// (Config.OnlyIDs) emits only the activities whose id is in it: a repair
// re-sends exactly the ids an audit found missing, through the pipeline's
// own processors and outputs. It is read-only once built.
type IDSet struct {
	ids    []string // sorted, unique: half the memory of a map, O(log n) lookups
	digest string
}

// NewIDSet builds a set from ids (it takes ownership of the slice). Blank
// entries are dropped; surrounding white space is trimmed.
func NewIDSet(ids []string) *IDSet {
	out := ids[:0]
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	out = slices.Clip(slices.Compact(out))
	h := sha256.New()
	for _, id := range out {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return &IDSet{ids: out, digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}
}

// Has reports whether id is in the set.
func (s *IDSet) Has(id string) bool {
	_, ok := slices.BinarySearch(s.ids, id)
	return ok
}

// Len is the number of distinct ids.
func (s *IDSet) Len() int { return len(s.ids) }

// Digest identifies the set ("sha256:<hex>" of its sorted ids, one per
// line): two sets are equal exactly when their digests are.
func (s *IDSet) Digest() string { return s.digest }
