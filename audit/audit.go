package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
)

// PageSize is the page size of the API walk: the largest the API accepts,
// so the walk costs as few requests as possible.
const PageSize = api.MaxLimit

// Window is the audited range of created_at, [From, To).
type Window struct {
	From, To time.Time
}

// Contains reports whether t lies in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

func (w Window) String() string {
	return "[" + w.From.UTC().Format(time.RFC3339Nano) + ", " + w.To.UTC().Format(time.RFC3339Nano) + ")"
}

// Loc locates a document for messages: a file, object, partition or index,
// and a line number when there is one.
type Loc struct {
	Where string
	Line  int
}

func (l Loc) String() string {
	if l.Line == 0 {
		return l.Where
	}
	return l.Where + ":" + strconv.Itoa(l.Line)
}

// Destination is where a pipeline delivered activities.
type Destination interface {
	// String names the destination in the report (never with secrets).
	String() string
	// Scan hands sink every document that may belong to the window (it may
	// hand more: the sink drops documents dated outside the window).
	Scan(ctx context.Context, w Window, sink *Sink) error
}

// Sink receives the documents of a destination. It is not safe for
// concurrent use: a Destination calls it from one goroutine.
type Sink struct {
	window   Window
	sorter   *Sorter
	counts   *Counts
	notes    *[]string
	examples int
	tick     func()
}

// maxExamples is how many unreadable documents are named in the notes.
const maxExamples = 5

// Add records one document's id. Its strings are cloned.
func (s *Sink) Add(r Record) error {
	s.counts.Documents++
	s.tick()
	if !r.CreatedAt.IsZero() && !s.window.Contains(r.CreatedAt) {
		s.counts.OutsideWindow++
		return nil
	}
	r.ID, r.Type = strings.Clone(r.ID), ""
	return s.sorter.Add(r)
}

// Doc extracts the id and created_at of a JSON document and adds them; a
// document without a readable id is counted as unreadable.
func (s *Sink) Doc(doc []byte, where Loc, fields Fields) error {
	return s.doc(doc, where, fields)
}

func (s *Sink) doc(doc []byte, where Loc, fields Fields) error {
	r, err := fields.Extract(doc)
	if err != nil {
		s.counts.Documents++
		s.Unreadable(where, err)
		return nil
	}
	return s.Add(r)
}

// Unreadable counts a document whose id cannot be read.
func (s *Sink) Unreadable(where Loc, err error) {
	s.counts.Unreadable++
	if s.examples < maxExamples {
		s.examples++
		s.Note(fmt.Sprintf("unreadable document at %s: %v", where, err))
	}
}

// CutShort counts a document a killed writer left incomplete.
func (s *Sink) CutShort(where Loc) {
	s.counts.CutShort++
	if s.examples < maxExamples {
		s.examples++
		s.Note(fmt.Sprintf("document cut short at %s (a writer was killed mid-write; its activity is normally written again in full)", where))
	}
}

// Note adds a line to the report's notes.
func (s *Sink) Note(msg string) { *s.notes = append(*s.notes, msg) }

// Expected is the API side of an audit.
type Expected struct {
	// Lister is the API client, configured as the pipeline's input.
	Lister pager.Lister
	// Filters are the input's filters (only the filter fields are used).
	Filters api.ListParams
}

// Plan is what the audit expects to cost, stated after the first page.
type Plan struct {
	// FirstPage is the number of activities on the first page, HasMore
	// whether more follow, Reached the created_at of its oldest activity.
	FirstPage int       `json:"first_page"`
	HasMore   bool      `json:"has_more"`
	Reached   time.Time `json:"reached,omitzero"`
	// Activities and Requests are estimates from the first page's density
	// (exact when it is the only page).
	Activities int64 `json:"estimated_activities"`
	Requests   int64 `json:"estimated_requests"`
	// RateLimit is the first response's rate-limit reading.
	RateLimit api.RateLimit `json:"-"`
}

// Progress is reported while an audit runs.
type Progress struct {
	// Stage is "api" or "destination".
	Stage string
	// Listed is the ids listed by the API so far, Requests the requests
	// made, Reached the created_at the walk reached (it runs newest first).
	Listed   int64
	Requests int
	Reached  time.Time
	// Documents is the destination documents read so far.
	Documents int64
}

// Options configure Run.
type Options struct {
	Window      Window
	API         Expected
	Destination Destination
	// TempDir holds the sorted runs ("" = os.TempDir()).
	TempDir string
	// SortBudget is the memory of each external sort (0 = DefaultSortBudget).
	SortBudget int
	// MaxRequests refuses to continue after the first page when the
	// estimate is larger (0 = no limit).
	MaxRequests int64
	// OnPlan is told the estimate after the first page; an error stops.
	OnPlan func(Plan) error
	// OnProgress is called at most every ProgressEvery.
	OnProgress    func(Progress)
	ProgressEvery time.Duration
	// Now is the clock of progress reports (nil = time.Now).
	Now func() time.Time
}

