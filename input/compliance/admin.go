package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

// ErrNoCheckpoint is returned by StateTarget.Show when nothing is stored yet.
var ErrNoCheckpoint = errors.New("no checkpoint stored yet")

// StateTarget is where one endpoint of one anthropic_compliance input keeps
// its checkpoint: what `compliance-connect state` and the HTTP state
// endpoints work on (Cribl's "Manage State").
type StateTarget struct {
	Label    string
	Endpoint string
	Key      string

	identity checkpoint.Identity
	store    checkpoint.Store
	forget   func() // tells a running collector in this process about a delete
}

// Where describes the checkpoint's location.
func (t *StateTarget) Where() string { return t.store.Describe(t.Key) }

// Show returns the stored checkpoint, or ErrNoCheckpoint.
func (t *StateTarget) Show(ctx context.Context) (*checkpoint.Record, error) {
	data, err := t.store.Load(ctx, t.Key)
	if errors.Is(err, checkpoint.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", t.Where(), ErrNoCheckpoint)
	}
	if err != nil {
		return nil, err
	}
	rec, err := checkpoint.Decode(data)
	if err != nil {
		return nil, &checkpoint.CorruptError{Where: t.Where(), Err: err}
	}
	return rec, nil
}

// Set validates doc as a checkpoint of this target and stores it as the next
// revision. A running input notices the foreign revision: its job in progress
// (if any) fails without writing, and the next job resumes from doc.
func (t *StateTarget) Set(ctx context.Context, doc []byte) (*checkpoint.Record, error) {
	rec, err := checkpoint.Decode(doc)
	if err != nil {
		return nil, err
	}
	if rec.Identity != t.identity {
		return nil, fmt.Errorf("the document's identity %+v does not match this input's %+v; fix the identity block (changing it on purpose is what state.adopt is for)", rec.Identity, t.identity)
	}
	return rec, t.write(ctx, rec)
}

// Rewind moves collection on purpose: scanned_to becomes to, seen and pending
// are cleared, and the next job collects from there.
func (t *StateTarget) Rewind(ctx context.Context, to time.Time) (*checkpoint.Record, error) {
	rec, err := t.Show(ctx)
	if err != nil {
		return nil, err
	}
	rec.Rewind(to, time.Now())
	return rec, t.write(ctx, rec)
}

// Delete removes the checkpoint: the next job starts again from `earliest`.
func (t *StateTarget) Delete(ctx context.Context) error {
	if err := t.store.Delete(ctx, t.Key); err != nil {
		return fmt.Errorf("deleting %s: %w", t.Where(), err)
	}
	if t.forget != nil {
		t.forget()
	}
	return nil
}

func (t *StateTarget) write(ctx context.Context, rec *checkpoint.Record) error {
	data, err := t.store.Load(ctx, t.Key)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		rec.Rev = 1
	case err != nil:
		return err
	default:
		if stored, err := checkpoint.Decode(data); err == nil {
			rec.Rev = stored.Rev + 1
		} else {
			rec.Rev = 1 // replacing a corrupt record on purpose
		}
	}
	rec.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
	out, err := rec.Encode()
	if err != nil {
		return err
	}
	if err := t.store.Save(ctx, t.Key, out); err != nil {
		return fmt.Errorf("writing %s: %w", t.Where(), err)
	}
	return nil
}

// OpenStateTargets reads a pipeline config (the file given to `run`) and
// returns the checkpoint of every endpoint of every anthropic_compliance input
// in it (`input` and `input_resources`). ${VAR} and ${VAR:default} are
// expanded from the environment. The returned func releases the cache
// resources it opened.
func OpenStateTargets(ctx context.Context, pipeline []byte) ([]*StateTarget, func(context.Context) error, error) {
	expanded := expandEnv(pipeline)
	var root map[string]any
	if err := yaml.Unmarshal(expanded, &root); err != nil {
		return nil, nil, fmt.Errorf("reading the config: %w", err)
	}
	type found struct {
		label string
		block any
	}
	var inputs []found
	collect := func(in any) {
		m, _ := in.(map[string]any)
		if block, ok := m[Name]; ok {
			label, _ := m["label"].(string)
			inputs = append(inputs, found{label, block})
		}
	}
	collect(root["input"])
	if list, ok := root["input_resources"].([]any); ok {
		for _, in := range list {
			collect(in)
		}
	}
	if len(inputs) == 0 {
		return nil, nil, fmt.Errorf("the config has no %s input (looked at input and input_resources)", Name)
	}

	noop := func(context.Context) error { return nil }
	var res *service.Resources
	closeRes := noop
	if caches, ok := root["cache_resources"]; ok {
		rb := service.NewResourceBuilder()
		rb.DisableLinting()
		b, err := yaml.Marshal(map[string]any{"cache_resources": caches})
		if err != nil {
			return nil, nil, err
		}
		if err := rb.AddYAML(string(b)); err != nil {
			return nil, nil, fmt.Errorf("cache_resources: %w", err)
		}
		if res, closeRes, err = rb.Build(); err != nil {
			return nil, nil, fmt.Errorf("cache_resources: %w", err)
		}
	}

	var targets []*StateTarget
	for _, in := range inputs {
		block, _ := in.block.(map[string]any)
		if block == nil {
			block = map[string]any{}
		}
		if k, _ := block[fieldAPIKey].(string); k == "" {
			block[fieldAPIKey] = "unused-by-state-commands"
		}
		b, err := yaml.Marshal(block)
		if err != nil {
			_ = closeRes(ctx)
			return nil, nil, err
		}
		conf, err := inputSpec().ParseYAML(string(b), nil)
		if err != nil {
			_ = closeRes(ctx)
			return nil, nil, fmt.Errorf("input %q: %w", in.label, err)
		}
		cfg, err := parseConfig(conf, time.Now())
		if err != nil {
			_ = closeRes(ctx)
			return nil, nil, fmt.Errorf("input %q: %w", in.label, err)
		}
		var store checkpoint.Store
		if cfg.StateCache == "" {
			s, err := atomicfile.Open(cfg.StatePath)
			if err != nil {
				_ = closeRes(ctx)
				return nil, nil, fmt.Errorf("input %q: state.path: %w", in.label, err)
			}
			store = dirStore{s}
		} else {
			if res == nil || !res.HasCache(cfg.StateCache) {
				_ = closeRes(ctx)
				return nil, nil, fmt.Errorf("input %q: state.cache: cache resource %q was not found in the config", in.label, cfg.StateCache)
			}
			store = cacheStore{res: res, name: cfg.StateCache}
		}
		for _, ep := range cfg.Endpoints {
			targets = append(targets, &StateTarget{
				Label: in.label, Endpoint: ep.Name, Key: checkpointKey(cfg, in.label, ep),
				identity: collectorConfig(cfg, ep).Identity(), store: store,
			})
		}
	}
	return targets, closeRes, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:default} as Benthos does in configs.
