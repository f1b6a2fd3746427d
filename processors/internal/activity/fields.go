package activity

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// Field is one member of a JSON object, its value kept as compact JSON.
type Field struct {
	Key   string
	Value json.RawMessage
	// Hashed reports that redaction replaced the value by a keyed hash. The
	// typed accessors ignore hashed fields, so a hash never lands in an email
	// or IP attribute; it stays with the unmapped members.
	Hashed bool

	used bool
}

// Fields are the members of one JSON object, in input order. Accessors named
// Take mark the member as used; the others only look. Members never taken
// are the "unmapped" rest a normalizer keeps verbatim.
type Fields []Field

func (fs Fields) index(key string) int {
	for i := range fs {
		if fs[i].Key == key {
			return i
		}
	}
	return -1
}

// String returns the member's value when it is a JSON string and not hashed.
func (fs Fields) String(key string) (string, bool) {
	i := fs.index(key)
	if i < 0 || fs[i].Hashed {
		return "", false
	}
	return unquote(fs[i].Value)
}

// Take is String that also marks the member used when it is returned.
func (fs Fields) Take(key string) (string, bool) { return fs.take(key) }

func (fs Fields) take(key string) (string, bool) {
	i := fs.index(key)
	if i < 0 || fs[i].Hashed {
		return "", false
	}
	s, ok := unquote(fs[i].Value)
	if ok {
		fs[i].used = true
	}
	return s, ok
}

// takeNullable takes a string or null member; null yields "".
func (fs Fields) takeNullable(key string) string {
	i := fs.index(key)
	if i < 0 {
		return ""
	}
	if isNull(fs[i].Value) {
		fs[i].used = true
		return ""
	}
	s, _ := fs.take(key)
	return s
}

// TakeInt returns and marks used a member holding a JSON integer.
func (fs Fields) TakeInt(key string) (int64, bool) {
	i := fs.index(key)
	if i < 0 || fs[i].Hashed {
		return 0, false
	}
	n, err := strconv.ParseInt(string(fs[i].Value), 10, 64)
	if err != nil {
		return 0, false
	}
	fs[i].used = true
	return n, true
}

// Bool returns a member holding a JSON boolean.
func (fs Fields) Bool(key string) (value, ok bool) {
	i := fs.index(key)
	if i < 0 || fs[i].Hashed {
		return false, false
	}
	switch string(fs[i].Value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Strings returns the string elements of a member holding a JSON array;
// other elements are skipped.
func (fs Fields) Strings(key string) []string {
	i := fs.index(key)
	if i < 0 || fs[i].Hashed || len(fs[i].Value) == 0 || fs[i].Value[0] != '[' {
		return nil
	}
	var list []any
	if err := json.Unmarshal(fs[i].Value, &list); err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// MarkUsed marks a member used without reading it.
func (fs Fields) MarkUsed(key string) {
	if i := fs.index(key); i >= 0 {
		fs[i].used = true
	}
}

// Unused calls fn for every member not marked used whose value is not null,
// in input order.
func (fs Fields) Unused(fn func(key string, value json.RawMessage)) {
	for i := range fs {
		if !fs[i].used && !isNull(fs[i].Value) {
			fn(fs[i].Key, fs[i].Value)
		}
	}
}

func (fs Fields) appendObject(dst []byte) []byte {
	dst = append(dst, '{')
	for i := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonobj.AppendString(dst, fs[i].Key)
		dst = append(dst, ':')
		dst = jsonobj.AppendCompact(dst, fs[i].Value)
	}
	return append(dst, '}')
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// unquote decodes a JSON string, avoiding the decoder when there is no
// escape sequence to resolve and no invalid UTF-8 to replace.
func unquote(raw json.RawMessage) (string, bool) {
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

// Object decodes a member holding a JSON object (not hashed) into its own
// Fields; taking from them does not mark the member used.
func (fs Fields) Object(key string) (Fields, bool) {
	i := fs.index(key)
	if i < 0 || fs[i].Hashed || !isObject(fs[i].Value) {
		return nil, false
	}
	inner, err := splitObject(fs[i].Value)
	if err != nil {
		return nil, false
	}
	return inner, true
}
