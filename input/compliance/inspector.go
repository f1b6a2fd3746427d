package compliance

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// The job inspector is a read-only HTML page on the Benthos HTTP server that
// shows what every anthropic_compliance input of the process is doing:
// readiness, checkpoint, the job in progress, the recent job reports, the
// rate budget and late catches, with a chart of the history. It never shows
// the API key nor anything of an activity but ids.
//
// Where it lives. Benthos mounts a path with its own router (gorilla/mux)
// unless a stream builder supplies one (SetHTTPMux, usually a net/http
// ServeMux). A path ending in "/" is a prefix route on the gorilla router,
// which answers with the first route that matches in registration order: a
// "/compliance/" index registered by one input would answer every later
// input's /compliance/<label>/jobs and /state. Registering one path twice
// replaces the handler on the gorilla router and panics on a ServeMux. So the
// index is the exact path /compliance (also /benthos/compliance, Benthos's
// root_path), mounted once per Benthos manager by the first input built; every
// input, the first included, joins a registry kept in the manager's generic
// store and leaves it on Close, so that a config reload (same manager, new
// inputs) lists the new inputs and not the closed ones.
const inspectorPath = "/compliance"

const (
	inspectorDefaultRefresh = 10 * time.Second
	inspectorMaxRefresh     = time.Hour
	inspectorMinRefresh     = 2 * time.Second
	inspectorJobRows        = 50   // history rows shown per endpoint (all are in /jobs)
	inspectorChartJobs      = 60   // jobs in the chart
	inspectorMaxText        = 4000 // longest error or reason text shown
	inspectorStoreTimeout   = 3 * time.Second
)

//go:embed inspector.html
var inspectorHTML string

var inspectorTemplate = template.Must(template.New("inspector").Parse(inspectorHTML))

// inspectorRegistryKey is the key of the registry in a manager's generic store.
type inspectorRegistryKey struct{}

// inspectorRegistry lists the inputs built on one Benthos manager.
type inspectorRegistry struct {
	mu     sync.Mutex
	inputs []*input
}

// registerInspector adds the input to its manager's inspector page, mounting
// the page if this is the manager's first input.
func (in *input) registerInspector() {
	v, loaded := in.mgr.GetOrSetGeneric(inspectorRegistryKey{}, &inspectorRegistry{})
	reg, ok := v.(*inspectorRegistry)
	if !ok {
		return
	}
	reg.mu.Lock()
	reg.inputs = append(reg.inputs, in)
	reg.mu.Unlock()
	if loaded {
		return
	}
	if !registerEndpoint(in.mgr, inspectorPath, "The anthropic_compliance job inspector: a read-only HTML page of every input's state and recent jobs.", reg.serveHTTP) {
		in.log.Warn("could not mount the job inspector page (" + inspectorPath + ") on this Benthos build")
	}
}

// leaveInspector removes the input from its manager's inspector page.
func (in *input) leaveInspector() {
	v, ok := in.mgr.GetGeneric(inspectorRegistryKey{})
	if !ok {
		return
	}
	reg, ok := v.(*inspectorRegistry)
	if !ok {
		return
	}
	reg.mu.Lock()
	reg.inputs = slices.DeleteFunc(reg.inputs, func(x *input) bool { return x == in })
	reg.mu.Unlock()
}

func (reg *inspectorRegistry) list() []*input {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	out := slices.Clone(reg.inputs)
	slices.SortStableFunc(out, func(a, b *input) int { return cmp.Compare(a.mgr.Label(), b.mgr.Label()) })
	return out
}

func (reg *inspectorRegistry) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the job inspector is read only: use GET", http.StatusMethodNotAllowed)
		return
	}
	page := inspectorPage{Refresh: refreshSeconds(r.URL.Query().Get("refresh"))}
	inputs := reg.list()
	for i, in := range inputs {
		now := in.opts.now()
		if i == 0 {
			page.Now = fmtTime(now)
		}
		page.Inputs = append(page.Inputs, in.inspectorSection(r.Context(), now, i))
	}
	var buf bytes.Buffer
	if err := inspectorTemplate.Execute(&buf, page); err != nil {
		http.Error(w, "rendering the job inspector failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The page runs no script and loads nothing: a value that escaped the
	// template's escaping still could not run or fetch anything.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.Bytes())
	}
}

