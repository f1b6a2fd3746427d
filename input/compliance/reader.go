package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Jeffail/shutdown"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/emit"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
)

// Option customises Register.
type Option func(*options)

type options struct {
	now   func() time.Time
	clock schedule.TimerClock // the input's timers: job_timeout, drain grace, ack warnings, settle and lease waits
	// scheduleOnClock: schedule ticks run on clock and are passed to jobs
	// as they are. Without it (WithClock) ticks run on the wall clock and a
	// job's tick is now() when it starts.
	scheduleOnClock bool
	onceResult      func(label string, err error)
	cacheResource   func(resource string) (CacheResource, bool)
	httpServer      func() (HTTPServer, bool)
	jobReport       func(label string, rep collector.Report)
}

// WithClock replaces the time the input reads (tests drive windows with it).
// Timers and schedule ticks stay on the wall clock, and a job's tick is now()
// when it starts; WithTimers replaces all of them.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		o.now, o.clock, o.scheduleOnClock = now, nowClock{now}, false
	}
}

// WithTimers replaces the input's clock, its timers (job_timeout, drain
// grace, ack warnings, settle and lease waits) and its schedule ticks with
// c: tests pass a schedule.FakeClock and move time by hand. The API client's
// retry back-off and the lease renewal stay on the wall clock.
func WithTimers(c schedule.TimerClock) Option {
	return func(o *options) {
		o.now, o.clock, o.scheduleOnClock = c.Now, c, true
	}
}

// WithOnceResult is told how each `schedule: once` endpoint ended (nil error:
// its whole range was collected). The compliance-connect binary uses it to
// exit non-zero after a failed backfill.
func WithOnceResult(fn func(label string, err error)) Option {
	return func(o *options) { o.onceResult = fn }
}

// WithJobReports is given the report of every job as it ends (the report
// `GET /compliance/<label>/jobs` lists). `compliance-connect audit --repair`
// reads what its `once` run did from it.
func WithJobReports(fn func(label string, rep collector.Report)) Option {
	return func(o *options) { o.jobReport = fn }
}

func init() {
	if err := registerLintMethod(); err != nil {
		panic(err)
	}
	if err := Register(service.GlobalEnvironment()); err != nil {
		panic(err)
	}
}

// Register adds the anthropic_compliance input to env.
func Register(env *service.Environment, opts ...Option) error {
	o := options{now: time.Now, clock: schedule.RealClock{}, scheduleOnClock: true}
	for _, opt := range opts {
		opt(&o)
	}
	return env.RegisterBatchInput(Name, inputSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
		in, err := newInput(conf, mgr, o)
		if err != nil {
			return nil, err
		}
		return service.AutoRetryNacksBatchedToggled(conf, in)
	})
}

//------------------------------------------------------------------------------

// input adapts collectors to Benthos. One runner goroutine per endpoint owns
// its collector (a jobRunner) and calls RunJob on schedule; ReadBatch only
// receives from the shared channels; AckFuncs only report back to the job.
type input struct {
	log     inputLog
	mgr     *service.Resources
	opts    options
	cfg     *inputConfig
	runners []*endpointRunner
	out     chan collector.Batch // the Activity Feed's batches
	records chan emit.Batch      // every other endpoint's batches
	metrics *inputMetrics
	history *jobHistory
	// apiClock and stateMetrics serve the checkpoint (store.go).
	apiClock     *serverClock
	stateMetrics *stateMetrics
	budget       budgetState // for the job inspector
	shutSig      *shutdown.Signaller
	done         chan struct{} // closed when every runner has returned

	// reconcileMetrics: nil unless an endpoint reconciles (reconcile.go).
	reconcileMetrics *reconcileMetrics

	mu      sync.Mutex
	started bool
	stash   *readBatch // a batch taken by Connect while unhealthy
}

// readBatch is a batch turned into Benthos messages, with its AckFunc.
type readBatch struct {
	msgs service.MessageBatch
	ack  service.AckFunc
}