func expandEnv(b []byte) []byte {
	return envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := envRef.FindSubmatch(m)
		if v, ok := os.LookupEnv(string(sub[1])); ok {
			return []byte(v)
		}
		return sub[2]
	})
}

//------------------------------------------------------------------------------

// jobHistory keeps the reports of recent jobs for job_history_ttl (Cribl's
// "Time to live" of job artifacts).
type jobHistory struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	reports []collector.Report // oldest first
}

func (h *jobHistory) add(r collector.Report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, r)
	h.pruneLocked()
}

func (h *jobHistory) pruneLocked() {
	cut := h.now().Add(-h.ttl)
	i := sort.Search(len(h.reports), func(i int) bool { return !h.reports[i].End.Before(cut) })
	h.reports = append([]collector.Report(nil), h.reports[i:]...)
}

// list returns the kept reports, newest first.
func (h *jobHistory) list() []collector.Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked()
	out := make([]collector.Report, len(h.reports))
	for i, r := range h.reports {
		out[len(out)-1-i] = r
	}
	return out
}

//------------------------------------------------------------------------------

// registerEndpoint mounts h on the Benthos HTTP server. Benthos v4.60 offers
// plugins no public way to do this; its resource manager has the method, and
// it is reached here through XUnwrapper. If that ever stops working the
// endpoint is simply not mounted (the caller logs a warning).
func registerEndpoint(mgr *service.Resources, path, desc string, h http.HandlerFunc) bool {
	unwrapper := reflect.ValueOf(mgr.XUnwrapper())
	unwrap := unwrapper.MethodByName("Unwrap")
	if !unwrap.IsValid() || unwrap.Type().NumIn() != 0 || unwrap.Type().NumOut() != 1 {
		return false
	}
	reg, ok := unwrap.Call(nil)[0].Interface().(interface {
		RegisterEndpoint(path, desc string, h http.HandlerFunc)
	})
	if !ok {
		return false
	}
	reg.RegisterEndpoint(path, desc, h)
	return true
}

// registerAdminEndpoints serves the job history and the state of each
// endpoint under /compliance/<label>/.
func (in *input) registerAdminEndpoints() {
	label := in.mgr.Label()
	if label == "" {
		label = "default"
	}
	base := "/compliance/" + label
	ok := registerEndpoint(in.mgr, base+"/jobs", "Reports of the anthropic_compliance input's recent jobs (newest first).", in.serveJobs)
	ok = ok && registerEndpoint(in.mgr, base+"/state", "GET, PUT or DELETE the checkpoint of an anthropic_compliance endpoint (?endpoint=activities); POST with ?rewind_to=<time> rewinds it.", in.serveState)
	if !ok {
		in.log.Warn("could not mount the /compliance HTTP endpoints on this Benthos build; use `compliance-connect state` instead")
	}
}

func (in *input) serveJobs(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"jobs": in.history.list()})
}

func (in *input) serveState(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("endpoint")
	if name == "" {
		name = endpointActivities
	}
	var target *StateTarget
	for _, run := range in.runners {
		if run.name == name && run.target != nil {
			target = run.target
		}
	}
	if target == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no endpoint %q with state tracking in this input", name)})
		return
	}
	ctx := r.Context()
	var rec *checkpoint.Record
	var err error
	switch r.Method {
	case http.MethodGet:
		rec, err = target.Show(ctx)
	case http.MethodPut:
		var body []byte
		if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<20)); err == nil {
			rec, err = target.Set(ctx, body)
		}
	case http.MethodDelete:
		if err = target.Delete(ctx); err == nil {
			writeJSON(w, http.StatusOK, map[string]string{"deleted": target.Where()})
			return
		}
	case http.MethodPost:
		var to time.Time
		if to, err = ParseRewind(r.URL.Query().Get("rewind_to")); err == nil {
			rec, err = target.Rewind(ctx, to)
		}
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET, PUT, DELETE or POST ?rewind_to="})
		return
	}
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}

// ParseRewind reads a rewind target (the HTTP endpoint's rewind_to, the
// CLI's --to): an RFC 3339 time or a time expression such as -1d@d.
func ParseRewind(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("rewind_to is required (an RFC 3339 time or a time expression such as -1d@d)")
	}
	e, err := timeexpr.Parse(s)
	if err != nil {
		return time.Time{}, err
	}
	return e.Resolve(time.Now(), time.UTC), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
