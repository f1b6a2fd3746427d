// Package snapshot collects the directory endpoints (organizations, users,
// roles, groups, organization_settings) and projects of the Compliance API:
// each job walks the whole list and emits either every record followed by a
// completion marker (emit: snapshot) or the records that were added, changed
// or removed since the last complete run (emit: changes), from a per-record
// hash kept in the checkpoint. Messages go out as emit.Batches; the
// checkpoint moves only when the outputs have acknowledged them. It knows
// nothing of Benthos; the input's runner drives RunJob.
package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/emit"
)

// What a run emits (Config.Emit).
const (
	EmitSnapshot = "snapshot"
	EmitChanges  = "changes"
)

// Changes (metadata compliance_change).
const (
	Added   = "added"
	Changed = "changed"
	Removed = "removed"
)

// Metadata keys.
const (
	MetaEndpoint         = "compliance_endpoint"
	MetaJobID            = "compliance_job_id"
	MetaSnapshotID       = "compliance_snapshot_id"
	MetaRecordType       = "compliance_record_type"
	MetaRecordKey        = "compliance_record_key"
	MetaRequestID        = "compliance_request_id"
	MetaChange           = "compliance_change"
	MetaSnapshotComplete = "compliance_snapshot_complete"
)

// MarkerType is the compliance_record_type of the completion marker.
const MarkerType = "snapshot_complete"

// Config is one endpoint's settings.
type Config struct {
	Endpoint string // one of Endpoints()
	BaseURL  string
	Emit     string // EmitSnapshot or EmitChanges
	// IncludePrevious keeps the records of the last run in a second
	// document, for the previous version of changed and removed records.
	IncludePrevious bool
	// SilentBaseline makes the first run of emit: changes record the
	// hashes without emitting anything.
	SilentBaseline bool
	// MaxRecords bounds the records a run may walk.
	MaxRecords int
	PageSize   int
	// OrganizationIDs narrows the organisations walked (users, roles,
	// organization_settings) or asked for (projects).
	OrganizationIDs []string
	// IncludeDocuments (projects only) fetches the content of every
	// project_doc attachment, one request each, and emits it as a record of
	// type DocumentType.
	IncludeDocuments bool
	BatchSize        int

	JobTimeout   time.Duration // 0: unlimited
	DrainGrace   time.Duration // how long an ending job waits for outstanding acks
	AckWarnAfter time.Duration // warn when a job waits on acks this long
	Once         bool
	// Adopt takes over a checkpoint of another identity instead of
	// refusing it.
	Adopt bool
	// MaxFailedJobs consecutive failed jobs mark the collector unhealthy.
	MaxFailedJobs int
}

// Validate checks a config for values the collector cannot run with.
func (c *Config) Validate() error {
	var errs []error
	known := false
	for _, e := range Endpoints() {
		known = known || e == c.Endpoint
	}
	if !known {
		errs = append(errs, fmt.Errorf("unknown endpoint %q", c.Endpoint))
	}
	if c.Emit != EmitSnapshot && c.Emit != EmitChanges {
		errs = append(errs, fmt.Errorf("emit must be %s or %s, got %q", EmitSnapshot, EmitChanges, c.Emit))
	}
	if c.IncludeDocuments && c.Endpoint != Projects {
		errs = append(errs, fmt.Errorf("include_documents applies only to %s, not to %s", Projects, c.Endpoint))
	}
	if c.MaxRecords < 1 || c.BatchSize < 1 || c.PageSize < 1 {
		errs = append(errs, fmt.Errorf("max_records, batch size and page size must be at least 1, got %d, %d and %d", c.MaxRecords, c.BatchSize, c.PageSize))
	}
	return errors.Join(errs...)
}

// Identity is the checkpoint identity of this config.
func (c Config) Identity() Identity {
	return Identity{Endpoint: c.Endpoint, BaseURL: c.BaseURL, Emit: c.Emit,
		Filters: collector.Filters{OrganizationIDs: c.OrganizationIDs}.Hash()}
}

// Clock tells the time and makes timers (job_timeout, drain grace, ack
// warnings), so that tests drive them with a schedule.FakeClock: the feed
// collector's.
type Clock = collector.Clock

// Logger receives the collector's log lines: the feed collector's.
type Logger = collector.Logger

// Hooks report what jobs do, for metrics. Every field is optional; they are
// called from the job goroutine and must not block.
type Hooks struct {
	// OnRequest is called for every answered request of a walk.
	OnRequest func()
	// OnCommit is called after every checkpoint write (Err set when it
	// failed).
	OnCommit func(CommitInfo)
	// OnRun is called when a run that walked ends: outcome "complete", or
	// the job's outcome; records is what the walk returned.
	OnRun func(outcome string, records int)
	// OnChanges reports the changes a run emits, by change.
	OnChanges func(change string, n int)
}

// CommitInfo describes one checkpoint write.
type CommitInfo struct {
	JobID string
	Rev   int64
	// Complete: the write moved the position (a complete run); otherwise it
	// recorded the acknowledged changes of a run that did not complete.
	Complete bool
	Changes  int
	Err      error
}

