// Package file audits NDJSON files: what the core `file` output writes with
// the `lines` codec (one document per line), plain or gzip-compressed, in
// one file or a directory tree of them.
package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/compliance-connect/compliance-connect/audit"
)

// Destination is a file or a directory of NDJSON files.
type Destination struct {
	// Path is a file or a directory (read recursively).
	Path string
	// Match, when set, keeps only the files whose path relative to Path
	// (with forward slashes) it matches.
	Match *regexp.Regexp
	// Fields locate the id and created_at in each document.
	Fields audit.Fields
	// Slack: a file last modified more than Slack before the window's
	// start cannot hold its activities (they are written after they
	// happen) and is skipped. Negative reads every file.
	Slack time.Duration
}

func (d *Destination) String() string { return "file://" + d.Path }

// Scan reads every file that may hold activities of w.
func (d *Destination) Scan(ctx context.Context, w audit.Window, sink *audit.Sink) error {
	info, err := os.Stat(d.Path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return d.read(ctx, d.Path, info, w, sink)
	}
	skipped := 0
	err = filepath.WalkDir(d.Path, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() || !de.Type().IsRegular() {
			return nil
		}
		if d.Match != nil {
			rel, err := filepath.Rel(d.Path, p)
			if err != nil || !d.Match.MatchString(filepath.ToSlash(rel)) {
				return nil
			}
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if d.Slack >= 0 && fi.ModTime().Before(w.From.Add(-d.Slack)) {
			skipped++
			return nil
		}
		return d.read(ctx, p, fi, w, sink)
	})
	if skipped > 0 {
		sink.Note(fmt.Sprintf("%d files last modified before %s skipped: they cannot hold activities of the window", skipped, w.From.Add(-d.Slack).UTC().Format(time.RFC3339)))
	}
	return err
}

func (d *Destination) read(ctx context.Context, p string, _ fs.FileInfo, _ audit.Window, sink *audit.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return ReadMaybeGzip(f, p, d.Fields, sink)
}

// ReadMaybeGzip reads NDJSON from r, decompressing it when it starts with
// the gzip magic bytes. A gzip stream cut short (a writer was killed) is
// noted: the documents before the cut are counted.
func ReadMaybeGzip(r io.Reader, where string, fields audit.Fields, sink *audit.Sink) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return audit.ReadNDJSON(br, where, fields, sink)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer zr.Close()
	err = audit.ReadNDJSON(zr, where, fields, sink)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		sink.Note(fmt.Sprintf("%s: the gzip stream is cut short; the documents before the cut were read", where))
		return nil
	}
	return err
}
