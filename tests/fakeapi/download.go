package fakeapi

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
)

// download is a /content answer: a file's bytes, derived from its seed and
// size, streamed without holding them in memory.
type download struct {
	name, mime string
	size       int64
	seed       uint64
	file       *wFile
	gen        *wGenFile
	sum        [16]byte
}

// contentReader returns the deterministic bytes of a file: printable text
// for text/* types, anything for the others.
func contentReader(seed uint64, size int64, mime string) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], saltWorld)
	return io.LimitReader(&byteStream{c: rand.NewChaCha8(key), text: strings.HasPrefix(mime, "text/")}, size)
}

type byteStream struct {
	c    *rand.ChaCha8
	text bool
}

// textTable maps a random byte to a printable one.
var textTable = func() (t [256]byte) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;\n"
	for i := range t {
		t[i] = alphabet[i%len(alphabet)]
	}
	return t
}()

func (b *byteStream) Read(p []byte) (int, error) {
	_, _ = b.c.Read(p) // never fails
	if b.text {
		for i, c := range p {
			p[i] = textTable[c]
		}
	}
	return len(p), nil
}

// sumOf computes the MD5 of a file's bytes.
func sumOf(seed uint64, size int64, mime string) [16]byte {
	h := md5.New()
	_, _ = io.CopyBuffer(h, contentReader(seed, size, mime), make([]byte, 64<<10))
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// md5 returns the file's MD5, computing it once.
func (f *wFile) md5() []byte {
	if !f.summed {
		f.sum, f.summed = sumOf(f.seed, f.size, f.mime), true
	}
	return f.sum[:]
}

func (g *wGenFile) md5() []byte {
	if !g.summed {
		g.sum, g.summed = sumOf(g.seed, g.size, g.mime), true
	}
	return g.sum[:]
}

// contentDisposition is the RFC 5987 form the API always sends: "attachment;
// filename*=", the charset utf-8, an empty language tag between two
// apostrophes, and the percent-encoded UTF-8 name.
func contentDisposition(name string) string {
	var b strings.Builder
	b.WriteString("attachment; filename*=utf-8''")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&0xf])
	}
	return b.String()
}

// writeDownload streams d: chunked (no Content-Length) unless withLength,
// with Content-Type, Content-Disposition and a base64 Content-MD5. The fault
// kinds FaultTruncatedBody (half the bytes, then the connection is cut) and
// FaultCorruptContent (one byte flipped, the header unchanged) apply here.
func writeDownload(w http.ResponseWriter, d *download, withLength bool, kind FaultKind) {
	h := w.Header()
	h.Set("Content-Type", d.mime)
	h.Set("Content-Disposition", contentDisposition(d.name))
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(d.sum[:]))
	if withLength {
		h.Set("Content-Length", strconv.FormatInt(d.size, 10))
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush() // headers out now: the body is chunked
	src := contentReader(d.seed, d.size, d.mime)
	switch kind {
	case FaultTruncatedBody:
		_, _ = io.CopyN(w, src, d.size/2)
		_ = rc.Flush()
		panic(http.ErrAbortHandler)
	case FaultCorruptContent:
		src = &corrupter{r: src, at: d.size / 2}
	}
	_, _ = io.CopyBuffer(w, src, make([]byte, 32<<10)) // a client that went away is not the server's problem
}

// corrupter flips the byte at offset at.
type corrupter struct {
	r   io.Reader
	at  int64
	off int64
}

func (c *corrupter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.at >= c.off && c.at < c.off+int64(n) {
		p[c.at-c.off] ^= 0xff
	}
	c.off += int64(n)
	return n, err
}
