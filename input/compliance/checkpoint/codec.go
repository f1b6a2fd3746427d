package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unsafe"
)

// The document, as written (rev first, so that a store reads the revision
// from the first bytes without decoding the rest; the id sets last, one line
// per second):
//
//	{
//	  "rev": 412,
//	  "version": 1,
//	  "identity": {"endpoint":"activities","base_url":"https://api.anthropic.com","filters":"sha256:…"},
//	  "floor": "2026-11-18T00:00:00Z",
//	  "scanned_to": "2026-11-25T10:00:00Z",
//	  "seen_from": "2026-11-25T09:55:00Z",
//	  "updated_at": "2026-11-25T10:02:03Z",
//	  "state": {"latestTime": 1764064632000},
//	  "pending": {
//	    "2026-11-25T10:01:30Z": ["activity_02…"]
//	  },
//	  "seen": {
//	    "2026-11-25T09:57:12Z": ["activity_01…", "activity_03…"]
//	  }
//	}
//
// A tombstone is {"rev": N, "version": 1, "deleted_at": "…", "identity": {…}}.

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// Encode renders the record as deterministic JSON an operator can read, with
// rev first.
func (r *Record) Encode() ([]byte, error) {
	id, err := json.Marshal(r.Identity)
	if err != nil {
		return nil, fmt.Errorf("encoding identity: %w", err)
	}
	state := []byte("{}")
	if len(r.State) > 0 {
		if state, err = json.MarshalIndent(r.State, "  ", "  "); err != nil {
			return nil, fmt.Errorf("encoding state: %w", err)
		}
	}
	b := make([]byte, 0, 512+len(state)+idSetSize(r.Seen.Len())+idSetSize(len(r.Pending)))
	b = append(b, "{\n  \"rev\": "...)
	b = strconv.AppendInt(b, r.Rev, 10)
	b = append(b, ",\n  \"version\": "...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, ",\n  \"identity\": "...)
	b = append(b, id...)
	field := func(name string, t time.Time, omitZero bool) {
		if omitZero && t.IsZero() {
			return
		}
		b = append(b, ",\n  \""...)
		b = append(b, name...)
		b = append(b, "\": "...)
		b = appendTime(b, t)
	}
	field("floor", r.Floor, false)
	field("until", r.Until, true)
	field("scanned_to", r.ScannedTo, false)
	field("seen_from", r.SeenFrom, true)
	field("updated_at", r.UpdatedAt, true)
	b = append(b, ",\n  \"state\": "...)
	b = append(b, state...)
	b = append(b, ",\n  \"pending\": "...)
	b = r.Pending.appendJSON(b, "  ")
	if len(r.Marks) > 0 {
		b = append(b, ",\n  \"marks\": {"...)
		for i, id := range slices.Sorted(maps.Keys(r.Marks)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = appendString(b, id)
			b = append(b, ": "...)
			b = appendTime(b, r.Marks[id])
		}
		b = append(b, "\n  }"...)
	}
	b = append(b, ",\n  \"seen\": "...)
	b = r.Seen.appendJSON(b, "  ")
	b = append(b, "\n}\n"...)
	return b, nil
}

// MarshalJSON is Encode, so that a record embedded in a JSON answer reads the
// same as the stored document.
func (r *Record) MarshalJSON() ([]byte, error) { return r.Encode() }

func encodeTombstone(id Identity, rev int64, at time.Time) ([]byte, error) {
	ident, err := json.Marshal(id)
	if err != nil {
		return nil, fmt.Errorf("encoding identity: %w", err)
	}
	version := Version
	if id.Key != "" {
		version = VersionKeyed
	}
	b := fmt.Appendf(nil, "{\n  \"rev\": %d,\n  \"version\": %d,\n  \"deleted_at\": ", rev, version)
	b = appendTime(b, at)
	b = append(b, ",\n  \"identity\": "...)
	b = append(b, ident...)
	return append(b, "\n}\n"...), nil
}

// document is the stored form with the id sets left raw (they are parsed
// by parseIDSet, which is much faster than encoding/json on large sets).
type document struct {
	Rev       *int64            `json:"rev"`
	Version   int               `json:"version"`
	Identity  Identity          `json:"identity"`
	DeletedAt string            `json:"deleted_at"`
	Floor     string            `json:"floor"`
	Until     string            `json:"until"`
	ScannedTo string            `json:"scanned_to"`
	SeenFrom  string            `json:"seen_from"`
	UpdatedAt string            `json:"updated_at"`
	State     json.RawMessage   `json:"state"`
	Pending   json.RawMessage   `json:"pending"`
	Marks     map[string]string `json:"marks"`
	Seen      json.RawMessage   `json:"seen"`
}

