package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// This file holds the endpoint's optional reconciliation job (see
// DESIGN-reconcile.md for why it works this way).

// KindReconcile is the Report.Kind of reconciliation jobs.
const KindReconcile = "reconcile"

// ReconcileConfig is what a reconciliation job adds to its endpoint's Config.
type ReconcileConfig struct {
	// Lookback is the length of created_at each job walks, ending Settle
	// before its tick: [tick - settle - lookback, tick - settle).
	Lookback time.Duration
	Settle   time.Duration
	// JobTimeout bounds one job (0: unlimited): it stops fetching, then
	// drains like a regular job.
	JobTimeout time.Duration
}

// ReconcileDeps are a Reconciler's collaborators.
type ReconcileDeps struct {
	// Lister is the endpoint's API client (one rate budget).
	Lister pager.Lister
	// Checkpoint reads the endpoint's checkpoint; (nil, nil) when there is
	// none (never written, or deleted by an operator).
	Checkpoint func(ctx context.Context) (*checkpoint.Head, error)
	Ledger     DeliveredLedger
	// Regular is the endpoint's collector: while its batches are held by
	// the pipeline (an output outage), reconciliation waits too.
	Regular *Collector
	Clock   Clock
	Log     Logger
	OnPage  func(PageInfo)
	// Out is where batches are handed out (the input's shared channel).
	Out chan Batch
}

// Reconciler runs the reconciliation jobs of one endpoint, one at a time: each
// walks a past window again and emits only the activities the record of
// delivered ids does not hold (found late: indexed after the regular jobs
// scanned their range). It reads the checkpoint but never writes it, and
// walks only below the checkpoint's seen_from, which regular jobs never read
// again: the two never emit the same activity and may run at the same time.
type Reconciler struct {
	cfg  Config
	rcfg ReconcileConfig
	deps ReconcileDeps

	// Owned by the job goroutine (RunJob is never called concurrently).
	jobSeq     int
	serverDate time.Time
	localAtSrv time.Time

	orphans orphans
}

