package activity

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

var errNotJSON = errors.New("not valid JSON")

// split validates fs.src[start:end] as one JSON object and splits it into
// its members, appended to fs.list in input order, in a single pass. Offsets
// are into fs.src (and fs.text, which holds the same bytes). A repeated key
// keeps the last value, as encoding/json does.
func (fs *Fields) split(start, end int) error {
	b := fs.src[:end]
	s := scanner{b: b}
	i := s.space(start)
	if i >= len(b) || b[i] != '{' {
		return errNotJSON
	}
	i = s.space(i + 1)
	if i < len(b) && b[i] == '}' {
		return s.end(i + 1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return s.fail(i)
		}
		kend := s.str(i)
		if kend < 0 {
			return s.err
		}
		f := field{keyStart: int32(i + 1), keyEnd: int32(kend - 1)}
		key := fs.text[i+1 : kend-1]
		if jsonobj.PlainLen(key) != len(key) {
			var ok bool
			if key, ok = unquote(b[i:kend]); !ok {
				return s.fail(i)
			}
			fs.keys = append(fs.keys, key)
			f.key = int32(len(fs.keys))
		}
		i = s.space(kend)
		if i >= len(b) || b[i] != ':' {
			return s.fail(i)
		}
		i = s.space(i + 1)
		vend := s.value(i, 1)
		if vend < 0 {
			return s.err
		}
		f.start, f.end = int32(i), int32(vend)
		fs.lens |= lenBit(len(key))
		if j := fs.index(key); j >= 0 {
			fs.list[j] = f
		} else {
			fs.list = append(fs.list, f)
		}
		i = s.space(vend)
		if i >= len(b) {
			return s.fail(i)
		}
		if b[i] == '}' {
			return s.end(i + 1)
		}
		if b[i] != ',' {
			return s.fail(i)
		}
		i = s.space(i + 1)
	}
}

// eachElement calls fn with the bounds of every element of the JSON array
// b, which must be valid.
func eachElement(b []byte, fn func(start, end int)) error {
	s := scanner{b: b}
	i := s.space(0)
	if i >= len(b) || b[i] != '[' {
		return errNotJSON
	}
	i = s.space(i + 1)
	if i < len(b) && b[i] == ']' {
		return nil
	}
	for {
		end := s.value(i, 1)
		if end < 0 {
			return s.err
		}
		fn(i, end)
		i = s.space(end)
		if i >= len(b) || (b[i] != ',' && b[i] != ']') {
			return s.fail(i)
		}
		if b[i] == ']' {
			return nil
		}
		i = s.space(i + 1)
	}
}

// scanner validates JSON (RFC 8259 grammar, as encoding/json accepts it).
// Each method returns the index just past what it read, or -1 with err set.
type scanner struct {
	b   []byte
	err error
}

func (s *scanner) fail(i int) error {
	if i >= len(s.b) {
		s.err = fmt.Errorf("%w: unexpected end", errNotJSON)
	} else {
		s.err = fmt.Errorf("%w: unexpected %q at offset %d", errNotJSON, s.b[i], i)
	}
	return s.err
}

func (s *scanner) end(i int) error {
	if i = s.space(i); i != len(s.b) {
		return s.fail(i)
	}
	return nil
}

func (s *scanner) space(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value(i, depth int) int {
	if i >= len(s.b) {
		s.fail(i)
		return -1
	}
	switch c := s.b[i]; {
	case c == '"':
		return s.str(i)
	case c == '{' || c == '[':
		if depth > maxDepth {
			s.err = fmt.Errorf("%w: nested too deeply", errNotJSON)
			return -1
		}
		return s.container(i, depth)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	}
	s.fail(i)
	return -1
}

func (s *scanner) container(i, depth int) int {
	closer := byte('}')
	isObject := s.b[i] == '{'
	if !isObject {
		closer = ']'
	}
	i = s.space(i + 1)
	if i < len(s.b) && s.b[i] == closer {
		return i + 1
	}
	for {
		if isObject {
			if i >= len(s.b) || s.b[i] != '"' {
				s.fail(i)
				return -1
			}
			if i = s.str(i); i < 0 {
				return -1
			}
			i = s.space(i)
			if i >= len(s.b) || s.b[i] != ':' {
				s.fail(i)
				return -1
			}
			i = s.space(i + 1)
		}
		if i = s.value(i, depth+1); i < 0 {
			return -1
		}
		i = s.space(i)
		if i >= len(s.b) {
			s.fail(i)
			return -1
		}
		if s.b[i] == closer {
			return i + 1
		}
		if s.b[i] != ',' {
			s.fail(i)
			return -1
		}
		i = s.space(i + 1)
	}
}

// str reads a string starting at s.b[i] == '"'. Runs of plain ASCII are
// skipped a word at a time; other bytes are looked at one by one.
func (s *scanner) str(i int) int {
	for j := i + 1; j < len(s.b); j++ {
		if j += jsonobj.PlainLen(s.b[j:]); j >= len(s.b) {
			break
		}
		switch c := s.b[j]; {
		case c >= utf8.RuneSelf:
			// Part of a multi-byte sequence: JSON leaves UTF-8 to the decoder.
		case c == '"':
			return j + 1
		case c < 0x20:
			s.fail(j)
			return -1
		case c == '\\':
			j++
			if j >= len(s.b) {
				s.fail(j)
				return -1
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) || !isHex(s.b[j+1]) || !isHex(s.b[j+2]) || !isHex(s.b[j+3]) || !isHex(s.b[j+4]) {
					s.fail(j)
					return -1
				}
				j += 4
			default:
				s.fail(j)
				return -1
			}
		}
	}
	s.fail(len(s.b))
	return -1
}

func (s *scanner) literal(i int, lit string) int {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		s.fail(i)
		return -1
	}
	return i + len(lit)
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number(i int) int {
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		s.fail(i)
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			s.fail(j)
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			s.fail(j)
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