// Decode parses and validates a stored record. A tombstone is a *DeletedError.
func Decode(data []byte) (*Record, error) {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("not a checkpoint document: %w", err)
	}
	r := &Record{Version: d.Version, Identity: d.Identity}
	if d.Rev != nil {
		r.Rev = *d.Rev
	}
	if d.DeletedAt != "" {
		at, err := parseTime("deleted_at", d.DeletedAt)
		if err != nil {
			return nil, fmt.Errorf("invalid checkpoint document: %w", err)
		}
		return nil, &DeletedError{Rev: r.Rev, At: at}
	}
	times := []struct {
		dst  *time.Time
		name string
		raw  string
	}{
		{&r.Floor, "floor", d.Floor}, {&r.Until, "until", d.Until}, {&r.ScannedTo, "scanned_to", d.ScannedTo},
		{&r.SeenFrom, "seen_from", d.SeenFrom}, {&r.UpdatedAt, "updated_at", d.UpdatedAt},
	}
	for _, f := range times {
		if f.raw == "" {
			continue
		}
		t, err := parseTime(f.name, f.raw)
		if err != nil {
			return nil, fmt.Errorf("invalid checkpoint document: %w", err)
		}
		*f.dst = t
	}
	seen, err := parseGroups(d.Seen)
	if err != nil {
		return nil, fmt.Errorf("invalid checkpoint document: seen: %w", err)
	}
	r.Seen = seenFromGroups(seen)
	if r.Pending, err = parseIDSet(d.Pending); err != nil {
		return nil, fmt.Errorf("invalid checkpoint document: pending: %w", err)
	}
	if len(d.Marks) > 0 {
		r.Marks = make(map[string]time.Time, len(d.Marks))
		for id, raw := range d.Marks {
			t, err := parseTime("marks."+id, raw)
			if err != nil {
				return nil, fmt.Errorf("invalid checkpoint document: %w", err)
			}
			r.Marks[id] = t
		}
	}
	r.State = map[string]any{}
	if len(d.State) > 0 && !bytes.Equal(d.State, []byte("null")) {
		if err := json.Unmarshal(d.State, &r.State); err != nil {
			return nil, fmt.Errorf("invalid checkpoint document: state: must be an object: %w", err)
		}
		if r.State == nil {
			r.State = map[string]any{}
		}
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("invalid checkpoint document: %w", err)
	}
	return r, nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

//------------------------------------------------------------------------------

// IDSet maps activity ids to their created_at in unix seconds. Comparing the
// truncated second with a whole-second bound b is exact: c >= b iff
// floor(c) >= b. It is stored grouped by second, one line per second:
//
//	{"2026-11-25T09:57:12Z": ["activity_01…", "activity_02…"]}
type IDSet map[string]int64

// Add records an id.
func (s IDSet) Add(id string, createdAt time.Time) { s[id] = createdAt.Unix() }

// PruneBelow drops ids created before bound.
func (s IDSet) PruneBelow(bound time.Time) {
	b := bound.Unix()
	for id, sec := range s {
		if sec < b {
			delete(s, id)
		}
	}
}

