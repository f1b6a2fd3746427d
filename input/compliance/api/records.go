package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// This file decodes the JSON answers of the directory and content endpoints:
// the two envelopes and a small field reader that names the field at fault.
// Every record keeps its exact bytes (Raw) so that a collector can emit it
// unchanged, unknown fields included.

// PageOf is one page of a page-style list (compliance-content-api.md §1):
// follow NextPage while HasMore.
type PageOf[T any] struct {
	Items   []T
	HasMore bool
	// NextPage is the token of the next page; "" when null or absent.
	NextPage string
	Meta
}

// CursorPage is one page of a cursor-style list (chats): pass LastID as
// after_id while HasMore.
type CursorPage[T any] struct {
	Items   []T
	HasMore bool
	// FirstID and LastID are opaque cursors; "" when null or absent.
	FirstID, LastID string
	Meta
}

// record reads the fields of one JSON object. The first problem found in it
// or in any object nested in it is kept by the outermost record (err).
type record struct {
	raw    json.RawMessage
	fields map[string]json.RawMessage
	path   string // e.g. "data[3]"
	index  int
	root   *record
	err    *MalformedError // on the root only
}

// newRecord parses raw as an object; path names it in errors.
func newRecord(raw json.RawMessage, path string, index int) *record {
	r := &record{raw: raw, path: path, index: index}
	r.root = r
	if err := json.Unmarshal(raw, &r.fields); err != nil || r.fields == nil {
		r.fail("", "must be a JSON object")
	}
	return r
}

// sub parses a nested object of r.
func (r *record) sub(raw json.RawMessage, path string) *record {
	s := &record{raw: raw, path: path, index: r.index, root: r.root}
	if err := json.Unmarshal(raw, &s.fields); err != nil || s.fields == nil {
		s.fail("", "must be a JSON object")
		return nil
	}
	return s
}

func (r *record) fail(name, reason string) {
	if r.root.err != nil {
		return
	}
	field := r.path
	if name != "" {
		field = joinPath(field, name)
	}
	r.root.err = &MalformedError{Field: field, Index: r.index, Offset: -1, Reason: reason}
}

// value returns the raw value of name; absent and null are both nil.
func (r *record) value(name string) json.RawMessage {
	v, ok := r.fields[name]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

// str returns a required, non-empty string.
func (r *record) str(name string) string {
	s := r.optStr(name)
	if s == "" && r.root.err == nil {
		r.fail(name, "missing or empty, expected a string")
	}
	return s
}

// optStr returns a string that may be null or absent ("").
func (r *record) optStr(name string) string {
	v := r.value(name)
	if v == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		r.fail(name, "must be a string")
	}
	return s
}

// time returns a required timestamp.
func (r *record) time(name string) time.Time {
	t := r.optTime(name)
	if t.IsZero() && r.root.err == nil {
		r.fail(name, "missing, expected a timestamp")
	}
	return t
}

// optTime returns a timestamp that may be null or absent (zero).
func (r *record) optTime(name string) time.Time {
	s := r.optStr(name)
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		r.fail(name, err.Error())
	}
	return t
}

