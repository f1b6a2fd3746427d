// Package repair re-sends the activities an audit found missing through the
// pipeline's own processors and outputs: it derives from the pipeline config
// a `schedule: once` run of its anthropic_compliance input over the range
// the missing activities span, restricted to their ids (the endpoint's
// only_ids_file), and runs that config in a Benthos stream of the caller's
// environment. It is the input's own collection, not a second path: what
// the pipeline does to an activity (processors, outputs, batching, retries)
// it does to a repaired one.
//
// The derived run differs from the pipeline in what decides how the range
// is walked and what is kept, never in what is delivered:
//   - only the chosen input and endpoint run (other inputs, input resources
//     and endpoints would collect and deliver again);
//   - the endpoint is a `once` over the range with only_ids_file, state
//     tracking off and a state directory of its own: the audit is the
//     repair's state, so the run reads and writes no checkpoint, lease or
//     store of the running collector;
//   - auto_replay_nacks is off: an output that refuses an activity fails the
//     run (exit non-zero) instead of replaying it forever;
//   - max_slice is raised to the range, so that a sparse range is not walked
//     in one-hour slices of at least one request each;
//   - no HTTP server and no metrics exporter, so that it neither clashes
//     with a running collector's port nor pushes into its series.
package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// Target is what a repair run collects.
type Target struct {
	// Label and Endpoint name the anthropic_compliance input and endpoint.
	Label, Endpoint string
	// Range is the once run's [earliest, latest), whole seconds.
	Range audit.Window
	// IDsFile lists the ids to re-send, one per line.
	IDsFile string
	// StateDir is the run's own state.path (it writes nothing there with
	// tracking off, but the input opens its store).
	StateDir string
	// JobTimeout is the run's job_timeout (0: unlimited).
	JobTimeout time.Duration
	// MaxSlice is the run's max_slice (0: the pipeline's).
	MaxSlice time.Duration
}

// Plan is what a repair will do and cost, stated before it runs.
type Plan struct {
	// Range covers every missing activity: [the oldest's created_at
	// rounded down, the newest's rounded down + 1s).
	Range audit.Window
	// IDs is the number of activities to re-send.
	IDs int64
	// Activities estimates what the API lists in Range (the walk returns
	// them all and keeps only IDs), Requests the requests of the walk.
	Activities, Requests int64
	// MaxSlice is the run's max_slice: the pipeline's, or Range when longer.
	MaxSlice time.Duration
}

// Prepare plans the repair of what rep found missing for the endpoint src
// of the pipeline, and writes the missing ids into dir: it returns the plan
// and the target of Run (whose JobTimeout is the caller's).
func Prepare(rep *audit.Report, src *compliance.PipelineAPI, dir string) (Plan, Target, error) {
	plan, err := newPlan(rep, src.PageSize, src.Slices)
	if err != nil {
		return Plan{}, Target{}, err
	}
	t := Target{Label: src.Label, Endpoint: src.Endpoint, Range: plan.Range, MaxSlice: plan.MaxSlice,
		IDsFile: filepath.Join(dir, "ids.txt"), StateDir: filepath.Join(dir, "state")}
	f, err := os.OpenFile(t.IDsFile, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Plan{}, Target{}, err
	}
	if _, err := rep.WriteMissingIDs(f); err != nil {
		f.Close()
		return Plan{}, Target{}, fmt.Errorf("writing the missing ids: %w", err)
	}
	return plan, t, f.Close()
}

// newPlan plans the repair of what rep found missing, for an endpoint that
// pages by pageSize and slices by slices.
func newPlan(rep *audit.Report, pageSize int, slices window.SliceConfig) (Plan, error) {
	if rep.OldestMissing == nil || rep.NewestMissing == nil {
		return Plan{}, errors.New("nothing is missing")
	}
	oldest, err := time.Parse(time.RFC3339Nano, rep.OldestMissing.CreatedAt)
	if err != nil {
		return Plan{}, fmt.Errorf("created_at of the oldest missing activity: %w", err)
	}
	newest, err := time.Parse(time.RFC3339Nano, rep.NewestMissing.CreatedAt)
	if err != nil {
		return Plan{}, fmt.Errorf("created_at of the newest missing activity: %w", err)
	}
	p := Plan{
		Range: audit.Window{From: oldest.UTC().Truncate(time.Second), To: newest.UTC().Truncate(time.Second).Add(time.Second)},
		IDs:   rep.Counts.Missing,
	}
	span := p.Range.To.Sub(p.Range.From)
	p.MaxSlice = max(slices.MaxSlice, span)
	p.Activities = rep.ListedBetween(p.Range.From, p.Range.To)
	p.Requests = estimateRequests(p.Activities, span, pageSize, window.SliceConfig{MinSlice: slices.MinSlice, MaxSlice: p.MaxSlice, Target: slices.Target})
	return p, nil
}

