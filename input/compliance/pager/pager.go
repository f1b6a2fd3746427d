// Package pager walks one slice of the Activity Feed: the first request
// carries the slice's created_at bounds and filters, every later one the same
// plus after_id=<last_id>, until has_more is false. It checks what the
// server returns — a cursor that is missing or repeats, an activity outside
// the requested range — and ends the walk with a clear error instead of
// looping or skipping. Deduplication is the caller's job.
package pager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// Lister is the one method of the API client a walk needs.
type Lister interface {
	ListActivities(ctx context.Context, p api.ListParams) (*api.Page, error)
}

// Guard failures. A walk that trips one ends; the caller must not commit.
var (
	ErrNullCursor     = errors.New("has_more is true but last_id is null or empty")
	ErrRepeatedCursor = errors.New("the server returned a cursor already seen in this walk")
	ErrOutOfRange     = errors.New("activity outside the requested created_at range")
)

// GuardError locates a guard failure.
type GuardError struct {
	Err        error // one of the sentinels above
	Page       int   // 1-based page number within the walk
	RequestID  string
	Cursor     string
	ActivityID string
	Detail     string
}

func (e *GuardError) Error() string {
	msg := fmt.Sprintf("page %d: %v", e.Page, e.Err)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Cursor != "" {
		msg += fmt.Sprintf(" (cursor %q)", e.Cursor)
	}
	if e.ActivityID != "" {
		msg += fmt.Sprintf(" (activity %s)", e.ActivityID)
	}
	if e.RequestID != "" {
		msg += fmt.Sprintf(" (request-id %s)", e.RequestID)
	}
	return msg
}

func (e *GuardError) Unwrap() error { return e.Err }

// Walk reads one slice page by page. It is not safe for concurrent use.
type Walk struct {
	lister  Lister
	params  api.ListParams
	from    time.Time
	to      time.Time
	cursors map[string]struct{}
	page    int
	done    bool

	last            api.Activity
	haveLast        bool
	orderViolations int
	tieViolations   int
}

// New starts a walk. params must carry CreatedAtGTE and CreatedAtLT (RFC 3339);
// AfterID and BeforeID are managed by the walk.
func New(l Lister, params api.ListParams) (*Walk, error) {
	from, err := time.Parse(time.RFC3339Nano, params.CreatedAtGTE)
	if err != nil {
		return nil, fmt.Errorf("walk needs an RFC 3339 created_at.gte, got %q", params.CreatedAtGTE)
	}
	to, err := time.Parse(time.RFC3339Nano, params.CreatedAtLT)
	if err != nil {
		return nil, fmt.Errorf("walk needs an RFC 3339 created_at.lt, got %q", params.CreatedAtLT)
	}
	params.AfterID, params.BeforeID = "", ""
	return &Walk{lister: l, params: params, from: from, to: to, cursors: map[string]struct{}{}}, nil
}

// Next fetches and checks the next page. It returns io.EOF once the walk
// ended with has_more=false. After any other error the walk is over.
func (w *Walk) Next(ctx context.Context) (*api.Page, error) {
	if w.done {
		return nil, io.EOF
	}
	w.page++
	page, err := w.lister.ListActivities(ctx, w.params)
	if err != nil {
		w.done = true
		return nil, fmt.Errorf("page %d: %w", w.page, err)
	}
	if err := w.check(page); err != nil {
		w.done = true
		return nil, err
	}
	if !page.HasMore {
		w.done = true
	} else {
		w.cursors[page.LastID] = struct{}{}
		w.params.AfterID = page.LastID
	}
	return page, nil
}

func (w *Walk) check(page *api.Page) error {
	guard := func(err error, id, detail string) *GuardError {
		return &GuardError{Err: err, Page: w.page, RequestID: page.RequestID, Cursor: w.params.AfterID, ActivityID: id, Detail: detail}
	}
	for _, a := range page.Activities {
		if a.CreatedAt.Before(w.from) || !a.CreatedAt.Before(w.to) {
			return guard(ErrOutOfRange, a.ID, fmt.Sprintf("created_at %s not in [%s, %s)",
				a.CreatedAt.UTC().Format(time.RFC3339Nano), w.params.CreatedAtGTE, w.params.CreatedAtLT))
		}
		if w.haveLast {
			switch {
			case a.CreatedAt.After(w.last.CreatedAt):
				w.orderViolations++
			case a.CreatedAt.Equal(w.last.CreatedAt) && a.ID > w.last.ID:
				w.tieViolations++
			}
		}
		w.last, w.haveLast = a, true
	}
	if page.HasMore {
		if page.LastID == "" {
			return guard(ErrNullCursor, "", fmt.Sprintf("%d activities on the page", len(page.Activities)))
		}
		if _, dup := w.cursors[page.LastID]; dup || page.LastID == w.params.AfterID {
			g := guard(ErrRepeatedCursor, "", "")
			g.Cursor = page.LastID
			return g
		}
	}
	return nil
}

// Pages is the number of pages requested so far.
func (w *Walk) Pages() int { return w.page }

// OrderViolations counts activities newer than the one before them: the feed
// is documented newest first, so any is a server ordering fault.
func (w *Walk) OrderViolations() int { return w.orderViolations }

// TieOrderViolations counts same-second activities whose id is greater than
// the one before them. The direction of the server's tie-break is not
// documented, so this is informational.
func (w *Walk) TieOrderViolations() int { return w.tieViolations }