type endpointRunner struct {
	name       string
	key        string
	once       bool
	jobTimeout time.Duration
	job        jobRunner
	runner     schedule.Runner
	kind       endpointKind
	// tracking is state_tracking.enabled; where is then the checkpoint's
	// place in the store (for the job inspector).
	tracking bool
	where    string
	emit     string       // a snapshot endpoint's emit setting
	target   *StateTarget // nil when state tracking is off, and for a snapshot endpoint (its checkpoint is not a feed record)
	lease    *lease       // nil unless state.lease.enabled
	// leaseReady is closed once the lease's first refresh has a result.
	leaseReady chan struct{}
	// standby (runner goroutine) is whether the last job stood by for the
	// lease, so that only changes are logged.
	standby bool

	staleAfter time.Duration // 0: never stale

	// reconcile: nil unless the endpoint reconciles (reconcile.go).
	reconcile *reconcileRunner

	mu            sync.Mutex
	lastSuccess   time.Time // start-up, then the end of the last successful job
	lastCommit    time.Time // last checkpoint write (zero: none by this process)
	scannedTo     time.Time // scanned_to after the last commit
	oldestUnacked time.Time // hand-out time of the oldest unacknowledged batch (zero: none)
	live          liveJob   // the job in progress and counters, for the job inspector
}

func newInput(conf *service.ParsedConfig, mgr *service.Resources, o options) (*input, error) {
	cfg, err := parseConfig(conf, o.now())
	if err != nil {
		return nil, err
	}
	in := &input{
		log:     newInputLog(mgr.Logger(), cfg.LogLevel),
		mgr:     mgr,
		opts:    o,
		cfg:     cfg,
		out:     make(chan collector.Batch),
		records: make(chan emit.Batch),
		shutSig: shutdown.NewSignaller(),
		done:    make(chan struct{}),
	}
	in.metrics = newInputMetrics(mgr.Metrics())
	in.history = &jobHistory{ttl: cfg.JobHistoryTTL, now: o.now}
	for _, w := range cfg.warnings {
		in.log.Warn(w)
	}
	store, err := in.openStore()
	if err != nil {
		return nil, err
	}
	client, err := in.newClient()
	if err != nil {
		return nil, err
	}
	if cfg.StateKey == "" && mgr.Label() == "" {
		in.log.Warn("the anthropic_compliance input has no label: its checkpoint key uses \"default\"; give every input a label so that each has its own checkpoint")
	}
	for _, ep := range cfg.Endpoints {
		r, err := in.newRunner(ep, store, client)
		if err != nil {
			return nil, err
		}
		in.runners = append(in.runners, r)
	}
	in.registerAdminEndpoints()
	in.registerInspector()
	return in, nil
}

// checkpointKey is where an endpoint's checkpoint lives: state.key, or
// anthropic_compliance/<label>/<endpoint>, plus /once/<hash of the range>
// for a `once` backfill so that it never moves the continuous checkpoint.
func checkpointKey(cfg *inputConfig, label string, ep endpointConfig) string {
	key := cfg.StateKey
	if key == "" {
		if label == "" {
			label = "default"
		}
		key = "anthropic_compliance/" + label + "/" + ep.Name
	} else if len(cfg.Endpoints) > 1 {
		key += "/" + ep.Name
	}
	if ep.Settings.Schedule.Once() {
		sum := sha256.Sum256([]byte(ep.Raw.Earliest + ".." + ep.Raw.Latest + ".." + ep.Raw.Timezone))
		key += "/once/" + hex.EncodeToString(sum[:6])
	}
	if ep.OnlyIDs != nil {
		key += "/ids/" + strings.TrimPrefix(ep.OnlyIDs.Digest(), "sha256:")[:12]
	}
	return key
}

