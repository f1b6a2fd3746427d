// Package collector runs collection jobs over the Activity Feed by the model
// of docs/collection-model: each job reads its window in adaptive slices,
// oldest first, deduplicates against the checkpoint and the open slices,
// hands activities out in batches, and moves the checkpoint only when a slice
// is sealed and every batch of it was acknowledged. A scheduled job's window
// is a function of its scheduled tick; a `once` backfill collects exactly
// [earliest, latest) of the API's clock. It knows nothing of Benthos: the
// glue package reads Batches, calls their Ack, and learns how each job ended
// from RunJob's Report.
package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/pager"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// Config is what one endpoint's collector needs to know.
type Config struct {
	Endpoint string // "activities"
	BaseURL  string
	Filters  Filters
	PageSize int

	Settle        time.Duration
	Overlap       time.Duration
	Slices        window.SliceConfig
	MaxOpenSlices int

	Earliest timeexpr.Expr
	Latest   timeexpr.Expr
	Location *time.Location

	// StateTracking off: every scheduled job collects [earliest(tick) -
	// settle, latest(tick) - settle) and nothing is persisted; within one
	// process a window that starts after what the previous jobs collected
	// (a skipped tick, a failed job) is extended back to it.
	StateTracking bool
	// Once: a single backfill of exactly [earliest, latest), resolved
	// against the API's clock, under its own key.
	Once bool
	// Adopt rewrites the identity of a checkpoint written with another base
	// URL or filter set instead of refusing it.
	Adopt bool
	// OnlyIDs restricts a `once` job to these activity ids: the others its
	// walk returns count as returned and filtered, never emitted. The set is
	// part of the checkpoint identity. nil: no restriction.
	OnlyIDs *IDSet

	JobTimeout   time.Duration // 0 = unlimited; stops fetching, then drains
	DrainGrace   time.Duration // how long an ending job waits for outstanding acks
	AckWarnAfter time.Duration // warn when a job waits on acks this long (draining, or at max_open_slices)
	BatchSize    int           // activities per handed-out batch (never spans pages)

	// MaxFailedJobs consecutive failed jobs without progress mark the
	// collector unhealthy.
	MaxFailedJobs int

	// FiltersHash, when set, replaces Filters.Hash() in the checkpoint
	// identity (a Source's own filters); PositionKey names the timestamp
	// the window runs on when it is not created_at (identity.key).
	FiltersHash string
	PositionKey string
	// MarkHorizon keeps a Source's marks (SliceWalk.Mark) while they are
	// newer than scanned_to - MarkHorizon; 0 keeps them all.
	MarkHorizon time.Duration
}

// Validate checks a config for values the collector cannot run with.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint name is empty"))
	}
	if c.PageSize < 1 || c.PageSize > 5000 {
		errs = append(errs, fmt.Errorf("page_size must be between 1 and 5000, got %d", c.PageSize))
	}
	if c.Settle < 60*time.Second {
		errs = append(errs, fmt.Errorf("settle must be at least 60s (the documented indexing lag), got %v", c.Settle))
	}
	if c.Settle%time.Second != 0 || c.Overlap%time.Second != 0 || c.Overlap < 0 {
		errs = append(errs, fmt.Errorf("settle and overlap must be whole, non-negative seconds, got %v and %v", c.Settle, c.Overlap))
	}
	if err := c.Slices.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxOpenSlices < 1 {
		errs = append(errs, fmt.Errorf("max_open_slices must be >= 1, got %d", c.MaxOpenSlices))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size must be >= 1, got %d", c.BatchSize))
	}
	if err := c.Filters.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.OnlyIDs != nil && !c.Once:
		errs = append(errs, errors.New("an id restriction (only_ids_file) needs schedule: once"))
	case c.OnlyIDs != nil && c.OnlyIDs.Len() == 0:
		errs = append(errs, errors.New("the id restriction (only_ids_file) holds no ids"))
	}
	return errors.Join(errs...)
}

// Identity is the checkpoint identity of this config.
func (c Config) Identity() checkpoint.Identity {
	id := checkpoint.Identity{Endpoint: c.Endpoint, BaseURL: c.BaseURL, Filters: c.Filters.Hash(), Key: c.PositionKey}
	if c.FiltersHash != "" {
		id.Filters = c.FiltersHash
	}
	if c.Once {
		id.Mode = "once"
	}
	if c.OnlyIDs != nil {
		// A run restricted to other ids is another collector: it never
		// resumes, nor is resumed by, a checkpoint of another id set.
		sum := sha256.Sum256([]byte(id.Filters + "\nonly_ids " + c.OnlyIDs.Digest()))
		id.Filters = "sha256:" + hex.EncodeToString(sum[:])
	}
	return id
}

// Clock tells the time and makes timers: job_timeout, the drain grace, ack
// warnings and settle waits all run on it, so tests drive them with a
// schedule.FakeClock. Only the glue passes the wall clock.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) schedule.Timer
}

