package fakeapi

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds what the directory and content endpoints share: their
// parameter parsing (with the newest error wording of
// compliance-content-api.md §10), page tokens and cursors, and the envelopes.

// worldQuery is the parsed query of a directory or content endpoint.
type worldQuery struct {
	v     url.Values
	limit int
	// limitSet is false when limit was omitted.
	limitSet bool
}

// parseLimit reads limit within [1, hi], def when omitted (0 = no default).
func parseLimit(v url.Values, def, hi int) (worldQuery, *apiError) {
	q := worldQuery{v: v, limit: def}
	raw, ok := first(v, paramLimit)
	if !ok {
		return q, nil
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		return q, invalidRequest("limit: Input should be a valid integer, unable to parse string as an integer")
	case n < 1:
		return q, invalidRequest("limit: Input should be greater than or equal to 1")
	case n > hi:
		return q, invalidRequest("limit: Input should be less than or equal to %d", hi)
	}
	q.limit, q.limitSet = n, true
	return q, nil
}

// intParam reads an integer parameter within [lo, hi], def when omitted.
func intParam(v url.Values, name string, def, lo, hi int) (int, *apiError) {
	raw, ok := first(v, name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		return 0, invalidRequest("%s: Input should be a valid integer, unable to parse string as an integer", name)
	case n < lo:
		return 0, invalidRequest("%s: Input should be greater than or equal to %d", name, lo)
	case n > hi:
		return 0, invalidRequest("%s: Input should be less than or equal to %d", name, hi)
	}
	return n, nil
}

// timeRange is the [lower, upper] bounds of one timestamp field.
type timeRange struct{ lower, upper timeBound }

func (r timeRange) set() bool { return r.lower.set || r.upper.set }

func (r timeRange) contains(t time.Time) bool {
	if r.lower.set {
		if c := t.Compare(r.lower.t); c < 0 || (c == 0 && !r.lower.inclusive) {
			return false
		}
	}
	if r.upper.set {
		if c := t.Compare(r.upper.t); c > 0 || (c == 0 && !r.upper.inclusive) {
			return false
		}
	}
	return true
}

// parseRange reads field.gte/gt/lte/lt. Values need an explicit offset.
func parseRange(v url.Values, field string) (timeRange, *apiError) {
	var r timeRange
	for _, b := range []struct {
		op               string
		lower, inclusive bool
	}{{"gte", true, true}, {"gt", true, false}, {"lte", false, true}, {"lt", false, false}} {
		name := field + "." + b.op
		raw, ok := first(v, name)
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			if _, naive := time.Parse("2006-01-02T15:04:05.999999999", raw); naive == nil {
				return r, invalidRequest("%s: Input should have timezone info", name)
			}
			return r, invalidRequest("%s: Input should be a valid datetime or date", name)
		}
		nb := timeBound{set: true, t: t, inclusive: b.inclusive}
		if b.lower {
			r.lower = tighterLower(r.lower, nb)
		} else {
			r.upper = tighterUpper(r.upper, nb)
		}
	}
	return r, nil
}

// hasAny reports whether v carries any of the names.
func hasAny(v url.Values, names ...string) bool {
	for _, n := range names {
		if v.Has(n) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Page tokens (page-style endpoints). A token records the list it belongs to
// (the request path) and the sort key of the last row served, so a walk
// continues after that row whatever was added or removed meanwhile.

type pageToken struct {
	Path string `json:"p"`
	Key  string `json:"k"`
}

const pageTokenPrefix = "page_"

func encodePageToken(path, key string) string {
	b, _ := json.Marshal(pageToken{path, key})
	return pageTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the key a page token resumes after ("" without a
// token), or a 400 for a token that is malformed or from another list.
func decodePageToken(v url.Values, path string) (string, *apiError) {
	raw, ok := first(v, "page")
	if !ok {
		return "", nil
	}
	bad := invalidRequest("Invalid pagination cursor for 'page'")
	rest, ok := strings.CutPrefix(raw, pageTokenPrefix)
	if !ok {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	var t pageToken
	if err != nil || json.Unmarshal(b, &t) != nil || t.Path != path || t.Key == "" {
		return "", bad
	}
	return t.Key, nil
}

// row is one entry of a page-style list: its sort key and its record.
type row struct {
	key string
	rec any
}

// timeKey is a sort key that orders by t (to the microsecond), then by id;
// zero times sort first.
func timeKey(t time.Time, id string) string {
	var n int64
	if !t.IsZero() {
		n = (t.Unix()-keyEpoch)*1e6 + int64(t.Nanosecond()/1e3)
	}
	s := strconv.FormatInt(max(n, 0), 10)
	return strings.Repeat("0", 20-len(s)) + s + "|" + id
}

// keyEpoch keeps keys of times back to 1700 non-negative.
var keyEpoch = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// pageEnvelope is the page-style envelope. NextPage is omitted when
// omitNext is set and there is no next page.
type pageEnvelope struct {
	Data     []any   `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// servePage cuts the page of rows (sorted by key) after the request's token.
// omitNext leaves next_page out of the last page (GET /organizations).
func servePage(rows []row, q worldQuery, path string, omitNext bool) ([]byte, *apiError) {
	after, perr := decodePageToken(q.v, path)
	if perr != nil {
		return nil, perr
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
	start := sort.Search(len(rows), func(i int) bool { return rows[i].key > after })
	if after == "" {
		start = 0
	}
	end := min(len(rows), start+q.limit)
	env := pageEnvelope{Data: make([]any, 0, end-start), HasMore: end < len(rows)}
	for _, r := range rows[start:end] {
		env.Data = append(env.Data, r.rec)
	}
	if env.HasMore {
		t := encodePageToken(path, rows[end-1].key)
		env.NextPage = &t
	}
	if omitNext && !env.HasMore {
		return marshal(struct {
			Data    []any `json:"data"`
			HasMore bool  `json:"has_more"`
		}{env.Data, false}), nil
	}
	return marshal(env), nil
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every record type of the fake marshals; this is a programming error.
		panic("fakeapi: marshal: " + err.Error())
	}
	return b
}

// ---------------------------------------------------------------------------
// Cursors (chats and messages): base64 JSON, as the reference's examples
// decode; clients must not parse them.

type chatCursor struct {
	Key  string `json:"k"`
	Time string `json:"t"`
	ID   string `json:"id"`
}

func encodeCursor(v any) string { return base64.StdEncoding.EncodeToString(marshal(v)) }

func decodeCursorJSON(raw string, v any) bool {
	b, err := base64.StdEncoding.DecodeString(raw)
	return err == nil && json.Unmarshal(b, v) == nil
}

// ---------------------------------------------------------------------------
// Timestamp forms of the responses (compliance-content-api.md §1).

// tsZ is "2026-04-10T08:09:10Z" (chats, users, projects, files).
func tsZ(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// tsOffset is "2026-04-10T08:09:10.123456+00:00" (organizations).
func tsOffset(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000-07:00") }

// tsNaive is "2026-04-10T08:09:10.123456" with no offset (roles, groups,
// members); nil for a zero time.
func tsNaive(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000000")
	return &s
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