// collectorConfig is the collector's view of one endpoint.
func collectorConfig(cfg *inputConfig, ep endpointConfig) collector.Config {
	return collector.Config{
		Endpoint:      ep.Name,
		BaseURL:       cfg.BaseURL,
		Filters:       ep.Raw.Filters,
		PageSize:      ep.Raw.PageSize,
		Settle:        cfg.Settle,
		Overlap:       cfg.Overlap,
		Slices:        cfg.Slices,
		MaxOpenSlices: cfg.MaxOpenSlices,
		Earliest:      ep.Settings.Earliest,
		Latest:        ep.Settings.Latest,
		Location:      ep.Settings.Location,
		StateTracking: ep.Tracking,
		Once:          ep.Settings.Schedule.Once(),
		Adopt:         cfg.Adopt,
		JobTimeout:    ep.Settings.JobTimeout,
		DrainGrace:    cfg.DrainGrace,
		AckWarnAfter:  cfg.AckWarnAfter,
		BatchSize:     cfg.BatchSize,
		OnlyIDs:       ep.OnlyIDs,
	}
}

func (in *input) newClient() (*api.Client, error) {
	cc, err := in.cfg.API.clientConfig(in.mgr)
	if err != nil {
		return nil, err
	}
	cc.BaseURL = in.cfg.BaseURL
	cc.APIKey = in.cfg.APIKey
	cc.AnthropicVersion = in.cfg.AnthropicVersion
	cc.UserAgent = "compliance-connect/" + in.mgr.EngineVersion()
	cc.Now = in.opts.now
	cc.Hooks = in.apiHooks()
	client, err := api.New(cc)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	return client, nil
}

func (in *input) newRunner(ep endpointConfig, store *stateStore, client *api.Client) (*endpointRunner, error) {
	cfg := in.cfg
	r := &endpointRunner{
		name: ep.Name, once: ep.Settings.Schedule.Once(), jobTimeout: ep.Settings.JobTimeout,
		key: checkpointKey(cfg, in.mgr.Label(), ep), lastSuccess: in.opts.now(),
	}
	log := in.log.With("endpoint", ep.Name)
	if ep.Tracking && cfg.Lease {
		r.lease = newLease(in.mgr, cfg.StateCache, store.leaser, r.key, cfg.LeaseTTL, in.opts.now, log.l)
		r.leaseReady = make(chan struct{})
	}
	r.kind, r.tracking, r.emit = ep.Kind, ep.Tracking, ep.Snapshot.Emit
	env := runnerEnv{runner: r, client: client, log: log}
	if ep.Tracking {
		env.store = store
		r.where = store.Describe(r.key)
	}
	job, err := ep.Kind.build(in, ep, env)
	if err != nil {
		return nil, fmt.Errorf("%s[%s]: %w", fieldEndpoints, ep.Name, err)
	}
	r.job = job
	switch {
	case r.once || cfg.StaleAfter == 0:
	case cfg.StaleAfter > 0:
		r.staleAfter = cfg.StaleAfter
	default:
		r.staleAfter = 3 * ep.Settings.Schedule.Interval(in.opts.now())
	}
	r.runner = schedule.Runner{
		Spec:       ep.Settings.Schedule,
		RunOnStart: ep.RunOnStart,
		OnSkip: func(tick time.Time) {
			log.Warnf("schedule tick %s skipped: the previous job is still running", tick.UTC().Format(time.RFC3339))
			in.metrics.skippedTicks.Incr(1, ep.Name)
		},
	}
	if in.opts.scheduleOnClock {
		r.runner.Clock = in.opts.clock
	}
	return r, nil
}

// buildActivities makes the runner of the Activity Feed: the collector.
func buildActivities(in *input, ep endpointConfig, env runnerEnv) (jobRunner, error) {
	deps := collector.Deps{
		Lister: env.client,
		State:  newStateFuncs(ep.Update, ep.Merge),
		Clock:  in.opts.clock,
		Log:    env.log,
		Hooks:  in.collectorHooks(env.runner, env.log),
		Out:    in.out,
	}
	if env.store != nil {
		in.attachState(env.runner, ep, env.store, &deps)
	}
	// The record of delivered ids is written by the regular jobs, so it is
	// attached before the collector is built; the reconciler reads the
	// collector (its held batches), so it is built after.
	in.attachDelivered(env.runner, ep, env.store, &deps, env.log)
	coll, err := collector.New(collectorConfig(in.cfg, ep), deps)
	if err != nil {
		return nil, err
	}
	if err := in.attachReconciler(env.runner, coll, ep, env.store, env.client, env.log); err != nil {
		return nil, err
	}
	return coll, nil
}

