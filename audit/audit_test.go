package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSorterSpillsRunsAndMergesThemInIDOrder(t *testing.T) {
	// A budget of a few records forces hundreds of runs, more than one merge
	// pass can open.
	s := audit.NewSorter(t.TempDir(), 300)
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var want []string
	for i := range 1000 {
		id := fmt.Sprintf("activity_%06d", rng.IntN(500)) // with repeats
		want = append(want, id)
		require.NoError(t, s.Add(audit.Record{ID: id, CreatedAt: t0.Add(time.Duration(i) * time.Second), Type: "x"}))
	}
	require.NoError(t, s.Finish())
	it, err := s.Sorted()
	require.NoError(t, err)
	defer it.Close()
	var got []string
	for {
		r, err := it.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, "x", r.Type)
		got = append(got, r.ID)
	}
	slices.Sort(want)
	assert.Equal(t, want, got)
}

// lister serves activities as one walk of pages, newest first.
type lister struct {
	acts     []api.Activity // newest first
	requests int
}

func (l *lister) ListActivities(_ context.Context, p api.ListParams) (*api.Page, error) {
	l.requests++
	start := 0
	if p.AfterID != "" {
		start = slices.IndexFunc(l.acts, func(a api.Activity) bool { return a.ID == p.AfterID }) + 1
	}
	end := min(start+p.Limit, len(l.acts))
	pg := &api.Page{Activities: l.acts[start:end], HasMore: end < len(l.acts), Attempts: 1}
	if end > start {
		pg.FirstID, pg.LastID = l.acts[start].ID, l.acts[end-1].ID
	}
	return pg, nil
}

