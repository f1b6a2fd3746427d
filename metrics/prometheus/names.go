package prometheus

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// metricName turns a Benthos metric name into a valid Prometheus metric name:
// the prefix (if any) is joined with "_", every character outside
// [a-zA-Z0-9_] becomes "_" (colons too: they are reserved for recording
// rules), and a leading digit gets a "_" in front. Timers are exported in
// seconds, so a trailing "_ns" becomes "_seconds" and "_seconds" is appended
// when missing.
func metricName(prefix, name string, k kind) string {
	if prefix != "" {
		name = prefix + "_" + name
	}
	name = sanitise(name)
	if k == kindTimer {
		name = strings.TrimSuffix(name, "_ns")
		if !strings.HasSuffix(name, "_seconds") {
			name += "_seconds"
		}
	}
	return name
}

// labelName turns a Benthos label key into a valid Prometheus label name
// under the same character rules as metricName. Names starting with "__" are
// reserved for Prometheus itself, so leading underscores are cut down to one.
func labelName(key string) string {
	key = sanitise(key)
	for strings.HasPrefix(key, "__") {
		key = key[1:]
	}
	return key
}

// sanitise replaces each rune outside [a-zA-Z0-9_] with "_" and prefixes a
// leading digit with "_". The empty string becomes "_".
func sanitise(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// sortLabels returns the label names in sorted order (the order of the vec
// shared by every registration of that label set) and, unless it is already
// sorted, order such that sorted[j] == keys[order[j]]. Duplicates are an
// error.
func sortLabels(keys []string) (sorted []string, order []int, err error) {
	order = make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted = make([]string, len(keys))
	identity := true
	for j, i := range order {
		sorted[j] = keys[i]
		if j > 0 && sorted[j] == sorted[j-1] {
			return nil, nil, fmt.Errorf("label %q appears twice after sanitising", sorted[j])
		}
		identity = identity && i == j
	}
	if identity {
		order = nil
	}
	return sorted, order, nil
}

// labelling turns the label values of one constructor call into the order of
// its vec.
type labelling struct {
	log    *service.Logger
	name   string
	kind   kind
	keys   []string // sanitised, in the caller's order
	order  []int    // nil when keys are sorted
	warned atomic.Bool
}

func (l *labelling) arrange(values []string) ([]string, bool) {
	if len(values) != len(l.keys) {
		l.warnOnce(fmt.Errorf("got %d label values for the %d label keys %v", len(values), len(l.keys), l.keys))
		return nil, false
	}
	out, owned := values, false
	if l.order != nil {
		out, owned = make([]string, len(values)), true
		for j, i := range l.order {
			out[j] = values[i]
		}
	}
	for i, v := range out {
		if !utf8.ValidString(v) {
			if !owned {
				out, owned = slices.Clone(out), true
			}
			out[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	return out, true
}

func (l *labelling) warnOnce(err error) {
	if l.warned.CompareAndSwap(false, true) {
		l.log.Warnf("Prometheus %s %s dropped a value (further drops are not logged): %v", l.kind, l.name, err)
	}
}