// health is nil while the endpoint works: its collector is healthy and, unless
// it stands by for the lease, a job succeeded within stale_after.
func (r *endpointRunner) health(now time.Time) error {
	if err := r.job.Health(); err != nil {
		return err
	}
	if r.lease != nil {
		if err := r.lease.Err(); err != nil {
			return err
		}
	}
	if r.staleAfter <= 0 || (r.lease != nil && !r.lease.Held()) {
		return nil
	}
	r.mu.Lock()
	last := r.lastSuccess
	r.mu.Unlock()
	if since := now.Sub(last); since > r.staleAfter {
		return fmt.Errorf("no job succeeded for %v (stale_after %v); see the job reports", since.Truncate(time.Second), r.staleAfter)
	}
	return nil
}

func (r *endpointRunner) succeeded(at time.Time) {
	r.mu.Lock()
	r.lastSuccess = at
	r.mu.Unlock()
}

func (r *endpointRunner) committed(at, scannedTo time.Time) {
	r.mu.Lock()
	r.lastCommit, r.scannedTo = at, scannedTo
	r.mu.Unlock()
}

// progressed records scanned_to as a job ended (also after a restart,
// before this process commits, and after an operator's rewind).
func (r *endpointRunner) progressed(scannedTo time.Time) {
	r.mu.Lock()
	r.scannedTo = scannedTo
	r.mu.Unlock()
}

func (r *endpointRunner) waiting(oldest time.Time) {
	r.mu.Lock()
	r.oldestUnacked = oldest
	r.mu.Unlock()
}

// ages reports, at now, the collection lag (now - scanned_to), the checkpoint
// age (now - last commit) and the age of the oldest unacknowledged batch;
// each is -1 when unknown.
func (r *endpointRunner) ages(now time.Time) (lag, checkpoint, unacked time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	age := func(t time.Time) time.Duration {
		if t.IsZero() {
			return -1
		}
		return now.Sub(t)
	}
	return age(r.scannedTo), age(r.lastCommit), age(r.oldestUnacked)
}

//------------------------------------------------------------------------------

// Connect starts the runners on first call. Afterwards it reports health:
// Benthos marks the input not ready (/ready answers 503) while it fails.
func (in *input) Connect(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.started {
		in.started = true
		go in.run()
		return nil
	}
	if in.stash != nil {
		return nil
	}
	if err := in.health(); err != nil {
		// A job delivering right now (a retry after recovery, or another
		// endpoint that works) must not be blocked by the not-ready state:
		// take its batch and reconnect.
		select {
		case b := <-in.out:
			in.stash = in.feedBatch(b)
			return nil
		case b := <-in.records:
			in.stash = in.recordBatch(b)
			return nil
		default:
		}
		return service.NewErrBackOff(err, 5*time.Second)
	}
	return nil
}

