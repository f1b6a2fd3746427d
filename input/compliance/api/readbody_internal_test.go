package api

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return nil }

// TestReadBodyReturnsABufferOfExactlyTheBodysLength pins that the buffer
// handed to the decoder has no spare capacity, with or without a
// Content-Length: decoded activities alias it while their messages are in
// flight, so a buffer grown to twice the page (as bytes.Buffer grows) would
// double what every page in flight holds.
func TestReadBodyReturnsABufferOfExactlyTheBodysLength(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 4096, 64 << 10, 64<<10 + 1, 2_540_000, 9 << 20} {
		payload := strings.Repeat("x", size)
		for _, known := range []bool{true, false} {
			cl := int64(-1)
			if known {
				cl = int64(size)
			}
			body, tooLarge, err := readBody(io.NopCloser(strings.NewReader(payload)), cl, DefaultMaxResponseBytes)
			require.NoError(t, err)
			assert.False(t, tooLarge)
			assert.Equal(t, payload, string(body), "size %d, known length %v", size, known)
			assert.Equal(t, size, cap(body), "size %d, known length %v: spare capacity", size, known)
		}
	}
}

// TestReadBodyStopsAtTheLimit: a body over the limit is read no further than
// limit+1 bytes, and not at all when its Content-Length announces it; a body
// of exactly the limit is accepted.
func TestReadBodyStopsAtTheLimit(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name          string
		size          int
		contentLength int64
		tooLarge      bool
		maxRead       int64
	}{
		{"exactly the limit, unknown length", limit, -1, false, limit},
		{"exactly the limit, known length", limit, limit, false, limit},
		{"one byte over, unknown length", limit + 1, -1, true, limit + 1},
		{"far over, unknown length", 64 * limit, -1, true, limit + 1},
		{"announced over the limit", 64 * limit, 64 * limit, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &countingReader{r: io.LimitReader(zeros{}, int64(tt.size))}
			body, tooLarge, err := readBody(r, tt.contentLength, limit)
			require.NoError(t, err)
			assert.Equal(t, tt.tooLarge, tooLarge)
			if !tt.tooLarge {
				assert.Len(t, body, tt.size)
			}
			assert.LessOrEqual(t, r.n, tt.maxRead, "bytes read")
		})
	}
}

// TestReadBodyReportsABodyCutShort: a body shorter than its Content-Length is
// a transport failure (retried as a connection reset), not a short page.
func TestReadBodyReportsABodyCutShort(t *testing.T) {
	_, _, err := readBody(io.NopCloser(strings.NewReader("abc")), 10, DefaultMaxResponseBytes)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64MiB", 1 << 30: "1GiB", 1536: "1536B", 3 << 10: "3KiB", 0: "0B", 5<<20 + 1: "5242881B"} {
		assert.Equal(t, want, FormatBytes(n))
	}
}