// Logger receives the collector's log lines. The glue adapts a Benthos logger.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Deps are the collector's collaborators.
type Deps struct {
	// Lister reads the Activity Feed; Source, when set, replaces it for an
	// endpoint other than the feed (only one of them is needed).
	Lister pager.Lister
	Source Source
	// Keeper persists the checkpoint; nil when state tracking is off.
	Keeper *checkpoint.Keeper
	State  StateFuncs
	Clock  Clock
	Log    Logger
	Hooks  Hooks
	// Out is where batches are handed out; nil gives the collector its own
	// unbuffered channel. Collectors of one input share one channel.
	Out chan Batch
	// Fence, when set, is asked before every checkpoint write; an error
	// (e.g. the HA lease was lost) refuses the write and fails the job.
	Fence func(ctx context.Context) error
	// Delivered, when set (the endpoint reconciles), records the ids of
	// every committing slice before the checkpoint write (reconcile.go).
	Delivered DeliveredRecorder
}

// Collector runs jobs for one endpoint, one at a time. Batches are handed
// out through Batches(); RunJob owns every piece of job state.
type Collector struct {
	cfg  Config
	deps Deps
	out  chan Batch

	// Owned by the job goroutine (RunJob is never called concurrently).
	nextLength time.Duration // length of the next job's first slice
	failedJobs int
	lastFail   string
	jobSeq     int
	serverDate time.Time // from the last response's Date header
	localAtSrv time.Time // local clock when serverDate was read
	// mem is what jobs with state tracking off collected in this process:
	// scanned_to is the end of their committed slices (windows that start
	// later are extended back to it), pending the ids a failed job
	// delivered. Its seen set stays empty: slices are disjoint in time.
	mem *checkpoint.Record

	// orphans are the batches of ended jobs still held by the pipeline.
	orphans orphans

	healthMu  sync.Mutex
	unhealthy error
}

// New checks the config and returns a collector.
func New(cfg Config, deps Deps) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
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
	if (deps.Lister == nil && deps.Source == nil) || deps.Clock == nil {
		return nil, errors.New("collector needs a lister (or a source) and a clock")
	}
	if cfg.StateTracking && deps.Keeper == nil {
		return nil, errors.New("collector with state tracking needs a checkpoint keeper")
	}
	if deps.State == nil {
		deps.State = DefaultState{}
	}
	if deps.Log == nil {
		deps.Log = nopLogger{}
	}
	out := deps.Out
	if out == nil {
		out = make(chan Batch)
	}
	// The first slice starts at min_slice and grows with the density it sees:
	// starting at max_slice would put an unbounded number of activities in
	// one slice (and in what a crash re-delivers) when history is dense.
	return &Collector{cfg: cfg, deps: deps, out: out, nextLength: cfg.Slices.MinSlice}, nil
}

// Batches is where jobs hand out activities. It is unbuffered: a batch counts
// as delivered (and awaits its Ack) once received.
func (c *Collector) Batches() <-chan Batch { return c.out }

// Health is nil while the collector works, or the reason it does not:
// authentication refused, checkpoint writes failing, or jobs failing
// repeatedly without progress.
func (c *Collector) Health() error {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	return c.unhealthy
}

// HeldBatches is the number of batches of ended jobs that the pipeline
// still holds (an output outage with auto_replay_nacks): while it is not
// zero, jobs are skipped with outcome awaiting_acks.
func (c *Collector) HeldBatches() int { return c.orphans.outstanding() }

func (c *Collector) setHealth(err error) {
	c.healthMu.Lock()
	c.unhealthy = err
	c.healthMu.Unlock()
}

// now is the local clock clamped to the API's clock: min(local, server_date +
// elapsed). A collector clock running ahead would otherwise commit past data
// the API has not indexed yet. The Date header has whole seconds, so the
// server's time is underestimated by up to a second: the safe side.
func (c *Collector) now() time.Time {
	local := c.deps.Clock.Now()
	server := c.serverNow()
	if server.Before(local) {
		return server
	}
	return local
}

// serverNow is the API's clock as last seen plus the time elapsed since, or
// the local clock before any response. Relative `earliest`/`latest` of a
// fresh start and of a `once` backfill resolve against it.
func (c *Collector) serverNow() time.Time {
	local := c.deps.Clock.Now()
	if c.serverDate.IsZero() {
		return local
	}
	return c.serverDate.Add(local.Sub(c.localAtSrv))
}

func (c *Collector) observeServerDate(d time.Time) {
	if d.IsZero() {
		return
	}
	local := c.deps.Clock.Now()
	skew := local.Sub(d)
	if skew > 30*time.Second || skew < -30*time.Second {
		c.deps.Log.Warnf("local clock differs from the Compliance API's Date header by %v; collection bounds follow the API's clock", skew.Truncate(time.Second))
	}
	c.serverDate, c.localAtSrv = d, local
	c.deps.Hooks.clockSkew(skew)
}

// Batch is a group of activities from one page of one slice. Ack must be
// called exactly once, with nil when every activity was delivered.
type Batch struct {
	Items []Item
	Ack   func(err error)
}

// Item is one activity, or one record of a Source, and where it came from.
type Item struct {
	Activity api.Activity
	Origin   *Origin // shared by the items of a page
	// Record is set (and Activity empty) for an item of a Source.
	Record *Record
}

// Record is an item of a Source (a chat, a message, a file): the message
// body and its metadata, in order.
type Record struct {
	Body []byte
	Meta []MetaField
}

// MetaField is one metadata key and value of a Record.
type MetaField struct{ Key, Value string }

// Origin describes the request an activity came from (message metadata).
type Origin struct {
	JobID     string
	Endpoint  string
	SliceFrom string
	SliceTo   string
	Page      int
	RequestID string
	State     map[string]any // the saved user state when the job started
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