func (in *input) health() error {
	var errs []error
	now := in.opts.now()
	for _, r := range in.runners {
		if err := r.health(now); err != nil {
			errs = append(errs, fmt.Errorf("endpoint %s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// run owns the runners; its exit is the only place that signals stopped.
func (in *input) run() {
	defer in.shutSig.TriggerHasStopped()
	defer close(in.done)
	softCtx, cancelSoft := in.shutSig.SoftStopCtx(context.Background())
	defer cancelSoft()
	hardCtx, cancelHard := in.shutSig.HardStopCtx(context.Background())
	defer cancelHard()
	var runners, helpers sync.WaitGroup
	helperCtx, stopHelpers := context.WithCancel(softCtx)
	for _, r := range in.runners {
		if r.lease != nil {
			helpers.Add(1)
			go func() {
				defer helpers.Done()
				r.lease.runSignalling(helperCtx, in.cfg.LeaseRenew, r.leaseReady)
			}()
		}
		runners.Add(1)
		go func() {
			defer runners.Done()
			in.runEndpoint(softCtx, hardCtx, r)
		}()
		if r.reconcile != nil {
			runners.Add(1)
			go func() {
				defer runners.Done()
				in.runReconcile(softCtx, hardCtx, r)
			}()
		}
	}
	helpers.Add(1)
	go func() {
		defer helpers.Done()
		in.reportAges(helperCtx)
	}()
	runners.Wait() // a `once` endpoint returns by itself; the others on soft stop
	stopHelpers()
	helpers.Wait()
}

func (in *input) runEndpoint(softCtx, hardCtx context.Context, r *endpointRunner) {
	err := r.runner.Run(softCtx, func(_ context.Context, tick time.Time) error {
		if !in.opts.scheduleOnClock {
			tick = in.opts.now() // ticks on the wall clock mean nothing to an injected clock
		}
		if r.lease != nil {
			if r.once {
				// A backfill waits for the lease: it must never report
				// success for work it did not do.
				if err := in.waitLease(softCtx, r); err != nil {
					in.jobEnded(r, notRun(r.name, tick, in.opts.now(), collector.OutcomeFailed, err))
					return err
				}
			} else if !in.leaseHeld(softCtx, r) {
				in.jobEnded(r, notRun(r.name, tick, in.opts.now(), collector.OutcomeStandby, nil))
				return nil
			}
		}
		r.jobStarting(tick, in.opts.now())
		rep, err := r.job.RunJob(hardCtx, tick, in.shutSig.SoftStopChan())
		in.jobEnded(r, rep)
		if in.opts.jobReport != nil {
			in.opts.jobReport(in.mgr.Label(), rep)
		}
		return err
	})
	if !r.once {
		return
	}
	if err != nil {
		again := "it resumes from checkpoint " + r.key + " when run again"
		if r.target == nil {
			again = "state tracking is off: it starts over when run again"
		}
		in.log.With("endpoint", r.name).Errorf("the `once` backfill failed: %v (%s)", err, again)
	} else {
		in.log.With("endpoint", r.name).Infof("the `once` backfill is complete")
	}
	if in.opts.onceResult != nil {
		in.opts.onceResult(in.mgr.Label(), err)
	}
}

// notRun is the report of a job that did not run.
func notRun(endpoint string, tick, now time.Time, outcome string, err error) collector.Report {
	rep := collector.Report{Endpoint: endpoint, Tick: tick, Start: now, End: now, Outcome: outcome}
	if k, _ := kindOf(endpoint); k.family != familyFeed {
		rep.Counts = map[string]int{} // reported like that endpoint's jobs
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

// ReadBatch hands out the next batch of any endpoint.
func (in *input) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	in.mu.Lock()
	if b := in.stash; b != nil {
		in.stash = nil
		in.mu.Unlock()
		return b.msgs, b.ack, nil
	}
	in.mu.Unlock()
	healthCheck := time.NewTicker(time.Second)
	defer healthCheck.Stop()
	for {
		select {
		case b := <-in.out:
			rb := in.feedBatch(b)
			return rb.msgs, rb.ack, nil
		case b := <-in.records:
			rb := in.recordBatch(b)
			return rb.msgs, rb.ack, nil
		case <-in.done:
			return nil, nil, service.ErrEndOfInput
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-healthCheck.C:
			if err := in.health(); err != nil {
				return nil, nil, service.ErrNotConnected
			}
		}
	}
}

// feedBatch turns a batch of activities into messages.
func (in *input) feedBatch(b collector.Batch) *readBatch {
	batch := make(service.MessageBatch, len(b.Items))
	var origin *collector.Origin
	var tmpl *service.Message
	for i, it := range b.Items {
		if it.Origin != origin {
			// The page-level metadata is set once on a template; each
			// activity's message is a copy of it.
			origin = it.Origin
			tmpl = service.NewMessage(nil)
			tmpl.MetaSetMut("compliance_endpoint", origin.Endpoint)
			tmpl.MetaSetMut("compliance_job_id", origin.JobID)
			tmpl.MetaSetMut("compliance_slice_from", origin.SliceFrom)
			tmpl.MetaSetMut("compliance_slice_to", origin.SliceTo)
			tmpl.MetaSetMut("compliance_page", strconv.Itoa(origin.Page))
			tmpl.MetaSetMut("compliance_request_id", origin.RequestID)
			tmpl.MetaSetMut("compliance_state", stateJSON(origin.State))
		}
		if it.Record != nil {
			batch[i] = recordMessage(tmpl, it.Record)
			continue
		}
		a := it.Activity
		m := tmpl.Copy()
		m.SetBytes(a.Raw)
		m.MetaSetMut("activity_id", a.ID)
		m.MetaSetMut("activity_type", a.Type)
		m.MetaSetMut("activity_created_at", a.CreatedAt.UTC().Format(time.RFC3339Nano))
		batch[i] = m
	}
	in.metrics.emitted.Incr(int64(len(batch)), firstEndpoint(b))
	acked := in.trackBatch(firstEndpoint(b))
	return &readBatch{msgs: batch, ack: func(_ context.Context, err error) error {
		acked()
		b.Ack(err)
		return nil
	}}
}

// recordBatch turns a batch of another endpoint into messages, counting
// them by compliance_record_type.
func (in *input) recordBatch(b emit.Batch) *readBatch {
	batch := make(service.MessageBatch, len(b.Messages))
	byType := map[string]int64{}
	for i, msg := range b.Messages {
		m := service.NewMessage(msg.Body)
		typ := ""
		for _, kv := range msg.Meta {
			m.MetaSetMut(kv.Key, kv.Value)
			if kv.Key == metaRecordType {
				typ = kv.Value
			}
		}
		byType[typ]++
		batch[i] = m
	}
	for typ, n := range byType {
		in.metrics.recordsEmitted.Incr(n, b.Endpoint, typ)
	}
	acked := in.trackBatch(b.Endpoint)
	return &readBatch{msgs: batch, ack: func(_ context.Context, err error) error {
		acked()
		b.Ack(err)
		return nil
	}}
}

// metaRecordType is the metadata naming a record's type (chat, user, ...).
const metaRecordType = "compliance_record_type"

func firstEndpoint(b collector.Batch) string {
	if len(b.Items) == 0 {
		return ""
	}
	return b.Items[0].Origin.Endpoint
}

func stateJSON(s map[string]any) string {
	if len(s) == 0 {
		return "{}"
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// Close stops scheduling, lets the running job apply the acks Benthos has
// already resolved and commit what completed, then returns. Batches that were
// never acknowledged are delivered again after a restart.
func (in *input) Close(ctx context.Context) error {
	in.leaveInspector()
	in.mu.Lock()
	started := in.started
	in.started = true
	in.mu.Unlock()
	in.shutSig.TriggerSoftStop()
	if !started {
		in.shutSig.TriggerHasStopped()
		return nil
	}
	select {
	case <-in.shutSig.HasStoppedChan():
		return nil
	case <-ctx.Done():
		in.shutSig.TriggerHardStop()
		return ctx.Err()
	}
}

//------------------------------------------------------------------------------

// nowClock reads an injected time and makes wall-clock timers.
type nowClock struct{ now func() time.Time }

func (c nowClock) Now() time.Time                        { return c.now() }
func (nowClock) After(d time.Duration) <-chan time.Time  { return time.After(d) }
func (nowClock) NewTimer(d time.Duration) schedule.Timer { return schedule.RealClock{}.NewTimer(d) }
