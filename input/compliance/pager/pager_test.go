package pager_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
)

// scripted answers each request with the next page and records the params.
type scripted struct {
	pages []*api.Page
	errs  []error
	calls []api.ListParams
}

func (s *scripted) ListActivities(_ context.Context, p api.ListParams) (*api.Page, error) {
	s.calls = append(s.calls, p)
	i := len(s.calls) - 1
	if i < len(s.errs) && s.errs[i] != nil {
		return nil, s.errs[i]
	}
	if i >= len(s.pages) {
		return nil, errors.New("script exhausted")
	}
	return s.pages[i], nil
}

func act(id, created string) api.Activity {
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		panic(err)
	}
	return api.Activity{ID: id, Type: "claude_chat_created", CreatedAt: t}
}

func page(hasMore bool, last string, acts ...api.Activity) *api.Page {
	p := &api.Page{Activities: acts, HasMore: hasMore, LastID: last, RequestID: "req_" + last}
	if len(acts) > 0 {
		p.FirstID = acts[0].ID
	}
	return p
}

var params = api.ListParams{
	CreatedAtGTE: "2026-11-25T10:00:00Z", CreatedAtLT: "2026-11-25T11:00:00Z", Limit: 2,
	ExcludeActivityTypes: []string{"compliance_api_accessed"},
}

func walkAll(t *testing.T, l pager.Lister) ([]api.Activity, *pager.Walk, error) {
	t.Helper()
	w, err := pager.New(l, params)
	require.NoError(t, err)
	var got []api.Activity
	for {
		p, err := w.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return got, w, nil
		}
		if err != nil {
			return got, w, err
		}
		got = append(got, p.Activities...)
	}
}

func TestPagerFollowsLastIDWithFiltersResentUntilHasMoreFalse(t *testing.T) {
	l := &scripted{pages: []*api.Page{
		page(true, "c", act("d", "2026-11-25T10:30:00Z"), act("c", "2026-11-25T10:20:00Z")),
		page(true, "a", act("b", "2026-11-25T10:20:00Z"), act("a", "2026-11-25T10:10:00Z")),
		page(false, "z", act("z", "2026-11-25T10:00:00Z")),
	}}
	got, w, err := walkAll(t, l)
	require.NoError(t, err)
	assert.Len(t, got, 5)
	assert.Equal(t, 3, w.Pages())
	require.Len(t, l.calls, 3)
	assert.Empty(t, l.calls[0].AfterID, "the first page has no cursor")
	assert.Equal(t, "c", l.calls[1].AfterID)
	assert.Equal(t, "a", l.calls[2].AfterID)
	for i, c := range l.calls {
		assert.Equal(t, params.CreatedAtGTE, c.CreatedAtGTE, "call %d", i)
		assert.Equal(t, params.CreatedAtLT, c.CreatedAtLT, "call %d", i)
		assert.Equal(t, params.ExcludeActivityTypes, c.ExcludeActivityTypes, "call %d resends filters", i)
		assert.Empty(t, c.BeforeID)
	}
}

func TestPagerAcceptsEmptyFinalPageWithNullIDs(t *testing.T) {
	l := &scripted{pages: []*api.Page{page(false, "")}}
	got, _, err := walkAll(t, l)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestPagerGuards(t *testing.T) {
	tests := []struct {
		name  string
		pages []*api.Page
		want  error
	}{
		{"has_more with a null cursor", []*api.Page{
			page(true, "", act("a", "2026-11-25T10:10:00Z")),
		}, pager.ErrNullCursor},
		{"has_more on an empty page with a null cursor", []*api.Page{page(true, "")}, pager.ErrNullCursor},
		{"cursor equal to the one just sent", []*api.Page{
			page(true, "a", act("a", "2026-11-25T10:10:00Z")),
			page(true, "a", act("b", "2026-11-25T10:09:00Z")),
		}, pager.ErrRepeatedCursor},
		{"cursor cycling back to an earlier one", []*api.Page{
			page(true, "a", act("a", "2026-11-25T10:10:00Z")),
			page(true, "b", act("b", "2026-11-25T10:09:00Z")),
			page(true, "a", act("c", "2026-11-25T10:08:00Z")),
		}, pager.ErrRepeatedCursor},
		{"activity at the exclusive upper bound", []*api.Page{
			page(false, "a", act("a", "2026-11-25T11:00:00Z")),
		}, pager.ErrOutOfRange},
		{"activity below the inclusive lower bound", []*api.Page{
			page(false, "a", act("a", "2026-11-25T09:59:59.999Z")),
		}, pager.ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &scripted{pages: tt.pages}
			_, w, err := walkAll(t, l)
			require.ErrorIs(t, err, tt.want)
			var g *pager.GuardError
			require.ErrorAs(t, err, &g)
			assert.Equal(t, len(tt.pages), g.Page)
			assert.NotEmpty(t, g.RequestID)
			_, err = w.Next(context.Background())
			assert.ErrorIs(t, err, io.EOF, "a walk ends after a guard trips")
		})
	}
}

func TestPagerAcceptsBoundaryInstants(t *testing.T) {
	l := &scripted{pages: []*api.Page{page(false, "a",
		act("b", "2026-11-25T10:59:59.999Z"), act("a", "2026-11-25T10:00:00Z"))}}
	got, _, err := walkAll(t, l)
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestPagerCountsOrderViolationsWithoutFailing(t *testing.T) {
	l := &scripted{pages: []*api.Page{page(false, "x",
		act("b", "2026-11-25T10:10:00Z"),
		act("c", "2026-11-25T10:10:00Z"), // same second, id goes up: tie order
		act("a", "2026-11-25T10:20:00Z"), // newer than the one before: order violation
	)}}
	_, w, err := walkAll(t, l)
	require.NoError(t, err)
	assert.Equal(t, 1, w.OrderViolations())
	assert.Equal(t, 1, w.TieOrderViolations())
}

func TestPagerWrapsRequestErrorsWithThePage(t *testing.T) {
	boom := errors.New("boom")
	l := &scripted{pages: []*api.Page{page(true, "a", act("a", "2026-11-25T10:10:00Z"))}, errs: []error{nil, boom}}
	_, _, err := walkAll(t, l)
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "page 2")
}

func TestPagerNeedsBounds(t *testing.T) {
	_, err := pager.New(&scripted{}, api.ListParams{CreatedAtLT: "2026-11-25T10:00:00Z"})
	assert.Error(t, err)
}
