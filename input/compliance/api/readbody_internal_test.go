package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadBodyWithContentLengthNeverRegrowsTheBuffer pins that a body of
// known length is read into one buffer of about that size: the decoded
// activities alias it, so a buffer grown to twice the page would double the
// memory every page in flight holds (a 2.5 MB page kept a 5 MB buffer alive).
func TestReadBodyWithContentLengthNeverRegrowsTheBuffer(t *testing.T) {
	for _, size := range []int{1, 511, 512, 4096, 64 << 10, 2_540_000} {
		payload := strings.Repeat("x", size)
		resp := &http.Response{
			ContentLength: int64(size),
			Body:          io.NopCloser(strings.NewReader(payload)),
		}
		body, tooLarge, err := readBody(resp, maxBodyBytes)
		require.NoError(t, err)
		assert.False(t, tooLarge)
		assert.Equal(t, payload, string(body), "size %d", size)
		assert.LessOrEqual(t, cap(body), size+bytes.MinRead, "size %d: the buffer grew past the announced length", size)
	}
}
