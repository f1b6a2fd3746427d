// Package jsonobj builds JSON documents whose members keep the order they were
// added in and encodes them without reflection; empty members (empty string,
// null, {} or []) are left out, so mappers add optional values unconditionally.
// All objects of a document live in one reusable Builder. It serves the ocsf
// and ecs processors and is not a general JSON library.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

type kind uint8

const (
	kindString kind = iota + 1
	kindInt
	kindBool
	kindRaw
	kindObject
	kindStrings
	kindObjects
)

// Builder holds the objects of one document. Reset makes it reusable; it is
// not safe for concurrent use.
type Builder struct {
	members []member
	objects []span
}

// span links an object's members: indexes of the first and last, -1 if none.
type span struct{ head, tail int32 }

type member struct {
	key  string
	str  string
	raw  []byte
	list any // []string, or []int32 object ids
	num  int64
	next int32
	obj  int32
	kind kind
}

// NewBuilder returns a Builder whose Root is an empty object.
func NewBuilder() *Builder {
	b := &Builder{members: make([]member, 0, 64), objects: make([]span, 0, 16)}
	b.Reset()
	return b
}

// Reset drops every object (and the references they held), leaving an empty
// Root.
func (b *Builder) Reset() {
	clear(b.members)
	b.members = b.members[:0]
	b.objects = append(b.objects[:0], span{-1, -1})
}

// Root is the document's top-level object.
func (b *Builder) Root() Object { return Object{b: b, id: 0} }

