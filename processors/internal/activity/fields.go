package activity

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// Fields are the members of one JSON object, in input order. Accessors named
// Take mark the member as used; the others only look. Members never taken
// are the "unmapped" rest a normalizer keeps verbatim. Copies of a Fields
// share its members.
//
// Members are offsets into the activity's text (the input viewed as a
// string, see Decode), so the strings read from them are substrings of it,
// not allocations, and the member list holds no pointers for the garbage
// collector to trace.
type Fields struct {
	text string // the JSON text members point into
	src  []byte // the same bytes: raw values are sub-slices of it
	list []field
	// keys holds the keys that had escape sequences and values the values
	// redaction replaced; a field refers to them by index.
	keys   []string
	values []json.RawMessage
	// lens has bit n%64 set when a key is n bytes long.
	lens    uint64
	present bool
}

// field is one member: its key's body and its value's text in Fields.text
// (or, when key or value is not 0, 1 + an index in Fields.keys or .values).
type field struct {
	keyStart, keyEnd int32
	start, end       int32
	key, value       int32
	// hashed reports that redaction replaced the value by a keyed hash. The
	// typed accessors ignore hashed fields, so a hash never lands in an email
	// or IP attribute; it stays with the unmapped members.
	hashed bool
	used   bool
}

// Present reports whether the object exists: false for the actor of an
// activity without an actor object.
func (fs *Fields) Present() bool { return fs.present }

func (fs *Fields) key(i int) string {
	if f := &fs.list[i]; f.key > 0 {
		return fs.keys[f.key-1]
	}
	return fs.text[fs.list[i].keyStart:fs.list[i].keyEnd]
}

// value returns the member's value as compact-or-not JSON.
func (fs *Fields) value(i int) json.RawMessage {
	f := &fs.list[i]
	if f.value > 0 {
		return fs.values[f.value-1]
	}
	return fs.src[f.start:f.end:f.end]
}

// valueText returns the member's value as a string without copying; ok is
// false when redaction replaced it.
func (fs *Fields) valueText(i int) (text string, ok bool) {
	f := &fs.list[i]
	if f.value > 0 {
		return "", false
	}
	return fs.text[f.start:f.end], true
}

// setValue replaces a member's value (redaction).
func (fs *Fields) setValue(i int, v json.RawMessage) {
	fs.values = append(fs.values, v)
	fs.list[i].value = int32(len(fs.values))
}

func (fs *Fields) index(key string) int {
	if fs.lens&lenBit(len(key)) == 0 {
		return -1 // no key of that length: most lookups of absent keys end here
	}
	for i := range fs.list {
		f := &fs.list[i]
		if f.key == 0 {
			if int(f.keyEnd-f.keyStart) == len(key) && fs.text[f.keyStart:f.keyEnd] == key {
				return i
			}
		} else if fs.keys[f.key-1] == key {
			return i
		}
	}
	return -1
}

// lenBit is a key length's bit in Fields.lens.
func lenBit(n int) uint64 { return 1 << (n & 63) }

// unquote decodes member i when it holds a JSON string. Without an escape
// sequence to resolve or invalid UTF-8 to replace, the result is a substring
// of the text.
func (fs *Fields) unquote(i int) (string, bool) {
	t, ok := fs.valueText(i)
	if !ok {
		return unquote(fs.value(i))
	}
	return unquoteText(t)
}

// unquoteText decodes a JSON string, returning a substring of it when it
// has no escape sequence and is valid UTF-8.
func unquoteText(t string) (string, bool) {
	if len(t) < 2 || t[0] != '"' {
		return "", false
	}
	body := t[1 : len(t)-1]
	if jsonobj.PlainLen(body) == len(body) || (strings.IndexByte(body, '\\') < 0 && utf8.ValidString(body)) {
		return body, true
	}
	return unquote([]byte(t))
}

