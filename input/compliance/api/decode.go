package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The decoder below is the hot path of a backfill: one pass over the body
// that validates the whole document as JSON (RFC 8259, like json.Valid),
// checks the envelope and the three fields every activity must carry, and
// slices each activity's raw bytes out of the body without copying them.
// Unknown fields are skipped (validated, never interpreted).

// maxDepth bounds nesting as encoding/json does.
const maxDepth = 10000

// decodePage decodes an Activity Feed page from body into pg (Activities,
// HasMore, FirstID, LastID). Activity.Raw values alias body. sizeHint is the
// requested limit, 0 if unknown; a page holding more activities than it (or
// than MaxLimit) is malformed, which also bounds what decoding allocates.
func decodePage(body []byte, pg *Page, sizeHint int) *MalformedError {
	d := pageDecoder{s: scanner{buf: body}, max: MaxLimit}
	if sizeHint > 0 && sizeHint < MaxLimit {
		d.max = sizeHint
	}
	if sizeHint <= 0 || sizeHint > MaxLimit {
		sizeHint = 100
	}
	d.acts = make([]Activity, 0, sizeHint)
	d.offs = make([]uint32, 0, 2*sizeHint)
	if err := d.envelope(pg); err != nil {
		return err
	}
	// One string holds every id and type of the page: two allocations per
	// page instead of two per activity.
	all := d.names.String()
	for i := range d.acts {
		d.acts[i].ID = all[d.offs[2*i]:d.offs[2*i+1]]
		end := len(all)
		if 2*i+2 < len(d.offs) {
			end = int(d.offs[2*i+2])
		}
		d.acts[i].Type = all[d.offs[2*i+1]:end]
	}
	pg.Activities = d.acts
	return nil
}

type pageDecoder struct {
	s     scanner
	max   int // most activities a page may hold
	acts  []Activity
	names strings.Builder // id then type of every activity, back to back
	offs  []uint32        // per activity: start of id, start of type in names
}