// optInt returns an integer that may be null or absent (-1).
func (r *record) optInt(name string) int64 {
	v := r.value(name)
	if v == nil {
		return -1
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil || n < 0 {
		r.fail(name, "must be a non-negative integer")
		return -1
	}
	return n
}

// optBool returns a boolean that may be null or absent (false).
func (r *record) optBool(name string) bool {
	v := r.value(name)
	if v == nil {
		return false
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		r.fail(name, "must be a boolean")
	}
	return b
}

// strList returns a list of strings that may be null or absent.
func (r *record) strList(name string) []string {
	v := r.value(name)
	if v == nil {
		return nil
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil {
		r.fail(name, "must be an array of strings")
	}
	return l
}

// obj returns a nested object that may be null or absent (nil).
func (r *record) obj(name string) *record {
	v := r.value(name)
	if v == nil {
		return nil
	}
	return r.sub(v, joinPath(r.path, name))
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// list returns the objects of an array that may be null or absent.
func (r *record) list(name string) []*record {
	v := r.value(name)
	if v == nil {
		return nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(v, &raws); err != nil {
		r.fail(name, "must be an array")
		return nil
	}
	out := make([]*record, 0, len(raws))
	for i, raw := range raws {
		if s := r.sub(raw, joinPath(r.path, fmt.Sprintf("%s[%d]", name, i))); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// ParseTimestamp reads the timestamp forms the API mixes
// (compliance-content-api.md §1): RFC 3339 with "Z" or an offset, with or
// without fractional seconds, and the naive "2026-04-10T08:09:10.123456"
// without an offset, which is taken as UTC.
func ParseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", truncateForError(s))
}

func truncateForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// envelope is the top level of a list answer.
type envelope struct {
	*record
	data []json.RawMessage
}

// decodeEnvelope checks the list envelope: a JSON object with a data array
// and a has_more boolean.
func decodeEnvelope(body []byte, requestID string) (*envelope, *MalformedError) {
	r := newRecord(body, "", -1)
	e := &envelope{record: r}
	if r.err != nil {
		r.err.Field, r.err.Reason = "", "the body is not a JSON object"
		return nil, withRequestID(r.err, requestID)
	}
	raw, ok := r.fields["data"]
	if !ok {
		r.fail("data", "missing")
	} else if err := json.Unmarshal(raw, &e.data); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		r.fail("data", "must be an array")
	}
	if hm, ok := r.fields["has_more"]; !ok {
		r.fail("has_more", "missing")
	} else if string(bytes.TrimSpace(hm)) != "true" && string(bytes.TrimSpace(hm)) != "false" {
		r.fail("has_more", "must be a boolean")
	}
	if r.err != nil {
		return nil, withRequestID(r.err, requestID)
	}
	return e, nil
}

func withRequestID(e *MalformedError, requestID string) *MalformedError {
	e.RequestID = requestID
	return e
}

// decodePaged decodes a page-style answer; conv reads one record.
func decodePaged[T any](res *response, conv func(*record) T) (*PageOf[T], error) {
	e, merr := decodeEnvelope(res.body, res.RequestID)
	if merr != nil {
		return nil, merr
	}
	pg := &PageOf[T]{HasMore: e.optBool("has_more"), NextPage: e.optStr("next_page"), Meta: res.Meta}
	items, merr := decodeItems(e.data, res.RequestID, conv)
	if merr == nil {
		merr = e.err
	}
	if merr != nil {
		return nil, withRequestID(merr, res.RequestID)
	}
	pg.Items = items
	return pg, nil
}

// decodeCursor decodes a cursor-style answer.
func decodeCursorPage[T any](res *response, conv func(*record) T) (*CursorPage[T], error) {
	e, merr := decodeEnvelope(res.body, res.RequestID)
	if merr != nil {
		return nil, merr
	}
	pg := &CursorPage[T]{HasMore: e.optBool("has_more"), FirstID: e.optStr("first_id"), LastID: e.optStr("last_id"), Meta: res.Meta}
	items, merr := decodeItems(e.data, res.RequestID, conv)
	if merr == nil {
		merr = e.err
	}
	if merr != nil {
		return nil, withRequestID(merr, res.RequestID)
	}
	pg.Items = items
	return pg, nil
}

func decodeItems[T any](raws []json.RawMessage, requestID string, conv func(*record) T) ([]T, *MalformedError) {
	items := make([]T, 0, len(raws))
	for i, raw := range raws {
		r := newRecord(raw, "data["+strconv.Itoa(i)+"]", i)
		item := conv(r)
		if r.err != nil {
			return nil, withRequestID(r.err, requestID)
		}
		items = append(items, item)
	}
	return items, nil
}

// decodeOne decodes a single-object answer.
func decodeOne[T any](res *response, conv func(*record) T) (*T, error) {
	r := newRecord(res.body, "", -1)
	if r.err != nil {
		r.err.Field, r.err.Reason = "", "the body is not a JSON object"
		return nil, withRequestID(r.err, res.RequestID)
	}
	v := conv(r)
	if r.err != nil {
		return nil, withRequestID(r.err, res.RequestID)
	}
	return &v, nil
}