// Deps are the collector's collaborators.
type Deps struct {
	API API
	// Store holds the checkpoint under Key; nil keeps none (emit: snapshot
	// with state tracking off).
	Store checkpoint.Store
	Key   string
	// Fence is the lease every write requires (zero: none); CheckFence,
	// when set, is asked before every write.
	Fence      checkpoint.Fence
	CheckFence func(ctx context.Context) error
	Clock      Clock
	Log        Logger
	// Out is where batches are handed out (shared by the input's
	// endpoints); a batch counts as delivered once received.
	Out   chan<- emit.Batch
	Hooks Hooks
	// ScopeOf names the key scope of a request (by the client's endpoint
	// names), for the errors of refused requests.
	ScopeOf func(apiEndpoint string) string
}

// Collector runs the jobs of one endpoint, one at a time.
type Collector struct {
	cfg  Config
	deps Deps

	// Owned by the job goroutine.
	ckpt     *keeper    // nil without a store
	slots    [2]*keeper // the records documents, <key>/records/a and /b
	jobSeq   int
	late     *pendingWrite // changes of an ended job whose acks may still arrive
	failed   int
	lastFail string

	// last holds the last job's batches: the next job waits for them
	// (HeldBatches reads it from the metrics goroutine).
	last atomic.Pointer[emit.Acks]

	healthMu  sync.Mutex
	unhealthy error
}

// New checks the config and returns a collector.
func New(cfg Config, deps Deps) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.API == nil || deps.Clock == nil || deps.Out == nil {
		return nil, errors.New("snapshot collector needs an API, a clock and an output channel")
	}
	if cfg.Emit == EmitChanges && deps.Store == nil {
		return nil, errors.New("emit: changes needs a checkpoint store")
	}
	if cfg.MaxFailedJobs < 1 {
		cfg.MaxFailedJobs = 3
	}
	if cfg.DrainGrace <= 0 {
		cfg.DrainGrace = 30 * time.Second
	}
	if cfg.AckWarnAfter <= 0 {
		cfg.AckWarnAfter = time.Minute
	}
	if deps.Log == nil {
		deps.Log = nopLogger{}
	}
	c := &Collector{cfg: cfg, deps: deps}
	c.last.Store(emit.NewAcks())
	if deps.Store != nil {
		c.ckpt = &keeper{store: deps.Store, key: deps.Key, fence: deps.Fence}
		for i, s := range []string{"a", "b"} {
			c.slots[i] = &keeper{store: deps.Store, key: deps.Key + "/records/" + s, fence: deps.Fence}
		}
	}
	return c, nil
}

// Health is nil while the collector works, or why it does not: the key was
// refused, the checkpoint cannot be written or read, or jobs keep failing.
func (c *Collector) Health() error {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	return c.unhealthy
}

func (c *Collector) setHealth(err error) {
	c.healthMu.Lock()
	c.unhealthy = err
	c.healthMu.Unlock()
}

// HeldBatches is the number of batches of ended jobs the pipeline still
// holds; jobs are skipped (awaiting_acks) until it is zero.
func (c *Collector) HeldBatches() int { return c.last.Load().Outstanding() }

var (
	errStopped = errors.New("the input is stopping")
	// ErrJobTimeout ends a job that passed job_timeout.
	ErrJobTimeout = errors.New("job_timeout passed")
)

// newJobID names a job: endpoint, start time, sequence and a random part,
// so that the snapshot ids of two processes never collide.
func (c *Collector) newJobID(start time.Time) string {
	c.jobSeq++
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%d-%s", c.cfg.Endpoint, start.UTC().Format("20060102T150405Z"), c.jobSeq, hex.EncodeToString(b[:]))
}

// RunJob runs one job to its end and returns its report; the error is the
// job's failure, if any. soft closing stops it gracefully (what was
// acknowledged is recorded); ctx ending stops it at once, writing nothing
// more. Call it from one goroutine.
func (c *Collector) RunJob(ctx context.Context, tick time.Time, soft <-chan struct{}) (collector.Report, error) {
	start := c.deps.Clock.Now()
	if tick.IsZero() {
		tick = start
	}
	j := &job{c: c, id: c.newJobID(start), soft: soft, ctx: ctx, acks: emit.NewAcks(), counts: map[string]int{}, deadline: make(chan struct{})}
	j.rep = collector.Report{JobID: j.id, Endpoint: c.cfg.Endpoint, Tick: tick, Start: start}
	if n := c.last.Load().Outstanding(); n > 0 {
		c.deps.Log.Warnf("job %s skipped: %d batches of an earlier job are still held by the pipeline, not yet acknowledged "+
			"(likely an output outage: with auto_replay_nacks Benthos keeps re-sending them); the next job runs once they are acknowledged", j.id, n)
		j.rep.Outstanding = n
		j.rep.Outcome = collector.OutcomeAwaitingAcks
		j.rep.Counts = j.counts
		j.rep.End = c.deps.Clock.Now()
		j.rep.DurationSeconds = j.rep.End.Sub(start).Seconds()
		return j.rep, nil
	}
	c.last.Store(j.acks)

	ended := make(chan struct{})
	defer close(ended)
	if c.cfg.JobTimeout > 0 {
		timer := c.deps.Clock.NewTimer(c.cfg.JobTimeout)
		defer timer.Stop() // before RunJob returns: a later job never sees this one's timer
		go func() {
			select {
			case <-timer.C():
				close(j.deadline)
			case <-ended:
			}
		}()
	}
	fetchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	j.fetchCtx = fetchCtx
	go func() {
		select {
		case <-soft:
		case <-j.deadline:
		case <-ended:
		}
		cancel()
	}()

	j.failure = j.run()
	return j.finish()
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}

// isAPIRefusal reports whether err is the API refusing the key.
func isAPIRefusal(err error) bool { return api.IsAuth(err) }