// refreshSeconds reads ?refresh=<seconds> (0 turns refreshing off).
func refreshSeconds(q string) int {
	if q == "" {
		return int(inspectorDefaultRefresh / time.Second)
	}
	n, err := strconv.Atoi(q)
	switch {
	case err != nil || n < 0:
		return int(inspectorDefaultRefresh / time.Second)
	case n == 0:
		return 0
	}
	return int(min(max(time.Duration(n)*time.Second, inspectorMinRefresh), inspectorMaxRefresh) / time.Second)
}

//------------------------------------------------------------------------------

// inspectorPage is what the template renders. Every string is plain text:
// html/template escapes it for where it lands.
type inspectorPage struct {
	Now     string
	Refresh int
	Inputs  []inputSection
}

type inputSection struct {
	Label     string
	Anchor    string
	JobsLink  string // relative to the page
	Ready     bool
	Budget    budgetSection
	Endpoints []endpointSection
}

type budgetSection struct {
	Known          bool
	Remaining      int
	Limit          int
	Reset          string
	SeenAt         string
	Headroom       string
	Pauses         int
	Paused         string
	LastPause      string
	LastPauseAt    string
	LastPauseWhy   string
	RemainingShare string // percent, for the meter
}

type endpointSection struct {
	Name          string
	Schedule      string
	Mode          string
	Ready         bool
	Reason        string
	Lease         string
	Checkpoint    checkpointSection
	Running       *runningSection
	Outstanding   int
	HeldBatches   int
	OpenSlices    int
	OldestUnacked string
	LastSuccess   string
	ClockSkew     string
	Late          lateSection
	Jobs          []jobRow
	JobsTotal     int
	HistoryTTL    string
	Chart         *chartSection
}

type checkpointSection struct {
	Tracked    bool
	Note       string // a checkpoint that is not a feed record (snapshot endpoints)
	Where      string
	Missing    bool
	Err        string
	ScannedTo  string
	Lag        string
	LagSeconds string
	Seen       int
	Pending    int
	Rev        int64
	UpdatedAt  string
	Floor      string
	Until      string
	LastCommit string
	HasRecord  bool
}

type runningSection struct {
	JobID      string
	Tick       string
	Started    string
	Elapsed    string
	Slice      string
	SlicePage  int
	Pages      int
	Activities int
	Duplicates int
	Rate       string
	Progress   string
	RequestID  string
}

type lateSection struct {
	Count   int
	Deepest string
	Overlap string
	Share   string // deepest as a percentage of overlap
	Warn    bool   // deeper than half of overlap
	InJobs  int    // late catches in the kept job reports
}

type jobRow struct {
	JobID           string
	Outcome         string
	OutcomeClass    string
	Tick            string
	Start           string
	From            string
	To              string
	Slices          int
	SlicesCommitted int
	Pages           int
	Emitted         int
	Duplicates      int
	Late            int
	Outstanding     int
	Duration        string
	DurationSeconds string
	ScannedTo       string
	Lag             string
	LagSeconds      string
	RequestID       string
	Error           string
}

// inspectorSection collects what the page shows of one input at now.
func (in *input) inspectorSection(ctx context.Context, now time.Time, index int) inputSection {
	label := in.mgr.Label()
	if label == "" {
		label = "default"
	}
	sec := inputSection{
		Label:    label,
		Anchor:   "input-" + strconv.Itoa(index+1),
		JobsLink: "compliance/" + label + "/jobs",
		Budget:   in.budgetSection(),
	}
	sec.Ready = in.health() == nil // the reasons are the endpoints'
	history := in.history.list()
	for _, r := range in.runners {
		var jobs []collector.Report
		for _, rep := range history {
			if rep.Endpoint == r.name {
				jobs = append(jobs, rep)
			}
		}
		sec.Endpoints = append(sec.Endpoints, in.endpointSection(ctx, now, r, jobs))
	}
	return sec
}

