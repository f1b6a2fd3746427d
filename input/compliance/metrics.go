package compliance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// inputMetrics are the input's own metrics. Benthos adds the component's
// label and path labels to each.
type inputMetrics struct {
	requests        *service.MetricCounter // endpoint, status_class
	retries         *service.MetricCounter // endpoint, reason
	rateWaits       *service.MetricCounter // reason
	rateWaitSeconds *service.MetricCounter // reason (float seconds)
	rateRemaining   *service.MetricGauge
	clockSkew       *service.MetricGauge

	pages          *service.MetricCounter // endpoint
	emitted        *service.MetricCounter // endpoint
	deduplicated   *service.MetricCounter // endpoint
	jobs           *service.MetricCounter // endpoint, outcome
	jobDuration    *service.MetricTimer   // endpoint
	lastSuccess    *service.MetricGauge   // endpoint (unix seconds)
	slicesCommit   *service.MetricCounter // endpoint
	writeErrors    *service.MetricCounter // endpoint
	scannedTo      *service.MetricGauge   // endpoint (unix seconds)
	lag            *service.MetricGauge   // endpoint (seconds: now - scanned_to)
	checkpointAge  *service.MetricGauge   // endpoint (seconds since the last checkpoint write)
	openSlices     *service.MetricGauge   // endpoint
	oldestUnacked  *service.MetricGauge   // endpoint (seconds the oldest unacknowledged batch has waited; 0 if none)
	lateCatch      *service.MetricTimer   // endpoint
	lateCatchCount *service.MetricCounter // endpoint
	skippedTicks   *service.MetricCounter // endpoint
	heldBatches    *service.MetricGauge   // endpoint (batches of ended jobs still held by the pipeline)

	// Endpoints other than activities.
	recordsEmitted  *service.MetricCounter // endpoint, record_type
	snapshots       *service.MetricCounter // endpoint, outcome
	snapshotRecords *service.MetricGauge   // endpoint (records of the last complete run)
	changes         *service.MetricCounter // endpoint, change
}

func newInputMetrics(m *service.Metrics) *inputMetrics {
	return &inputMetrics{
		requests:        m.NewCounter("compliance_requests", "endpoint", "status_class"),
		retries:         m.NewCounter("compliance_retries", "endpoint", "reason"),
		rateWaits:       m.NewCounter("compliance_rate_limit_waits", "reason"),
		rateWaitSeconds: m.NewCounter("compliance_rate_limit_wait_seconds", "reason"),
		rateRemaining:   m.NewGauge("compliance_ratelimit_remaining"),
		clockSkew:       m.NewGauge("compliance_clock_skew_seconds"),

		pages:          m.NewCounter("compliance_pages", "endpoint"),
		emitted:        m.NewCounter("compliance_activities_emitted", "endpoint"),
		deduplicated:   m.NewCounter("compliance_activities_deduplicated", "endpoint"),
		jobs:           m.NewCounter("compliance_jobs", "endpoint", "outcome"),
		jobDuration:    m.NewTimer("compliance_job_duration", "endpoint"),
		lastSuccess:    m.NewGauge("compliance_last_success_timestamp", "endpoint"),
		slicesCommit:   m.NewCounter("compliance_slices_committed", "endpoint"),
		writeErrors:    m.NewCounter("compliance_checkpoint_write_errors", "endpoint"),
		scannedTo:      m.NewGauge("compliance_checkpoint_scanned_to_timestamp", "endpoint"),
		lag:            m.NewGauge("compliance_collection_lag_seconds", "endpoint"),
		checkpointAge:  m.NewGauge("compliance_checkpoint_age_seconds", "endpoint"),
		openSlices:     m.NewGauge("compliance_open_slices", "endpoint"),
		oldestUnacked:  m.NewGauge("compliance_oldest_unacked_age_seconds", "endpoint"),
		lateCatch:      m.NewTimer("compliance_late_catch", "endpoint"),
		lateCatchCount: m.NewCounter("compliance_late_catches", "endpoint"),
		skippedTicks:   m.NewCounter("compliance_skipped_ticks", "endpoint"),
		heldBatches:    m.NewGauge("compliance_held_batches", "endpoint"),

		recordsEmitted:  m.NewCounter("compliance_records_emitted", "endpoint", "record_type"),
		snapshots:       m.NewCounter("compliance_snapshots", "endpoint", "outcome"),
		snapshotRecords: m.NewGauge("compliance_snapshot_records", "endpoint"),
		changes:         m.NewCounter("compliance_changes", "endpoint", "change"),
	}
}