// NewReconciler checks the configs and returns a reconciler.
func NewReconciler(cfg Config, rcfg ReconcileConfig, deps ReconcileDeps) (*Reconciler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var errs []error
	if !cfg.StateTracking || cfg.Once {
		errs = append(errs, errors.New("reconciliation needs state tracking and a schedule other than once"))
	}
	if rcfg.Lookback < time.Second || rcfg.Lookback%time.Second != 0 {
		errs = append(errs, fmt.Errorf("reconcile lookback must be whole seconds, at least 1s, got %v", rcfg.Lookback))
	}
	if rcfg.Settle < 0 || rcfg.Settle%time.Second != 0 {
		errs = append(errs, fmt.Errorf("reconcile settle must be whole, non-negative seconds, got %v", rcfg.Settle))
	}
	if deps.Lister == nil || deps.Clock == nil || deps.Checkpoint == nil || deps.Ledger == nil || deps.Out == nil {
		errs = append(errs, errors.New("a reconciler needs a lister, a clock, the checkpoint, the record of delivered ids and an output channel"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = nopLogger{}
	}
	if cfg.DrainGrace <= 0 {
		cfg.DrainGrace = 30 * time.Second
	}
	if cfg.AckWarnAfter <= 0 {
		cfg.AckWarnAfter = time.Minute
	}
	cfg.JobTimeout = rcfg.JobTimeout
	return &Reconciler{cfg: cfg, rcfg: rcfg, deps: deps}, nil
}

// HeldBatches is the number of batches of ended reconciliation jobs the
// pipeline still holds.
func (r *Reconciler) HeldBatches() int { return r.orphans.outstanding() }

// now is the local clock clamped to the API's (see Collector.now).
func (r *Reconciler) now() time.Time {
	local := r.deps.Clock.Now()
	if r.serverDate.IsZero() {
		return local
	}
	if server := r.serverDate.Add(local.Sub(r.localAtSrv)); server.Before(local) {
		return server
	}
	return local
}

func (r *Reconciler) observeServerDate(d time.Time) {
	if !d.IsZero() {
		r.serverDate, r.localAtSrv = d, r.deps.Clock.Now()
	}
}

type rslice struct {
	rng      window.Range
	from, to string
	bucket   *checkpoint.Bucket  // what was recorded in the slice's bucket when it opened
	emitted  map[string]struct{} // ids this walk emitted (the API may return one twice)

	outstanding int
	sealed      bool
	failed      bool
}

type rackEvent struct {
	s   *rslice
	ids []idAt
	err error
}

type rjob struct {
	r     *Reconciler
	id    string
	tick  time.Time
	now   time.Time // the API's clock when the window was computed
	state map[string]any
	rng   window.Range
	open  []*rslice

	unrecorded checkpoint.IDSet // acked, not yet in the record
	uncovered  []window.Range
	notes      map[string]bool

	acks  chan rackEvent
	ackMu sync.Mutex
	over  bool
	ended chan struct{}

	soft       <-chan struct{}
	deadline   chan struct{}
	deadlineAt time.Time
	fetchCtx   context.Context
	ctx        context.Context
	fetchDone  bool
	failure    error
	rep        Report
}

// RunJob runs one reconciliation job for tick (zero: now) to its end, like
// Collector.RunJob: soft closing stops fetching and drains, ctx ending is a
// hard stop after which nothing is written.
func (r *Reconciler) RunJob(ctx context.Context, tick time.Time, soft <-chan struct{}) (Report, error) {
	r.jobSeq++
	clock := r.deps.Clock
	start := clock.Now()
	if tick.IsZero() {
		tick = start
	}
	j := &rjob{
		r: r, id: fmt.Sprintf("%s-reconcile-%s-%d", r.cfg.Endpoint, start.UTC().Format("20060102T150405Z"), r.jobSeq),
		tick: tick, acks: make(chan rackEvent, 64), ended: make(chan struct{}), deadline: make(chan struct{}),
		soft: soft, ctx: ctx, unrecorded: checkpoint.IDSet{}, notes: map[string]bool{},
	}
	j.rep = Report{JobID: j.id, Kind: KindReconcile, Endpoint: r.cfg.Endpoint, Start: start, Tick: tick}
	defer j.fence()

	if n := r.orphans.outstanding(); n > 0 {
		return j.awaitingAcks(n, "an earlier reconciliation job")
	}
	if r.deps.Regular != nil {
		if n := r.deps.Regular.HeldBatches(); n > 0 {
			return j.awaitingAcks(n, "the regular jobs")
		}
	}
	if r.cfg.JobTimeout > 0 {
		j.deadlineAt = start.Add(r.cfg.JobTimeout)
		timer := clock.NewTimer(r.cfg.JobTimeout)
		go func() {
			select {
			case <-timer.C():
				close(j.deadline)
			case <-j.ended:
				timer.Stop()
			}
		}()
	}
	fetchCtx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	j.fetchCtx = fetchCtx
	go func() {
		select {
		case <-soft:
		case <-j.deadline:
		case <-j.ended:
		}
		cancelFetch()
	}()

	if err := j.prepare(ctx); err != nil {
		j.failure = err
		return j.finish(ctx)
	}
	j.rep.From, j.rep.To = window.Format(j.rng.From), window.Format(j.rng.To)
	if j.rng.Empty() {
		return j.finish(ctx)
	}
	j.collect(ctx)
	j.drain(ctx)
	return j.finish(ctx)
}

func (j *rjob) awaitingAcks(n int, whose string) (Report, error) {
	r := j.r
	r.deps.Log.Warnf("reconciliation job %s skipped: %d batches of %s are still held by the pipeline, not yet acknowledged "+
		"(likely an output outage); the next reconciliation runs once they are", j.id, n, whose)
	j.rep.Outstanding = n
	j.rep.Outcome = OutcomeAwaitingAcks
	j.rep.End = r.deps.Clock.Now()
	j.rep.DurationSeconds = j.rep.End.Sub(j.rep.Start).Seconds()
	return j.rep, nil
}

// prepare records what earlier jobs' batches delivered late, reads the
// checkpoint and computes the window:
//
//	to   = min(tick - settle, seen_from)
//	from = max(tick - settle - lookback, floor)
//
// seen_from (scanned_to - overlap) is where regular jobs start reading: the
// window stays below it, so the two never walk the same range.
func (j *rjob) prepare(ctx context.Context) error {
	r := j.r
	if r.serverDate.IsZero() {
		params := api.ListParams{Limit: 1}
		r.cfg.Filters.apply(&params)
		page, err := r.deps.Lister.ListActivities(j.fetchCtx, params)
		if err != nil {
			return fmt.Errorf("reading the API's clock: %w", err)
		}
		r.observeServerDate(page.ServerDate)
	}
	j.now = r.now()
	if late := r.orphans.take(); len(late) > 0 {
		if _, err := r.deps.Ledger.Record(ctx, late, nil, j.now); err != nil {
			r.orphans.restore(late)
			return fmt.Errorf("recording %d activities acknowledged after their reconciliation job ended: %w", len(late), err)
		}
		r.deps.Log.Infof("reconciliation job %s: recorded %d activities acknowledged after their job ended; they are not emitted again", j.id, len(late))
	}
	head, err := r.deps.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	if head == nil {
		r.deps.Log.Infof("reconciliation job %s: no checkpoint yet, nothing to reconcile", j.id)
		return nil
	}
	if want := r.cfg.Identity(); head.Identity != want && !r.cfg.Adopt {
		return fmt.Errorf("the checkpoint belongs to another collector (stored identity %+v, this config %+v): the regular jobs refuse it too, see their error", head.Identity, want)
	}
	j.state = head.State
	end := j.tick
	if j.now.Before(end) {
		end = j.now
	}
	end = end.Add(-r.rcfg.Settle).UTC().Truncate(time.Second)
	bound := head.SeenFrom
	if bound.IsZero() {
		bound = head.ScannedTo.Add(-r.cfg.Overlap)
	}
	to := end
	if bound.Before(to) {
		to = bound.UTC().Truncate(time.Second)
	}
	from := end.Add(-r.rcfg.Lookback)
	if head.Floor.After(from) {
		from = head.Floor.UTC().Truncate(time.Second)
	}
	j.rng = window.Range{From: from, To: to}
	if to.Before(end) && !j.rng.Empty() {
		r.deps.Log.Debugf("reconciliation job %s: window ends at the checkpoint's seen_from %s, not at %s (the regular jobs still read what lies above)",
			j.id, window.Format(to), window.Format(end))
	}
	return nil
}

func (j *rjob) stopped() bool { return j.failure != nil || j.fetchCtx.Err() != nil }

func (j *rjob) fail(err error) {
	if j.failure == nil {
		j.failure = err
	}
}

func (j *rjob) timedOut() bool {
	select {
	case <-j.deadline:
		return true
	default:
		return false
	}
}

func (j *rjob) closing() bool {
	select {
	case <-j.soft:
		return true
	default:
		return false
	}
}

// collect walks the window bucket by bucket of the record, oldest first,
// each covered part of a bucket as one slice, with at most MaxOpenSlices
// slices walked but not fully acknowledged.
func (j *rjob) collect(ctx context.Context) {
	r := j.r
	length := r.deps.Ledger.BucketLength()
	l := int64(length / time.Second) // bucket bounds are multiples of the length since the Unix epoch
	first := time.Unix(j.rng.From.Unix()/l*l, 0).UTC()
	for b := first; b.Before(j.rng.To); b = b.Add(length) {
		part := window.Range{From: latest(b, j.rng.From), To: earliest(b.Add(length), j.rng.To)}
		if j.stopped() {
			return
		}
		bucket, err := r.deps.Ledger.Load(ctx, part.From, j.now)
		if err != nil {
			j.fail(fmt.Errorf("reading the record of delivered ids for %s: %w", part, err))
			return
		}
		spans := bucket.CoveredWithin(part.From, part.To)
		j.noteUncovered(part, spans, bucket)
		for _, sp := range spans {
			j.waitForRoom(ctx)
			if j.stopped() {
				return
			}
			s := &rslice{rng: window.Range{From: sp.From, To: sp.To}, from: window.Format(sp.From), to: window.Format(sp.To),
				bucket: bucket, emitted: map[string]struct{}{}}
			j.open = append(j.open, s)
			j.rep.Slices++
			sealed, err := j.walk(ctx, s)
			if err != nil {
				j.fail(fmt.Errorf("reconciling slice [%s, %s): %w. The API's answer breaks a guard, so this range fails the same way "+
					"on every reconciliation (the regular jobs are not affected); report the request-id to Anthropic", s.from, s.to, err))
				return
			}
			if !sealed {
				return
			}
			s.sealed = true
			j.closeDone()
		}
	}
	j.fetchDone = true
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// noteUncovered adds the parts of part outside spans to the report: what the
// record does not vouch for is not walked (its activities may have been
// delivered without being recorded, and emitting them again would duplicate
// them).
func (j *rjob) noteUncovered(part window.Range, spans []checkpoint.Span, b *checkpoint.Bucket) {
	at := part.From
	add := func(to time.Time) {
		if !at.Before(to) {
			return
		}
		if n := len(j.uncovered); n > 0 && j.uncovered[n-1].To.Equal(at) {
			j.uncovered[n-1].To = to
		} else {
			j.uncovered = append(j.uncovered, window.Range{From: at, To: to})
		}
		note := b.Note
		if note == "" {
			note = "deliveries not recorded there"
		}
		if b.Unreadable && !j.notes[note] {
			j.r.deps.Log.Warnf("reconciliation job %s: the record of delivered ids for %s is unreadable: %s", j.id, part, note)
		}
		j.notes[note] = true
	}
	for _, s := range spans {
		add(s.From)
		at = s.To
	}
	add(part.To)
}

// walk reads one slice; sealed is false when the job stopped first.
func (j *rjob) walk(ctx context.Context, s *rslice) (sealed bool, err error) {
	r := j.r
	params := api.ListParams{CreatedAtGTE: s.from, CreatedAtLT: s.to, Limit: r.cfg.PageSize}
	r.cfg.Filters.apply(&params)
	w, err := pager.New(r.deps.Lister, params)
	if err != nil {
		return false, err
	}
	defer func() {
		j.rep.OrderViolations += w.OrderViolations()
		j.rep.TieViolations += w.TieOrderViolations()
	}()
	for {
		if j.stopped() {
			return false, nil
		}
		page, err := w.Next(j.fetchCtx)
		if err != nil {
			if j.fetchCtx.Err() != nil && ctx.Err() == nil {
				return false, nil
			}
			return false, err
		}
		j.rep.Pages++
		j.rep.FinalRequestID = page.RequestID
		r.observeServerDate(page.ServerDate)
		if !j.emitPage(s, page, w.Pages()) {
			return false, nil
		}
		if !page.HasMore {
			return true, nil
		}
	}
}

// emitPage hands out the activities of a page the record does not hold.
func (j *rjob) emitPage(s *rslice, page *api.Page, pageNo int) bool {
	r := j.r
	origin := &Origin{JobID: j.id, Endpoint: r.cfg.Endpoint, SliceFrom: s.from, SliceTo: s.to, Page: pageNo, RequestID: page.RequestID, State: j.state}
	info := PageInfo{JobID: j.id, Slice: "[" + s.from + ", " + s.to + ")", Page: pageNo, Activities: len(page.Activities), RequestID: page.RequestID, Started: j.rep.Start}
	size := r.cfg.BatchSize
	var items []Item
	var ids []idAt
	ok := true
	for _, a := range page.Activities {
		j.rep.Returned++
		if s.bucket.Has(a.ID) {
			info.Duplicates++
			continue
		}
		if _, dup := s.emitted[a.ID]; dup {
			info.Duplicates++
			continue
		}
		s.emitted[a.ID] = struct{}{}
		if j.rep.FirstID == "" {
			j.rep.FirstID = a.ID
		}
		j.rep.LastID = a.ID
		items = append(items, Item{Activity: a, Origin: origin})
		ids = append(ids, idAt{a.ID, a.CreatedAt.Unix()})
		info.Emitted++
		if len(items) == size {
			if ok = j.handOut(s, items, ids); !ok {
				break
			}
			items, ids = nil, nil
		}
	}
	if ok && len(items) > 0 {
		ok = j.handOut(s, items, ids)
	}
	j.rep.Duplicates += info.Duplicates
	j.rep.Emitted += info.Emitted
	j.rep.LateFound += info.Emitted
	info.EmittedSoFar = j.rep.Emitted
	if total := j.rng.To.Sub(j.rng.From); total > 0 {
		info.Progress = float64(s.rng.To.Sub(j.rng.From)) / float64(total)
	}
	if r.deps.OnPage != nil {
		r.deps.OnPage(info)
	}
	return ok
}

func (j *rjob) handOut(s *rslice, items []Item, ids []idAt) bool {
	b := Batch{Items: items, Ack: j.ackFunc(s, ids)}
	for {
		select {
		case j.r.deps.Out <- b:
			s.outstanding++
			return true
		case ev := <-j.acks:
			j.onAck(ev)
			if j.failure != nil {
				return false
			}
		case <-j.fetchCtx.Done():
			return false
		}
	}
}

// ackFunc reports an ack to the job goroutine until the job ends, then to
// the reconciler's orphans (see job.ackFunc).
func (j *rjob) ackFunc(s *rslice, ids []idAt) func(error) {
	var once sync.Once
	return func(err error) {
		once.Do(func() {
			j.ackMu.Lock()
			defer j.ackMu.Unlock()
			if j.over {
				j.r.orphans.resolve(ids, err)
				return
			}
			select {
			case j.acks <- rackEvent{s: s, ids: ids, err: err}:
			case <-j.ended:
				j.r.orphans.resolve(ids, err)
			}
		})
	}
}

func (j *rjob) fence() {
	select {
	case <-j.ended:
		return
	default:
	}
	n := j.outstanding()
	j.r.orphans.adopt(n)
	j.rep.Outstanding = n
	close(j.ended)
	j.ackMu.Lock()
	defer j.ackMu.Unlock()
	j.over = true
	for {
		select {
		case ev := <-j.acks:
			j.r.orphans.resolve(ev.ids, ev.err)
		default:
			return
		}
	}
}

func (j *rjob) outstanding() (n int) {
	for _, s := range j.open {
		n += s.outstanding
	}
	return n
}

// onAck applies an ack and every ack already queued, then records what they
// delivered in one write: a late activity counts as delivered once acked.
func (j *rjob) onAck(ev rackEvent) {
	j.applyAck(ev)
	for {
		select {
		case ev := <-j.acks:
			j.applyAck(ev)
			continue
		default:
		}
		break
	}
	j.flush()
	j.closeDone()
}

func (j *rjob) applyAck(ev rackEvent) {
	s := ev.s
	s.outstanding--
	if ev.err != nil {
		if !s.failed {
			s.failed = true
			j.fail(fmt.Errorf("reconciling slice [%s, %s): delivery failed downstream (nack): %w", s.from, s.to, ev.err))
		}
		return
	}
	for _, x := range ev.ids {
		j.unrecorded[x.id] = x.sec
	}
}

// flush writes the acked ids not recorded yet; nothing is written after a
// hard stop.
func (j *rjob) flush() {
	if len(j.unrecorded) == 0 || j.ctx.Err() != nil {
		return
	}
	if _, err := j.r.deps.Ledger.Record(j.ctx, j.unrecorded, nil, j.now); err != nil {
		j.fail(fmt.Errorf("recording %d late activities as delivered: %w (a later reconciliation may emit them again)", len(j.unrecorded), err))
		return
	}
	j.rep.Recorded += len(j.unrecorded)
	j.unrecorded = checkpoint.IDSet{}
}

// closeDone drops the slices walked to their end and fully acknowledged.
func (j *rjob) closeDone() {
	keep := j.open[:0]
	for _, s := range j.open {
		if !(s.sealed && s.outstanding == 0) {
			keep = append(keep, s)
		}
	}
	clear(j.open[len(keep):])
	j.open = keep
}

// waitForRoom waits, applying acks, while MaxOpenSlices slices are open.
func (j *rjob) waitForRoom(ctx context.Context) {
	r := j.r
	if len(j.open) < r.cfg.MaxOpenSlices || j.stopped() {
		return
	}
	since := r.deps.Clock.Now()
	warn := r.deps.Clock.NewTimer(r.cfg.AckWarnAfter)
	defer func() { warn.Stop() }()
	for len(j.open) >= r.cfg.MaxOpenSlices && !j.stopped() {
		select {
		case ev := <-j.acks:
			j.onAck(ev)
		case <-j.fetchCtx.Done():
		case <-ctx.Done():
			return
		case <-warn.C():
			r.deps.Log.Warnf("reconciliation job %s: %d batches have been waiting for acknowledgement for %v before it can fetch more",
				j.id, j.outstanding(), r.deps.Clock.Now().Sub(since).Truncate(time.Second))
			warn = r.deps.Clock.NewTimer(r.cfg.AckWarnAfter)
		}
	}
}

// drain waits for the acks of batches handed out (see job.drain).
func (j *rjob) drain(ctx context.Context) {
	r := j.r
	clock := r.deps.Clock
	var grace <-chan time.Time
	warn := clock.NewTimer(r.cfg.AckWarnAfter)
	defer func() { warn.Stop() }()
	for {
		j.closeDone()
		n := j.outstanding()
		if n == 0 {
			return
		}
		if j.closing() {
			for {
				select {
				case ev := <-j.acks:
					j.applyAck(ev)
					continue
				default:
				}
				break
			}
			return
		}
		var deadline <-chan struct{}
		if (j.failure != nil || j.timedOut()) && grace == nil {
			t := clock.NewTimer(r.cfg.DrainGrace)
			defer t.Stop()
			grace = t.C()
		} else if grace == nil {
			deadline = j.deadline
		}
		select {
		case ev := <-j.acks:
			j.onAck(ev)
		case <-j.soft:
		case <-deadline:
		case <-grace:
			r.deps.Log.Warnf("reconciliation job %s: %d batches still unacknowledged after the %v drain grace; the next reconciliation "+
				"waits for them (what they deliver is recorded then, not emitted again)", j.id, n, r.cfg.DrainGrace)
			return
		case <-warn.C():
			r.deps.Log.Warnf("reconciliation job %s has walked its window but %d batches are waiting for acknowledgement", j.id, n)
			warn = clock.NewTimer(r.cfg.AckWarnAfter)
		case <-ctx.Done():
			return
		}
	}
}

// finish fences the job, records what was acknowledged and returns the
// report.
func (j *rjob) finish(ctx context.Context) (Report, error) {
	r := j.r
	rep := &j.rep
	j.fence()
	if ctx.Err() != nil && j.failure == nil {
		j.failure = errStopped
	}
	if j.closing() && errors.Is(j.failure, context.Canceled) {
		j.failure = errStopped
	}
	unfinished := len(j.open) > 0 || (!j.fetchDone && !j.rng.Empty())
	if j.failure == nil && j.timedOut() && unfinished {
		j.failure = ErrJobTimeout
	}
	if j.failure == nil && unfinished && j.closing() {
		j.failure = errStopped
	}
	if ctx.Err() == nil {
		j.flush()
		if len(j.unrecorded) > 0 {
			r.deps.Log.Warnf("reconciliation job %s: %d acknowledged late activities could not be recorded as delivered; a later reconciliation may emit them again", j.id, len(j.unrecorded))
		}
	}
	for _, u := range j.uncovered {
		rep.Unreconciled = append(rep.Unreconciled, u.String())
	}
	if len(j.uncovered) > 0 {
		notes := make([]string, 0, len(j.notes))
		for n := range j.notes {
			notes = append(notes, n)
		}
		r.deps.Log.Infof("reconciliation job %s: not reconciled: %s (the record of delivered ids does not cover them: %s)",
			j.id, strings.Join(rep.Unreconciled, ", "), strings.Join(notes, "; "))
	}
	rep.End = r.deps.Clock.Now()
	rep.DurationSeconds = rep.End.Sub(rep.Start).Seconds()
	switch {
	case j.failure == nil && j.rng.Empty():
		rep.Outcome = OutcomeEmpty
	case j.failure == nil:
		rep.Outcome = OutcomeSuccess
	case errors.Is(j.failure, errStopped):
		rep.Outcome = OutcomeStopped
	case errors.Is(j.failure, ErrJobTimeout):
		rep.Outcome = OutcomeTimeout
	default:
		rep.Outcome = OutcomeFailed
	}
	if j.failure != nil {
		rep.Error = j.failure.Error()
		return *rep, j.failure
	}
	return *rep, nil
}