// NewObject returns a detached empty object, for use in Objects.
func (b *Builder) NewObject() Object {
	b.objects = append(b.objects, span{-1, -1})
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

func (o Object) add(m member) {
	b := o.b
	idx := int32(len(b.members))
	m.next = -1
	b.members = append(b.members, m)
	s := &b.objects[o.id]
	if s.tail < 0 {
		s.head = idx
	} else {
		b.members[s.tail].next = idx
	}
	s.tail = idx
}

// String adds a string member; an empty string is left out when encoded.
func (o Object) String(key, v string) { o.add(member{key: key, kind: kindString, str: v}) }

// Int adds an integer member. Zero is encoded.
func (o Object) Int(key string, v int64) { o.add(member{key: key, kind: kindInt, num: v}) }

// Bool adds a boolean member. False is encoded.
func (o Object) Bool(key string, v bool) {
	var n int64
	if v {
		n = 1
	}
	o.add(member{key: key, kind: kindBool, num: n})
}

// Raw adds a member holding already-encoded, valid JSON. Null is left out
// when encoded; objects and arrays are compacted.
func (o Object) Raw(key string, v json.RawMessage) { o.add(member{key: key, kind: kindRaw, raw: v}) }

// Strings adds a list of strings; empty strings in it and an empty list are
// left out when encoded.
func (o Object) Strings(key string, v []string) { o.add(member{key: key, kind: kindStrings, list: v}) }

// Objects adds a list of objects made with NewObject; empty objects in it
// and an empty list are left out when encoded.
func (o Object) Objects(key string, v ...Object) {
	ids := make([]int32, len(v))
	for i := range v {
		ids[i] = v[i].id
	}
	o.add(member{key: key, kind: kindObjects, list: ids})
}

// Object returns the child object stored under key, adding an empty one when
// there is none yet, so separate steps of a mapping can fill the same child.
func (o Object) Object(key string) Object {
	b := o.b
	for i := b.objects[o.id].head; i >= 0; i = b.members[i].next {
		if m := &b.members[i]; m.kind == kindObject && m.key == key {
			return Object{b: b, id: m.obj}
		}
	}
	child := b.NewObject()
	o.add(member{key: key, kind: kindObject, obj: child.id})
	return child
}

// Options controls encoding.
type Options struct {
	// StripNested removes null, "", {} and [] values at every depth of raw
	// values (added with Raw), not only at member level.
	StripNested bool
}

// AppendJSON appends the encoded object to dst and returns the extended slice.
func (o Object) AppendJSON(dst []byte, opts Options) []byte {
	return o.b.appendObject(dst, o.id, opts)
}

func (b *Builder) appendObject(dst []byte, id int32, opts Options) []byte {
	dst = append(dst, '{')
	first := true
	for i := b.objects[id].head; i >= 0; i = b.members[i].next {
		m := &b.members[i]
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, m.key)
		dst = append(dst, ':')
		start := len(dst)
		dst = b.appendValue(dst, m, opts)
		if isEmpty(dst[start:]) {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return append(dst, '}')
}

func (b *Builder) appendValue(dst []byte, m *member, opts Options) []byte {
	switch m.kind {
	case kindString:
		return AppendString(dst, m.str)
	case kindInt:
		return strconv.AppendInt(dst, m.num, 10)
	case kindBool:
		return strconv.AppendBool(dst, m.num == 1)
	case kindRaw:
		return appendRaw(dst, m.raw, opts)
	case kindObject:
		return b.appendObject(dst, m.obj, opts)
	case kindStrings:
		dst = append(dst, '[')
		n := 0
		for _, s := range m.list.([]string) {
			if s == "" {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, s)
			n++
		}
		return append(dst, ']')
	case kindObjects:
		dst = append(dst, '[')
		n := 0
		for _, id := range m.list.([]int32) {
			mark := len(dst)
			if n > 0 {
				dst = append(dst, ',')
			}
			start := len(dst)
			dst = b.appendObject(dst, id, opts)
			if isEmpty(dst[start:]) {
				dst = dst[:mark]
				continue
			}
			n++
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

func appendRaw(dst []byte, raw json.RawMessage, opts Options) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	if raw[0] != '{' && raw[0] != '[' {
		return append(dst, raw...)
	}
	if opts.StripNested {
		mark := len(dst)
		dst = AppendCompact(dst, raw)
		if !mayHoldEmpty(dst[mark:]) {
			return dst
		}
		dst = dst[:mark]
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		out, keep, err := appendClean(dec, dst)
		if err != nil || !keep {
			return append(dst[:mark], "null"...)
		}
		return out
	}
	return AppendCompact(dst, raw)
}

// AppendCompact appends valid JSON with the insignificant whitespace removed.
// It does not validate.
func AppendCompact(dst, raw []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...)
}

// mayHoldEmpty reports whether compact JSON might contain a null or empty
// value; false positives (e.g. "null" inside a string) only cost time.
func mayHoldEmpty(compact []byte) bool {
	return bytes.Contains(compact, []byte("null")) || bytes.Contains(compact, []byte(`""`)) ||
		bytes.Contains(compact, []byte("{}")) || bytes.Contains(compact, []byte("[]"))
}

// appendClean appends the next value of dec without null, "", {} and []
// values at any depth (as Elastic's ingest pipelines clean documents),
// keeping member order. keep is false, and dst unchanged, when nothing is
// left of the value.
func appendClean(dec *json.Decoder, dst []byte) (out []byte, keep bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return dst, false, err
	}
	switch t := tok.(type) {
	case nil:
		return dst, false, nil
	case string:
		if t == "" {
			return dst, false, nil
		}
		return AppendString(dst, t), true, nil
	case bool:
		return strconv.AppendBool(dst, t), true, nil
	case json.Number:
		return append(dst, t...), true, nil
	case json.Delim:
		mark := len(dst)
		isObject := t == '{'
		dst = append(dst, byte(t))
		n := 0
		for dec.More() {
			member := len(dst)
			if n > 0 {
				dst = append(dst, ',')
			}
			if isObject {
				keyTok, err := dec.Token()
				if err != nil {
					return dst[:mark], false, err
				}
				key, _ := keyTok.(string)
				dst = AppendString(dst, key)
				dst = append(dst, ':')
			}
			var kept bool
			if dst, kept, err = appendClean(dec, dst); err != nil {
				return dst[:mark], false, err
			}
			if !kept {
				dst = dst[:member]
				continue
			}
			n++
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return dst[:mark], false, err
		}
		if n == 0 {
			return dst[:mark], false, nil
		}
		if isObject {
			return append(dst, '}'), true, nil
		}
		return append(dst, ']'), true, nil
	}
	return dst, false, nil
}

func isEmpty(b []byte) bool {
	switch string(b) {
	case `""`, "null", "{}", "[]":
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

// plain marks the ASCII bytes that need no escaping in a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, and
// control characters, U+2028 and U+2029 are escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if plain[s[i]] {
			i++
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
