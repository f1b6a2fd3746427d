package content

import (
	"context"
	"fmt"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// ChatsAPI is what the chats and files collectors need of the API client
// (*api.Client implements it).
type ChatsAPI interface {
	ListChats(ctx context.Context, p api.ChatsParams) (*api.CursorPage[api.Chat], error)
	ListChatMessages(ctx context.Context, chatID string, p api.MessagesParams) (*api.ChatMessages, error)
}

// MaxPageSize is the largest limit the chats and messages endpoints accept.
const MaxPageSize = 1000

// probe reads the API's clock with the smallest listing the collector
// sends (it also surfaces a refused key or a missing scope).
func probe(ctx context.Context, a ChatsAPI, f Filters) (time.Time, error) {
	page, err := a.ListChats(ctx, api.ChatsParams{OrderBy: "updated_at", Limit: 1, OrganizationIDs: f.canonical().OrganizationIDs})
	if err != nil {
		return time.Time{}, err
	}
	return page.ServerDate, nil
}

// walkChats walks one slice of GET /apps/chats?order_by=updated_at, oldest
// first, with after_id until has_more is false (every parameter resent),
// and calls visit with each chat that passes the client-side filters.
// visit returns false when the job stopped. A first page that shows the
// slice far denser than planned returns a cut before any chat is visited.
//
// Guards (each a *pager.GuardError, which fails the slice with the way
// out): a chat whose updated_at lies outside the slice, has_more with no
// last_id, a last_id already followed. (updated_at, id) decreasing along
// the walk is counted (order_violations), as the feed counts its own.
func walkChats(w *collector.SliceWalk, a ChatsAPI, pageSize int, f Filters,
	visit func(origin *collector.Origin, c api.Chat) (bool, error)) (sealed bool, cut time.Duration, err error) {
	from, to := w.Bounds()
	rng := w.Range()
	f = f.canonical()
	params := api.ChatsParams{OrderBy: "updated_at", UpdatedAt: api.TimeRange{GTE: from, LT: to}, Limit: pageSize,
		OrganizationIDs: f.OrganizationIDs}
	g := guard{from: rng.From, to: rng.To, cursors: map[string]bool{}}
	for n := 1; ; n++ {
		if w.Stopped() {
			return false, 0, nil
		}
		page, err := a.ListChats(w.Context(), params)
		if err != nil {
			return false, 0, fmt.Errorf("chats page %d: %w", n, err)
		}
		origin := w.Page(page.Meta, len(page.Items))
		if err := g.check(n, params.AfterID, page); err != nil {
			return false, 0, err
		}
		if n == 1 && page.HasMore && len(page.Items) > 0 {
			if length, dense := w.Dense(page.Items[0].UpdatedAt, page.Items[len(page.Items)-1].UpdatedAt, len(page.Items)); dense {
				return false, length, nil
			}
		}
		for _, c := range page.Items {
			if !f.keep(c) {
				w.Count("chats_filtered", 1)
				continue
			}
			ok, err := visit(origin, c)
			if err != nil || !ok {
				return false, 0, err
			}
		}
		w.Count("order_violations", g.takeViolations())
		if !page.HasMore {
			return true, 0, nil
		}
		params.AfterID = page.LastID
	}
}

// guard checks a slice's listing.
type guard struct {
	from, to   time.Time
	cursors    map[string]bool
	last       api.Chat
	haveLast   bool
	violations int
}

func (g *guard) check(n int, sent string, page *api.CursorPage[api.Chat]) error {
	fail := func(err error, id, detail string) *pager.GuardError {
		return &pager.GuardError{Err: err, Page: n, RequestID: page.RequestID, Cursor: sent, ActivityID: id, Detail: detail}
	}
	for _, c := range page.Items {
		if c.UpdatedAt.Before(g.from) || !c.UpdatedAt.Before(g.to) {
			return fail(pager.ErrOutOfRange, c.ID, fmt.Sprintf("chat updated_at %s not in [%s, %s)",
				c.UpdatedAt.UTC().Format(time.RFC3339Nano), g.from.UTC().Format(time.RFC3339), g.to.UTC().Format(time.RFC3339)))
		}
		if g.haveLast && (c.UpdatedAt.Before(g.last.UpdatedAt) || c.UpdatedAt.Equal(g.last.UpdatedAt) && c.ID < g.last.ID) {
			g.violations++
		}
		g.last, g.haveLast = c, true
	}
	if page.HasMore {
		if page.LastID == "" {
			return fail(pager.ErrNullCursor, "", fmt.Sprintf("%d chats on the page", len(page.Items)))
		}
		if g.cursors[page.LastID] || page.LastID == sent {
			e := fail(pager.ErrRepeatedCursor, "", "")
			e.Cursor = page.LastID
			return e
		}
		g.cursors[page.LastID] = true
	}
	return nil
}

func (g *guard) takeViolations() int {
	n := g.violations
	g.violations = 0
	return n
}

// newMessages is the created_at range of the messages to fetch for a new
// version of chat: those after the newest message its committed versions
// covered (the chat's mark), or, for a chat without a mark, since the
// checkpoint's floor (or the marks' horizon).
//
// Why not "created at or after the slice's start": a chat is listed only
// at its latest updated_at. A conversation that stays active across jobs,
// or any chat of a backfill, has earlier messages that bumped it into
// windows where it was no longer listed when they were read; they would
// never be fetched.
func newMessages(w *collector.SliceWalk, chatID string) api.TimeRange {
	if mark, ok := w.MarkOf(chatID); ok {
		return api.TimeRange{GT: stamp(mark)}
	}
	return api.TimeRange{GTE: window.Format(w.MarkFloor())}
}

// walkMessages walks a chat's messages created in since (all of them when
// it is empty), oldest first, 1000 a page with after_id, and calls visit
// with every page. It returns the number of requests made and the newest
// message time seen. A chat that no longer exists is an error for which
// api.IsNotFound holds.
func walkMessages(ctx context.Context, a ChatsAPI, chatID string, since api.TimeRange, visit func(*api.ChatMessages) error) (requests int, newest time.Time, err error) {
	p := api.MessagesParams{Limit: MaxPageSize, CreatedAt: since}
	seen := map[string]bool{}
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return requests, newest, err
		}
		requests++
		page, err := a.ListChatMessages(ctx, chatID, p)
		if err != nil {
			return requests, newest, fmt.Errorf("messages of chat %s, page %d: %w", chatID, n, err)
		}
		for _, m := range page.Items {
			if m.CreatedAt.After(newest) {
				newest = m.CreatedAt
			}
		}
		if err := visit(page); err != nil {
			return requests, newest, err
		}
		if !page.HasMore {
			return requests, newest, nil
		}
		switch {
		case page.LastID == "":
			return requests, newest, fmt.Errorf("messages of chat %s, page %d: has_more is true but last_id is null (request-id %s): %w",
				chatID, n, page.RequestID, api.ErrWalk)
		case seen[page.LastID] || page.LastID == p.AfterID:
			return requests, newest, fmt.Errorf("messages of chat %s, page %d: last_id %q was already followed (request-id %s): %w",
				chatID, n, page.LastID, page.RequestID, api.ErrWalk)
		}
		seen[page.LastID] = true
		p.AfterID = page.LastID
	}
}
