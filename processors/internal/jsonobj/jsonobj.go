// Package jsonobj builds JSON documents whose members keep the order they were
// added in and encodes them without reflection; empty members (empty string,
// null, {} or []) are left out, so mappers add optional values unconditionally.
// All objects of a document live in one reusable Builder, which allocates
// nothing once warm. It serves the ocsf and ecs processors and is not a
// general JSON library.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Builder holds the objects of one document. A scalar member is encoded into
// the builder's text when it is added, so the builder holds no pointers into
// what the mapping read (nothing for the garbage collector to trace or to
// guard with write barriers); objects only link members together. Reset
// makes a Builder reusable; it is not safe for concurrent use.
type Builder struct {
	opts    Options
	text    []byte // encoded members, each `,"key":value` or `,"key":`
	members []member
	objects []span
	ids     []int32 // elements of Objects members
	scratch []byte  // a raw value being compacted and cleaned
}

// span links an object's members: indexes of the first and last, and of the
// last child object (linked by member.prevObject), -1 if none.
type span struct{ head, tail, lastObject int32 }

// member is one member of an object. text[start:end] holds it encoded with a
// leading comma: the whole member for a scalar, the key and colon for an
// object (child is its id) or a list of objects (ids[child:child+n]).
type member struct {
	start, end int32
	next       int32
	prevObject int32 // the previous child object of the same object
	child, n   int32
	kind       kind
}

type kind uint8

const (
	kindScalar kind = iota
	kindObject
	kindObjects
)

// Options controls encoding.
type Options struct {
	// StripNested removes null, "", {} and [] values at every depth of raw
	// values (added with Raw), not only at member level.
	StripNested bool
}

// NewBuilder returns a Builder whose Root is an empty object.
func NewBuilder(opts Options) *Builder {
	b := &Builder{
		opts:    opts,
		text:    make([]byte, 0, 2048),
		members: make([]member, 0, 96),
		objects: make([]span, 0, 24),
		ids:     make([]int32, 0, 4),
	}
	b.Reset()
	return b
}

// maxKept bounds the buffers a Builder keeps between documents.
const maxKept = 256 << 10

// Reset drops every object, leaving an empty Root.
func (b *Builder) Reset() {
	if cap(b.text) > maxKept {
		b.text = make([]byte, 0, 2048)
	}
	if cap(b.scratch) > maxKept {
		b.scratch = nil
	}
	b.text = b.text[:0]
	b.members = b.members[:0]
	b.ids = b.ids[:0]
	b.objects = append(b.objects[:0], span{-1, -1, -1})
}

// Root is the document's top-level object.
func (b *Builder) Root() Object { return Object{b: b, id: 0} }

// NewObject returns a detached empty object, for use in Objects.
func (b *Builder) NewObject() Object {
	b.objects = append(b.objects, span{-1, -1, -1})
	return Object{b: b, id: int32(len(b.objects) - 1)}
}

// Object is a handle to one object of a Builder.
type Object struct {
	b  *Builder
	id int32
}

// NewObject returns a detached empty object of the same Builder, for use in
// Objects.
func (o Object) NewObject() Object { return o.b.NewObject() }

// member returns b.text with `,"key":` appended, and where the member
// starts. The caller appends the value and hands the result to scalar, or
// to commit.
func (b *Builder) member(key string) (t []byte, start int) {
	t = b.text
	start = len(t)
	t = append(t, ',')
	t = AppendString(t, key)
	return append(t, ':'), start
}

// commit stores t, which extends b.text. Unless an append reallocated,
// only the length changes, which spares the garbage collector's write
// barrier that storing a pointer costs while it marks.
func (b *Builder) commit(t []byte) {
	if cap(t) == cap(b.text) {
		b.text = b.text[:len(t)]
	} else {
		b.text = t
	}
}

// scalar commits and links the scalar member t[start:] or, when its value
// (t[valueAt:]) is empty, drops it.
func (o Object) scalar(t []byte, start, valueAt int) {
	b := o.b
	if isEmpty(t[valueAt:]) {
		b.commit(t[:start])
		return
	}
	b.commit(t)
	o.link(start, len(t), kindScalar)
}

// link appends a member spanning text[start:end] to the object and returns
// it for the caller to fill in the rest. (Filled in place: building a member
// on the stack and copying it stalls on store forwarding.)
func (o Object) link(start, end int, kind kind) *member {
	b := o.b
	idx := int32(len(b.members))
	b.members = append(b.members, member{})
	m := &b.members[idx]
	m.start, m.end, m.next, m.kind = int32(start), int32(end), -1, kind
	s := &b.objects[o.id]
	if s.tail < 0 {
		s.head = idx
	} else {
		b.members[s.tail].next = idx
	}
	s.tail = idx
	return m
}

// String adds a string member; an empty string is left out.
func (o Object) String(key, v string) {
	if v == "" {
		return
	}
	t, start := o.b.member(key)
	o.scalar(AppendString(t, v), start, len(t))
}

// Int adds an integer member. Zero is encoded.
func (o Object) Int(key string, v int64) {
	t, start := o.b.member(key)
	o.scalar(strconv.AppendInt(t, v, 10), start, len(t))
}

// Bool adds a boolean member. False is encoded.
func (o Object) Bool(key string, v bool) {
	t, start := o.b.member(key)
	o.scalar(strconv.AppendBool(t, v), start, len(t))
}

// Time adds t as an RFC 3339 string in UTC with as many fractional-second
// digits as it needs (time.RFC3339Nano).
func (o Object) Time(key string, v time.Time) {
	t, start := o.b.member(key)
	valueAt := len(t)
	t = append(t, '"')
	t = v.UTC().AppendFormat(t, time.RFC3339Nano)
	o.scalar(append(t, '"'), start, valueAt)
}

