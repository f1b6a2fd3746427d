package api

import (
	"context"
	"errors"
	"fmt"
)

// ErrWalk is wrapped by every error a walker reports about the pagination
// itself (as opposed to a failed request).
var ErrWalk = errors.New("pagination broken")

// WalkPages walks a page-style list: fetch("") and then fetch(NextPage)
// while HasMore, calling visit with every page in order. It stops at the
// first error of fetch or visit (returned as is), and with an error
// wrapping ErrWalk when the API breaks the pagination: HasMore without a
// NextPage, or a NextPage that repeats one already followed (a loop).
func WalkPages[T any](ctx context.Context, fetch func(ctx context.Context, page string) (*PageOf[T], error), visit func(*PageOf[T]) error) error {
	seen := map[string]bool{}
	page := ""
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pg, err := fetch(ctx, page)
		if err != nil {
			return err
		}
		if err := visit(pg); err != nil {
			return err
		}
		if !pg.HasMore {
			return nil
		}
		switch {
		case pg.NextPage == "":
			return fmt.Errorf("compliance api: page %d has has_more true but no next_page (request-id %s): %w", n, pg.RequestID, ErrWalk)
		case seen[pg.NextPage]:
			return fmt.Errorf("compliance api: page %d repeats a next_page already followed (request-id %s): %w", n, pg.RequestID, ErrWalk)
		}
		seen[pg.NextPage] = true
		page = pg.NextPage
	}
}

// WalkCursor walks a cursor-style list forward: fetch(after) and then
// fetch(LastID) while HasMore, calling visit with every page. An empty
// after starts at the beginning. It stops with an error wrapping ErrWalk
// when HasMore comes without a LastID or LastID repeats the cursor just
// sent. It returns the last non-empty cursor seen (after, if none), the
// point to resume from next time.
func WalkCursor[T any](ctx context.Context, after string, fetch func(ctx context.Context, after string) (*CursorPage[T], error), visit func(*CursorPage[T]) error) (string, error) {
	cursor := after
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return cursor, err
		}
		pg, err := fetch(ctx, cursor)
		if err != nil {
			return cursor, err
		}
		if err := visit(pg); err != nil {
			return cursor, err
		}
		sent := cursor
		if pg.LastID != "" {
			cursor = pg.LastID
		}
		if !pg.HasMore {
			return cursor, nil
		}
		switch {
		case pg.LastID == "":
			return cursor, fmt.Errorf("compliance api: page %d has has_more true but no last_id (request-id %s): %w", n, pg.RequestID, ErrWalk)
		case pg.LastID == sent:
			return cursor, fmt.Errorf("compliance api: page %d returns the cursor it was sent as last_id (request-id %s): %w", n, pg.RequestID, ErrWalk)
		}
	}
}
