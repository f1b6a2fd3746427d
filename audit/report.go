package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Report is the outcome of an audit. Its lists live in temporary files until
// Close.
type Report struct {
	Window      Window
	Destination string
	Counts      Counts
	// OldestMissing and NewestMissing are nil when nothing is missing.
	OldestMissing, NewestMissing *Entry
	// Plan is the estimate stated after the first page; Requests the API
	// requests made (attempts, retries included).
	Plan     Plan
	Requests int
	Notes    []string
	Started  time.Time
	Duration time.Duration

	c       *comparison
	density *density
}

func (r *Report) set(c *comparison) {
	r.c = c
	r.Counts = c.counts
	if c.oldestMissing != nil {
		e := entryOf(*c.oldestMissing)
		r.OldestMissing = &e
	}
	if c.newestMissing != nil {
		e := entryOf(*c.newestMissing)
		r.NewestMissing = &e
	}
}

// Complete reports whether every expected activity is at the destination.
// Duplicates and unexpected documents are reported but are not gaps.
func (r *Report) Complete() bool { return r.Counts.Missing == 0 }

// ListedBetween estimates how many activities the API listed with a
// created_at in [from, to): an upper estimate, counted in 1/1024ths of the
// window (what a walk of that range returns, and so what it costs).
func (r *Report) ListedBetween(from, to time.Time) int64 {
	if r.density == nil {
		return 0
	}
	return r.density.between(from, to)
}

// WriteMissingIDs writes the id of every missing activity, one per line (in
// id order), and returns how many it wrote.
func (r *Report) WriteMissingIDs(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	err := r.c.missing.each(-1, func(line json.RawMessage) error {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		n++
		bw.WriteString(e.ID)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// Close removes the report's temporary files.
func (r *Report) Close() {
	if r.c != nil {
		r.c.close()
	}
}

// WriteJSON writes the report as one JSON object with the complete lists of
// missing, duplicated and unexpected ids (streamed from disk: a million
// missing ids do not have to fit in memory).
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	head := struct {
		Complete      bool     `json:"complete"`
		From          string   `json:"from"`
		To            string   `json:"to"`
		Destination   string   `json:"destination"`
		Counts        Counts   `json:"counts"`
		OldestMissing *Entry   `json:"oldest_missing"`
		NewestMissing *Entry   `json:"newest_missing"`
		Plan          Plan     `json:"plan"`
		Requests      int      `json:"requests"`
		Started       string   `json:"started"`
		Seconds       float64  `json:"seconds"`
		Notes         []string `json:"notes"`
	}{
		Complete: r.Complete(), From: r.Window.From.UTC().Format(time.RFC3339Nano), To: r.Window.To.UTC().Format(time.RFC3339Nano),
		Destination: r.Destination, Counts: r.Counts, OldestMissing: r.OldestMissing, NewestMissing: r.NewestMissing,
		Plan: r.Plan, Requests: r.Requests, Started: r.Started.Format(time.RFC3339), Seconds: r.Duration.Seconds(), Notes: r.Notes,
	}
	if head.Notes == nil {
		head.Notes = []string{}
	}
	b, err := json.Marshal(head)
	if err != nil {
		return err
	}
	// Re-open the object to append the lists.
	bw.Write(b[:len(b)-1])
	for _, l := range []struct {
		name string
		list *listFile
	}{{"missing", r.c.missing}, {"duplicated", r.c.duplicated}, {"unexpected", r.c.unexpect}} {
		fmt.Fprintf(bw, ",%q:[", l.name)
		first := true
		if err := l.list.each(-1, func(line json.RawMessage) error {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			_, err := bw.Write(line)
			return err
		}); err != nil {
			return err
		}
		bw.WriteByte(']')
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// WriteText writes a summary for people, with up to examples ids of each list.
func (r *Report) WriteText(w io.Writer, examples int) error {
	bw := bufio.NewWriter(w)
	c := r.Counts
	verdict := "COMPLETE: every activity the API lists for the window is at the destination"
	if !r.Complete() {
		verdict = fmt.Sprintf("GAPS: %d of %d activities are missing at the destination", c.Missing, c.Expected)
	}
	fmt.Fprintf(bw, "audit of %s\n  window       %s\n  %s\n\n", r.Destination, r.Window, verdict)
	fmt.Fprintf(bw, "  expected     %d   (distinct ids the API lists; %d requests)\n", c.Expected, r.Requests)
	fmt.Fprintf(bw, "  present      %d\n", c.Present)
	fmt.Fprintf(bw, "  missing      %d\n", c.Missing)
	fmt.Fprintf(bw, "  duplicated   %d   (%d extra copies; reported, never deleted)\n", c.Duplicated, c.DuplicateCopies)
	fmt.Fprintf(bw, "  unexpected   %d   (ids dated in the window that the API does not list)\n", c.Unexpected)
	fmt.Fprintf(bw, "  destination  %d documents read: %d outside the window, %d undated and not expected, %d unreadable, %d cut short\n",
		c.Documents, c.OutsideWindow, c.Undated, c.Unreadable, c.CutShort)
	if r.OldestMissing != nil {
		fmt.Fprintf(bw, "\n  oldest missing  %s  %s  %s\n", r.OldestMissing.CreatedAt, r.OldestMissing.Type, r.OldestMissing.ID)
		fmt.Fprintf(bw, "  newest missing  %s  %s  %s\n", r.NewestMissing.CreatedAt, r.NewestMissing.Type, r.NewestMissing.ID)
	}
	for _, l := range []struct {
		name string
		list *listFile
	}{{"missing", r.c.missing}, {"duplicated", r.c.duplicated}, {"unexpected", r.c.unexpect}} {
		if l.list.n == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n  %s (first %d of %d, in id order; --json lists all):\n", l.name, min(int64(examples), l.list.n), l.list.n)
		if err := l.list.each(int64(examples), func(line json.RawMessage) error {
			var e Entry
			if err := json.Unmarshal(line, &e); err != nil {
				return err
			}
			fmt.Fprintf(bw, "    %s", e.ID)
			if e.CreatedAt != "" {
				fmt.Fprintf(bw, "  %s", e.CreatedAt)
			}
			if e.Type != "" {
				fmt.Fprintf(bw, "  %s", e.Type)
			}
			if e.Copies > 1 {
				fmt.Fprintf(bw, "  ×%d", e.Copies)
			}
			return bw.WriteByte('\n')
		}); err != nil {
			return err
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(bw, "\n  notes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "    - %s\n", n)
		}
	}
	return bw.Flush()
}
