package jsonobj

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"unicode/utf8"
)

// Word-at-a-time tests (SWAR): ones has 0x01 and highs 0x80 in every byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 reads s[i:i+8] as a little-endian word (the compiler makes it one
// load).
func load64[T ~string | ~[]byte](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// specials has the high bit set in each byte of w that is a control
// character (< 0x20), '"', '\\' or not ASCII (>= 0x80), and possibly in bytes
// after such a byte: for a byte b < 0x80, b-c sets the high bit exactly when
// b < c, and a borrow can only spread upwards from a byte that is flagged
// itself. So specials(w) != 0 is exact, and its lowest set bit marks the
// first special byte.
func specials(w uint64) uint64 {
	return ((w - 0x20*ones) | ((w ^ '"'*ones) - ones) | ((w ^ '\\'*ones) - ones) | w) & highs
}

// plain marks the ASCII bytes that need no escaping in a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// PlainLen returns the length of the longest prefix of s made of printable
// ASCII other than '"' and '\\': bytes a JSON string holds as they are, and
// AppendString copies unchanged. It looks at 8 bytes at a time.
func PlainLen[T ~string | ~[]byte](s T) int {
	n := len(s)
	if n < 8 {
		i := 0
		for i < n && plain[s[i]] {
			i++
		}
		return i
	}
	i := 0
	for ; i+8 <= n; i += 8 {
		if m := specials(load64(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	if i == n {
		return n
	}
	// The last 8 bytes, overlapping bytes already known to be plain.
	if m := specials(load64(s, n-8)); m != 0 {
		return n - 8 + bits.TrailingZeros64(m)/8
	}
	return n
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, and
// control characters, U+2028 and U+2029 are escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for {
		n := PlainLen(s)
		dst = append(dst, s[:n]...)
		if s = s[n:]; s == "" {
			return append(dst, '"')
		}
		if c := s[0]; c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
}

// AppendCompact appends valid JSON with the insignificant whitespace removed.
// It does not validate.
func AppendCompact(dst, raw []byte) []byte {
	start := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			i = closingQuote(raw, i)
		case ' ', '\n', '\r', '\t':
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...)
}

// closingQuote returns the index of the '"' closing the string that opens
// at raw[i], or len(raw) when it is not closed.
func closingQuote(raw []byte, i int) int {
	for j := i + 1; j < len(raw); {
		j += PlainLen(raw[j:])
		if j >= len(raw) {
			break
		}
		switch raw[j] {
		case '"':
			return j
		case '\\':
			j += 2
		default:
			j++
		}
	}
	return len(raw)
}

// mayHoldEmpty reports whether compact JSON might contain a null or empty
// value; false positives (e.g. "null" inside a string) only cost time.
func mayHoldEmpty(compact []byte) bool {
	return bytes.Contains(compact, []byte("null")) || bytes.Contains(compact, []byte(`""`)) ||
		bytes.Contains(compact, []byte("{}")) || bytes.Contains(compact, []byte("[]"))
}

// appendClean appends the compact JSON value src without null, "", {} and []
// values at any depth (as Elastic's ingest pipelines clean documents),
// keeping member order. Strings are re-encoded with AppendString (those
// without escapes or non-ASCII bytes are copied, which is the same). kept is
// false, and dst unchanged, when nothing is left of the value; ok is false
// when src is not valid compact JSON.
func appendClean(dst, src []byte) (out []byte, kept, ok bool) {
	c := cleaner{src: src}
	out, kept = c.value(dst)
	if c.bad {
		return dst, false, false
	}
	return out, kept, true
}

// cleaner walks one compact JSON value; bad is set on malformed input.
type cleaner struct {
	src []byte
	i   int
	bad bool
}

func (c *cleaner) value(dst []byte) ([]byte, bool) {
	if c.i >= len(c.src) {
		c.bad = true
		return dst, false
	}
	switch c.src[c.i] {
	case '{', '[':
		return c.container(dst)
	case '"':
		s := c.str()
		if c.bad || len(s) == 2 {
			return dst, false
		}
		return c.appendStr(dst, s), !c.bad
	case 'n':
		c.i += len("null")
		return dst, false
	}
	// true, false or a number, kept as written.
	j := c.i
	for j < len(c.src) && c.src[j] != ',' && c.src[j] != '}' && c.src[j] != ']' {
		j++
	}
	dst = append(dst, c.src[c.i:j]...)
	c.i = j
	return dst, true
}

func (c *cleaner) container(dst []byte) ([]byte, bool) {
	open := c.src[c.i]
	isObject, closer := open == '{', byte(']')
	if isObject {
		closer = '}'
	}
	mark := len(dst)
	dst = append(dst, open)
	c.i++
	n := 0
	for c.i < len(c.src) && c.src[c.i] != closer {
		member := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		if isObject {
			key := c.str()
			if c.bad || c.i >= len(c.src) || c.src[c.i] != ':' {
				c.bad = true
				return dst[:mark], false
			}
			c.i++
			dst = append(c.appendStr(dst, key), ':')
		}
		var kept bool
		if dst, kept = c.value(dst); c.bad {
			return dst[:mark], false
		}
		if kept {
			n++
		} else {
			dst = dst[:member]
		}
		if c.i < len(c.src) && c.src[c.i] == ',' {
			c.i++
		}
	}
	if c.i >= len(c.src) {
		c.bad = true
		return dst[:mark], false
	}
	c.i++
	if n == 0 {
		return dst[:mark], false
	}
	return append(dst, closer), true
}

// str returns the quoted string at c.i and moves past it.
func (c *cleaner) str() []byte {
	if c.i >= len(c.src) || c.src[c.i] != '"' {
		c.bad = true
		return nil
	}
	end := closingQuote(c.src, c.i)
	if end >= len(c.src) {
		c.bad = true
		return nil
	}
	s := c.src[c.i : end+1]
	c.i = end + 1
	return s
}

// appendStr appends a quoted string as AppendString encodes its value.
func (c *cleaner) appendStr(dst, quoted []byte) []byte {
	body := quoted[1 : len(quoted)-1]
	if PlainLen(body) == len(body) {
		return append(dst, quoted...)
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		c.bad = true
		return dst
	}
	return AppendString(dst, s)
}