// ErrTooManyRequests is returned when the plan exceeds Options.MaxRequests.
var ErrTooManyRequests = errors.New("the audit would need more requests than allowed")

// Run audits the window. It returns a report (close it) or an error when
// the audit could not be made.
func Run(ctx context.Context, o Options) (*Report, error) {
	if !o.Window.From.Before(o.Window.To) {
		return nil, fmt.Errorf("empty window %s: --from must be before --to", o.Window)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rep := &Report{Window: o.Window, Destination: o.Destination.String(), Started: o.Now().UTC()}
	prog := &progress{o: o}

	expected := NewSorter(o.TempDir, o.SortBudget)
	defer expected.Close()
	rep.density = newDensity(o.Window)
	plan, requests, err := walk(ctx, o, expected, rep.density, prog)
	rep.Plan, rep.Requests = plan, requests
	if err != nil {
		return nil, err
	}
	if err := expected.Finish(); err != nil {
		return nil, err
	}

	present := NewSorter(o.TempDir, o.SortBudget)
	defer present.Close()
	var counts Counts
	sink := &Sink{window: o.Window, sorter: present, counts: &counts, notes: &rep.Notes,
		tick: func() { prog.report(Progress{Stage: "destination", Documents: counts.Documents}) }}
	if err := o.Destination.Scan(ctx, o.Window, sink); err != nil {
		return nil, fmt.Errorf("reading %s: %w", o.Destination, err)
	}
	if err := present.Finish(); err != nil {
		return nil, err
	}

	eIt, err := expected.Sorted()
	if err != nil {
		return nil, err
	}
	defer eIt.Close()
	pIt, err := present.Sorted()
	if err != nil {
		return nil, err
	}
	defer pIt.Close()
	c, err := compare(o.TempDir, eIt, pIt, counts)
	if err != nil {
		return nil, err
	}
	rep.set(c)
	rep.Duration = o.Now().Sub(rep.Started)
	return rep, nil
}

// walk lists the window's activities into s, newest first, in one
// after_id walk of PageSize pages.
func walk(ctx context.Context, o Options, s *Sorter, d *density, prog *progress) (Plan, int, error) {
	params := o.API.Filters
	params.CreatedAtGTE = o.Window.From.UTC().Format(time.RFC3339Nano)
	params.CreatedAtLT = o.Window.To.UTC().Format(time.RFC3339Nano)
	params.Limit = PageSize
	params.Order = ""
	w, err := pager.New(o.API.Lister, params)
	if err != nil {
		return Plan{}, 0, err
	}
	var plan Plan
	requests := 0
	var listed int64
	for {
		page, err := w.Next(ctx)
		if err == io.EOF {
			return plan, requests, nil
		}
		if err != nil {
			return plan, requests, fmt.Errorf("listing the window from the API: %w", err)
		}
		requests += page.Attempts
		var reached time.Time
		for _, a := range page.Activities {
			if err := s.Add(Record{ID: strings.Clone(a.ID), CreatedAt: a.CreatedAt.UTC(), Type: strings.Clone(a.Type)}); err != nil {
				return plan, requests, err
			}
			reached = a.CreatedAt
			d.add(a.CreatedAt)
		}
		listed += int64(len(page.Activities))
		if w.Pages() == 1 {
			plan = estimate(o.Window, page, reached)
			if o.MaxRequests > 0 && plan.Requests > o.MaxRequests {
				return plan, requests, fmt.Errorf("%w: about %d estimated, --max-requests is %d", ErrTooManyRequests, plan.Requests, o.MaxRequests)
			}
			if o.OnPlan != nil {
				if err := o.OnPlan(plan); err != nil {
					return plan, requests, err
				}
			}
		}
		prog.report(Progress{Stage: "api", Listed: listed, Requests: requests, Reached: reached})
	}
}

// estimate extrapolates the first page's density over the window.
func estimate(w Window, page *api.Page, reached time.Time) Plan {
	p := Plan{FirstPage: len(page.Activities), HasMore: page.HasMore, Reached: reached, RateLimit: page.RateLimit}
	if !page.HasMore {
		p.Activities, p.Requests = int64(p.FirstPage), 1
		return p
	}
	covered := w.To.Sub(reached)
	if covered < time.Second {
		covered = time.Second
	}
	p.Activities = int64(math.Ceil(float64(p.FirstPage) * float64(w.To.Sub(w.From)) / float64(covered)))
	p.Requests = max(2, (p.Activities+PageSize-1)/PageSize+1)
	return p
}

// progress rate-limits progress reports.
type progress struct {
	o    Options
	last time.Time
	n    int
}

func (p *progress) report(pr Progress) {
	if p.o.OnProgress == nil {
		return
	}
	// Reading the clock per document would cost more than the document.
	if pr.Stage == "destination" {
		if p.n++; p.n%4096 != 0 {
			return
		}
	}
	now := p.o.Now()
	if now.Sub(p.last) < p.o.ProgressEvery {
		return
	}
	p.last = now
	p.o.OnProgress(pr)
}