// apiHooks report requests, retries and rate-limit waits.
func (in *input) apiHooks() api.Hooks {
	m := in.metrics
	return api.Hooks{
		OnRequest: func(r api.RequestInfo) {
			in.log.Debugf("request %s %s (attempt %d, headers %v)", r.Method, r.URL, r.Attempt, r.Headers)
		},
		OnResponse: func(r api.ResponseInfo) {
			class := "error"
			if r.Status > 0 {
				class = strconv.Itoa(r.Status/100) + "xx"
			}
			m.requests.Incr(1, r.Endpoint, class)
			in.apiClock.observe(r.ServerDate) // the clock state edits are checked against
			if r.RateLimit.Known {
				m.rateRemaining.Set(int64(r.RateLimit.Remaining))
				in.budget.observe(r.RateLimit, in.opts.now())
			}
			if r.Status == 401 || r.Status == 403 {
				in.log.Errorf("the Compliance API refused the key (status %d, request-id %s): %s", r.Status, r.RequestID, keyAdvice(r.Endpoint))
			}
		},
		OnRetry: func(r api.RetryInfo) {
			m.retries.Incr(1, r.Endpoint, r.Reason)
			if r.Capped {
				in.log.Warnf("the API asked to retry after %q; waiting retries.max_retry_after (%v) instead", r.RetryAfter, r.Wait)
			}
			in.log.Debugf("retrying request (attempt %d, %s, request-id %s) in %v", r.Attempt, r.Reason, r.RequestID, r.Wait)
		},
		OnWait: func(w api.WaitInfo) {
			m.rateWaits.Incr(1, w.Reason)
			m.rateWaitSeconds.IncrFloat64(w.Wait.Seconds(), w.Reason)
			in.budget.waited(w, in.opts.now())
			in.log.Infof("pausing %v for the shared rate budget (%s: %d of %d requests left until %s)", w.Wait.Truncate(time.Millisecond), w.Reason, w.Remaining, w.Limit, w.Reset.UTC().Format(time.RFC3339))
		},
	}
}

// keyAdvice says what key a request to an API endpoint (a hook's endpoint
// name) needs.
func keyAdvice(apiEndpoint string) string {
	scope := requestScope(apiEndpoint)
	switch {
	case apiEndpoint == api.EndpointActivities:
		return "check that it is a Compliance Access Key or Admin API key with the " + scope + " scope"
	case scope != "":
		return fmt.Sprintf("check that it is a Compliance Access Key (an Admin API key reads only the Activity Feed) with the %s scope (%s requests)", scope, apiEndpoint)
	}
	return "check that it is a Compliance Access Key with the scopes of the configured endpoints"
}

// collectorHooks observe pages and commits of one endpoint (metrics, the age
// gauges, progress lines of long jobs). How a job ended comes back from
// RunJob and lands in jobEnded.
func (in *input) collectorHooks(r *endpointRunner, log inputLog) collector.Hooks {
	m := in.metrics
	endpoint := r.name
	now := in.opts.now
	var mu sync.Mutex // the hooks of one endpoint run on its job goroutine; this guards lastProgress against surprises
	var lastProgress time.Time
	noun := "activities"
	if r.kind.family == familyIncremental {
		noun = "records" // chat versions, messages, files
	}
	return collector.Hooks{
		OnPage: func(p collector.PageInfo) {
			m.pages.Incr(1, endpoint)
			m.deduplicated.Incr(int64(p.Duplicates), endpoint)
			r.paged(p)
			mu.Lock()
			defer mu.Unlock()
			if t := now(); t.Sub(lastProgress) >= 10*time.Second {
				lastProgress = t
				rate := 0.0
				if d := t.Sub(p.Started).Seconds(); d > 0 {
					rate = float64(p.EmittedSoFar) / d
				}
				log.Infof("job %s: %d %s so far (%.1f %s/s), at slice %s page %d (%.0f%% of the window)", p.JobID, p.EmittedSoFar, noun, rate, noun, p.Slice, p.Page, 100*p.Progress)
			}
		},
		OnCommit: func(c collector.CommitInfo) {
			if c.Err != nil {
				m.writeErrors.Incr(1, endpoint)
				log.Errorf("checkpoint write failed: %v", c.Err)
				return
			}
			m.slicesCommit.Incr(int64(c.Slices), endpoint)
			m.scannedTo.Set(c.ScannedTo.Unix(), endpoint)
			r.committed(now(), c.ScannedTo)
			in.reportAgesOf(r)
			log.Debugf("committed %d slices: scanned_to %s (rev %d, %d seen, %d pending)", c.Slices, c.ScannedTo.UTC().Format(time.RFC3339), c.Rev, c.Seen, c.Pending)
		},
		OnLateCatch: func(d time.Duration) {
			m.lateCatchCount.Incr(1, endpoint)
			m.lateCatch.Timing(d.Nanoseconds(), endpoint)
			r.lateCaught(d)
		},
		OnClockSkew: func(d time.Duration) { m.clockSkew.Set(int64(d.Seconds())); r.skewed(d) },
		OnOpen: func(n int, oldest time.Time) {
			m.openSlices.Set(int64(n), endpoint)
			r.waiting(oldest)
			r.opened(n)
			in.reportAgesOf(r)
		},
	}
}