// Clone copies the set.
func (s IDSet) Clone() IDSet {
	c := make(IDSet, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// idSetSize estimates the encoded size of n ids.
func idSetSize(n int) int { return 16 + n*40 }

// MarshalJSON writes the grouped form with sorted keys and ids.
func (s IDSet) MarshalJSON() ([]byte, error) { return s.appendJSON(nil, ""), nil }

// appendJSON writes the grouped form, one second per line indented by
// indent+2 spaces, seconds and ids sorted.
func (s IDSet) appendJSON(b []byte, indent string) []byte {
	if len(s) == 0 {
		return append(b, "{}"...)
	}
	groups := map[int64][]string{}
	for id, sec := range s {
		groups[sec] = append(groups[sec], id)
	}
	secs := make([]int64, 0, len(groups))
	for sec := range groups {
		secs = append(secs, sec)
	}
	slices.Sort(secs)
	b = append(b, '{')
	for i, sec := range secs {
		if i > 0 {
			b = append(b, ',')
		}
		ids := groups[sec]
		slices.Sort(ids)
		b = appendGroup(b, indent, sec, ids)
	}
	b = append(b, '\n')
	b = append(b, indent...)
	return append(b, '}')
}

// appendGroup writes one second's line: "<second>": ["id", …].
func appendGroup(b []byte, indent string, sec int64, ids []string) []byte {
	b = append(b, '\n')
	b = append(b, indent...)
	b = append(b, "  \""...)
	b = time.Unix(sec, 0).UTC().AppendFormat(b, time.RFC3339)
	b = append(b, "\": ["...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendString(b, id)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string: as is when it needs no escaping
// (activity ids never do), through encoding/json otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// UnmarshalJSON reads the grouped form.
func (s *IDSet) UnmarshalJSON(data []byte) error {
	set, err := parseIDSet(bytes.Clone(data))
	if err != nil {
		return err
	}
	*s = set
	return nil
}

// parseIDSet reads {"<RFC 3339 second>": ["id", …], …}.
func parseIDSet(data []byte) (IDSet, error) {
	groups, err := parseGroups(data)
	if err != nil {
		return nil, err
	}
	out := IDSet{}
	for sec, ids := range groups {
		for _, id := range ids {
			out[id] = sec
		}
	}
	return out, nil
}

// parseGroups reads {"<RFC 3339 second>": ["id", …], …} into second → ids.
// The ids are slices of data, which the caller hands over (never to be
// changed again): one allocation for the whole set, not one per id.
func parseGroups(data []byte) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return out, nil
	}
	text := unsafe.String(unsafe.SliceData(data), len(data))
	p := idParser{s: text}
	if err := p.expect('{'); err != nil {
		return nil, err
	}
	if p.peek() == '}' {
		p.i++
		return out, p.end()
	}
	for {
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339, key)
		if err != nil {
			return nil, fmt.Errorf("id set: key %q is not an RFC 3339 second", key)
		}
		sec := t.Unix()
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		if err := p.expect('['); err != nil {
			return nil, err
		}
		if p.peek() == ']' {
			p.i++
		} else {
			for {
				id, err := p.str()
				if err != nil {
					return nil, err
				}
				out[sec] = append(out[sec], id)
				c, err := p.next()
				if err != nil {
					return nil, err
				}
				if c == ']' {
					break
				}
				if c != ',' {
					return nil, p.errorf("expected , or ] in the ids of %s", key)
				}
			}
		}
		c, err := p.next()
		if err != nil {
			return nil, err
		}
		if c == '}' {
			return out, p.end()
		}
		if c != ',' {
			return nil, p.errorf("expected , or } after the ids of %s", key)
		}
	}
}

// idParser scans the grouped id set form.
type idParser struct {
	s string
	i int
}

func (p *idParser) errorf(format string, args ...any) error {
	return fmt.Errorf("id set: at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *idParser) skip() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *idParser) peek() byte {
	p.skip()
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

func (p *idParser) next() (byte, error) {
	c := p.peek()
	if c == 0 {
		return 0, p.errorf("unexpected end")
	}
	p.i++
	return c, nil
}

func (p *idParser) expect(want byte) error {
	c, err := p.next()
	if err != nil {
		return err
	}
	if c != want {
		return p.errorf("expected %q, found %q", want, c)
	}
	return nil
}

func (p *idParser) end() error {
	if p.peek() != 0 {
		return p.errorf("unexpected data after the id set")
	}
	return nil
}

// str reads a JSON string: a slice of the input when it has no escapes,
// decoded by encoding/json otherwise.
func (p *idParser) str() (string, error) {
	if err := p.expect('"'); err != nil {
		return "", err
	}
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			p.i++
			return p.s[start : p.i-1], nil
		case c == '\\':
			return p.escaped(start - 1)
		case c < 0x20:
			return "", p.errorf("control character in a string")
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

func (p *idParser) escaped(from int) (string, error) {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var out string
			raw := p.s[from:p.i]
			if err := json.Unmarshal([]byte(raw), &out); err != nil {
				return "", p.errorf("bad string: %v", err)
			}
			return out, nil
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

//------------------------------------------------------------------------------

func cloneState(s map[string]any) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return map[string]any{}
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil || out == nil {
		return map[string]any{}
	}
	return out
}

// errNoRev is returned by docRev for a document without a revision.
var errNoRev = errors.New("no rev")

// docRev reads a stored document's revision (a full decode of the rev member
// only; used by MemoryStore).
func docRev(data []byte) (int64, error) {
	var v struct {
		Rev *int64 `json:"rev"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return 0, err
	}
	if v.Rev == nil {
		return 0, errNoRev
	}
	return *v.Rev, nil
}
