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
	OutcomeEmpty   = "empty"   // nothing to collect yet (from >= to), or a `once` range already complete
	OutcomeFailed  = "failed"  // a request, guard, delivery or write failed
	OutcomeTimeout = "timeout" // job_timeout stopped fetching before the range was done
	OutcomeStopped = "stopped" // the input is shutting down
	// OutcomeAwaitingAcks: the job did not run because batches of an
	// earlier job are still held by the pipeline (an output outage with
	// auto_replay_nacks); emitting their activities again would duplicate them.
	OutcomeAwaitingAcks = "awaiting_acks"
	// OutcomeStandby: the job did not run because another instance holds
	// the HA lease (set by the input, which owns the lease).
	OutcomeStandby = "standby"
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
	Tick            time.Time `json:"tick,omitzero"` // the scheduled time the job ran for
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	From            string    `json:"window_from,omitempty"`
	To              string    `json:"window_to,omitempty"`
	Slices          int       `json:"slices"`
	SlicesCommitted int       `json:"slices_committed"`
	SlicesCut       int       `json:"slices_cut,omitempty"` // slices cut short because their first page showed a burst
	Pages           int       `json:"pages"`
	Returned        int       `json:"activities_returned"`
	Emitted         int       `json:"activities_emitted"`
	Duplicates      int       `json:"activities_deduplicated"`
	Filtered        int       `json:"activities_filtered,omitempty"` // left out by an id restriction (Config.OnlyIDs)
	LateCatches     int       `json:"late_catches"`
	OrderViolations int       `json:"order_violations"`
	TieViolations   int       `json:"tie_order_violations"`
	FirstID         string    `json:"first_activity_id,omitempty"`
	LastID          string    `json:"last_activity_id,omitempty"`
	FinalRequestID  string    `json:"final_request_id,omitempty"`
	ScannedTo       string    `json:"scanned_to,omitempty"`
	// ScannedToTime is ScannedTo as a time (zero when unknown).
	ScannedToTime time.Time `json:"-"`
	// Outstanding is the number of batches still held by the pipeline when
	// the job ended (or, for awaiting_acks, that kept it from running).
	Outstanding     int     `json:"outstanding_batches,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	Outcome         string  `json:"outcome"`
	Error           string  `json:"error,omitempty"`
	// Complete is true when a `once` backfill has collected its whole range.
	Complete bool `json:"complete,omitempty"`

	// Kind is KindReconcile for a reconciliation job (reconcile.go), empty
	// for a regular one. A reconciliation's Emitted are the activities it
	// found late (LateFound), Duplicates those already delivered, Recorded
	// the acknowledged ones it added to the record of delivered ids, and
	// Unreconciled the parts of its window that record does not cover.
	Kind         string   `json:"kind,omitempty"`
	LateFound    int      `json:"late_found,omitempty"`
	Recorded     int      `json:"recorded,omitempty"`
	Unreconciled []string `json:"unreconciled,omitempty"`
	// Counts are the tallies of an endpoint other than activities, which
	// reports through this type too: records by type, changes, messages
	// of a snapshot; chats_emitted, messages_emitted, file_bytes, ... of a
	// content Source (source.go).
	Counts map[string]int `json:"counts,omitempty"`
}

// Duration is how long the job ran.
func (r Report) Duration() time.Duration { return r.End.Sub(r.Start) }

// Succeeded reports whether the job did all it had to (success or empty).
func (r Report) Succeeded() bool { return r.Outcome == OutcomeSuccess || r.Outcome == OutcomeEmpty }

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
	marks     map[string]time.Time // a Source's watermarks, committed with the slice
}

func (s *slice) setRange(r window.Range) {
	s.rng, s.from, s.to = r, window.Format(r.From), window.Format(r.To)
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
	tick   time.Time
	rec    *checkpoint.Record
	keeper *checkpoint.Keeper // nil when state tracking is off
	saved  map[string]any     // user state when the job started

	prevScanned time.Time
	rng         window.Range
	until       time.Time // a `once` job's end (latest); zero otherwise
	open        []*slice

	// acks carries AckFunc results to the job goroutine. ackMu and over
	// fence it: once the job ended, acks go to the collector's orphans.
	acks  chan ackEvent
	ackMu sync.Mutex
	over  bool
	ended chan struct{}

	soft       <-chan struct{}
	deadline   chan struct{} // closed when job_timeout passes (never without one)
	deadlineAt time.Time     // zero without job_timeout
	fetchCtx   context.Context

	ctx       context.Context // hard stop: nothing is written after it ends
	fetchDone bool            // the planner ran out of slices
	failure   error
	committed int
	rep       Report
}

// RunJob runs one collection job to its end and returns its report; the
// error is the job's failure, if any (the report says the same). tick is the
// scheduled time the job runs for (zero: now): a scheduled job's window is a
// function of it. soft closing stops fetching and lets outstanding batches
// drain (their acks still commit); ctx ending is a hard stop: the job returns
// at once and writes nothing more. A job never overlaps another; call RunJob
// from one goroutine.
func (c *Collector) RunJob(ctx context.Context, tick time.Time, soft <-chan struct{}) (Report, error) {
	c.jobSeq++
	clock := c.deps.Clock
	start := clock.Now()
	if tick.IsZero() {
		tick = start
	}
	j := &job{
		c:        c,
		id:       fmt.Sprintf("%s-%s-%d", c.cfg.Endpoint, start.UTC().Format("20060102T150405Z"), c.jobSeq),
		tick:     tick,
		acks:     make(chan ackEvent, 64),
		ended:    make(chan struct{}),
		deadline: make(chan struct{}),
		soft:     soft,
		ctx:      ctx,
	}
	j.rep = Report{JobID: j.id, Endpoint: c.cfg.Endpoint, Start: start, Tick: tick}
	defer j.fence() // idempotent; finish fences first

	if n := c.orphans.outstanding(); n > 0 {
		return j.awaitingAcks(n)
	}

	if c.cfg.JobTimeout > 0 {
		j.deadlineAt = start.Add(c.cfg.JobTimeout)
		timer := clock.NewTimer(c.cfg.JobTimeout)
		defer timer.Stop() // before RunJob returns: a later job never sees this one's timer
		go func() {
			select {
			case <-timer.C():
				close(j.deadline)
			case <-j.ended:
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

// awaitingAcks ends a job that must not run because n batches of an ended
// job are still held by the pipeline.
func (j *job) awaitingAcks(n int) (Report, error) {
	c := j.c
	c.deps.Log.Warnf("job %s skipped: %d batches of an earlier job are still held by the pipeline, not yet acknowledged "+
		"(likely an output outage: with auto_replay_nacks Benthos keeps re-sending them). Emitting their activities again "+
		"would duplicate them; the next job runs once they are acknowledged", j.id, n)
	j.rep.Outstanding = n
	j.rep.Outcome = OutcomeAwaitingAcks
	j.rep.End = c.deps.Clock.Now()
	j.rep.DurationSeconds = j.rep.End.Sub(j.rep.Start).Seconds()
	c.deps.Hooks.jobEnd(j.rep)
	return j.rep, nil
}

// prepare learns the API's clock, loads (or creates) the checkpoint and
// computes the job range.
func (j *job) prepare(ctx context.Context) error {
	c := j.c
	// Learn the API's clock before resolving anything: relative times of a
	// fresh start and of a `once` backfill resolve against it (L7).
	clockErr := j.learnServerClock()
	if !c.cfg.StateTracking {
		if clockErr != nil {
			return clockErr
		}
		return j.prepareUntracked()
	}
	return j.prepareTracked(ctx, clockErr)
}

// prepareUntracked computes the window of a job with state tracking off.
// A `once` job reads exactly [earliest, latest) of the API's clock. A
// scheduled job reads [earliest(tick) - settle, latest(tick) - settle),
// extended back to what earlier jobs of this process collected when it
// would start after it.
func (j *job) prepareUntracked() error {
	c := j.c
	cfg := c.cfg
	j.saved = map[string]any{}
	if cfg.Once {
		at := c.serverNow()
		j.until = cfg.Latest.Resolve(at, cfg.Location).UTC().Truncate(time.Second)
		j.rng = window.Range{From: cfg.Earliest.Resolve(at, cfg.Location).UTC().Truncate(time.Second), To: j.until}
		j.rec = checkpoint.New(cfg.Identity(), j.rng.From)
		if j.rng.Empty() {
			return nil
		}
		return j.waitSettled(j.until)
	}
	j.rng = window.Untracked(cfg.Earliest.Resolve(j.tick, cfg.Location), cfg.Latest.Resolve(j.tick, cfg.Location), cfg.Settle)
	if c.mem == nil {
		c.mem = checkpoint.New(cfg.Identity(), j.rng.From)
	}
	j.rec = c.mem
	if late := c.orphans.take(); len(late) > 0 {
		j.rec.AddPending(late, c.deps.Clock.Now())
	}
	if prev := j.rec.ScannedToTime(); j.rng.From.After(prev) {
		c.deps.Log.Warnf("job %s: window %s starts after what this process collected last (up to %s: a skipped tick or a failed job); reading from %s",
			j.id, j.rng, window.Format(prev), window.Format(prev))
		j.rng.From = prev
	}
	if j.rng.Empty() {
		return nil
	}
	return j.waitSettled(j.rng.To)
}

// prepareTracked loads (or creates) the checkpoint and computes the range
// from it. clockErr is why the API's clock could not be read: a fresh start
// then resolves `earliest` on the local clock and still writes it, so that a
// failing first job never moves the floor by resolving it again later (L1).
func (j *job) prepareTracked(ctx context.Context, clockErr error) error {
	c := j.c
	cfg := c.cfg
	j.keeper = c.deps.Keeper
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
		at := c.serverNow()
		if clockErr != nil {
			c.deps.Log.Warnf("the API's clock could not be read (%v): `earliest` is resolved on the local clock", clockErr)
		}
		rec = checkpoint.New(cfg.Identity(), cfg.Earliest.Resolve(at, cfg.Location))
		if cfg.Once {
			rec.Until = cfg.Latest.Resolve(at, cfg.Location).UTC().Truncate(time.Second)
		}
		c.deps.Log.Infof("no checkpoint at %s: fresh start from earliest %q = %s (the API's clock read %s)",
			j.keeper.Where(), cfg.Earliest.String(), window.Format(rec.FloorTime()), window.Format(at))
		// Persist the resolved earliest before any slice is read, so failing
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
			c.deps.Log.Infof("resuming from checkpoint %s: scanned_to %s; earliest %q ignored", j.keeper.Where(), window.Format(rec.ScannedToTime()), cfg.Earliest.String())
		}
	}
	if clockErr != nil {
		return clockErr
	}
	if err := j.checkNotFuture(rec); err != nil {
		c.setHealth(err)
		return err
	}
	// Ids that the pipeline acknowledged after their job ended are recorded
	// before this job emits anything, so none of them is emitted twice.
	if late := c.orphans.take(); len(late) > 0 {
		rec.AddPending(late, c.deps.Clock.Now())
		if err := j.save(ctx, rec); err != nil {
			c.orphans.restore(late)
			return fmt.Errorf("recording %d ids acknowledged after their job ended as pending: %w", len(late), err)
		}
		c.deps.Log.Infof("job %s: recorded %d activities acknowledged after their job ended; they are not delivered again", j.id, len(late))
	}
	j.rec = rec
	j.saved = cloneMap(rec.State)
	j.prevScanned = rec.ScannedToTime()
	in := window.Incremental{
		Now:       c.now(),
		Settle:    cfg.Settle,
		Overlap:   cfg.Overlap,
		ScannedTo: rec.ScannedToTime(),
		SeenFrom:  rec.SeenFromTime(),
		Floor:     rec.FloorTime(),
	}
	if !cfg.Once {
		in.Latest = cfg.Latest.Resolve(j.tick, cfg.Location)
		j.rng = window.IncrementalRange(in)
		return nil
	}
	j.until = rec.UntilTime()
	if !rec.ScannedToTime().Before(j.until) {
		c.deps.Log.Infof("job %s: the `once` backfill [%s, %s) is already complete in checkpoint %s (an earlier run or another replica collected it); nothing to do",
			j.id, window.Format(rec.FloorTime()), window.Format(j.until), j.keeper.Where())
		j.rng = window.Range{From: j.until, To: j.until}
		return nil
	}
	if err := j.waitSettled(j.until); err != nil {
		return err
	}
	in.Now, in.Latest = j.until.Add(cfg.Settle), j.until
	j.rng = window.IncrementalRange(in)
	return nil
}

// FutureCheckpointError refuses a stored checkpoint whose scanned_to lies
// beyond the API's clock plus settle: every job would find nothing to do
// (and count as a success) until the clock reaches it, and what lies between
// the real progress and it would never be collected.
type FutureCheckpointError struct {
	Where     string
	ScannedTo time.Time
	APIClock  time.Time
	Settle    time.Duration
}

func (e *FutureCheckpointError) Error() string {
	return fmt.Sprintf("checkpoint %s has scanned_to %s, later than the API's clock (%s) + settle (%v): collection would "+
		"silently stop until then, and nothing between the real progress and that time would ever be collected. Fix it with "+
		"`compliance-connect state rewind --to <time>` (or `state set`) to where collection really is",
		e.Where, window.Format(e.ScannedTo), window.Format(e.APIClock), e.Settle)
}

// checkNotFuture refuses a record whose scanned_to lies beyond the API's
// clock plus settle (written by another tool, or edited by hand).
func (j *job) checkNotFuture(rec *checkpoint.Record) error {
	c := j.c
	at := c.serverNow()
	if scanned := rec.ScannedToTime(); scanned.After(at.Add(c.cfg.Settle)) {
		return &FutureCheckpointError{Where: j.keeper.Where(), ScannedTo: scanned, APIClock: at, Settle: c.cfg.Settle}
	}
	return nil
}

// waitSettled waits until edge is settled on the API's clock (now - settle
// >= edge). The wait runs on the injected clock and must fit in what is left
// of job_timeout; if it cannot, the job fails at once saying when it could
// run.
func (j *job) waitSettled(edge time.Time) error {
	c := j.c
	logged := false
	for {
		ready := edge.Add(c.cfg.Settle)
		now := c.now()
		if !now.Before(ready) {
			return nil
		}
		wait := ready.Sub(now)
		local := c.deps.Clock.Now()
		if !j.deadlineAt.IsZero() && local.Add(wait).After(j.deadlineAt) {
			return fmt.Errorf("the range up to %s is not settled yet: the API may still index activities created before %s until %s "+
				"(its clock reads %s; settle %v), and waiting %v does not fit in job_timeout %v; run it after %s, or raise job_timeout (0 = unlimited)",
				window.Format(edge), window.Format(edge), window.Format(ready), window.Format(now), c.cfg.Settle,
				wait.Round(time.Millisecond), c.cfg.JobTimeout, window.Format(ready))
		}
		if !logged {
			logged = true
			c.deps.Log.Infof("job %s: waiting %v until the range up to %s is settled on the API's clock (at %s)",
				j.id, wait.Round(time.Millisecond), window.Format(edge), window.Format(ready))
		}
		t := c.deps.Clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-j.soft:
			t.Stop()
			return errStopped
		case <-j.ctx.Done():
			t.Stop()
			return errStopped
		}
	}
}

// errFenced wraps a write refused by Deps.Fence.
var errFenced = errors.New("checkpoint write refused")

// errForgotten ends a job whose checkpoint an operator deleted meanwhile.
var errForgotten = errors.New("the checkpoint was deleted by an operator during this job; nothing more is written and the next job starts again from `earliest`")

// save writes the record if the fence allows it and the checkpoint was not
// deleted on purpose since the job started.
func (j *job) save(ctx context.Context, rec *checkpoint.Record) error {
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
// is resolved and clamped on the server's time. It also surfaces a refused
// key before any slice is opened.
func (j *job) learnServerClock() error {
	c := j.c
	if !c.serverDate.IsZero() {
		return nil
	}
	if src := c.deps.Source; src != nil {
		date, err := src.Probe(j.fetchCtx)
		if err != nil {
			return fmt.Errorf("reading the API's clock: %w", err)
		}
		c.observeServerDate(date)
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
func (j *job) timedOut() bool {
	select {
	case <-j.deadline:
		return true
	default:
		return false
	}
}

// collect opens, walks and seals slices, oldest first, with at most
// MaxOpenSlices fetched but not committed.
func (j *job) collect(ctx context.Context) {
	cfg := j.c.cfg
	planner := window.NewPlanner(j.rng, cfg.Slices, j.c.nextLength)
	for !j.stopped() {
		j.waitForRoom(ctx)
		if j.stopped() {
			return
		}
		r, ok := planner.Next()
		if !ok {
			j.fetchDone = true
			return
		}
		s := &slice{ids: checkpoint.IDSet{}, acked: checkpoint.IDSet{}, state: map[string]any{}}
		s.setRange(r)
		j.open = append(j.open, s)
		j.rep.Slices++
		j.c.deps.Hooks.open(len(j.open), j.oldestWaiting())
		for {
			sealed, cut, err := j.walk(ctx, s)
			if err != nil {
				j.fail(j.sliceError(s, err))
				return
			}
			if cut > 0 {
				// The first page showed a burst: cut the slice to hold about
				// target_per_slice at that density and walk it again (its
				// first page was not emitted); the rest is planned after it.
				old := s.rng
				s.setRange(planner.Cut(r, cut))
				r = s.rng
				j.rep.SlicesCut++
				j.c.deps.Log.Debugf("job %s: slice %s is dense (first page full far from its start): cut to %s", j.id, old, s.rng)
				continue
			}
			if !sealed {
				return
			}
			break
		}
		s.sealed = true
		planner.Observe(r, s.returned)
		j.c.nextLength = planner.Length()
		j.tryCommit(ctx)
	}
}

// waitForRoom waits, applying acks, while MaxOpenSlices slices are open, and
// warns every AckWarnAfter that it does (an output batching by count with no
// period is the usual cause).
func (j *job) waitForRoom(ctx context.Context) {
	c := j.c
	if len(j.open) < c.cfg.MaxOpenSlices || j.stopped() {
		return
	}
	since := c.deps.Clock.Now()
	warn := c.deps.Clock.NewTimer(c.cfg.AckWarnAfter)
	defer func() { warn.Stop() }()
	for len(j.open) >= c.cfg.MaxOpenSlices && !j.stopped() {
		select {
		case ev := <-j.acks:
			j.handleAck(ev)
		case <-j.fetchCtx.Done():
		case <-ctx.Done():
			return
		case <-warn.C():
			n := j.outstanding()
			waited := c.deps.Clock.Now().Sub(since)
			c.deps.Log.Warnf("job %s has %d slices open (max_open_slices) and %d batches have been waiting for acknowledgement for %v before it can fetch more. "+
				"Likely causes: an output batching by count with no `period` (a partial batch never flushes), or a message that fails downstream "+
				"and is replayed forever (auto_replay_nacks); add a `period` or a dead-letter `fallback` output",
				j.id, len(j.open), n, waited.Truncate(time.Second))
			c.deps.Hooks.ackWait(n, waited)
			warn = c.deps.Clock.NewTimer(c.cfg.AckWarnAfter)
		}
	}
}

// sliceError wraps the failure of a slice's walk. A guard failure is
// deterministic: the same page fails on every job, so the error says where
// and how to skip past it.
func (j *job) sliceError(s *slice, err error) error {
	var g *pager.GuardError
	if !errors.As(err, &g) {
		return fmt.Errorf("slice [%s, %s): %w", s.from, s.to, err)
	}
	var way string
	if j.keeper != nil {
		way = fmt.Sprintf("`compliance-connect state rewind -c <this config> --to %s` (or POST /compliance/<label>/state?rewind_to=%s) skips past it, "+
			"giving up the activities of [%s, %s) not delivered yet (what this slice already delivered stays out); "+
			"nothing outside that range is lost. Report the request-id to Anthropic", s.to, s.to, s.from, s.to)
	} else {
		way = fmt.Sprintf("state tracking is off: restarting the input skips it (the activities of [%s, %s) are not collected); "+
			"report the request-id to Anthropic", s.from, s.to)
	}
	return fmt.Errorf("slice [%s, %s): %w. The API's answer breaks a guard, so this slice fails the same way on every job; %s",
		s.from, s.to, err, way)
}

// walk reads one slice. It returns sealed=false when the job was stopped
// before the walk ended, and cut > 0 when the first page showed the slice to
// be far denser than planned (nothing of it was emitted).
func (j *job) walk(ctx context.Context, s *slice) (sealed bool, cut time.Duration, err error) {
	if src := j.c.deps.Source; src != nil {
		return j.walkSource(ctx, s, src)
	}
	cfg := j.c.cfg
	params := api.ListParams{CreatedAtGTE: s.from, CreatedAtLT: s.to, Limit: cfg.PageSize}
	cfg.Filters.apply(&params)
	w, err := pager.New(j.c.deps.Lister, params)
	if err != nil {
		return false, 0, err
	}
	defer func() {
		j.rep.OrderViolations += w.OrderViolations()
		j.rep.TieViolations += w.TieOrderViolations()
	}()
	for {
		if j.stopped() {
			return false, 0, nil
		}
		page, err := w.Next(j.fetchCtx)
		if err != nil {
			if j.fetchCtx.Err() != nil && ctx.Err() == nil {
				return false, 0, nil // stopped mid-request: the slice stays open
			}
			return false, 0, err
		}
		j.rep.Pages++
		j.rep.FinalRequestID = page.RequestID
		j.c.observeServerDate(page.ServerDate)
		if w.Pages() == 1 && page.HasMore && len(page.Activities) > 0 {
			oldest := page.Activities[len(page.Activities)-1].CreatedAt
			covered := s.rng.To.Sub(oldest.UTC().Truncate(time.Second))
			if length, dense := window.DenseLength(s.rng.To.Sub(s.rng.From), covered, len(page.Activities), cfg.Slices); dense {
				return false, length, nil
			}
		}
		if !j.emitPage(s, page, w.Pages()) {
			return false, 0, nil
		}
		if !page.HasMore {
			return true, 0, nil
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
		if only := c.cfg.OnlyIDs; only != nil && !only.Has(a.ID) {
			j.rep.Filtered++
			continue
		}
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
	return j.send(s, Batch{Items: items, Ack: j.ackFunc(s, ids)})
}

// send hands out one batch of slice s, processing acks while the consumer
// is busy. It returns false when the job stopped before the batch was taken.
func (j *job) send(s *slice, b Batch) bool {
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

// ackFunc returns the Ack of one batch. Until the job ends it reports to the
// job goroutine; afterwards (see fence) to the collector's orphans.
func (j *job) ackFunc(s *slice, ids []idAt) func(error) {
	var once sync.Once
	return func(err error) {
		once.Do(func() { j.deliverAck(s, ids, err) })
	}
}

// deliverAck reports the ack of one batch of s that delivered ids: to the
// job goroutine until the job ends, to the collector's orphans afterwards.
func (j *job) deliverAck(s *slice, ids []idAt, err error) {
	j.ackMu.Lock()
	defer j.ackMu.Unlock()
	if j.over {
		j.c.orphans.resolve(ids, err)
		return
	}
	select {
	case j.acks <- ackEvent{s: s, ids: ids, err: err}:
	case <-j.ended:
		// The job is ending: fence takes ackMu next and hands
		// every batch still outstanding to the orphans.
		j.c.orphans.resolve(ids, err)
	}
}

// fence ends the job for its acks: nothing they carry commits any more. The
// batches still outstanding become the collector's orphans, and acks
// already queued are applied to them. It is idempotent.
func (j *job) fence() {
	select {
	case <-j.ended:
		return
	default:
	}
	// Adopt first: an ack that loses the race with close(ended) resolves
	// one of these batches.
	n := j.outstanding()
	j.c.orphans.adopt(n)
	j.rep.Outstanding = n
	close(j.ended)
	j.ackMu.Lock()
	defer j.ackMu.Unlock()
	j.over = true
	for {
		select {
		case ev := <-j.acks:
			j.c.orphans.resolve(ev.ids, ev.err)
		default:
			return
		}
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
		commits = append(commits, checkpoint.SliceCommit{To: s.rng.To, IDs: s.ids, Marks: s.marks})
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
		// Tracking off: slices are disjoint in time, so a committed slice's
		// ids are never needed for dedupe again; only the open slices'
		// sets are kept.
		overlap = 0
	}
	// Commit into a copy, adopted only once it is stored: a refused write
	// leaves the job's view (and its report) at what the store holds.
	next := j.rec
	if j.keeper != nil {
		next = j.rec.Clone()
	}
	next.Commit(commits, overlap, state, c.deps.Clock.Now())
	if h := c.cfg.MarkHorizon; h > 0 {
		next.PruneMarks(next.ScannedToTime().Add(-h))
	}
	info := CommitInfo{JobID: j.id, ScannedTo: next.ScannedToTime(), Slices: len(ready), Seen: next.Seen.Len(), Pending: len(next.Pending)}
	if j.keeper != nil && c.deps.Delivered != nil {
		j.recordDelivered(context.WithoutCancel(ctx), ready) // before the checkpoint moves past them
	}
	if j.keeper != nil {
		if err := j.save(context.WithoutCancel(ctx), next); err != nil {
			info.Err = err
			if !errors.Is(err, errFenced) && !errors.Is(err, errForgotten) {
				c.setHealth(err)
			}
			j.fail(fmt.Errorf("committing slices up to %s: %w", window.Format(info.ScannedTo), err))
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
	clock := c.deps.Clock
	var grace <-chan time.Time
	warn := clock.NewTimer(c.cfg.AckWarnAfter)
	defer func() { warn.Stop() }()
	waitStart := clock.Now()
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
			t := clock.NewTimer(c.cfg.DrainGrace)
			defer t.Stop()
			grace = t.C()
		} else if grace == nil {
			deadline = j.deadline
		}
		select {
		case ev := <-j.acks:
			j.handleAck(ev)
		case <-j.soft:
		case <-deadline:
		case <-grace:
			c.deps.Log.Warnf("job %s: %d batches still unacknowledged after the %v drain grace; their slices stay uncommitted. "+
				"Their acks are still awaited: the next job is skipped until they arrive (activities they deliver are not emitted again)",
				j.id, n, c.cfg.DrainGrace)
			return
		case <-warn.C():
			waited := clock.Now().Sub(waitStart)
			c.deps.Log.Warnf("job %s has fetched its window but %d batches have been waiting for acknowledgement for %v. "+
				"Likely causes: an output batching by count with no `period` (the last partial batch never flushes), or a message "+
				"that fails downstream and is replayed forever (auto_replay_nacks); add a `period` or a dead-letter `fallback` output",
				j.id, n, waited.Truncate(time.Second))
			c.deps.Hooks.ackWait(n, waited)
			warn = clock.NewTimer(c.cfg.AckWarnAfter)
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

// finish fences the job, records pending ids of slices that could not
// commit, updates health, and returns the report.
func (j *job) finish(ctx context.Context) (Report, error) {
	c := j.c
	rep := &j.rep
	j.fence()
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
	if j.rec != nil && ctx.Err() == nil && len(j.open) > 0 {
		pending := checkpoint.IDSet{}
		for _, s := range j.open {
			for id, sec := range s.acked {
				pending[id] = sec
			}
		}
		if len(pending) > 0 {
			j.rec.AddPending(pending, c.deps.Clock.Now())
			if j.keeper != nil {
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
	}
	if j.rec != nil {
		scanned := j.rec.ScannedToTime()
		rep.ScannedTo, rep.ScannedToTime = window.Format(scanned), scanned
		if c.cfg.Once {
			rep.Complete = !scanned.Before(j.until)
			if j.failure == nil && !rep.Complete {
				j.failure = fmt.Errorf("the `once` backfill stopped at %s, short of latest %s", rep.ScannedTo, window.Format(j.until))
			}
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
	var future *FutureCheckpointError
	switch {
	case api.IsAuth(j.failure):
		c.setHealth(fmt.Errorf("the Compliance API refused the key: %w", j.failure))
	case errors.As(j.failure, &future):
		c.setHealth(j.failure)
	case c.failedJobs >= c.cfg.MaxFailedJobs:
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
