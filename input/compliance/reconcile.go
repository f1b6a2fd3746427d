package compliance

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// This file holds an endpoint's optional reconciliation (`reconcile`): its
// config, the record of delivered ids its regular jobs write, and the second
// schedule that runs collector.Reconciler (collector/DESIGN-reconcile.md).

const (
	fieldEPReconcile  = "reconcile"
	fieldRCSchedule   = "schedule"
	fieldRCLookback   = "lookback"
	fieldRCSettle     = "settle"
	fieldRCRunOnStart = "run_on_start"
	fieldRCJobTimeout = "job_timeout"

	defaultRCSchedule   = "@daily"
	defaultRCLookback   = "24h"
	defaultRCSettle     = "1h"
	defaultRCJobTimeout = "1h"

	// maxLookback bounds the record of delivered ids (it holds every id of
	// lookback + settle).
	maxLookback = 7 * 24 * time.Hour
)

var (
	lookbackRule = durationRule{func(d time.Duration) bool { return d >= time.Minute && d <= maxLookback && d%time.Second == 0 },
		"must be whole seconds, at least 1m and at most 168h (the record of delivered ids holds every id of lookback + settle)"}
	reconcileSettleRule = durationRule{func(d time.Duration) bool { return d >= 0 && d <= maxLookback && d%time.Second == 0 },
		"must be whole, non-negative seconds, at most 168h"}
)

// reconcileField is endpoints[].reconcile. Its fields have no spec default:
// an object whose fields have defaults is always present after parsing, and
// presence is what enables reconciliation. parseReconcile applies the
// defaults the descriptions state.
func reconcileField() *service.ConfigField {
	return service.NewObjectField(fieldEPReconcile,
		service.NewStringField(fieldRCSchedule).
			Description("When reconciliation jobs start: a 5-field cron expression in the endpoint's `timezone` or `@every <duration>` (not `once`). A tick that arrives while the previous reconciliation runs is skipped. Default `"+defaultRCSchedule+"`.").
			Examples("@daily", "30 2 * * *", "@every 6h").
			Optional(),
		service.NewDurationField(fieldRCLookback).
			Description("Length of `created_at` each job walks again: `[tick - settle - lookback, tick - settle)`, never above the checkpoint's `seen_from` (what the regular jobs still read). At least the schedule's interval, so that consecutive windows leave no gap; at most 168h. The record of delivered ids holds `lookback + settle` of ids. Default `"+defaultRCLookback+"`.").
			Optional(),
		service.NewDurationField(fieldRCSettle).
			Description("How long after `created_at` an activity may be indexed and still be found by the one job whose window holds it: the window ends this long before the tick (with windows longer than the interval, up to `settle + lookback - interval`). Whole seconds. Default `"+defaultRCSettle+"`.").
			Optional(),
		service.NewBoolField(fieldRCRunOnStart).
			Description("Also run a reconciliation at start-up, not only on the schedule's ticks. Default `false`.").
			Optional(),
		service.NewStringField(fieldRCJobTimeout).
			Description("Longest a reconciliation may walk (it re-reads its whole window: about `activities / page_size` requests, plus one per covered 10-minute bucket); then it stops, drains its messages for `drain_grace` and ends. `0` = unlimited; a bare number is seconds. Default `"+defaultRCJobTimeout+"`.").
			Examples("1h", "0").
			Optional(),
	).Description("Reconciliation: a second, slower schedule that walks a past window again and emits only the activities this input has not delivered before (indexed by the API later than `settle + overlap`, which the regular jobs miss). It reads a record of the ids delivered over `lookback + settle` that the regular jobs write beside the checkpoint (keys `<checkpoint key>/delivered/<n>`), so the destination need not be queryable. Present (even `{}`) means enabled. Needs state tracking; not with `schedule: once`. See the README (How collection works) for what it guarantees.").
		Optional().
		Advanced()
}

