package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// Job outcomes, as reported in Report.Outcome.
const (
	OutcomeSuccess = "success" // every slice of the range committed
	OutcomeEmpty   = "empty"   // nothing to collect yet (from >= to)
	OutcomeFailed  = "failed"  // a request, guard, delivery or write failed
	OutcomeTimeout = "timeout" // job_timeout stopped fetching before the range was done
	OutcomeStopped = "stopped" // the input is shutting down
)

// ErrJobTimeout ends a job whose job_timeout passed before it finished.
var ErrJobTimeout = errors.New("job_timeout reached before the window was collected")

// errStopped ends a job when the input shuts down.
var errStopped = errors.New("input is shutting down")

// Report is the completeness record of one job (Anthropic's recommendation:
// window, counts, first and last ids, final request-id, outcome).
type Report struct {
	JobID           string    `json:"job_id"`
	Endpoint        string    `json:"endpoint"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	From            string    `json:"window_from,omitempty"`
	To              string    `json:"window_to,omitempty"`
	Slices          int       `json:"slices"`
	SlicesCommitted int       `json:"slices_committed"`
	Pages           int       `json:"pages"`
	Returned        int       `json:"activities_returned"`
	Emitted         int       `json:"activities_emitted"`
	Duplicates      int       `json:"activities_deduplicated"`
	LateCatches     int       `json:"late_catches"`
	OrderViolations int       `json:"order_violations"`
	TieViolations   int       `json:"tie_order_violations"`
	FirstID         string    `json:"first_activity_id,omitempty"`
	LastID          string    `json:"last_activity_id,omitempty"`
	FinalRequestID  string    `json:"final_request_id,omitempty"`
	ScannedTo       string    `json:"scanned_to,omitempty"`
	DurationSeconds float64   `json:"duration_seconds"`
	Outcome         string    `json:"outcome"`
	Error           string    `json:"error,omitempty"`
	// Complete is true when a `once` backfill has collected its whole range.
	Complete bool `json:"complete,omitempty"`
}

// Duration is how long the job ran.
func (r Report) Duration() time.Duration { return r.End.Sub(r.Start) }

type slice struct {
	rng      window.Range
	from, to string

	ids      checkpoint.IDSet // every id its walk returned, emitted or duplicate
	acked    checkpoint.IDSet // ids of acknowledged batches
	returned int

	outstanding int       // batches handed out, not yet acknowledged
	waitingFrom time.Time // when outstanding last went from 0 to 1
	sealed      bool      // the walk ended with has_more=false
	failed      bool      // a batch was nacked

	state     map[string]any
	delivered int
}

type ackEvent struct {
	s   *slice
	ids []idAt
	err error
}

type idAt struct {
	id  string
	sec int64
}

type job struct {
	c      *Collector
	id     string
	rec    *checkpoint.Record
	keeper *checkpoint.Keeper // nil when state tracking is off
	saved  map[string]any     // user state when the job started

	prevScanned time.Time
	rng         window.Range
	open        []*slice

	acks  chan ackEvent
	ended chan struct{}

	soft     <-chan struct{}
	deadline context.Context // done when job_timeout passes (never without one)
	fetchCtx context.Context // done on soft stop, deadline or hard stop

	ctx       context.Context // hard stop: nothing is written after it ends
	forgetGen uint64          // the collector's forget generation when the job started
	fetchDone bool            // the planner ran out of slices
	failure   error
	committed int
	rep       Report
}

// RunJob runs one collection job to its end. soft closing stops fetching and
// lets outstanding batches drain (their acks still commit); ctx ending is a
// hard stop: the job returns at once and writes nothing more. A job never
// overlaps another; call RunJob from one goroutine.
func (c *Collector) RunJob(ctx context.Context, soft <-chan struct{}) (Report, error) {
	c.jobSeq++
	start := c.deps.Clock.Now()
	j := &job{
		c:     c,
		id:    fmt.Sprintf("%s-%s-%d", c.cfg.Endpoint, start.UTC().Format("20060102T150405Z"), c.jobSeq),
		acks:  make(chan ackEvent, 64),
		ended: make(chan struct{}),
		soft:  soft,
		ctx:   ctx,
	}
	j.rep = Report{JobID: j.id, Endpoint: c.cfg.Endpoint, Start: start}
	defer close(j.ended) // fences acks that arrive after the job

	j.deadline = context.Background()
	if c.cfg.JobTimeout > 0 {
		deadline, cancel := context.WithTimeout(context.Background(), c.cfg.JobTimeout)
		defer cancel()
		j.deadline = deadline
	}
	fetchCtx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	j.fetchCtx = fetchCtx
	go func() {
		select {
		case <-soft:
		case <-j.deadline.Done():
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

// prepare loads (or creates) the checkpoint and computes the job range.
func (j *job) prepare(ctx context.Context) error {
	c := j.c
	cfg := c.cfg
	now := c.now()
	if !cfg.StateTracking {
		if err := j.learnServerClock(); err != nil {
			return err
		}
		now = c.now()
		earliest := cfg.Earliest.Resolve(now, cfg.Location)
		latest := cfg.Latest.Resolve(now, cfg.Location)
		j.rng = window.Untracked(earliest, latest, cfg.Settle)
		j.rec = checkpoint.New(cfg.Identity(), j.rng.From)
		j.saved = map[string]any{}
		return nil
	}
	j.keeper = c.deps.Keeper
	if gen := c.forgetGen.Load(); gen != c.forgotAt {
		c.forgotAt = gen
		j.keeper.Forget()
		c.setHealth(nil)
	}
	j.forgetGen = c.forgotAt
	rec, err := j.keeper.Load(ctx)
	if err != nil {
		var corrupt *checkpoint.CorruptError
		var conflict *checkpoint.ConflictError
		if errors.As(err, &corrupt) || errors.As(err, &conflict) {
			c.setHealth(err)
		}
		return err
	}
	if rec == nil {
		floor := cfg.Earliest.Resolve(now, cfg.Location)
		rec = checkpoint.New(cfg.Identity(), floor)
		if cfg.Once {
			until := cfg.Latest.Resolve(now, cfg.Location)
			if lim := now.Add(-cfg.Settle); until.After(lim) {
				until = lim
			}
			rec.Until = until.UTC().Truncate(time.Second)
		}
		c.deps.Log.Infof("no checkpoint at %s: fresh start from earliest %q = %s", j.keeper.Where(), cfg.Earliest.String(), window.Format(rec.Floor))
		// Persist the resolved earliest before the first request, so failing
		// first jobs can never drop history by re-resolving it later.
		if err := j.save(ctx, rec); err != nil {
			c.setHealth(err)
			return fmt.Errorf("writing the initial checkpoint: %w", err)
		}
	} else {
		if want := cfg.Identity(); rec.Identity != want {
			if !cfg.Adopt {
				err := identityError(j.keeper.Where(), rec.Identity, want)
				c.setHealth(err)
				return err
			}
			c.deps.Log.Warnf("adopting checkpoint %s written for %+v as %+v (state.adopt is set)", j.keeper.Where(), rec.Identity, want)
			rec.Identity = want
		}
		if c.jobSeq == 1 {
			c.deps.Log.Infof("resuming from checkpoint %s: scanned_to %s; earliest %q ignored", j.keeper.Where(), window.Format(rec.ScannedTo), cfg.Earliest.String())
		}
	}
	if err := j.learnServerClock(); err != nil {
		return err
	}
	now = c.now()
	j.rec = rec
	j.saved = cloneMap(rec.State)
	j.prevScanned = rec.ScannedToTime()
	in := window.Incremental{
		Now:       now,
		Settle:    cfg.Settle,
		Overlap:   cfg.Overlap,
		ScannedTo: rec.ScannedToTime(),
		SeenFrom:  rec.SeenFromTime(),
		Floor:     rec.FloorTime(),
	}
	if cfg.Once {
		in.Latest = rec.UntilTime()
	} else {
		in.Latest = cfg.Latest.Resolve(now, cfg.Location)
	}
	j.rng = window.IncrementalRange(in)
	return nil
}

// errFenced wraps a write refused by Deps.Fence.
var errFenced = errors.New("checkpoint write refused")

// errForgotten ends a job whose checkpoint an operator deleted meanwhile.
var errForgotten = errors.New("the checkpoint was deleted by an operator during this job; nothing more is written and the next job starts again from `earliest`")

// save writes the record if the fence allows it and the checkpoint was not
// deleted on purpose since the job started.
func (j *job) save(ctx context.Context, rec *checkpoint.Record) error {
	if j.c.forgetGen.Load() != j.forgetGen {
		return errForgotten
	}
	if f := j.c.deps.Fence; f != nil {
		if err := f(ctx); err != nil {
			return fmt.Errorf("%w: %w", errFenced, err)
		}
	}
	err := j.keeper.Save(ctx, rec)
	switch {
	case errors.Is(err, checkpoint.ErrDeleted): // an operator's delete won the race
		return fmt.Errorf("%w: %w", errForgotten, err)
	case errors.Is(err, checkpoint.ErrFenced): // the lease was lost just before the write
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return err
}

// learnServerClock makes one small request (limit=1) when the API's clock is
// not known yet (the first job of a process), so that even the first window
// is clamped to the server's time. It also surfaces a refused key before any
// slice is opened.
func (j *job) learnServerClock() error {
	c := j.c
	if !c.serverDate.IsZero() {
		return nil
	}
	params := api.ListParams{Limit: 1}
	c.cfg.Filters.apply(&params)
	page, err := c.deps.Lister.ListActivities(j.fetchCtx, params)
	if err != nil {
		return fmt.Errorf("reading the API's clock: %w", err)
	}
	c.observeServerDate(page.ServerDate)
	return nil
}

func identityError(where string, got, want checkpoint.Identity) error {
	return fmt.Errorf("checkpoint %s belongs to another collector (stored identity %+v, this config %+v): "+
		"resuming it would skip or repeat data. Set `state.adopt: true` to adopt it as is, give this input its own "+
		"`state.key`, or reset it with `compliance-connect state delete`", where, got, want)
}

// stopped reports whether the job must stop fetching.
func (j *job) stopped() bool {
	return j.failure != nil || j.fetchCtx.Err() != nil
}

// timedOut reports whether job_timeout has passed.
func (j *job) timedOut() bool { return j.deadline.Err() != nil }

// collect opens, walks and seals slices, oldest first, with at most
// MaxOpenSlices fetched but not committed.
func (j *job) collect(ctx context.Context) {
	cfg := j.c.cfg
	planner := window.NewPlanner(j.rng, cfg.Slices, j.c.nextLength)
	for !j.stopped() {
		for len(j.open) >= cfg.MaxOpenSlices && !j.stopped() {
			j.waitAck(ctx)
		}
		if j.stopped() {
			return
		}
		r, ok := planner.Next()
		if !ok {
			j.fetchDone = true
			return
		}
		s := &slice{
			rng: r, from: window.Format(r.From), to: window.Format(r.To),
			ids: checkpoint.IDSet{}, acked: checkpoint.IDSet{}, state: map[string]any{},
		}
		j.open = append(j.open, s)
		j.rep.Slices++
		j.c.deps.Hooks.open(len(j.open), j.oldestWaiting())
		sealed, err := j.walk(ctx, s)
		if err != nil {
			j.fail(fmt.Errorf("slice [%s, %s): %w", s.from, s.to, err))
			return
		}
		if !sealed {
			return
		}
		s.sealed = true
		planner.Observe(r, s.returned)
		j.c.nextLength = planner.Length()
		j.tryCommit(ctx)
	}
}

// walk reads one slice. It returns sealed=false when the job was stopped
// before the walk ended.
func (j *job) walk(ctx context.Context, s *slice) (bool, error) {
	cfg := j.c.cfg
	params := api.ListParams{CreatedAtGTE: s.from, CreatedAtLT: s.to, Limit: cfg.PageSize}
	cfg.Filters.apply(&params)
	w, err := pager.New(j.c.deps.Lister, params)
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
				return false, nil // stopped mid-request: the slice stays open
			}
			return false, err
		}
		j.rep.Pages++
		j.rep.FinalRequestID = page.RequestID
		j.c.observeServerDate(page.ServerDate)
		if !j.emitPage(s, page, w.Pages()) {
			return false, nil
		}
		if !page.HasMore {
			return true, nil
		}
	}
}

// emitPage deduplicates a page and hands it out in batches. It returns false
// when the job stopped before every batch was handed out.
func (j *job) emitPage(s *slice, page *api.Page, pageNo int) bool {
	c := j.c
	origin := &Origin{
		JobID: j.id, Endpoint: c.cfg.Endpoint, SliceFrom: s.from, SliceTo: s.to,
		Page: pageNo, RequestID: page.RequestID, State: j.saved,
	}
	info := PageInfo{JobID: j.id, Slice: "[" + s.from + ", " + s.to + ")", Page: pageNo, Activities: len(page.Activities), RequestID: page.RequestID, Started: j.rep.Start}
	size := c.cfg.BatchSize
	items := make([]Item, 0, min(size, len(page.Activities)))
	ids := make([]idAt, 0, cap(items))
	ok := true
	for _, a := range page.Activities {
		s.returned++
		j.rep.Returned++
		sec := a.CreatedAt.Unix()
		if j.known(a.ID) {
			s.ids[a.ID] = sec
			info.Duplicates++
			j.rep.Duplicates++
			continue
		}
		s.ids[a.ID] = sec
		if c.cfg.StateTracking && a.CreatedAt.Before(j.prevScanned) {
			j.rep.LateCatches++
			c.deps.Hooks.lateCatch(j.prevScanned.Sub(a.CreatedAt))
		}
		if next, err := c.deps.State.Update(s.state, a); err != nil {
			c.deps.Log.Warnf("state update mapping failed on activity %s (state unchanged): %v", a.ID, err)
		} else if next != nil {
			s.state = next
		}
		s.delivered++
		if j.rep.FirstID == "" {
			j.rep.FirstID = a.ID
		}
		j.rep.LastID = a.ID
		items = append(items, Item{Activity: a, Origin: origin})
		ids = append(ids, idAt{a.ID, sec})
		info.Emitted++
		if len(items) == size {
			if ok = j.handOut(s, items, ids); !ok {
				break
			}
			items = make([]Item, 0, size)
			ids = make([]idAt, 0, size)
		}
	}
	if ok && len(items) > 0 {
		ok = j.handOut(s, items, ids)
	}
	j.rep.Emitted += info.Emitted
	info.EmittedSoFar = j.rep.Emitted
	if total := j.rng.To.Sub(j.rng.From); total > 0 {
		info.Progress = float64(s.rng.To.Sub(j.rng.From)) / float64(total)
	}
	c.deps.Hooks.page(info)
	return ok
}

// known reports whether an id was delivered before: in the checkpoint (seen
// or pending) or by an open slice of this job.
func (j *job) known(id string) bool {
	if j.rec.Known(id) {
		return true
	}
	for _, s := range j.open {
		if _, ok := s.ids[id]; ok {
			return true
		}
	}
	return false
}

// handOut sends one batch, processing acks while the consumer is busy.
func (j *job) handOut(s *slice, items []Item, ids []idAt) bool {
	b := Batch{Items: items, Ack: j.ackFunc(s, ids)}
	for {
		select {
		case j.c.out <- b:
			s.outstanding++
			if s.outstanding == 1 {
				s.waitingFrom = j.c.deps.Clock.Now()
				j.c.deps.Hooks.open(len(j.open), j.oldestWaiting())
			}
			return true
		case ev := <-j.acks:
			j.handleAck(ev)
			if j.failure != nil {
				return false
			}
		case <-j.fetchCtx.Done():
			return false
		}
	}
}

func (j *job) ackFunc(s *slice, ids []idAt) func(error) {
	var once sync.Once
	return func(err error) {
		once.Do(func() {
			select {
			case j.acks <- ackEvent{s: s, ids: ids, err: err}:
			case <-j.ended: // fenced: the job is over, this ack commits nothing
			}
		})
	}
}

func (j *job) handleAck(ev ackEvent) {
	s := ev.s
	s.outstanding--
	if s.outstanding == 0 {
		defer func() { j.c.deps.Hooks.open(len(j.open), j.oldestWaiting()) }()
	}
	if ev.err != nil {
		if !s.failed {
			s.failed = true
			j.fail(fmt.Errorf("slice [%s, %s): delivery failed downstream (nack): %w", s.from, s.to, ev.err))
		}
		return
	}
	for _, x := range ev.ids {
		s.acked[x.id] = x.sec
	}
	j.tryCommit(j.ctx)
}

func (j *job) fail(err error) {
	if j.failure == nil {
		j.failure = err
	}
}

// waitAck blocks for one ack (or a stop).
func (j *job) waitAck(ctx context.Context) {
	select {
	case ev := <-j.acks:
		j.handleAck(ev)
	case <-j.fetchCtx.Done():
	case <-ctx.Done():
	}
}

// tryCommit commits, in slice order, every leading slice that is sealed and
// fully acknowledged: several at once become one write.
func (j *job) tryCommit(ctx context.Context) {
	var ready []*slice
	for len(j.open) > 0 {
		s := j.open[0]
		if !s.sealed || s.failed || s.outstanding > 0 {
			break
		}
		ready = append(ready, s)
		j.open = j.open[1:]
	}
	if len(ready) == 0 || ctx.Err() != nil {
		j.open = append(ready, j.open...)
		return
	}
	c := j.c
	commits := make([]checkpoint.SliceCommit, 0, len(ready))
	state := j.rec.State
	for _, s := range ready {
		commits = append(commits, checkpoint.SliceCommit{To: s.rng.To, IDs: s.ids})
		if s.delivered > 0 {
			merged, err := c.deps.State.Merge(state, s.state)
			if err != nil {
				c.deps.Log.Warnf("state merge mapping failed for slice [%s, %s) (saved state kept): %v", s.from, s.to, err)
			} else if merged != nil {
				state = merged
			}
		}
	}
	overlap := c.cfg.Overlap
	if j.keeper == nil {
		overlap = j.rng.To.Sub(j.rng.From) // tracking off: keep the whole job's ids for dedupe
	}
	// Commit into a copy, adopted only once it is stored: a refused write
	// leaves the job's view (and its report) at what the store holds.
	next := j.rec
	if j.keeper != nil {
		next = j.rec.Clone()
	}
	next.Commit(commits, overlap, state, c.deps.Clock.Now())
	info := CommitInfo{JobID: j.id, ScannedTo: window.Format(next.ScannedTo), Slices: len(ready), Seen: next.Seen.Len(), Pending: len(next.Pending)}
	if j.keeper != nil {
		if err := j.save(context.WithoutCancel(ctx), next); err != nil {
			info.Err = err
			if !errors.Is(err, errFenced) && !errors.Is(err, errForgotten) {
				c.setHealth(err)
			}
			j.fail(fmt.Errorf("committing slices up to %s: %w", window.Format(next.ScannedTo), err))
			j.open = append(ready, j.open...) // their acked ids become pending
			c.deps.Hooks.commit(info)
			return
		}
		info.Rev = next.Rev
		j.rec = next
	}
	j.committed += len(ready)
	j.rep.SlicesCommitted += len(ready)
	c.deps.Hooks.commit(info)
	c.deps.Hooks.open(len(j.open), j.oldestWaiting())
}

func (j *job) outstanding() (batches int) {
	for _, s := range j.open {
		batches += s.outstanding
	}
	return batches
}

func (j *job) oldestWaiting() time.Time {
	var oldest time.Time
	for _, s := range j.open {
		if s.outstanding > 0 && (oldest.IsZero() || s.waitingFrom.Before(oldest)) {
			oldest = s.waitingFrom
		}
	}
	return oldest
}

// drain waits for the acks of batches already handed out, committing what
// completes. A job that finished fetching waits as long as its job_timeout
// allows; a failed or timed-out job waits DrainGrace. Once soft is closed no
// further ack can arrive (the input is closing and Benthos has resolved every
// delivered batch), so the acks already queued are applied and the job ends.
func (j *job) drain(ctx context.Context) {
	c := j.c
	var grace <-chan time.Time
	warn := time.NewTicker(c.cfg.AckWarnAfter)
	defer warn.Stop()
	waitStart := c.deps.Clock.Now()
	for {
		j.tryCommit(ctx)
		n := j.outstanding()
		if n == 0 {
			return
		}
		if j.closing() {
			j.applyQueuedAcks()
			j.tryCommit(ctx)
			return
		}
		var deadline <-chan struct{}
		if (j.failure != nil || j.timedOut()) && grace == nil {
			t := time.NewTimer(c.cfg.DrainGrace)
			defer t.Stop()
			grace = t.C
		} else if grace == nil {
			deadline = j.deadline.Done()
		}
		select {
		case ev := <-j.acks:
			j.handleAck(ev)
		case <-j.soft:
		case <-deadline:
		case <-grace:
			c.deps.Log.Warnf("job %s: %d batches still unacknowledged after the %v drain grace; their slices stay uncommitted and will be read again", j.id, n, c.cfg.DrainGrace)
			return
		case <-warn.C:
			waited := c.deps.Clock.Now().Sub(waitStart)
			c.deps.Hooks.ackWait(n, waited)
			c.deps.Log.Warnf("job %s has fetched its window but %d batches have been waiting for acknowledgement for %v. "+
				"Likely causes: an output batching by count with no `period` (the last partial batch never flushes), or a message "+
				"that fails downstream and is replayed forever (auto_replay_nacks); add a `period` or a dead-letter `fallback` output",
				j.id, n, waited.Truncate(time.Second))
		case <-ctx.Done():
			return
		}
	}
}

// closing reports whether the input is closing.
func (j *job) closing() bool {
	select {
	case <-j.soft:
		return true
	default:
		return false
	}
}

// applyQueuedAcks applies every ack already queued, without waiting.
func (j *job) applyQueuedAcks() {
	for {
		select {
		case ev := <-j.acks:
			j.handleAck(ev)
		default:
			return
		}
	}
}

// finish records pending ids of slices that could not commit, updates
// health, and returns the report.
func (j *job) finish(ctx context.Context) (Report, error) {
	c := j.c
	rep := &j.rep
	if ctx.Err() != nil && j.failure == nil {
		j.failure = errStopped
	}
	if j.closing() && errors.Is(j.failure, context.Canceled) {
		j.failure = errStopped // a request cut short by the input closing
	}
	unfinished := len(j.open) > 0 || (!j.fetchDone && !j.rng.Empty())
	if j.failure == nil && j.timedOut() && unfinished {
		j.failure = ErrJobTimeout
	}
	if j.failure == nil && unfinished && j.closing() {
		j.failure = errStopped
	}
	// Acked ids of uncommitted slices become pending so the next job does not
	// deliver them again (D5). Nothing is written after a hard stop.
	if j.keeper != nil && ctx.Err() == nil && len(j.open) > 0 {
		pending := checkpoint.IDSet{}
		for _, s := range j.open {
			for id, sec := range s.acked {
				pending[id] = sec
			}
		}
		if len(pending) > 0 {
			j.rec.AddPending(pending, c.deps.Clock.Now())
			if err := j.save(context.WithoutCancel(ctx), j.rec); err != nil {
				if !errors.Is(err, errFenced) && !errors.Is(err, errForgotten) {
					c.setHealth(err)
				}
				if j.failure == nil || errors.Is(j.failure, errStopped) {
					j.failure = fmt.Errorf("recording %d delivered ids as pending: %w", len(pending), err)
				}
			}
		}
	}
	if j.rec != nil {
		rep.ScannedTo = window.Format(j.rec.ScannedTo)
		if c.cfg.Once && !j.rec.Until.IsZero() {
			rep.Complete = !j.rec.ScannedTo.Before(j.rec.Until)
		}
	}
	rep.End = c.deps.Clock.Now()
	rep.DurationSeconds = rep.End.Sub(rep.Start).Seconds()
	switch {
	case j.failure == nil && j.rng.Empty():
		rep.Outcome = OutcomeEmpty
	case j.failure == nil:
		rep.Outcome = OutcomeSuccess
	case errors.Is(j.failure, errStopped), errors.Is(j.failure, errForgotten):
		rep.Outcome = OutcomeStopped
	case errors.Is(j.failure, ErrJobTimeout):
		rep.Outcome = OutcomeTimeout
	default:
		rep.Outcome = OutcomeFailed
	}
	if j.failure != nil {
		rep.Error = j.failure.Error()
	}
	c.updateHealth(j)
	c.deps.Hooks.jobEnd(*rep)
	if j.failure != nil {
		return *rep, j.failure
	}
	return *rep, nil
}

// updateHealth applies the outcome of a job to the collector's health.
func (c *Collector) updateHealth(j *job) {
	switch {
	case j.failure == nil:
		c.failedJobs, c.lastFail = 0, ""
		c.setHealth(nil)
		return
	case errors.Is(j.failure, errStopped), errors.Is(j.failure, errForgotten):
		return
	}
	if j.committed > 0 {
		c.failedJobs = 0
	} else {
		// A job that commits nothing halves the next slice: a slice too big
		// to deliver within job_timeout shrinks until it fits.
		c.nextLength = window.Halve(c.currentLength(), c.cfg.Slices)
	}
	c.failedJobs++
	c.lastFail = j.failure.Error()
	if api.IsAuth(j.failure) {
		c.setHealth(fmt.Errorf("the Compliance API refused the key: %w", j.failure))
		return
	}
	if c.failedJobs >= c.cfg.MaxFailedJobs {
		c.setHealth(fmt.Errorf("collection is stalled: %d consecutive jobs failed; last: %s", c.failedJobs, c.lastFail))
	}
}

func (c *Collector) currentLength() time.Duration {
	if c.nextLength == 0 {
		return c.cfg.Slices.MaxSlice
	}
	return c.nextLength
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
