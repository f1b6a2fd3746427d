package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/against"
	"github.com/compliance-connect/compliance-connect/audit/repair"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

const repairHelp = `--repair re-sends what the audit finds missing through the pipeline itself: a schedule: once run of the
input (--label, --endpoint) over the range the missing activities span, restricted to their ids (the
endpoint's only_ids_file), through the config's processors and output, in this process. It walks that range
again (the plan states the requests first; --max-requests applies to it too). It touches no checkpoint, lease
or HTTP port of a running collector; an output that refuses an activity fails it (auto_replay_nacks off).
Then the window is audited again and both reports are printed (--json: {"audit":…,"repair":…,"reaudit":…}).
It is refused when --to reaches past what the input has settled (its checkpoint's scanned_to - overlap): the
input may still deliver those activities itself, and a repair would duplicate them.`

// repairer repairs the gaps an audit finds, then audits again.
type repairer struct {
	c      *cli.Context
	raw    []byte
	src    *compliance.PipelineAPI
	say    func(format string, args ...any)
	stderr io.Writer
}

// newRepairer checks, before the audit spends any request, that the
// pipeline can be repaired for this window.
func newRepairer(ctx context.Context, c *cli.Context, raw []byte, src *compliance.PipelineAPI, w audit.Window, spec string, stderr io.Writer) (*repairer, error) {
	r := &repairer{c: c, raw: raw, src: src, stderr: stderr, say: func(format string, args ...any) {
		if !c.Bool("quiet") {
			fmt.Fprintf(stderr, "repair: "+format+"\n", args...)
		}
	}}
	if _, err := repair.Derive(raw, repair.Target{Label: src.Label, Endpoint: src.Endpoint, Range: w}); err != nil {
		return nil, fmt.Errorf("--repair: %w", err)
	}
	edge, err := settledEdge(ctx, raw, src.Label, src.Endpoint, src.Overlap)
	if err != nil {
		return nil, fmt.Errorf("--repair: %w", err)
	}
	switch {
	case edge.unknown != "":
		r.say("note: %s: make sure it will not collect the window again, or repaired activities may be delivered twice", edge.unknown)
	case edge.limited && w.To.After(edge.at):
		return nil, fmt.Errorf("--repair: the window ends at %s, after %s, up to which input %q has settled (%s): its next "+
			"jobs read from there again and may deliver those activities themselves, and a repair would duplicate them. "+
			"Repair up to --to %s, or once the input has moved past %s",
			w.To.UTC().Format(time.RFC3339), edge.at.UTC().Format(time.RFC3339), src.Label, edge.why,
			edge.at.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
	}
	if spec != "output" && !strings.HasPrefix(spec, "output:") {
		r.say("note: the repair writes through the pipeline's output; the re-audit reads %s, which must be where it writes", spec)
	}
	if outs, err := destinationOutputs(raw); err == nil && len(outs) > 1 {
		r.say("note: the pipeline has %d outputs (%s): the repair re-sends through the whole output, so those that already hold "+
			"these activities may receive them again (their own audits report them as duplicated; nothing is deleted)",
			len(outs), strings.Join(outs, ", "))
	}
	return r, nil
}

// wrapperOutputs route messages to other outputs, or nowhere.
var wrapperOutputs = []string{"broker", "switch", "fallback", "retry", "resource", "drop_on", "reject_errored", "dynamic", "drop", "reject", "sync_response"}

// destinationOutputs lists where the pipeline's output tree writes: every
// output kind of the binary except the wrappers.
func destinationOutputs(raw []byte) ([]string, error) {
	env, err := newEnvironment()
	if err != nil {
		return nil, err
	}
	var kinds []string
	env.WalkOutputs(func(name string, _ *service.ConfigView) {
		if !slices.Contains(wrapperOutputs, name) {
			kinds = append(kinds, name)
		}
	})
	outs, err := against.Outputs(compliance.ExpandEnv(raw), kinds...)
	if err != nil {
		return nil, err
	}
	var where []string
	for _, o := range outs {
		if strings.HasPrefix(o.Where, "output.") {
			where = append(where, o.Where)
		}
	}
	return where, nil
}

// edge is how far back a pipeline's input may still collect.
type edge struct {
	// limited: the input collects nothing created before at again.
	limited bool
	at      time.Time
	why     string
	// unknown says why it cannot be told.
	unknown string
}

// settledEdge reads the input's checkpoint: its next job reads from
// scanned_to - overlap, so what was created before that is never delivered
// again by it; a complete `once` backfill never runs again.
func settledEdge(ctx context.Context, raw []byte, label, endpoint string, overlap time.Duration) (edge, error) {
	p, err := compliance.OpenPipeline(raw, compliance.PipelineOptions{Label: label, State: true, UserAgent: "compliance-connect-audit/" + versionString()})
	if err != nil {
		return edge{}, err
	}
	defer func() { _ = p.Close(context.Background()) }()
	var pa *compliance.PipelineAPI
	for _, ep := range p.Endpoints {
		if ep.Kind == compliance.KindFeed && ep.Label == label && ep.Endpoint == endpoint {
			pa = ep // only the Activity Feed's checkpoint is a window on created_at
		}
	}
	switch {
	case pa == nil:
		return edge{}, fmt.Errorf("input %q has no Activity Feed endpoint %q", label, endpoint)
	case !pa.Tracking:
		return edge{unknown: "the input keeps no checkpoint (state tracking is off), so what it collects next is not known"}, nil
	case pa.Store.Err != nil:
		return edge{unknown: fmt.Sprintf("the input's checkpoint could not be read (%v)", pa.Store.Err)}, nil
	case pa.State == nil:
		return edge{unknown: "the input has no checkpoint store yet: when it starts it collects from `earliest`"}, nil
	}
	rec, err := pa.State.Show(ctx)
	switch {
	case errors.Is(err, compliance.ErrNoCheckpoint):
		return edge{unknown: "the input has no checkpoint yet: when it starts it collects from `earliest`"}, nil
	case err != nil:
		return edge{unknown: fmt.Sprintf("the input's checkpoint could not be read (%v)", err)}, nil
	}
	scanned := rec.ScannedToTime()
	if pa.Schedule.Once() && !scanned.Before(rec.UntilTime()) {
		return edge{}, nil // a complete backfill never collects again
	}
	return edge{limited: true, at: scanned.Add(-overlap),
		why: fmt.Sprintf("checkpoint %s: scanned_to %s - overlap %v", pa.State.Where(), scanned.UTC().Format(time.RFC3339), overlap)}, nil
}

// run audits, repairs what is missing and audits again.
func (r *repairer) run(ctx context.Context, a *auditor, stdout io.Writer) (int, error) {
	c := r.c
	out := &reports{w: stdout, json: c.Bool("json")}
	rep, err := a.run(ctx)
	if err != nil {
		return 0, err
	}
	defer rep.Close()
	if err := out.report("audit", "", rep, a); err != nil {
		return 0, err
	}
	if rep.Complete() {
		r.say("nothing is missing: nothing to repair")
		return auditComplete, out.end()
	}
	code, summary := r.repair(ctx, rep)
	if err := out.repair(summary); err != nil {
		return 0, err
	}
	if code != 0 {
		return code, out.end()
	}
	after, err := a.run(ctx)
	if err != nil {
		return 0, errors.Join(err, out.end())
	}
	defer after.Close()
	if err := out.report("reaudit", "after the repair:\n", after, a); err != nil {
		return 0, err
	}
	return exitCode(after), out.end()
}

// repairSummary is the repair's part of the output.
type repairSummary struct {
	From                string            `json:"from"`
	To                  string            `json:"to"`
	IDs                 int64             `json:"ids"`
	EstimatedActivities int64             `json:"estimated_activities"`
	EstimatedRequests   int64             `json:"estimated_requests"`
	Requests            int               `json:"requests"`
	Job                 *collector.Report `json:"job,omitempty"`
	Error               string            `json:"error,omitempty"`
}

// repair re-sends what rep found missing. It returns 0 when the run
// delivered everything it found, auditRepairFailed otherwise.
func (r *repairer) repair(ctx context.Context, rep *audit.Report) (int, repairSummary) {
	c, src := r.c, r.src
	fail := func(s repairSummary, err error) (int, repairSummary) {
		s.Error = err.Error()
		fmt.Fprintf(r.stderr, "repair: %v\n", err)
		return auditRepairFailed, s
	}
	dir, err := os.MkdirTemp(c.String("temp-dir"), "compliance-repair-*")
	if err != nil {
		return fail(repairSummary{}, err)
	}
	defer os.RemoveAll(dir)
	plan, target, err := repair.Prepare(rep, src, dir)
	if err != nil {
		return fail(repairSummary{}, err)
	}
	target.JobTimeout = c.Duration("repair-timeout")
	s := repairSummary{From: plan.Range.From.Format(time.RFC3339), To: plan.Range.To.Format(time.RFC3339), IDs: plan.IDs,
		EstimatedActivities: plan.Activities, EstimatedRequests: plan.Requests}
	r.say("re-sending %d activities through the pipeline's processors and output: a once run of input %q endpoint %q over %s, restricted to their ids",
		plan.IDs, src.Label, src.Endpoint, plan.Range)
	r.say("API cost: the walk returns about %d activities (all of the range; only those ids are kept): about %d requests (page_size %d, target_per_slice %d, max_slice %v); then the audit runs again",
		plan.Activities, plan.Requests, src.PageSize, src.Slices.Target, plan.MaxSlice)
	if limit := c.Int64("max-requests"); limit > 0 && plan.Requests > limit {
		return fail(s, fmt.Errorf("the repair would need about %d requests, --max-requests is %d", plan.Requests, limit))
	}
	level := slog.LevelInfo
	if c.Bool("quiet") {
		level = slog.LevelWarn
	}
	res, err := repair.Run(ctx, repair.Options{
		Pipeline: r.raw,
		Target:   target,
		Env: func(opts ...compliance.Option) (*service.Environment, error) {
			// The run keeps no state in a cache (tracking is off): there is
			// no cache type to check.
			return newEnvironment(append([]compliance.Option{compliance.WithCacheResources((&loadedConfig{}).cacheResource)}, opts...)...)
		},
		Logger: slog.New(slog.NewTextHandler(r.stderr, &slog.HandlerOptions{Level: level})),
	})
	if res.Ran {
		job := res.Job
		s.Job, s.Requests = &job, job.Pages+1
		r.say("re-sent %d of the %d missing activities (job %s, outcome %s): the walk returned %d activities, %d left out, in about %d requests",
			job.Emitted, plan.IDs, job.JobID, job.Outcome, job.Returned, job.Filtered, s.Requests)
		if err == nil && int64(job.Emitted) < plan.IDs {
			r.say("%d of the missing ids were not listed by the API in %s this time; the re-audit shows whether they are still expected",
				plan.IDs-int64(job.Emitted), plan.Range)
		}
	}
	if err != nil {
		return fail(s, fmt.Errorf("%w; what it delivered stays delivered: run the audit (with --repair) again", err))
	}
	return 0, s
}

// reports prints the reports of an audit with --repair: one after the other
// for people, or as one JSON object {"audit":…,"repair":…,"reaudit":…}.
type reports struct {
	w     io.Writer
	json  bool
	begun bool
}

func (o *reports) key(name string) error {
	sep := ","
	if !o.begun {
		sep, o.begun = "{", true
	}
	_, err := fmt.Fprintf(o.w, "%s%q:", sep, name)
	return err
}

func (o *reports) report(name, heading string, rep *audit.Report, a *auditor) error {
	if !o.json {
		if heading != "" {
			fmt.Fprint(o.w, "\n"+heading)
		}
		return a.write(o.w, rep)
	}
	if err := o.key(name); err != nil {
		return err
	}
	return rep.WriteJSON(o.w)
}

func (o *reports) repair(s repairSummary) error {
	if !o.json {
		fmt.Fprintf(o.w, "\nrepair of [%s, %s): %d missing activities", s.From, s.To, s.IDs)
		if j := s.Job; j != nil {
			fmt.Fprintf(o.w, ", %d re-sent (job %s, outcome %s; the walk returned %d activities, %d left out, about %d requests)",
				j.Emitted, j.JobID, j.Outcome, j.Returned, j.Filtered, s.Requests)
		}
		if s.Error != "" {
			fmt.Fprintf(o.w, "\n  FAILED: %s", s.Error)
		}
		_, err := fmt.Fprintln(o.w)
		return err
	}
	if err := o.key("repair"); err != nil {
		return err
	}
	return json.NewEncoder(o.w).Encode(s)
}

func (o *reports) end() error {
	if !o.json || !o.begun {
		return nil
	}
	_, err := fmt.Fprintln(o.w, "}")
	return err
}