// String returns the member's value when it is a JSON string and not hashed.
func (fs *Fields) String(key string) (string, bool) {
	i := fs.index(key)
	if i < 0 || fs.list[i].hashed {
		return "", false
	}
	return fs.unquote(i)
}

// Take is String that also marks the member used when it is returned.
func (fs *Fields) Take(key string) (string, bool) { return fs.take(key) }

func (fs *Fields) take(key string) (string, bool) {
	i := fs.index(key)
	if i < 0 || fs.list[i].hashed {
		return "", false
	}
	s, ok := fs.unquote(i)
	if ok {
		fs.list[i].used = true
	}
	return s, ok
}

// takeNullable takes a string or null member; null yields "".
func (fs *Fields) takeNullable(key string) string {
	i := fs.index(key)
	if i < 0 {
		return ""
	}
	if isNull(fs.value(i)) {
		fs.list[i].used = true
		return ""
	}
	s, _ := fs.take(key)
	return s
}

// TakeInt returns and marks used a member holding a JSON integer.
func (fs *Fields) TakeInt(key string) (int64, bool) {
	i := fs.index(key)
	if i < 0 || fs.list[i].hashed {
		return 0, false
	}
	n, err := strconv.ParseInt(string(fs.value(i)), 10, 64)
	if err != nil {
		return 0, false
	}
	fs.list[i].used = true
	return n, true
}

// Bool returns a member holding a JSON boolean.
func (fs *Fields) Bool(key string) (value, ok bool) {
	i := fs.index(key)
	if i < 0 || fs.list[i].hashed {
		return false, false
	}
	switch string(fs.value(i)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Strings returns the non-empty string elements of a member holding a JSON
// array; other elements are skipped.
func (fs *Fields) Strings(key string) []string { return fs.AppendStrings(nil, key) }

// AppendStrings is Strings appending to dst.
func (fs *Fields) AppendStrings(dst []string, key string) []string {
	i := fs.index(key)
	if i < 0 || fs.list[i].hashed {
		return dst
	}
	v := fs.value(i)
	if len(v) == 0 || v[0] != '[' {
		return dst
	}
	text, ok := fs.valueText(i)
	if !ok {
		text = string(v)
	}
	_ = eachElement(v, func(start, end int) {
		if s, ok := unquoteText(text[start:end]); ok && s != "" {
			dst = append(dst, s)
		}
	})
	return dst
}

// MarkUsed marks a member used without reading it.
func (fs *Fields) MarkUsed(key string) {
	if i := fs.index(key); i >= 0 {
		fs.list[i].used = true
	}
}

// Unused calls fn for every member not marked used whose value is not null,
// in input order.
func (fs *Fields) Unused(fn func(key string, value json.RawMessage)) {
	for i := range fs.list {
		if v := fs.value(i); !fs.list[i].used && !isNull(v) {
			fn(fs.key(i), v)
		}
	}
}

// Object decodes a member holding a JSON object (not hashed) into its own
// Fields; taking from them does not mark the member used.
func (fs *Fields) Object(key string) (Fields, bool) {
	i := fs.index(key)
	if i < 0 || fs.list[i].hashed || !isObject(fs.value(i)) {
		return Fields{}, false
	}
	inner := Fields{text: fs.text, src: fs.src, present: true}
	start, end := int(fs.list[i].start), int(fs.list[i].end)
	if _, ok := fs.valueText(i); !ok {
		v := fs.value(i)
		inner.text, inner.src, start, end = string(v), v, 0, len(v)
	}
	if err := inner.split(start, end); err != nil {
		return Fields{}, false
	}
	return inner, true
}

func (fs *Fields) appendObject(dst []byte) []byte {
	dst = append(dst, '{')
	for i := range fs.list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonobj.AppendString(dst, fs.key(i))
		dst = append(dst, ':')
		dst = jsonobj.AppendCompact(dst, fs.value(i))
	}
	return append(dst, '}')
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// unquote decodes a JSON string, avoiding the decoder when there is no
// escape sequence to resolve and no invalid UTF-8 to replace.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
