package api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DownloadOptions bound and check one download.
type DownloadOptions struct {
	// MaxBytes caps the file size; 0 means no cap. A file announced larger
	// (Content-Length) is refused before its body is read; one that streams
	// past the cap stops there. Both give a *TooLargeError.
	MaxBytes int64
	// ExpectedMD5 is the hex md5 of the file's metadata, checked when the
	// response carries no Content-MD5 (which is authoritative when present).
	ExpectedMD5 string
}

// Download is a file being streamed. Read it to the end: the MD5 is checked
// there, and a mismatch is a *ChecksumError instead of io.EOF, so a caller
// that stores the bytes as it reads must discard them on any error. It
// holds at most one read buffer of the file in memory. Close it in every
// case. It is not safe for concurrent use.
type Download struct {
	// ID is the file id.
	ID string
	// Filename is the name from Content-Disposition (filename* decoded, as
	// served: it may hold path separators or control characters; see
	// SafeFilename), or "" when absent.
	Filename string
	// ContentType is the Content-Type header.
	ContentType string
	// Size is the Content-Length, or -1 when the body is chunked.
	Size int64
	// ContentMD5 is the decoded Content-MD5 header, nil when absent.
	ContentMD5 []byte
	Meta

	body     io.ReadCloser
	cancel   context.CancelFunc
	h        hash.Hash
	n, max   int64
	expected []byte // from ExpectedMD5
	err      error  // sticky
	verified bool
	retry    RetryPolicy
}

// DownloadFile streams a chat or project file's /content
// (read:compliance_user_data). Retries cover the request up to its headers;
// a body that breaks midway is an *Error (Retryable per the policy) from
// Read, and the caller downloads the file again.
func (c *Client) DownloadFile(ctx context.Context, fileID string, o DownloadOptions) (*Download, error) {
	return c.download(ctx, EndpointFiles, pathFileContent, fileID, o)
}

// DownloadGeneratedFile streams a generated file's /content. An expired
// one is an *Error for which IsNotFound holds.
func (c *Client) DownloadGeneratedFile(ctx context.Context, id string, o DownloadOptions) (*Download, error) {
	return c.download(ctx, EndpointGeneratedFiles, pathGenContent, id, o)
}

func (c *Client) download(ctx context.Context, endpoint, pattern, id string, o DownloadOptions) (*Download, error) {
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("compliance api: download: max bytes must not be negative, got %d", o.MaxBytes)
	}
	var expected []byte
	if o.ExpectedMD5 != "" {
		b, err := hex.DecodeString(o.ExpectedMD5)
		if err != nil || len(b) != md5.Size {
			return nil, fmt.Errorf("compliance api: download: expected md5 %q is not 32 hex digits", o.ExpectedMD5)
		}
		expected = b
	}
	p, err := pathOf(pattern, id)
	if err != nil {
		return nil, err
	}
	res, err := c.fetch(ctx, endpoint, c.urlFor(p, nil), true)
	if err != nil {
		return nil, err
	}
	resp := res.resp
	d := &Download{ID: id, ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength, Meta: res.Meta,
		body: resp.Body, cancel: res.cancel, h: md5.New(), max: o.MaxBytes, expected: expected, retry: c.cfg.Retry}
	if d.Size < 0 {
		d.Size = -1
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			d.Filename = params["filename"]
		}
	}
	if v := strings.TrimSpace(resp.Header.Get("Content-MD5")); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(sum) != md5.Size {
			d.Close()
			return nil, &MalformedError{Field: "Content-MD5", Index: -1, Offset: -1, RequestID: res.RequestID,
				Reason: fmt.Sprintf("not the base64 of an MD5: %q", truncateForError(c.scrub(v)))}
		}
		d.ContentMD5 = sum
	}
	if d.max > 0 && d.Size > d.max {
		d.Close()
		return nil, &TooLargeError{ID: id, Size: d.Size, Max: d.max}
	}
	return d, nil
}

// Read reads the file. At the end it returns io.EOF only when the MD5
// matches (or nothing announced one; see Verified); a mismatch is a
// *ChecksumError, a file past MaxBytes a *TooLargeError, a broken body an
// *Error.
func (d *Download) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.max > 0 && int64(len(p)) > d.max-d.n+1 {
		p = p[:d.max-d.n+1] // never read more than one byte past the cap
	}
	n, err := d.body.Read(p)
	d.n += int64(n)
	if d.max > 0 && d.n > d.max {
		d.err = &TooLargeError{ID: d.ID, Size: -1, Max: d.max}
		return 0, d.err
	}
	d.h.Write(p[:n])
	switch {
	case err == io.EOF:
		d.err = d.finish()
		return n, d.err
	case err != nil:
		reason := classifyTransport(err, true)
		d.err = &Error{Status: http.StatusOK, RequestID: d.RequestID, Attempts: d.Attempts,
			Retryable: d.retry.transportRetryable(reason), Err: fmt.Errorf("file %s: body broken after %d bytes: %w", d.ID, d.n, err)}
		return n, d.err
	}
	return n, nil
}

// finish checks the MD5 at the end of the body.
func (d *Download) finish() error {
	got := d.h.Sum(nil)
	want, source := d.ContentMD5, "Content-MD5"
	if want == nil {
		want, source = d.expected, "metadata md5"
	}
	if want == nil {
		return io.EOF
	}
	if !bytes.Equal(got, want) {
		return &ChecksumError{ID: d.ID, Want: hex.EncodeToString(want), Got: hex.EncodeToString(got), Source: source,
			Bytes: d.n, RequestID: d.RequestID}
	}
	d.verified = true
	return io.EOF
}

// Close ends the download; reading the rest is not needed.
func (d *Download) Close() error {
	err := d.body.Close()
	d.cancel()
	if d.err == nil {
		d.err = errors.New("compliance api: download closed")
	}
	return err
}

// Verified reports whether the body was read to its end and matched the
// MD5 announced by Content-MD5 or DownloadOptions.ExpectedMD5.
func (d *Download) Verified() bool { return d.verified }

// BytesRead is the number of bytes read so far.
func (d *Download) BytesRead() int64 { return d.n }

// MD5 is the hex MD5 of the bytes read so far (of the file once Read
// returned io.EOF).
func (d *Download) MD5() string { return hex.EncodeToString(d.h.Sum(nil)) }

// SafeFilename makes a served filename usable as one path element: the
// last element of it (either slash), control characters and separators
// replaced by '_', cut to 255 bytes at a rune boundary; "" and dot names
// become "file".
func SafeFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == utf8.RuneError {
			return '_'
		}
		return r
	}, name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name = strings.TrimSpace(name); name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}
