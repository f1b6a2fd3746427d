package jsonobj_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// The word-at-a-time scan and the cleaner are pinned to plain reference
// implementations (byte by byte; encoding/json's tokenizer). Plain `go test`
// runs the seeds; `go test -fuzz` explores.

var stringSeeds = []string{
	"", "a", "plain ascii of some length", `quote " backslash \ slash /`, "ctl \x00\x01\x1f\t\r\n\x7f",
	"é ü 日本 🎉", "line\u2028sep\u2029", "<script>&</script>", "bad utf8 \xff\xfe end", "12345678\"",
	"1234567\x80", "\xe2\x80", "exactly8", "sixteen bytes ok", strings.Repeat("x", 63) + "\"",
}

// referenceString is the byte-by-byte encoding AppendString must match.
func referenceString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[c>>4])
				b.WriteByte("0123456789abcdef"[c&0xF])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028':
			b.WriteString(`\u2028`)
		case r == '\u2029':
			b.WriteString(`\u2029`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

func FuzzAppendStringMatchesByteByByteEncoding(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(jsonobj.AppendString([]byte("prefix"), s))
		if want := "prefix" + referenceString(s); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		n := jsonobj.PlainLen(s)
		want := 0
		for want < len(s) && s[want] >= 0x20 && s[want] < utf8.RuneSelf && s[want] != '"' && s[want] != '\\' {
			want++
		}
		if n != want || jsonobj.PlainLen([]byte(s)) != want {
			t.Fatalf("PlainLen(%q) = %d, want %d", s, n, want)
		}
	})
}

// referenceClean is how raw values were cleaned with encoding/json's
// tokenizer: compacted as they are when the text holds no candidate empty,
// else re-encoded token by token without null, "", {} and [].
func referenceClean(t *testing.T, raw []byte) (string, bool) {
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, raw))
	c := compact.Bytes()
	if !bytes.Contains(c, []byte("null")) && !bytes.Contains(c, []byte(`""`)) &&
		!bytes.Contains(c, []byte("{}")) && !bytes.Contains(c, []byte("[]")) {
		return compact.String(), true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	out, kept, err := tokenClean(dec, nil)
	require.NoError(t, err)
	return string(out), kept
}

func tokenClean(dec *json.Decoder, dst []byte) ([]byte, bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return dst, false, err
	}
	switch v := tok.(type) {
	case nil:
		return dst, false, nil
	case string:
		return jsonobj.AppendString(dst, v), v != "", nil
	case bool:
		return strconv.AppendBool(dst, v), true, nil
	case json.Number:
		return append(dst, v...), true, nil
	}
	open := tok.(json.Delim)
	mark := len(dst)
	dst = append(dst, byte(open))
	n := 0
	for dec.More() {
		member := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		if open == '{' {
			key, err := dec.Token()
			if err != nil {
				return dst, false, err
			}
			dst = append(jsonobj.AppendString(dst, key.(string)), ':')
		}
		var kept bool
		if dst, kept, err = tokenClean(dec, dst); err != nil {
			return dst, false, err
		}
		if !kept {
			dst = dst[:member]
			continue
		}
		n++
	}
	if _, err := dec.Token(); err != nil {
		return dst, false, err
	}
	if n == 0 {
		return dst[:mark], false, nil
	}
	return append(dst, map[json.Delim]byte{'{': '}', '[': ']'}[open]), true, nil
}

func FuzzStripNestedMatchesTokenizerCleaning(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `{"a":null}`, `[null,"",{},[]]`, `{"a":{"b":[{"c":null}]},"d":1}`, `{"a":"null inside"}`,
		` { "a" : [ 1 , null , "x" ] , "b" : "" } `, `{"k\u00e9y":"v\u2028","e":"\ud800","f":"\/"}`,
		"{\"a\":\"\xff\",\"b\":null}", `{"n":-1.5e3,"t":true,"f":false,"z":{}}`, `[[[[]]],[[1]]]`,
		`{"":"","x":{"":1}}`, `{"a":1,"a":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		trimmed := bytes.TrimSpace(raw)
		if !json.Valid(raw) || (trimmed[0] != '{' && trimmed[0] != '[') {
			return
		}
		b := jsonobj.NewBuilder(jsonobj.Options{StripNested: true})
		b.Root().Raw("v", raw)
		got := string(b.Root().AppendJSON(nil))
		want := `{}`
		if v, kept := referenceClean(t, raw); kept {
			want = `{"v":` + v + `}`
		}
		if got != want {
			t.Fatalf("Raw(%q) with StripNested = %s, want %s", raw, got, want)
		}
	})
}

func TestTimeIsRFC3339NanoInUTC(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	root := b.Root()
	root.Time("whole", time.Date(2026, 4, 10, 10, 9, 10, 0, time.FixedZone("", 2*3600)))
	root.Time("fraction", time.Date(2019, 12, 27, 18, 11, 19, 117e6, time.UTC))
	root.Time("old", time.Date(1600, 1, 1, 0, 0, 0, 123456789, time.UTC))
	assert.Equal(t, `{"whole":"2026-04-10T08:09:10Z","fraction":"2019-12-27T18:11:19.117Z","old":"1600-01-01T00:00:00.123456789Z"}`,
		string(root.AppendJSON(nil)))
}

func TestObjectFindsChildrenByKeyWhateverItNeedsEscaping(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	root := b.Root()
	for _, key := range []string{`a"b`, "é", "plain", "line\u2028"} {
		root.Object(key).Int("first", 1)
		root.String("between", "x")
		root.Object(key).Int("second", 2)
	}
	var got map[string]any
	require.NoError(t, json.Unmarshal(root.AppendJSON(nil), &got))
	for _, key := range []string{`a"b`, "é", "plain", "line\u2028"} {
		assert.Equal(t, map[string]any{"first": 1.0, "second": 2.0}, got[key], "%q", key)
	}
}

func TestBuilderReuseStartsFromEmpty(t *testing.T) {
	b := jsonobj.NewBuilder(jsonobj.Options{})
	for i := range 3 {
		root := b.Root()
		root.Object("o").String("k", strings.Repeat("v", 100*i))
		root.Objects("list", root.NewObject(), root.NewObject())
		root.Int("i", int64(i))
		want := `{"o":{"k":"` + strings.Repeat("v", 100*i) + `"},"i":` + strconv.Itoa(i) + `}`
		if i == 0 {
			want = `{"i":0}`
		}
		assert.Equal(t, want, string(root.AppendJSON(nil)))
		b.Reset()
	}
}

// TestPlainLenFindsEverySpecialByteAtEveryOffset tries each byte value at
// each offset of strings around the 8-byte word size, alone and followed by
// bytes that make borrows spread.
func TestPlainLenFindsEverySpecialByteAtEveryOffset(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for p := 0; p < n; p++ {
			for c := 0; c < 256; c++ {
				for _, after := range []byte{'a', 0x00, 0x80} {
					s := []byte(strings.Repeat("a", n))
					s[p] = byte(c)
					for i := p + 1; i < n; i++ {
						s[i] = after
					}
					want := 0
					for want < n && s[want] >= 0x20 && s[want] < utf8.RuneSelf && s[want] != '"' && s[want] != '\\' {
						want++
					}
					if got := jsonobj.PlainLen(s); got != want {
						t.Fatalf("PlainLen(%q) = %d, want %d", s, got, want)
					}
				}
			}
		}
	}
}