func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// reconcileConfig is an endpoint's `reconcile`, checked.
type reconcileConfig struct {
	Schedule   schedule.Spec
	RunOnStart bool
	Lookback   time.Duration
	Settle     time.Duration
	JobTimeout time.Duration
}

// parseReconcile reads the `reconcile` of the endpoint that r reads, once its
// other settings are parsed into e; nil when it is absent or has problems
// (recorded in r, one per bad value).
func parseReconcile(r fieldReader, e *endpointConfig, now time.Time) *reconcileConfig {
	if !r.conf.Contains(fieldEPReconcile) {
		return nil
	}
	before := len(*r.p)
	switch {
	case !e.Tracking:
		r.add(fieldEPReconcile, "needs state_tracking.enabled: true (it walks below the checkpoint and reads the record of delivered ids kept beside it)")
	case e.Settings.Schedule.Once():
		r.add(fieldEPReconcile, "is not available with schedule: once (a backfill of a fixed range; run the backfill again later to collect what was indexed late)")
	}
	rr := r.at(fieldEPReconcile)
	has := func(field string) bool { return rr.conf.Contains(field) }
	c := &reconcileConfig{Lookback: mustDuration(defaultRCLookback), Settle: mustDuration(defaultRCSettle)}
	text := defaultRCSchedule
	if has(fieldRCSchedule) {
		text, _ = rr.str(fieldRCSchedule)
	}
	loc := e.Settings.Location
	if loc == nil {
		loc = time.UTC
	}
	spec, err := schedule.Parse(text, loc)
	scheduleOK := err == nil && !spec.Once()
	switch {
	case err != nil:
		rr.check(err, fieldRCSchedule)
	case spec.Once():
		rr.add(fieldRCSchedule, "must be a cron expression or @every <duration>, not once")
	}
	c.Schedule = spec
	problems := len(*r.p)
	if has(fieldRCLookback) {
		c.Lookback = rr.duration(lookbackRule, fieldRCLookback)
	}
	if scheduleOK && len(*r.p) == problems {
		if iv := spec.Interval(now); c.Lookback < iv {
			rr.add(fieldRCLookback, "%v is shorter than the interval of reconcile.schedule %q (%v): activities created in the rest of each interval would never be reconciled; set it to at least %v",
				c.Lookback, text, iv, iv)
		}
	}
	if has(fieldRCSettle) {
		c.Settle = rr.duration(reconcileSettleRule, fieldRCSettle)
	}
	if has(fieldRCRunOnStart) {
		c.RunOnStart = rr.boolean(fieldRCRunOnStart)
	}
	jt := defaultRCJobTimeout
	if has(fieldRCJobTimeout) {
		jt, _ = rr.str(fieldRCJobTimeout)
	}
	c.JobTimeout, err = timeexpr.ParseDurationSeconds(jt)
	rr.check(err, fieldRCJobTimeout)
	if len(*r.p) > before {
		return nil
	}
	return c
}

//------------------------------------------------------------------------------

// reconcileRunner is an endpoint's reconciliation: its record of delivered
// ids, its reconciler and its schedule.
type reconcileRunner struct {
	ledger *deliveredRecord
	rec    *collector.Reconciler
	runner schedule.Runner
}

// deliveredRecord is the endpoint's checkpoint.Delivered, counting failed
// writes and logging replaced documents.
type deliveredRecord struct {
	*checkpoint.Delivered
	endpoint string
	metrics  *reconcileMetrics
	log      inputLog
}

func (d *deliveredRecord) Record(ctx context.Context, ids checkpoint.IDSet, covered []checkpoint.Span, now time.Time) (checkpoint.RecordResult, error) {
	res, err := d.Delivered.Record(ctx, ids, covered, now)
	for _, where := range res.Replaced {
		d.log.Warnf("the record of delivered ids at %s did not decode and was replaced: the ranges it covered are not reconciled", where)
	}
	if err != nil {
		d.metrics.recordErrors.Incr(1, d.endpoint)
	}
	return res, err
}