// jobEnded is where the result of every job lands, whether it ran or not
// (standby, a `once` that could not get the lease): job history, the jobs
// metric, last success, collection lag and the job report line.
func (in *input) jobEnded(r *endpointRunner, rep collector.Report) {
	m := in.metrics
	endpoint := r.name
	r.jobFinished()
	m.jobs.Incr(1, endpoint, rep.Outcome)
	in.history.add(rep)
	if rep.Outcome == collector.OutcomeStandby {
		return // logged by leaseHeld when it changes; a standby tick is not a job
	}
	m.jobDuration.Timing(rep.Duration().Nanoseconds(), endpoint)
	if !rep.ScannedToTime.IsZero() {
		r.progressed(rep.ScannedToTime)
	}
	if rep.Succeeded() {
		m.lastSuccess.Set(rep.End.Unix(), endpoint)
		r.succeeded(rep.End)
	}
	in.reportAgesOf(r)
	if r.kind.family == familySnapshot {
		in.recordJobEnded(endpoint, rep)
		return
	}
	// A chats or files job emits records (chat versions, messages, files)
	// and names them by their dedupe keys.
	noun, idNoun := "activities", "activity"
	if r.kind.family == familyIncremental {
		noun, idNoun = "records", "record"
	}
	l := in.log.With("endpoint", endpoint).With(
		"job_id", rep.JobID, "window_from", rep.From, "window_to", rep.To, "slices", rep.Slices,
		"slices_committed", rep.SlicesCommitted, "pages", rep.Pages, noun+"_emitted", rep.Emitted,
		noun+"_deduplicated", rep.Duplicates, "late_catches", rep.LateCatches,
		"first_"+idNoun+"_id", rep.FirstID, "last_"+idNoun+"_id", rep.LastID,
		"final_request_id", rep.FinalRequestID, "scanned_to", rep.ScannedTo,
		"duration", rep.Duration().String(), "outcome", rep.Outcome,
	)
	if rep.OrderViolations > 0 {
		l = l.With("order_violations", rep.OrderViolations)
	}
	if rep.SlicesCut > 0 {
		l = l.With("slices_cut", rep.SlicesCut)
	}
	if rep.Outstanding > 0 {
		l = l.With("outstanding_batches", rep.Outstanding)
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Counts)) {
		l = l.With(k, rep.Counts[k]) // a content endpoint's counts (chats_emitted, ...)
	}
	if rep.Error != "" {
		l.With("error", rep.Error).Error("job report")
		return
	}
	l.Info("job report")
}

// recordJobEnded logs the report of a job of an endpoint other than
// activities: its counts (records by type, changes, messages) are
// attributes of the line.
func (in *input) recordJobEnded(endpoint string, rep collector.Report) {
	kv := []any{"job_id", rep.JobID, "requests", rep.Pages, "messages_emitted", rep.Emitted}
	for _, k := range slices.Sorted(maps.Keys(rep.Counts)) {
		kv = append(kv, k, rep.Counts[k])
	}
	kv = append(kv, "final_request_id", rep.FinalRequestID, "duration", rep.Duration().String(), "outcome", rep.Outcome)
	l := in.log.With("endpoint", endpoint).With(kv...)
	if rep.Outstanding > 0 {
		l = l.With("outstanding_batches", rep.Outstanding)
	}
	if rep.Error != "" {
		l.With("error", rep.Error).Error("job report")
		return
	}
	l.Info("job report")
}

// reportAges refreshes the age gauges every few seconds until ctx ends, so
// that a stuck collector shows growing lag and checkpoint age.
func (in *input) reportAges(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		for _, r := range in.runners {
			in.reportAgesOf(r)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (in *input) reportAgesOf(r *endpointRunner) {
	lag, ckpt, unacked := r.ages(in.opts.now())
	if lag >= 0 {
		in.metrics.lag.Set(int64(lag.Seconds()), r.name)
	}
	if ckpt >= 0 {
		in.metrics.checkpointAge.Set(int64(ckpt.Seconds()), r.name)
	}
	if unacked < 0 {
		unacked = 0
	}
	in.metrics.oldestUnacked.Set(int64(unacked.Seconds()), r.name)
	in.metrics.heldBatches.Set(int64(r.job.HeldBatches()), r.name)
}