func (in *input) budgetSection() budgetSection {
	v := in.budget.view()
	b := budgetSection{
		Known: v.last.Known, Remaining: v.last.Remaining, Limit: v.last.Limit,
		Reset: fmtTime(v.last.Reset), SeenAt: fmtTime(v.seenAt),
		Headroom: strconv.FormatFloat(100*in.cfg.API.Budget.Headroom, 'f', -1, 64) + "%",
		Pauses:   v.pauses, Paused: fmtDur(v.paused),
	}
	if v.last.Known && v.last.Limit > 0 {
		b.RemainingShare = strconv.FormatFloat(100*float64(v.last.Remaining)/float64(v.last.Limit), 'f', 0, 64)
	}
	if v.pauses > 0 {
		b.LastPause, b.LastPauseAt, b.LastPauseWhy = fmtDur(v.lastPause.Wait), fmtTime(v.pausedAt), in.clean(v.lastPause.Reason)
	}
	return b
}

// endpointSection collects one endpoint; jobs are its reports, newest first.
func (in *input) endpointSection(ctx context.Context, now time.Time, r *endpointRunner, jobs []collector.Report) endpointSection {
	v := r.inspect()
	s := endpointSection{
		Name:          r.name,
		Schedule:      r.runner.Spec.String(),
		Mode:          r.mode(),
		Outstanding:   v.live.outstanding,
		HeldBatches:   r.job.HeldBatches(),
		OpenSlices:    v.live.openSlices,
		OldestUnacked: fmtAge(now, v.oldestUnacked),
		LastSuccess:   fmtTime(v.lastSuccess),
		JobsTotal:     len(jobs),
		HistoryTTL:    fmtDur(in.cfg.JobHistoryTTL),
	}
	if v.live.skewKnown {
		s.ClockSkew = fmtDur(v.live.clockSkew)
	}
	if err := r.health(now); err != nil {
		s.Reason = in.clean(err.Error())
	} else {
		s.Ready = true
	}
	if r.lease != nil {
		if r.lease.Held() {
			s.Lease = "holds the collection lease"
		} else {
			s.Lease = "standing by: another instance holds the collection lease"
		}
	}
	s.Checkpoint = in.checkpointSection(ctx, now, r, v)
	if v.live.running {
		s.Running = in.runningSection(now, v.live)
	}
	s.Late = lateSection{
		Count: v.live.lateCatches, Deepest: fmtDur(v.live.lateDeepest), Overlap: fmtDur(in.cfg.Overlap),
	}
	if in.cfg.Overlap > 0 {
		share := float64(v.live.lateDeepest) / float64(in.cfg.Overlap)
		s.Late.Share = strconv.FormatFloat(100*share, 'f', 0, 64) + "%"
		s.Late.Warn = share > 0.5
	}
	for i, rep := range jobs {
		s.Late.InJobs += rep.LateCatches
		if i < inspectorJobRows {
			s.Jobs = append(s.Jobs, in.jobRow(rep))
		}
	}
	s.Chart = newChart(jobs)
	return s
}

func (r *endpointRunner) mode() string {
	parts := []string{"scheduled"}
	if r.once {
		parts[0] = "once (backfill)"
	}
	if r.kind.family == familySnapshot {
		parts = append(parts, "snapshot (emit: "+r.emit+")")
	}
	if r.tracking {
		parts = append(parts, "state tracking on")
	} else {
		parts = append(parts, "state tracking off")
	}
	if r.lease != nil {
		parts = append(parts, "HA lease")
	}
	return strings.Join(parts, ", ")
}

func (in *input) checkpointSection(ctx context.Context, now time.Time, r *endpointRunner, v runnerView) checkpointSection {
	c := checkpointSection{LastCommit: fmtAge(now, v.lastCommit)}
	scanned := v.scannedTo // untracked: as this process last moved it
	if r.tracking && r.target == nil {
		// A snapshot endpoint: its checkpoint records runs, not a window.
		c.Note = "a snapshot's checkpoint: the last complete run and its per-record hashes (no window, no scanned_to)"
		c.Where = in.clean(r.where)
		return c
	}
	if r.target != nil {
		c.Tracked = true
		c.Where = in.clean(r.target.Where())
		ctx, cancel := context.WithTimeout(ctx, inspectorStoreTimeout)
		rec, err := r.target.Show(ctx)
		cancel()
		switch {
		case errors.Is(err, ErrNoCheckpoint):
			c.Missing = true
		case err != nil:
			c.Err = in.clean(err.Error())
		default:
			c.HasRecord = true
			c.Seen, c.Pending, c.Rev = rec.Seen.Len(), len(rec.Pending), rec.Rev
			c.UpdatedAt, c.Floor, c.Until = recordTime(rec.UpdatedAt), recordTime(rec.Floor), recordTime(rec.Until)
			scanned = rec.ScannedTo
		}
	}
	if !scanned.IsZero() {
		c.ScannedTo = fmtTime(scanned)
		c.Lag = fmtDur(now.Sub(scanned))
		c.LagSeconds = fmtSeconds(now.Sub(scanned))
	}
	return c
}