// attachDelivered gives an endpoint that reconciles the record of delivered
// ids that its regular jobs write before each checkpoint commit (fenced by
// the HA lease like the checkpoint). It runs before the collector is built
// (buildActivities); store is nil without state tracking.
func (in *input) attachDelivered(r *endpointRunner, ep endpointConfig, store *stateStore, deps *collector.Deps, log inputLog) {
	if ep.Reconcile == nil || !ep.Tracking || r.once {
		return
	}
	if in.reconcileMetrics == nil {
		in.reconcileMetrics = newReconcileMetrics(in.mgr.Metrics())
	}
	var opts []checkpoint.DeliveredOption
	if r.lease != nil {
		opts = append(opts, checkpoint.WithDeliveredFence(r.lease.Fence(), r.lease.fence))
	}
	d := checkpoint.NewDelivered(store, r.key, collectorConfig(in.cfg, ep).Identity(), ep.Reconcile.Lookback+ep.Reconcile.Settle, opts...)
	rec := &deliveredRecord{Delivered: d, endpoint: ep.Name, metrics: in.reconcileMetrics, log: log}
	deps.Delivered = rec
	r.reconcile = &reconcileRunner{ledger: rec}
}

// attachReconciler builds the endpoint's reconciler and its schedule, once
// its collector coll exists (buildActivities). The reconciler shares the endpoint's API client (one
// rate budget) and output channel.
func (in *input) attachReconciler(r *endpointRunner, coll *collector.Collector, ep endpointConfig, store *stateStore, client *api.Client, log inputLog) error {
	if r.reconcile == nil {
		return nil
	}
	rc := ep.Reconcile
	rlog := log.With("job_kind", collector.KindReconcile)
	rec, err := collector.NewReconciler(collectorConfig(in.cfg, ep),
		collector.ReconcileConfig{Lookback: rc.Lookback, Settle: rc.Settle, JobTimeout: rc.JobTimeout},
		collector.ReconcileDeps{
			Lister: client,
			Checkpoint: func(ctx context.Context) (*checkpoint.Head, error) {
				return checkpoint.LoadHead(ctx, store, r.key)
			},
			Ledger:  r.reconcile.ledger,
			Regular: coll,
			Clock:   in.opts.clock,
			Log:     rlog,
			OnPage:  func(collector.PageInfo) { in.metrics.pages.Incr(1, ep.Name) },
			Out:     in.out,
		})
	if err != nil {
		return fmt.Errorf("%s[%s].%s: %w", fieldEndpoints, ep.Name, fieldEPReconcile, err)
	}
	r.reconcile.rec = rec
	r.reconcile.runner = schedule.Runner{
		Spec:       rc.Schedule,
		RunOnStart: rc.RunOnStart,
		OnSkip: func(tick time.Time) {
			rlog.Warnf("reconciliation tick %s skipped: the previous reconciliation is still running", tick.UTC().Format(time.RFC3339))
		},
	}
	if in.opts.scheduleOnClock {
		r.reconcile.runner.Clock = in.opts.clock
	}
	return nil
}

// runReconcile runs the endpoint's reconciliation schedule until soft stop.
// Reconciliation runs beside the regular jobs (their windows never meet);
// with the HA lease, only the instance holding it reconciles.
func (in *input) runReconcile(softCtx, hardCtx context.Context, r *endpointRunner) {
	rc := r.reconcile
	_ = rc.runner.Run(softCtx, func(_ context.Context, tick time.Time) error {
		if !in.opts.scheduleOnClock {
			tick = in.opts.now()
		}
		if r.lease != nil {
			select {
			case <-r.leaseReady:
			case <-softCtx.Done():
				return nil
			}
			if !r.lease.Held() {
				rep := notRun(r.name, tick, in.opts.now(), collector.OutcomeStandby, nil)
				rep.Kind = collector.KindReconcile
				in.reconcileEnded(r, rep)
				return nil
			}
		}
		rep, err := rc.rec.RunJob(hardCtx, tick, in.shutSig.SoftStopChan())
		in.reconcileEnded(r, rep)
		return err
	})
}

