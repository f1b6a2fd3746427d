package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Counts are the figures of an audit.
type Counts struct {
	// Expected is the number of distinct ids the API lists for the window.
	Expected int64 `json:"expected"`
	// Present is the number of expected ids found at the destination.
	Present int64 `json:"present"`
	// Missing is the number of expected ids not found.
	Missing int64 `json:"missing"`
	// Duplicated is the number of expected ids found more than once;
	// DuplicateCopies the copies beyond the first.
	Duplicated      int64 `json:"duplicated"`
	DuplicateCopies int64 `json:"duplicate_copies"`
	// Unexpected is the number of distinct ids the destination holds with a
	// created_at inside the window that the API does not list (another
	// filter set, another organisation, a hand-written document).
	Unexpected int64 `json:"unexpected"`
	// Undated is the number of distinct ids the destination holds without a
	// created_at that the API does not list for the window: they may belong
	// to another window, so they are not counted as unexpected.
	Undated int64 `json:"undated_not_expected"`
	// APIDuplicates counts ids the API returned more than once in the walk.
	APIDuplicates int64 `json:"api_duplicates"`
	// Documents is the number of documents read at the destination,
	// OutsideWindow those whose created_at lies outside the window,
	// Unreadable those without a readable id, CutShort those a kill cut
	// short (their activity is normally written again in full).
	Documents     int64 `json:"documents_read"`
	OutsideWindow int64 `json:"outside_window"`
	Unreadable    int64 `json:"unreadable"`
	CutShort      int64 `json:"cut_short"`
}

// Entry is one line of a list in the report.
type Entry struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at,omitempty"`
	Type      string `json:"type,omitempty"`
	Copies    int64  `json:"copies,omitempty"`
}

func entryOf(r Record) Entry {
	e := Entry{ID: r.ID, Type: r.Type}
	if !r.CreatedAt.IsZero() {
		e.CreatedAt = r.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	return e
}

// listFile is a list of entries spilled to disk as JSON lines.
type listFile struct {
	f  *os.File
	bw *bufio.Writer
	n  int64
}

func newListFile(dir string) (*listFile, error) {
	f, err := os.CreateTemp(dir, "audit-list-*")
	if err != nil {
		return nil, fmt.Errorf("creating a report list: %w", err)
	}
	return &listFile{f: f, bw: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (l *listFile) add(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	l.n++
	if _, err := l.bw.Write(b); err != nil {
		return fmt.Errorf("writing a report list: %w", err)
	}
	return l.bw.WriteByte('\n')
}

// each calls fn for every entry, up to limit (< 0: all).
func (l *listFile) each(limit int64, fn func(json.RawMessage) error) error {
	if err := l.bw.Flush(); err != nil {
		return fmt.Errorf("writing a report list: %w", err)
	}
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(l.f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var n int64
	for sc.Scan() && (limit < 0 || n < limit) {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading a report list: %w", err)
	}
	_, err := l.f.Seek(0, io.SeekEnd)
	return err
}

func (l *listFile) close() {
	if l == nil {
		return
	}
	name := l.f.Name()
	_ = l.f.Close()
	_ = os.Remove(name)
}

// comparison is the result of the merge-join.
type comparison struct {
	counts                        Counts
	oldestMissing, newestMissing  *Record
	missing, duplicated, unexpect *listFile
}

func (c *comparison) close() {
	c.missing.close()
	c.duplicated.close()
	c.unexpect.close()
}

// compare merge-joins the expected and present ids, both in id order. It
// holds one id group of each side at a time.
func compare(dir string, expected, present *Iterator, counts Counts) (*comparison, error) {
	c := &comparison{counts: counts}
	var err error
	for _, l := range []**listFile{&c.missing, &c.duplicated, &c.unexpect} {
		if *l, err = newListFile(dir); err != nil {
			c.close()
			return nil, err
		}
	}
	e, eErr := expected.Next()
	p, pErr := present.Next()
	for eErr == nil || pErr == nil {
		if eErr != nil && eErr != io.EOF {
			c.close()
			return nil, eErr
		}
		if pErr != nil && pErr != io.EOF {
			c.close()
			return nil, pErr
		}
		var id string
		switch {
		case eErr == io.EOF:
			id = p.ID
		case pErr == io.EOF:
			id = e.ID
		default:
			id = min(e.ID, p.ID)
		}
		// Gather the group of id on both sides.
		var exp Record
		var nExp int64
		for eErr == nil && e.ID == id {
			if nExp == 0 {
				exp = e
			}
			nExp++
			e, eErr = expected.Next()
		}
		var first Record
		var nPres int64
		dated := false
		for pErr == nil && p.ID == id {
			if nPres == 0 || (!dated && !p.CreatedAt.IsZero()) {
				first = p
			}
			dated = dated || !p.CreatedAt.IsZero()
			nPres++
			p, pErr = present.Next()
		}
		if err := c.group(exp, nExp, first, nPres, dated); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *comparison) group(exp Record, nExp int64, first Record, nPres int64, dated bool) error {
	if nExp > 1 {
		c.counts.APIDuplicates += nExp - 1
	}
	switch {
	case nExp > 0 && nPres > 0:
		c.counts.Expected++
		c.counts.Present++
		if nPres > 1 {
			c.counts.Duplicated++
			c.counts.DuplicateCopies += nPres - 1
			e := entryOf(exp)
			e.Copies = nPres
			return c.duplicated.add(e)
		}
	case nExp > 0:
		c.counts.Expected++
		c.counts.Missing++
		r := exp
		if c.oldestMissing == nil || r.CreatedAt.Before(c.oldestMissing.CreatedAt) {
			c.oldestMissing = &r
		}
		if c.newestMissing == nil || !r.CreatedAt.Before(c.newestMissing.CreatedAt) {
			c.newestMissing = &r
		}
		return c.missing.add(entryOf(exp))
	case dated:
		c.counts.Unexpected++
		e := entryOf(first)
		if nPres > 1 {
			e.Copies = nPres
		}
		return c.unexpect.add(e)
	default:
		c.counts.Undated++
	}
	return nil
}