func (d *pageDecoder) envelope(pg *Page) *MalformedError {
	s := &d.s
	s.ws()
	if s.eof() {
		return s.fail("", "empty body, expected a JSON object")
	}
	if c := s.peek(); c != '{' {
		if kind := valueKind(c); kind != "" {
			return s.fail("", "the body is "+kind+", expected a JSON object with data and has_more")
		}
		return s.unexpected("", "looking for beginning of value")
	}
	s.pos++
	s.depth++
	var seenData, seenHasMore, seenFirst, seenLast bool
	s.ws()
	if !s.eof() && s.peek() == '}' {
		s.pos++
	} else {
		for {
			key, err := s.key("")
			if err != nil {
				return err
			}
			switch key {
			case "data":
				if seenData {
					return s.fail("data", "duplicate field")
				}
				seenData = true
				if err := d.data(); err != nil {
					return err
				}
			case "has_more":
				if seenHasMore {
					return s.fail("has_more", "duplicate field")
				}
				seenHasMore = true
				v, err := s.boolean("has_more")
				if err != nil {
					return err
				}
				pg.HasMore = v
			case "first_id", "last_id":
				if (key == "first_id" && seenFirst) || (key == "last_id" && seenLast) {
					return s.fail(key, "duplicate field")
				}
				v, err := s.nullableString(key)
				if err != nil {
					return err
				}
				if key == "first_id" {
					seenFirst, pg.FirstID = true, v
				} else {
					seenLast, pg.LastID = true, v
				}
			default:
				if err := s.value(""); err != nil {
					return err
				}
			}
			done, err := s.next('}', "", "after object key:value pair")
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	s.depth--
	s.ws()
	if !s.eof() {
		return s.fail("", fmt.Sprintf("unexpected %s after the top-level object", quoteChar(s.peek())))
	}
	if !seenData {
		return s.fail("data", "missing")
	}
	if !seenHasMore {
		return s.fail("has_more", "missing")
	}
	return nil
}

func (d *pageDecoder) data() *MalformedError {
	s := &d.s
	if s.eof() {
		return s.eofErr("data")
	}
	if c := s.peek(); c != '[' {
		if kind := valueKind(c); kind != "" {
			return s.fail("data", "must be an array, found "+kind)
		}
		return s.unexpected("data", "looking for beginning of value")
	}
	s.pos++
	s.depth++
	s.ws()
	if !s.eof() && s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for i := 0; ; i++ {
		if i == d.max {
			return s.fail("data", fmt.Sprintf("holds more than the %d activities requested", d.max))
		}
		if err := d.activity(i); err != nil {
			return err
		}
		done, err := s.next(']', "data", "after array element")
		if err != nil {
			return err
		}
		if done {
			s.depth--
			return nil
		}
	}
}

// activity decodes data[i], appending it to d.acts.
func (d *pageDecoder) activity(i int) *MalformedError {
	s := &d.s
	s.ws()
	field := func(name string) string {
		return "data[" + strconv.Itoa(i) + "]" + name
	}
	fail := func(err *MalformedError) *MalformedError {
		err.Index = i
		if err.Field == "" {
			err.Field = field("")
		}
		return err
	}
	if s.eof() {
		return fail(s.eofErr(""))
	}
	if c := s.peek(); c != '{' {
		if kind := valueKind(c); kind != "" {
			return fail(s.fail("", "must be an object, found "+kind))
		}
		return fail(s.unexpected("", "looking for beginning of value"))
	}
	start := s.pos
	s.pos++
	s.depth++
	if s.depth > maxDepth {
		return fail(s.fail("", "exceeded max nesting depth"))
	}
	var (
		id, typ, created    [2]int
		idEsc, typEsc, cEsc bool
		seenID, seenType    bool
		seenCreated         bool
		createdAt           int // offset for errors
	)
	s.ws()
	if !s.eof() && s.peek() == '}' {
		s.pos++
	} else {
		for {
			key, err := s.key("")
			if err != nil {
				return fail(err)
			}
			var span *[2]int
			var esc *bool
			switch key {
			case "id":
				if seenID {
					return fail(s.fail(field(".id"), "duplicate field"))
				}
				seenID, span, esc = true, &id, &idEsc
			case "type":
				if seenType {
					return fail(s.fail(field(".type"), "duplicate field"))
				}
				seenType, span, esc = true, &typ, &typEsc
			case "created_at":
				if seenCreated {
					return fail(s.fail(field(".created_at"), "duplicate field"))
				}
				seenCreated, span, esc = true, &created, &cEsc
				createdAt = s.pos
			}
			if span == nil {
				if err := s.value(""); err != nil {
					return fail(err)
				}
			} else {
				if s.eof() {
					return fail(s.eofErr(field("." + key)))
				}
				if c := s.peek(); c != '"' {
					if kind := valueKind(c); kind != "" {
						return fail(s.fail(field("."+key), "must be a string, found "+kind))
					}
					return fail(s.unexpected(field("."+key), "looking for beginning of value"))
				}
				a, b, e, err := s.str()
				if err != nil {
					return fail(err)
				}
				*span, *esc = [2]int{a, b}, e
			}
			done, err := s.next('}', "", "after object key:value pair")
			if err != nil {
				return fail(err)
			}
			if done {
				break
			}
		}
	}
	s.depth--
	raw := s.buf[start:s.pos:s.pos]

	switch {
	case !seenID:
		return fail(&MalformedError{Field: field(".id"), Offset: start, Reason: "missing"})
	case id[0] == id[1]:
		return fail(&MalformedError{Field: field(".id"), Offset: id[0], Reason: "must not be empty"})
	case !seenType:
		return fail(&MalformedError{Field: field(".type"), Offset: start, Reason: "missing"})
	case !seenCreated:
		return fail(&MalformedError{Field: field(".created_at"), Offset: start, Reason: "missing"})
	}
	ts, ok := parseTimestamp(s.buf[created[0]:created[1]], cEsc)
	if !ok {
		return fail(&MalformedError{
			Field:  field(".created_at"),
			Offset: createdAt,
			Reason: "not an RFC 3339 timestamp: " + clip(s.buf[created[0]:created[1]]),
		})
	}
	d.offs = append(d.offs, uint32(d.names.Len()))
	d.writeName(id, idEsc)
	d.offs = append(d.offs, uint32(d.names.Len()))
	d.writeName(typ, typEsc)
	d.acts = append(d.acts, Activity{CreatedAt: ts, Raw: raw})
	return nil
}

func (d *pageDecoder) writeName(span [2]int, escaped bool) {
	if escaped {
		d.names.WriteString(unquote(d.s.buf[span[0]-1 : span[1]+1]))
		return
	}
	d.names.Write(d.s.buf[span[0]:span[1]])
}

// parseTimestamp parses an RFC 3339 timestamp as time.Parse(time.RFC3339Nano)
// does, with an allocation-free fast path for the API's form
// YYYY-MM-DDTHH:MM:SS[.fraction]Z.
func parseTimestamp(b []byte, escaped bool) (time.Time, bool) {
	if !escaped {
		if t, ok := parseUTCFast(b); ok {
			return t, true
		}
	}
	var str string
	if escaped {
		str = unquoteBytes(b)
	} else {
		str = string(b)
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	return t, err == nil
}

func parseUTCFast(b []byte) (time.Time, bool) {
	n := len(b)
	if n < 20 || n > 30 || b[n-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if n > 20 {
		frac := b[19 : n-1]
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		v, ok := digits(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			v *= 10
		}
		nsec = v
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// unquote decodes a quoted JSON string already validated by the scanner.
func unquote(quoted []byte) string {
	var v string
	if err := json.Unmarshal(quoted, &v); err != nil {
		return ""
	}
	return v
}

// unquoteBytes decodes the content of a JSON string (without its quotes).
func unquoteBytes(content []byte) string {
	q := make([]byte, 0, len(content)+2)
	q = append(q, '"')
	q = append(q, content...)
	q = append(q, '"')
	return unquote(q)
}

// clip quotes at most 64 bytes of b for an error message.
func clip(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}

// --------------------------------------------------------------------------
// JSON scanner
// --------------------------------------------------------------------------

// scanner validates JSON in place. Every method leaves pos after what it
// scanned and reports errors as *MalformedError with the offset set.
type scanner struct {
	buf   []byte
	pos   int
	depth int
}

func (s *scanner) eof() bool  { return s.pos >= len(s.buf) }
func (s *scanner) peek() byte { return s.buf[s.pos] }

func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) fail(field, reason string) *MalformedError {
	return &MalformedError{Field: field, Index: -1, Offset: s.pos, Reason: reason}
}

func (s *scanner) eofErr(field string) *MalformedError {
	return s.fail(field, "unexpected end of JSON input (truncated body)")
}

func (s *scanner) unexpected(field, context string) *MalformedError {
	if s.eof() {
		return s.eofErr(field)
	}
	return s.fail(field, "invalid character "+quoteChar(s.peek())+" "+context)
}

// next consumes whitespace and then ',' (returns false) or close (true).
func (s *scanner) next(close byte, field, context string) (bool, *MalformedError) {
	s.ws()
	if s.eof() {
		return false, s.eofErr(field)
	}
	switch s.peek() {
	case ',':
		s.pos++
		return false, nil
	case close:
		s.pos++
		return true, nil
	}
	return false, s.unexpected(field, context)
}

// key scans an object key and the colon after it, leaving pos at the value,
// and returns the key's name if it is one the decoder looks for.
func (s *scanner) key(field string) (string, *MalformedError) {
	a, b, esc, err := s.skipKey(field)
	if err != nil {
		return "", err
	}
	if esc {
		return unquote(s.buf[a-1 : b+1]), nil
	}
	return keyName(s.buf[a:b]), nil
}

// skipKey scans an object key and the colon after it, returning the bounds
// of the key's content.
func (s *scanner) skipKey(field string) (a, b int, esc bool, err *MalformedError) {
	s.ws()
	if s.eof() || s.peek() != '"' {
		return 0, 0, false, s.unexpected(field, "looking for beginning of object key string")
	}
	if a, b, esc, err = s.str(); err != nil {
		return 0, 0, false, err
	}
	s.ws()
	if s.eof() || s.peek() != ':' {
		return 0, 0, false, s.unexpected(field, "after object key")
	}
	s.pos++
	s.ws()
	return a, b, esc, nil
}

// keyName returns the known key names without allocating; any other key is
// returned as a marker that matches none of them.
func keyName(b []byte) string {
	switch string(b) {
	case "id":
		return "id"
	case "type":
		return "type"
	case "created_at":
		return "created_at"
	case "data":
		return "data"
	case "has_more":
		return "has_more"
	case "first_id":
		return "first_id"
	case "last_id":
		return "last_id"
	}
	return "\x00other"
}

// str scans a string at pos (which must be '"'), returning the bounds of its
// content and whether it holds escapes.
func (s *scanner) str() (start, end int, escaped bool, err *MalformedError) {
	s.pos++
	start = s.pos
	buf := s.buf
	for {
		i := s.pos
		for i < len(buf) && plainByte[buf[i]] {
			i++
		}
		s.pos = i
		if i >= len(buf) {
			return 0, 0, false, s.fail("", "unexpected end of JSON input in string (truncated body)")
		}
		switch c := buf[i]; {
		case c == '"':
			s.pos++
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(buf) {
				s.pos = len(buf)
				return 0, 0, false, s.fail("", "unexpected end of JSON input in string (truncated body)")
			}
			switch buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos = i + 2
			case 'u':
				if i+6 > len(buf) {
					s.pos = len(buf)
					return 0, 0, false, s.fail("", "unexpected end of JSON input in string (truncated body)")
				}
				for k := i + 2; k < i+6; k++ {
					if !isHex(buf[k]) {
						s.pos = k
						return 0, 0, false, s.fail("", "invalid character "+quoteChar(buf[k])+" in \\u hexadecimal character escape")
					}
				}
				s.pos = i + 6
			default:
				s.pos = i + 1
				return 0, 0, false, s.fail("", "invalid character "+quoteChar(buf[i+1])+" in string escape code")
			}
		default:
			return 0, 0, false, s.fail("", "invalid character "+quoteChar(c)+" in string literal")
		}
	}
}

// plainByte marks bytes that need no attention inside a string.
var plainByte = func() (t [256]bool) {
	for i := range t {
		t[i] = i >= 0x20 && i != '"' && i != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// value scans any JSON value at pos (after whitespace).
func (s *scanner) value(field string) *MalformedError {
	s.ws()
	if s.eof() {
		return s.eofErr(field)
	}
	switch c := s.peek(); {
	case c == '{':
		return s.object(field)
	case c == '[':
		return s.array(field)
	case c == '"':
		_, _, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number(field)
	case c == 't':
		return s.literal("true", field)
	case c == 'f':
		return s.literal("false", field)
	case c == 'n':
		return s.literal("null", field)
	}
	return s.unexpected(field, "looking for beginning of value")
}

func (s *scanner) object(field string) *MalformedError {
	s.pos++
	if s.depth++; s.depth > maxDepth {
		return s.fail(field, "exceeded max nesting depth")
	}
	s.ws()
	if !s.eof() && s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if _, _, _, err := s.skipKey(field); err != nil {
			return err
		}
		if err := s.value(field); err != nil {
			return err
		}
		done, err := s.next('}', field, "after object key:value pair")
		if err != nil {
			return err
		}
		if done {
			s.depth--
			return nil
		}
	}
}

func (s *scanner) array(field string) *MalformedError {
	s.pos++
	if s.depth++; s.depth > maxDepth {
		return s.fail(field, "exceeded max nesting depth")
	}
	s.ws()
	if !s.eof() && s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if err := s.value(field); err != nil {
			return err
		}
		done, err := s.next(']', field, "after array element")
		if err != nil {
			return err
		}
		if done {
			s.depth--
			return nil
		}
	}
}

func (s *scanner) number(field string) *MalformedError {
	buf := s.buf
	i := s.pos
	if buf[i] == '-' {
		i++
	}
	switch {
	case i >= len(buf):
		s.pos = i
		return s.eofErr(field)
	case buf[i] == '0':
		i++
	case buf[i] >= '1' && buf[i] <= '9':
		for i < len(buf) && buf[i] >= '0' && buf[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return s.unexpected(field, "in numeric literal")
	}
	if i < len(buf) && buf[i] == '.' {
		i++
		if i >= len(buf) || buf[i] < '0' || buf[i] > '9' {
			s.pos = i
			return s.unexpected(field, "after decimal point in numeric literal")
		}
		for i < len(buf) && buf[i] >= '0' && buf[i] <= '9' {
			i++
		}
	}
	if i < len(buf) && (buf[i] == 'e' || buf[i] == 'E') {
		i++
		if i < len(buf) && (buf[i] == '+' || buf[i] == '-') {
			i++
		}
		if i >= len(buf) || buf[i] < '0' || buf[i] > '9' {
			s.pos = i
			return s.unexpected(field, "in exponent of numeric literal")
		}
		for i < len(buf) && buf[i] >= '0' && buf[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return nil
}

func (s *scanner) literal(lit, field string) *MalformedError {
	for k := 0; k < len(lit); k++ {
		if s.pos >= len(s.buf) {
			return s.eofErr(field)
		}
		if s.buf[s.pos] != lit[k] {
			return s.unexpected(field, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
		}
		s.pos++
	}
	return nil
}

// boolean scans true or false for a field that must be a boolean.
func (s *scanner) boolean(field string) (bool, *MalformedError) {
	if s.eof() {
		return false, s.eofErr(field)
	}
	switch c := s.peek(); c {
	case 't':
		return true, s.literal("true", field)
	case 'f':
		return false, s.literal("false", field)
	default:
		if kind := valueKind(c); kind != "" {
			return false, s.fail(field, "must be a boolean, found "+kind)
		}
		return false, s.unexpected(field, "looking for beginning of value")
	}
}

// nullableString scans a string or null ("" for null).
func (s *scanner) nullableString(field string) (string, *MalformedError) {
	if s.eof() {
		return "", s.eofErr(field)
	}
	switch c := s.peek(); c {
	case 'n':
		return "", s.literal("null", field)
	case '"':
		a, b, esc, err := s.str()
		if err != nil {
			err.Field = field
			return "", err
		}
		if esc {
			return unquote(s.buf[a-1 : b+1]), nil
		}
		return string(s.buf[a:b]), nil
	default:
		if kind := valueKind(c); kind != "" {
			return "", s.fail(field, "must be a string or null, found "+kind)
		}
		return "", s.unexpected(field, "looking for beginning of value")
	}
}

// valueKind names the JSON value starting with c, or "" if none does.
func valueKind(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return ""
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	return strconv.QuoteRune(rune(c))
}
