// Package preflight is `compliance-connect check`: before the first run of a
// pipeline it tells what will go wrong. It asks the Compliance API with the
// pipeline's own key and settings (the Activity Feed's sample request, and one
// request per other key scope the endpoints need), looks at
// the checkpoint store and the checkpoint without changing them (a probe key
// is written and deleted next to the checkpoint), reads how the HTTP server
// is exposed, and reaches each output that can tell whether it is reachable.
// Every check ends in one Result: ok, warn, fail or skip, with the fix.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// Status is the outcome of one check.
type Status string

// The outcomes. Only Fail makes the exit status non-zero.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	// Skip: the check could not be made or does not apply; the message
	// says why.
	Skip Status = "skip"
)

// The checks, in the order they are reported.
const (
	CheckKey        = "api.key"
	CheckScope      = "api.scope"
	CheckRequest    = "api.request"
	CheckClock      = "api.clock"
	CheckBudget     = "api.budget"
	CheckCost       = "api.cost"
	CheckStore      = "state.store"
	CheckCheckpoint = "state.checkpoint"
	CheckHTTP       = "http.server"
	CheckOutput     = "output"
)

var order = []string{CheckKey, CheckScope, CheckRequest, CheckClock, CheckBudget, CheckCost, CheckStore, CheckCheckpoint, CheckHTTP, CheckOutput}

// Result is the outcome of one check on one subject.
type Result struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Options configure a Run.
type Options struct {
	// Pipeline is the config file's content, ${VAR} not yet expanded.
	Pipeline []byte
	// Timeout bounds each API request and each output probe; 0 means 15s.
	Timeout time.Duration
	// UserAgent of the API requests.
	UserAgent string
	// Now is the local clock; nil means time.Now.
	Now func() time.Time
	// FSType names the file system holding a path ("tmpfs", "ext4"; "" when
	// unknown); nil uses statfs(2).
	FSType func(path string) (string, error)
}

// Report is every result of a run.
type Report struct {
	Results []Result `json:"checks"`
	// APIRequests is the number of requests sent to the Compliance API.
	APIRequests int `json:"api_requests"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Status == Fail {
			return true
		}
	}
	return false
}

// Count returns the number of results with status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// MaxAPIRequests documents the cost of a run: for each anthropic_compliance
// input, one request per Activity Feed endpoint plus one per other scope its
// other endpoints need (org data, user data), never retried; none for an
// input whose api_key is empty, and none after a 401 for the rest of that
// input's requests.
const MaxAPIRequests = "per anthropic_compliance input, one for the Activity Feed plus one per other key scope its other endpoints need (1 for the usual config, 3 at most), never retried"

// Run makes every check. An error means the checks could not be made at all
// (an unreadable or invalid config).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FSType == nil {
		o.FSType = fsType
	}
	expanded := compliance.ExpandEnv(o.Pipeline)
	var root map[string]any
	if err := yaml.Unmarshal(expanded, &root); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	probes := newProbes(o.Now)
	p, err := compliance.OpenPipeline(o.Pipeline, compliance.PipelineOptions{
		UserAgent: o.UserAgent, Hooks: probes.hooks, Probe: true, State: true,
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = p.Close(context.Background()) }()

	r := &run{o: o, root: root, pipeline: p, probes: probes, rep: &Report{}}
	r.api(ctx)
	r.state(ctx)
	r.cost()
	r.httpServer()
	r.outputs(ctx, expanded)
	r.rep.APIRequests = probes.requests
	r.sort()
	r.redact(secrets(root))
	return r.rep, nil
}

// run holds what the checks share.
type run struct {
	o        Options
	root     map[string]any
	pipeline *compliance.Pipeline
	probes   *probes
	rep      *Report
	// samples are the API requests' results, per endpoint
	samples map[*compliance.PipelineAPI]*sample
	// hasCheckpoint tells, per endpoint subject, whether a checkpoint
	// exists (else the first job backfills from earliest)
	hasCheckpoint map[string]bool
}

func (r *run) add(check, subject string, s Status, fix string, format string, args ...any) {
	r.rep.Results = append(r.rep.Results, Result{Check: check, Subject: subject, Status: s, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// sort orders results by check, keeping the order of subjects.
func (r *run) sort() {
	var out []Result
	for _, c := range order {
		for _, res := range r.rep.Results {
			if res.Check == c {
				out = append(out, res)
			}
		}
	}
	r.rep.Results = out
}

// redact removes every secret of the config from the report (the API client
// and the probes never put one there; this is the second line).
func (r *run) redact(secrets []string) {
	scrub := func(s string) string {
		for _, sec := range secrets {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
		return s
	}
	for i := range r.rep.Results {
		res := &r.rep.Results[i]
		res.Subject, res.Message, res.Fix = scrub(res.Subject), scrub(res.Message), scrub(res.Fix)
	}
}

// secretKeys are config fields that hold credentials.
var secretKeys = map[string]bool{
	"api_key": true, "token": true, "password": true, "secret": true, "password_hash": true,
	"session_token": true, "client_secret": true, "sasl_password": true,
}

// secrets collects the values of every credential field of the config.
func secrets(root map[string]any) []string {
	var out []string
	var walk func(node any)
	walk = func(node any) {
		switch n := node.(type) {
		case map[string]any:
			for k, v := range n {
				if s, ok := v.(string); ok && secretKeys[k] && len(strings.TrimSpace(s)) >= 4 {
					out = append(out, s, strings.TrimSpace(s))
					continue
				}
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(root)
	return out
}

func inputSubject(label string) string {
	if label == "" {
		return "input (no label)"
	}
	return fmt.Sprintf("input %q", label)
}

func endpointSubject(ep *compliance.PipelineAPI) string {
	return inputSubject(ep.Label) + " endpoint " + ep.Endpoint
}

// withTimeout bounds one probe.
func (r *run) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.o.Timeout)
}

// apiError is err as an *api.Error, if it is one.
func apiError(err error) (*api.Error, bool) {
	var e *api.Error
	ok := errors.As(err, &e)
	return e, ok
}

// describe is a short, key-free text of an error.
func describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	return err.Error()
}

// runningAsRoot notes that permission checks prove little as root.
func runningAsRoot() bool { return os.Geteuid() == 0 }