func newLister(n int) *lister {
	l := &lister{}
	for i := n - 1; i >= 0; i-- {
		l.acts = append(l.acts, api.Activity{ID: fmt.Sprintf("activity_%05d", i), Type: "claude_chat_created", CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	return l
}

// docs is a destination of in-memory NDJSON.
type docs string

func (d docs) String() string { return "memory" }
func (d docs) Scan(_ context.Context, _ audit.Window, sink *audit.Sink) error {
	return audit.ReadNDJSON(strings.NewReader(string(d)), "memory", audit.Fields{}, sink)
}

func doc(i int) string {
	return fmt.Sprintf(`{"id":"activity_%05d","created_at":%q,"type":"claude_chat_created"}`, i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
}

func run(t *testing.T, l *lister, d audit.Destination, w audit.Window) *audit.Report {
	t.Helper()
	rep, err := audit.Run(context.Background(), audit.Options{Window: w, API: audit.Expected{Lister: l}, Destination: d, TempDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(rep.Close)
	return rep
}

func TestReportCountsEveryKindOfDifference(t *testing.T) {
	var b strings.Builder
	for i := range 20 {
		switch i {
		case 3, 17, 18, 19: // missing (18), or written below (19)
		case 5: // duplicated twice
			b.WriteString(doc(5) + "\n" + doc(5) + "\n" + doc(5) + "\n")
		default:
			b.WriteString(doc(i) + "\n")
		}
	}
	b.WriteString(doc(500) + "\n")                                                                              // outside the window
	b.WriteString(`{"id":"activity_x","created_at":"` + t0.Add(time.Second).Format(time.RFC3339) + `"}` + "\n") // unexpected
	b.WriteString(`{"no_id":true}` + "\n" + "not json\n" + "\n")
	b.WriteString(`{"id":"activity_00018","crea` + doc(19) + "\n") // cut short, then the next document
	rep := run(t, newLister(20), docs(b.String()), audit.Window{From: t0, To: t0.Add(100 * time.Second)})

	c := rep.Counts
	assert.EqualValues(t, 20, c.Expected)
	assert.EqualValues(t, 17, c.Present, "18 is only in a cut document")
	assert.EqualValues(t, 3, c.Missing)
	assert.EqualValues(t, 1, c.Duplicated)
	assert.EqualValues(t, 2, c.DuplicateCopies)
	assert.EqualValues(t, 1, c.Unexpected)
	assert.EqualValues(t, 1, c.OutsideWindow)
	assert.EqualValues(t, 2, c.Unreadable)
	assert.EqualValues(t, 1, c.CutShort)
	assert.False(t, rep.Complete())
	assert.Equal(t, "activity_00003", rep.OldestMissing.ID)
	assert.Equal(t, "activity_00018", rep.NewestMissing.ID)
	assert.Equal(t, t0.Add(18*time.Second).Format(time.RFC3339Nano), rep.NewestMissing.CreatedAt)

	var out struct {
		Complete   bool          `json:"complete"`
		Missing    []audit.Entry `json:"missing"`
		Duplicated []audit.Entry `json:"duplicated"`
		Unexpected []audit.Entry `json:"unexpected"`
	}
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out), buf.String())
	assert.False(t, out.Complete)
	assert.Equal(t, []audit.Entry{
		{ID: "activity_00003", CreatedAt: t0.Add(3 * time.Second).Format(time.RFC3339Nano), Type: "claude_chat_created"},
		{ID: "activity_00017", CreatedAt: t0.Add(17 * time.Second).Format(time.RFC3339Nano), Type: "claude_chat_created"},
		{ID: "activity_00018", CreatedAt: t0.Add(18 * time.Second).Format(time.RFC3339Nano), Type: "claude_chat_created"},
	}, out.Missing)
	assert.Equal(t, []audit.Entry{{ID: "activity_00005", CreatedAt: t0.Add(5 * time.Second).Format(time.RFC3339Nano), Type: "claude_chat_created", Copies: 3}}, out.Duplicated)
	assert.Equal(t, "activity_x", out.Unexpected[0].ID)

	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text, 10))
	assert.Contains(t, text.String(), "GAPS: 3 of 20 activities are missing")
	assert.Contains(t, text.String(), "oldest missing  "+t0.Add(3*time.Second).Format(time.RFC3339)+"  claude_chat_created  activity_00003")
}

func TestCompleteDestinationWithManyPages(t *testing.T) {
	var b strings.Builder
	for i := range 12000 {
		b.WriteString(doc(i) + "\n")
	}
	l := newLister(12000)
	rep := run(t, l, docs(b.String()), audit.Window{From: t0, To: t0.Add(24 * time.Hour)})
	assert.True(t, rep.Complete())
	assert.EqualValues(t, 12000, rep.Counts.Present)
	assert.Equal(t, 3, l.requests, "pages of 5000")
	assert.Equal(t, 3, rep.Requests)
	assert.True(t, rep.Plan.HasMore)
	assert.EqualValues(t, 5000, rep.Plan.FirstPage)
}

func TestPlanOverMaxRequestsStopsAfterTheFirstPage(t *testing.T) {
	l := newLister(12000)
	_, err := audit.Run(context.Background(), audit.Options{
		Window: audit.Window{From: t0, To: t0.Add(24 * time.Hour)}, API: audit.Expected{Lister: l},
		Destination: docs(""), TempDir: t.TempDir(), MaxRequests: 2,
	})
	require.ErrorIs(t, err, audit.ErrTooManyRequests)
	assert.Equal(t, 1, l.requests)
}

func TestUndatedIDsAreNotCountedUnexpected(t *testing.T) {
	d := destFunc(func(sink *audit.Sink) error {
		require.NoError(t, sink.Add(audit.Record{ID: "activity_00001"})) // a Kafka key without a header
		require.NoError(t, sink.Add(audit.Record{ID: "activity_from_another_window"}))
		return nil
	})
	rep := run(t, newLister(2), d, audit.Window{From: t0, To: t0.Add(time.Hour)})
	assert.EqualValues(t, 1, rep.Counts.Present)
	assert.EqualValues(t, 1, rep.Counts.Missing)
	assert.EqualValues(t, 0, rep.Counts.Unexpected)
	assert.EqualValues(t, 1, rep.Counts.Undated)
}

type destFunc func(*audit.Sink) error

func (destFunc) String() string                                                { return "func" }
func (f destFunc) Scan(_ context.Context, _ audit.Window, s *audit.Sink) error { return f(s) }

func TestFieldsReadRawECSAndOCSFDocuments(t *testing.T) {
	at := "2026-03-01T12:00:00Z"
	want := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		fields audit.Fields
		doc    string
	}{
		{"raw activity", audit.Fields{}, `{"id":"activity_1","created_at":"` + at + `","actor":{"id":"nope"}}`},
		{"ECS", audit.Fields{}, `{"@timestamp":"` + at + `","event":{"id":"activity_1","action":"x"}}`},
		{"OCSF", audit.Fields{}, `{"time":1772366400000,"metadata":{"uid":"activity_1","original_time":"` + at + `"}}`},
		{"custom paths, epoch millis", audit.Fields{ID: "a.b", Time: "t"}, `{"a":{"b":"activity_1"},"t":1772366400000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.fields.Extract([]byte(tt.doc))
			require.NoError(t, err)
			assert.Equal(t, "activity_1", r.ID)
			assert.Equal(t, want, r.CreatedAt)
		})
	}
	_, err := audit.Fields{}.Extract([]byte(`{"x":1}`))
	assert.ErrorIs(t, err, audit.ErrNoID)
}

// What a repair needs from the report: the missing ids, one per line, and how
// many activities a walk of the range they span returns (its cost).
func TestReportListsTheMissingIDsAndEstimatesTheActivitiesOfARange(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		if i%500 != 7 {
			b.WriteString(doc(i) + "\n")
		}
	}
	w := audit.Window{From: t0, To: t0.Add(3000 * time.Second)}
	rep := run(t, newLister(3000), docs(b.String()), w)

	var ids bytes.Buffer
	n, err := rep.WriteMissingIDs(&ids)
	require.NoError(t, err)
	assert.EqualValues(t, 6, n)
	assert.Equal(t, "activity_00007\nactivity_00507\nactivity_01007\nactivity_01507\nactivity_02007\nactivity_02507\n", ids.String())

	assert.EqualValues(t, 3000, rep.ListedBetween(w.From, w.To))
	got := rep.ListedBetween(t0.Add(507*time.Second), t0.Add(2508*time.Second))
	assert.GreaterOrEqual(t, got, int64(2001), "never below the exact count")
	assert.LessOrEqual(t, got, int64(2001+2*3), "at most a bucket (3 s here) over at each end")
	assert.Zero(t, rep.ListedBetween(t0.Add(-time.Hour), t0))
}
