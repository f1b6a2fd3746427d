package fakeapi

import (
	"errors"
	"fmt"
	"time"
)

// Activity is one stored activity. JSON is served verbatim in the envelope's
// data array; the other fields are what the server indexes and filters on and
// must agree with JSON.
type Activity struct {
	// ID is the activity id ("activity_..."); ids are unique within a server.
	ID string
	// Type is the activity type, e.g. "claude_chat_created".
	Type string
	// CreatedAt is the activity's created_at; the server orders by (CreatedAt, ID).
	CreatedAt time.Time
	// VisibleAt is when the activity becomes queryable (indexing lag). A zero
	// VisibleAt is replaced by CreatedAt + Options.Lag when the server stores it.
	VisibleAt time.Time
	// ActorType is actor.type, e.g. "user_actor".
	ActorType string
	// ActorID is the actor's id that actor_ids[]/user_ids[] match: user_id for
	// user_actor, api_key_id, admin_api_key_id, service_account_id, ... or "".
	ActorID string
	// OrgID and OrgUUID are organization_id and organization_uuid ("" = null).
	OrgID, OrgUUID string
	// JSON is the exact activity object served to clients. Do not modify it
	// after handing it to a Server.
	JSON []byte
}

// validate reports the first problem that would make the activity unservable.
func (a *Activity) validate() error {
	switch {
	case a.ID == "":
		return errors.New("empty ID")
	case a.CreatedAt.IsZero():
		return fmt.Errorf("activity %q: zero CreatedAt", a.ID)
	case len(a.JSON) < 2 || a.JSON[0] != '{' || a.JSON[len(a.JSON)-1] != '}':
		return fmt.Errorf("activity %q: JSON is not an object", a.ID)
	}
	return nil
}

// before reports whether a sorts before b in ascending (created_at, id) order.
func (a *Activity) before(b *Activity) bool {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// compareActivities orders ascending by (created_at, id), for slices.SortFunc.
func compareActivities(a, b *Activity) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// Allocation-free JSON writing helpers.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string. s must be valid UTF-8;
// quotes, backslashes and control characters are escaped, everything else is
// written as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendKey appends `,"key":` (or `"key":` right after an opening brace).
func appendKey(b []byte, key string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' && b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendStrField appends `"key":"value"`.
func appendStrField(b []byte, key, value string) []byte {
	return appendJSONString(appendKey(b, key), value)
}

// appendNullableField appends `"key":"value"`, or `"key":null` when value is "".
func appendNullableField(b []byte, key, value string) []byte {
	b = appendKey(b, key)
	if value == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, value)
}

// appendRawField appends `"key":raw` where raw is already JSON.
func appendRawField(b []byte, key, raw string) []byte {
	return append(appendKey(b, key), raw...)
}

// appendTime appends t as a quoted RFC 3339 UTC timestamp, with milliseconds
// only when t has a sub-second part ("2026-11-25T10:00:00Z" or
// "2026-11-25T10:00:00.123Z"). Years outside 0..9999 are not supported.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if ns := t.Nanosecond(); ns != 0 {
		b = append(b, '.')
		b = appendDigits(b, ns/int(time.Millisecond), 3)
	}
	return append(b, 'Z', '"')
}

// appendDigits appends v zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