// reconcileEnded is where every reconciliation report lands: the job history
// (GET /compliance/<label>/jobs, kind "reconcile"), the metrics and the
// `reconcile report` log line. Reconciliation does not change readiness.
func (in *input) reconcileEnded(r *endpointRunner, rep collector.Report) {
	m := in.reconcileMetrics
	endpoint := r.name
	m.jobs.Incr(1, endpoint, rep.Outcome)
	in.history.add(rep)
	if rep.Outcome == collector.OutcomeStandby {
		return
	}
	m.duration.Timing(rep.Duration().Nanoseconds(), endpoint)
	m.lateFound.Incr(int64(rep.LateFound), endpoint)
	m.alreadyDelivered.Incr(int64(rep.Duplicates), endpoint)
	var unreconciled time.Duration
	for _, u := range rep.Unreconciled {
		if from, to, ok := parseRange(u); ok {
			unreconciled += to.Sub(from)
		}
	}
	if rep.Outcome != collector.OutcomeAwaitingAcks {
		m.unreconciled.Set(int64(unreconciled.Seconds()), endpoint)
	}
	if rep.Succeeded() {
		m.lastSuccess.Set(rep.End.Unix(), endpoint)
	}
	l := in.log.With("endpoint", endpoint).With(
		"job_id", rep.JobID, "window_from", rep.From, "window_to", rep.To, "slices", rep.Slices, "pages", rep.Pages,
		"activities_returned", rep.Returned, "late_found", rep.LateFound, "already_delivered", rep.Duplicates,
		"recorded", rep.Recorded, "first_activity_id", rep.FirstID, "last_activity_id", rep.LastID,
		"final_request_id", rep.FinalRequestID, "duration", rep.Duration().String(), "outcome", rep.Outcome,
	)
	if len(rep.Unreconciled) > 0 {
		l = l.With("unreconciled", strings.Join(rep.Unreconciled, ", "))
	}
	if rep.Outstanding > 0 {
		l = l.With("outstanding_batches", rep.Outstanding)
	}
	if rep.Error != "" {
		l.With("error", rep.Error).Error("reconcile report")
		return
	}
	l.Info("reconcile report")
}

// parseRange reads window.Range.String().
func parseRange(s string) (from, to time.Time, ok bool) {
	a, b, found := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(s, "["), ")"), ", ")
	if !found {
		return
	}
	var err1, err2 error
	from, err1 = window.Parse(a)
	to, err2 = window.Parse(b)
	return from, to, err1 == nil && err2 == nil
}

// reconcileMetrics are the reconciliation's own metrics (the API requests it
// makes are counted with the endpoint's, in compliance_requests).
type reconcileMetrics struct {
	jobs             *service.MetricCounter // endpoint, outcome
	duration         *service.MetricTimer   // endpoint
	lateFound        *service.MetricCounter // endpoint
	alreadyDelivered *service.MetricCounter // endpoint
	unreconciled     *service.MetricGauge   // endpoint (seconds of the last window the record did not cover)
	lastSuccess      *service.MetricGauge   // endpoint (unix seconds)
	recordErrors     *service.MetricCounter // endpoint (failed writes of the record of delivered ids)
}

func newReconcileMetrics(m *service.Metrics) *reconcileMetrics {
	return &reconcileMetrics{
		jobs:             m.NewCounter("compliance_reconcile_jobs", "endpoint", "outcome"),
		duration:         m.NewTimer("compliance_reconcile_job_duration", "endpoint"),
		lateFound:        m.NewCounter("compliance_reconcile_late_found", "endpoint"),
		alreadyDelivered: m.NewCounter("compliance_reconcile_already_delivered", "endpoint"),
		unreconciled:     m.NewGauge("compliance_reconcile_unreconciled_seconds", "endpoint"),
		lastSuccess:      m.NewGauge("compliance_reconcile_last_success_timestamp", "endpoint"),
		recordErrors:     m.NewCounter("compliance_delivered_record_errors", "endpoint"),
	}
}