func (in *input) runningSection(now time.Time, l liveJob) *runningSection {
	s := &runningSection{
		JobID: l.jobID, Tick: fmtTime(l.tick), Started: fmtTime(l.started), Elapsed: fmtDur(now.Sub(l.started)),
		Slice: in.clean(l.slice), SlicePage: l.slicePage, Pages: l.pages, Activities: l.emitted,
		Duplicates: l.duplicates, RequestID: in.clean(l.requestID),
		Progress: strconv.FormatFloat(100*l.progress, 'f', 0, 64) + "%",
	}
	if !l.jobStart.IsZero() {
		if d := now.Sub(l.jobStart).Seconds(); d > 0 {
			s.Rate = strconv.FormatFloat(float64(l.emitted)/d, 'f', 1, 64)
		}
	}
	return s
}

func (in *input) jobRow(rep collector.Report) jobRow {
	row := jobRow{
		JobID: in.clean(rep.JobID), Outcome: in.clean(rep.Outcome), OutcomeClass: outcomeClass(rep.Outcome),
		Tick: fmtTime(rep.Tick), Start: fmtTime(rep.Start), From: in.clean(rep.From), To: in.clean(rep.To),
		Slices: rep.Slices, SlicesCommitted: rep.SlicesCommitted, Pages: rep.Pages, Emitted: rep.Emitted,
		Duplicates: rep.Duplicates, Late: rep.LateCatches, Outstanding: rep.Outstanding,
		Duration: fmtDur(rep.Duration()), DurationSeconds: strconv.FormatFloat(rep.DurationSeconds, 'f', -1, 64),
		ScannedTo: in.clean(rep.ScannedTo), RequestID: in.clean(rep.FinalRequestID), Error: in.clean(rep.Error),
	}
	if lag, ok := jobLag(rep); ok {
		row.Lag, row.LagSeconds = fmtDur(lag), fmtSeconds(lag)
	}
	return row
}

// jobLag is the collection lag when the job ended: end - scanned_to.
func jobLag(rep collector.Report) (time.Duration, bool) {
	if rep.ScannedToTime.IsZero() || rep.Outcome == collector.OutcomeStandby {
		return 0, false
	}
	return rep.End.Sub(rep.ScannedToTime), true
}

func outcomeClass(outcome string) string {
	switch outcome {
	case collector.OutcomeSuccess:
		return "ok"
	case collector.OutcomeEmpty, collector.OutcomeStandby:
		return "idle"
	case collector.OutcomeAwaitingAcks, collector.OutcomeStopped:
		return "warn"
	default:
		return "bad"
	}
}

// clean makes a text from outside (the API's error messages, request-ids,
// store errors) fit to show: the API key is cut out wherever it appears, and
// a very long text is shortened. Escaping is the template's job.
func (in *input) clean(s string) string {
	if k := in.cfg.APIKey; len(k) >= 8 {
		s = strings.ReplaceAll(s, k, "[api key redacted]")
	}
	if len(s) > inspectorMaxText {
		s = strings.ToValidUTF8(s[:inspectorMaxText], "") + " [… shortened]"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// fmtDur shows milliseconds below a minute and whole seconds above.
func fmtDur(d time.Duration) string {
	if d < time.Minute && d > -time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func fmtSeconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// fmtAge is how long ago t was at now, or "" when t is zero.
func fmtAge(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtDur(now.Sub(t))
}

// recordTime renders a checkpoint time for the page ("" when unset).
func recordTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return window.Format(t)
}