// estimateRequests bounds the requests of a once walk of n activities over
// span: one to read the API's clock, and per slice its pages. Slices start at
// min_slice and grow (doubling at worst) to the target's length; there are
// about n / target of them after that. Each slice costs ceil(its share /
// page size) pages, at least one.
func estimateRequests(n int64, span time.Duration, pageSize int, s window.SliceConfig) int64 {
	growth := int64(0)
	if s.MinSlice > 0 && span > s.MinSlice {
		growth = int64(math.Ceil(math.Log2(float64(span) / float64(s.MinSlice))))
	}
	slices := growth + 1 + (n+int64(s.Target)-1)/int64(max(s.Target, 1))
	pages := (n + int64(pageSize) - 1) / int64(max(pageSize, 1))
	return 1 + slices + pages
}

// Environment builds the Benthos environment the pipeline runs in, with the
// anthropic_compliance input registered with opts added to the caller's
// own: the compliance-connect binary passes its own environment.
type Environment func(opts ...compliance.Option) (*service.Environment, error)

// Options configure Run.
type Options struct {
	// Pipeline is the pipeline config as written (${VAR} not expanded: the
	// stream expands it, as `run` does).
	Pipeline []byte
	Target   Target
	Env      Environment
	// Logger receives the run's logs (nil: discarded).
	Logger *slog.Logger
	// StopGrace is how long the stream may take to stop by itself once the
	// once job has ended (outputs flushing), or after ctx ends, before it is
	// stopped by force (0: 10s). An output that retries forever (a fan_out
	// broker, a retry output) holds its messages past the job's end.
	StopGrace time.Duration
}

// Result is how the run ended.
type Result struct {
	// Job is the once job's report (zero if it never ran).
	Job collector.Report
	// Ran reports whether the job ran and reported.
	Ran bool
}

// Run derives the repair config and runs it. The error is nil only when
// the once job collected its whole range and every activity it emitted was
// acknowledged by the outputs.
func Run(ctx context.Context, o Options) (Result, error) {
	derived, err := Derive(o.Pipeline, o.Target)
	if err != nil {
		return Result{}, err
	}
	var (
		mu      sync.Mutex
		res     Result
		onceErr error
		ended   bool
	)
	endedCh := make(chan struct{})
	env, err := o.Env(
		compliance.WithOnceResult(func(label string, err error) {
			if label != o.Target.Label {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !ended {
				onceErr, ended = err, true
				close(endedCh)
			}
		}),
		compliance.WithJobReports(func(label string, rep collector.Report) {
			if label != o.Target.Label || rep.Endpoint != o.Target.Endpoint {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			res.Job, res.Ran = rep, true
		}),
	)
	if err != nil {
		return Result{}, err
	}
	sb := env.NewStreamBuilder()
	sb.SetHTTPMux(discardMux{})
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sb.SetLogger(logger)
	if err := sb.SetYAML(string(derived)); err != nil {
		return Result{}, fmt.Errorf("the repair config derived from the pipeline: %w", err)
	}
	if err := sb.SetMetricsYAML("none: {}"); err != nil {
		return Result{}, err
	}
	stream, err := sb.Build()
	if err != nil {
		return Result{}, fmt.Errorf("building the pipeline: %w", err)
	}
	runErr := run(ctx, stream, endedCh, o.StopGrace, logger)
	mu.Lock()
	defer mu.Unlock()
	switch {
	case ended && onceErr != nil:
		return res, fmt.Errorf("the repair run failed: %w", onceErr)
	case runErr != nil:
		return res, fmt.Errorf("the repair run failed: %w", runErr)
	case !ended:
		return res, errors.New("the repair run ended before its once job reported (the pipeline stopped early)")
	}
	return res, nil
}

// run runs the stream until it stops by itself, or stops it: grace after
// the once job ended (outputs may hold messages they retry forever), or at
// once when ctx ends.
func run(ctx context.Context, stream *service.Stream, ended <-chan struct{}, grace time.Duration, log *slog.Logger) error {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(runCtx) }()
	stop := func() error {
		cancel()
		<-done
		return stream.StopWithin(grace)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = stop()
		return ctx.Err()
	case <-ended:
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = stop()
		return ctx.Err()
	case <-timer.C:
		log.Warn(fmt.Sprintf("the repair's once job has ended but the pipeline still holds messages after %v (an output retrying forever?): stopping it", grace))
		_ = stop()
		return nil // the job's own result says what was delivered
	}
}

// discardMux takes the HTTP endpoints of the stream (Benthos's and the
// input's) and serves none of them: the run has no HTTP server.
type discardMux struct{}

func (discardMux) HandleFunc(string, func(http.ResponseWriter, *http.Request)) {}