// Raw adds a member holding already-encoded, valid JSON. Null is left out;
// objects and arrays are compacted (and cleaned, see Options).
func (o Object) Raw(key string, v json.RawMessage) {
	t, start := o.b.member(key)
	o.scalar(o.b.appendRaw(t, v), start, len(t))
}

// Strings adds a list of strings; empty strings in it and an empty list are
// left out.
func (o Object) Strings(key string, v []string) {
	t, start := o.b.member(key)
	valueAt := len(t)
	t = append(t, '[')
	n := 0
	for _, s := range v {
		if s == "" {
			continue
		}
		if n > 0 {
			t = append(t, ',')
		}
		t = AppendString(t, s)
		n++
	}
	o.scalar(append(t, ']'), start, valueAt)
}

// Encoded adds members encoded beforehand by AppendMembers, copied as they
// are: a way to build constant runs of members once. Object does not find
// children among them.
func (o Object) Encoded(members []byte) {
	if len(members) == 0 {
		return
	}
	b := o.b
	start := len(b.text)
	b.text = append(b.text, members...)
	o.link(start, len(b.text), kindScalar)
}

// AppendMembers appends the object's members, encoded as Encoded takes them
// (`,"key":value` each), to dst.
func (o Object) AppendMembers(dst []byte) []byte {
	enc := o.AppendJSON(nil)
	if len(enc) == 2 {
		return dst
	}
	dst = append(dst, ',')
	return append(dst, enc[1:len(enc)-1]...)
}

// Objects adds a list of objects made with NewObject; empty objects in it
// and an empty list are left out when encoded.
func (o Object) Objects(key string, v ...Object) {
	b := o.b
	t, start := b.member(key)
	b.commit(t)
	first := len(b.ids)
	for i := range v {
		b.ids = append(b.ids, v[i].id)
	}
	m := o.link(start, len(t), kindObjects)
	m.child, m.n = int32(first), int32(len(v))
}

// Object returns the child object stored under key, adding an empty one when
// there is none yet, so separate steps of a mapping can fill the same child.
func (o Object) Object(key string) Object {
	b := o.b
	// Children are found by their encoded key, `,"key":`.
	want := key
	if PlainLen(key) != len(key) {
		b.scratch = AppendString(b.scratch[:0], key)
		want = string(b.scratch[1 : len(b.scratch)-1])
	}
	for i := b.objects[o.id].lastObject; i >= 0; i = b.members[i].prevObject {
		m := &b.members[i]
		if int(m.end-m.start) == len(want)+4 && string(b.text[m.start+2:m.end-2]) == want {
			return Object{b: b, id: m.child}
		}
	}
	child := b.NewObject()
	t, start := b.member(key)
	b.commit(t)
	prev := b.objects[o.id].lastObject
	b.objects[o.id].lastObject = int32(len(b.members))
	m := o.link(start, len(t), kindObject)
	m.child, m.prevObject = child.id, prev
	return child
}

// AppendJSON appends the encoded object to dst and returns the extended slice.
func (o Object) AppendJSON(dst []byte) []byte {
	return o.b.appendObject(dst, o.id)
}

func (b *Builder) appendObject(dst []byte, id int32) []byte {
	dst = append(dst, '{')
	open := len(dst)
	for i := b.objects[id].head; i >= 0; {
		m := &b.members[i]
		mark := len(dst)
		start, end := m.start, m.end
		i = m.next
		if m.kind == kindScalar {
			// Scalars added one after the other are adjacent in text: copy
			// the run at once.
			for i >= 0 && b.members[i].kind == kindScalar && b.members[i].start == end {
				end = b.members[i].end
				i = b.members[i].next
			}
		}
		enc := b.text[start:end]
		if mark == open {
			enc = enc[1:] // the first member has no comma
		}
		dst = append(dst, enc...)
		switch m.kind {
		case kindObject:
			start := len(dst)
			if dst = b.appendObject(dst, m.child); len(dst) == start+2 { // {}
				dst = dst[:mark]
			}
		case kindObjects:
			start := len(dst)
			if dst = b.appendObjects(dst, b.ids[m.child:m.child+m.n]); len(dst) == start+2 { // []
				dst = dst[:mark]
			}
		}
	}
	return append(dst, '}')
}

func (b *Builder) appendObjects(dst []byte, ids []int32) []byte {
	dst = append(dst, '[')
	open := len(dst)
	for _, id := range ids {
		mark := len(dst)
		if mark != open {
			dst = append(dst, ',')
		}
		start := len(dst)
		if dst = b.appendObject(dst, id); len(dst) == start+2 { // {}
			dst = dst[:mark]
		}
	}
	return append(dst, ']')
}

// appendRaw appends a raw value: scalars as they are, objects and arrays
// compacted and, with StripNested, cleaned of empty values when the compact
// text may hold any.
func (b *Builder) appendRaw(dst []byte, raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	if raw[0] != '{' && raw[0] != '[' {
		return append(dst, raw...)
	}
	if !b.opts.StripNested {
		return AppendCompact(dst, raw)
	}
	b.scratch = AppendCompact(b.scratch[:0], raw)
	if !mayHoldEmpty(b.scratch) {
		return append(dst, b.scratch...)
	}
	out, kept, ok := appendClean(dst, b.scratch)
	if !ok || !kept {
		return append(dst, "null"...)
	}
	return out
}

func isEmpty(b []byte) bool {
	switch string(b) {
	case `""`, "null", "{}", "[]":
		return true
	}
	return false
}
