package compliance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// VolatileCache reports whether a cache type forgets what it holds (on
// restart, eviction or a default TTL); the input refuses it as a checkpoint
// store unless state.allow_volatile is set.
func VolatileCache(typ string) bool { return volatileCaches[typ] }

// PipelineAPI is one enabled endpoint of an anthropic_compliance input of a
// pipeline config, with an API client built exactly as that input builds
// it: same base URL, key, version header, retries, rate-budget headroom,
// rate_limit resource, proxy and TLS, plus the settings that decide what a
// job costs. Kind tells what it collects: only a KindFeed endpoint lists the
// Activity Feed (Filters, Settle, Slices…); `compliance-connect audit` reads
// only those, `check` every kind.
type PipelineAPI struct {
	Label, Endpoint string
	// Kind is KindFeed, KindContent or KindSnapshot.
	Kind    string
	BaseURL string
	// Scope is the key scope the endpoint needs (EndpointScope); Scopes
	// lists each scope its requests need, the main one first.
	Scope  string
	Scopes []string
	// Filters holds the Activity Feed's filters (no time bounds, limit or
	// cursor); zero for the other kinds.
	Filters         api.ListParams
	Settle, Overlap time.Duration
	Budget          api.Budget
	PageSize        int
	Slices          window.SliceConfig
	Schedule        schedule.Spec
	Earliest        timeexpr.Expr
	Latest          timeexpr.Expr
	Location        *time.Location
	// Tracking is state_tracking.enabled: the endpoint keeps a checkpoint.
	Tracking bool
	// KeyMissing is set when api_key is empty (an unset environment
	// variable, typically); Client is nil then.
	KeyMissing bool
	Client     *api.Client
	// Store is where the input keeps its checkpoints (with
	// PipelineOptions.State).
	Store StateStore
	// State is the checkpoint of a feed or content endpoint (with
	// PipelineOptions.State), nil when Tracking is off or the store is
	// missing or could not be opened; Snapshot is that of a snapshot
	// endpoint, under the same conditions.
	State    *StateTarget
	Snapshot *SnapshotTarget
	// Close releases the resources the config declared (shared by every
	// PipelineAPI of one OpenPipeline call: call Pipeline.Close instead).
	Close func(context.Context) error
}

// StateStore describes an input's checkpoint store without creating it.
type StateStore struct {
	// Path is state.path, absolute, when Cache is empty; Relative is set
	// when the config gave it relative to the working directory.
	Path     string
	Relative bool
	// Exists reports whether Path exists; OpenPipeline never creates it.
	Exists bool
	// Cache is state.cache; CacheType its type in cache_resources ("" when
	// the resource is not declared) and CachePath the directory of an
	// atomic_file cache.
	Cache, CacheType, CachePath string
	// CacheConfig is the cache resource's settings as written.
	CacheConfig map[string]any
	// AllowVolatile, Adopt and Lease are state.allow_volatile, state.adopt
	// and state.lease.enabled.
	AllowVolatile, Adopt, Lease bool
	// Err is why the store could not be opened, if it could not.
	Err error
}

// PipelineOptions select and shape what OpenPipeline builds.
type PipelineOptions struct {
	// Label keeps only the input with this label ("" keeps every one).
	Label string
	// UserAgent is the clients' user agent.
	UserAgent string
	// Hooks returns the hooks of one endpoint's client (nil: none).
	Hooks func(label, endpoint string) api.Hooks
	// Probe makes every call a single attempt that never waits for the rate
	// budget's headroom, so that a caller can count its requests.
	Probe bool
	// State also opens each input's checkpoint store (read-only: a missing
	// state.path is reported, not created).
	State bool
}

// Pipeline is every enabled endpoint of the anthropic_compliance inputs of a
// pipeline config.
type Pipeline struct {
	// Inputs are the labels of the inputs read, in config order.
	Inputs []string
	// Endpoints are the enabled endpoints of every kind, in config order
	// (see PipelineAPI.Kind: only KindFeed ones list the Activity Feed).
	Endpoints []*PipelineAPI
	// Close releases the cache and rate_limit resources the config declared.
	Close func(context.Context) error
}

// pipelineSpec is the input's spec, built once: its lint rules take tens
// of milliseconds to compile, and it is never changed after.
var pipelineSpec = sync.OnceValue(inputSpec)

// ExpandEnv replaces ${VAR} and ${VAR:default} in a pipeline config as
// Benthos does (for callers that read other parts of the config).
func ExpandEnv(pipeline []byte) []byte { return expandEnv(pipeline) }

// OpenPipelineAPI reads the anthropic_compliance input labelled label (any
// label when empty and there is only one) in pipeline and builds an API
// client for its Activity Feed endpoint; an endpoint of another kind is
// refused. hooks observe the client (user agent and hooks are the caller's).
func OpenPipelineAPI(pipeline []byte, label, endpoint, userAgent string, hooks api.Hooks) (*PipelineAPI, error) {
	p, err := OpenPipeline(pipeline, PipelineOptions{Label: label, UserAgent: userAgent,
		Hooks: func(string, string) api.Hooks { return hooks }})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*PipelineAPI, error) {
		_ = p.Close(context.Background())
		return nil, err
	}
	labels := p.Inputs
	var names []string
	var pick *PipelineAPI
	var other *PipelineAPI
	for _, ep := range p.Endpoints {
		if ep.Kind != KindFeed {
			if ep.Endpoint == endpoint {
				other = ep
			}
			continue // only the Activity Feed is listed by this client's callers
		}
		names = append(names, ep.Endpoint)
		if ep.Endpoint == endpoint {
			pick = ep
		}
	}
	switch {
	case len(labels) > 1:
		return fail(fmt.Errorf("the config has %d %s inputs (labels %q): choose one with --label", len(labels), Name, labels))
	case pick == nil && other != nil:
		return fail(fmt.Errorf("input %q: endpoint %q is a %s endpoint, not the Activity Feed: only the Activity Feed (%s) can be read here", labels[0], endpoint, other.Kind, endpointActivities))
	case pick == nil:
		return fail(fmt.Errorf("input %q has no enabled endpoint %q (it has: %s)", labels[0], endpoint, strings.Join(names, ", ")))
	case pick.KeyMissing:
		return fail(fmt.Errorf("input %q: api_key: must not be empty (set it from an environment variable, e.g. ${ANTHROPIC_COMPLIANCE_API_KEY})", pick.Label))
	}
	pick.Close = p.Close
	return pick, nil
}

// OpenPipeline reads every anthropic_compliance input of pipeline (`input`
// and `input_resources`, ${VAR} expanded) and builds an API client for each
// enabled endpoint. An empty api_key is reported in KeyMissing rather than
// refused, so that a check can say so.
func OpenPipeline(pipeline []byte, o PipelineOptions) (*Pipeline, error) {
	var root map[string]any
	if err := yaml.Unmarshal(expandEnv(pipeline), &root); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	var blocks []map[string]any
	var labels []string
	collect := func(in any) {
		m, _ := in.(map[string]any)
		if block, ok := m[Name]; ok {
			l, _ := m["label"].(string)
			b, _ := block.(map[string]any)
			if b == nil {
				b = map[string]any{}
			}
			if o.Label == "" || l == o.Label {
				blocks = append(blocks, b)
				labels = append(labels, l)
			}
		}
	}
	collect(root["input"])
	if list, ok := root["input_resources"].([]any); ok {
		for _, in := range list {
			collect(in)
		}
	}
	switch {
	case len(blocks) == 0 && o.Label != "":
		return nil, fmt.Errorf("the config has no %s input labelled %q", Name, o.Label)
	case len(blocks) == 0:
		return nil, fmt.Errorf("the config has no %s input (looked at input and input_resources)", Name)
	}

	type parsed struct {
		label      string
		cfg        *inputConfig
		keyMissing bool
	}
	var inputs []parsed
	needLimits := false
	for i, b := range blocks {
		keyMissing := false
		if k, _ := b[fieldAPIKey].(string); strings.TrimSpace(k) == "" {
			keyMissing = true
			b[fieldAPIKey] = "unset"
		}
		y, err := yaml.Marshal(b)
		if err != nil {
			return nil, err
		}
		conf, err := pipelineSpec().ParseYAML(string(y), nil)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", labels[i], err)
		}
		cfg, err := parseConfig(conf, time.Now())
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", labels[i], err)
		}
		needLimits = needLimits || cfg.API.RateLimitResource != ""
		inputs = append(inputs, parsed{labels[i], cfg, keyMissing})
	}

	res, closeRes, err := pipelineResources(root, needLimits, o.State)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{Inputs: labels, Close: closeRes}
	fail := func(err error) (*Pipeline, error) {
		_ = closeRes(context.Background())
		return nil, err
	}
	cacheTypes := cacheResourceTypes(root)
	for _, in := range inputs {
		cfg := in.cfg
		var store StateStore
		var cs *stateStore
		if o.State {
			store, cs = inspectStateStore(cfg, res, cacheTypes)
		}
		for _, ep := range cfg.Endpoints {
			scope := EndpointScope(ep.Name)
			if scope == "" {
				return fail(fmt.Errorf("endpoint %q has no entry in the table of scopes (compliance.EndpointScope)", ep.Name))
			}
			pa := &PipelineAPI{
				Label: in.label, Endpoint: ep.Name, Kind: ep.Kind.family.kindName(), BaseURL: cfg.BaseURL,
				Scope: scope, Scopes: slices.Clone(ep.Kind.scopes),
				Settle: cfg.Settle, Overlap: cfg.Overlap, Budget: cfg.API.Budget,
				PageSize: ep.Raw.PageSize, Slices: cfg.Slices, Schedule: ep.Settings.Schedule,
				Earliest: ep.Settings.Earliest, Latest: ep.Settings.Latest, Location: ep.Settings.Location,
				Tracking: ep.Tracking, KeyMissing: in.keyMissing, Store: store, Close: closeRes,
			}
			if ep.Kind.family == familyFeed {
				pa.Filters = listParams(ep.Raw.Filters.ActivityTypes, ep.Raw.Filters.ExcludeActivityTypes,
					ep.Raw.Filters.ActorIDs, ep.Raw.Filters.OrganizationIDs)
			}
			switch {
			case cs == nil || !ep.Tracking:
			case ep.Kind.family == familySnapshot:
				pa.Snapshot = newSnapshotTarget(cfg, in.label, ep, cs)
			default:
				pa.State = newStateTarget(cfg, in.label, ep, cs, time.Now)
			}
			if !in.keyMissing {
				var hooks api.Hooks
				if o.Hooks != nil {
					hooks = o.Hooks(in.label, ep.Name)
				}
				if pa.Client, err = newPipelineClient(cfg, res, o, hooks); err != nil {
					return fail(fmt.Errorf("input %q: %w", in.label, err))
				}
			}
			p.Endpoints = append(p.Endpoints, pa)
		}
	}
	return p, nil
}

func listParams(types, exclude, actors, orgs []string) api.ListParams {
	return api.ListParams{ActivityTypes: types, ExcludeActivityTypes: exclude, ActorIDs: actors, OrganizationIDs: orgs}
}

func newPipelineClient(cfg *inputConfig, res *service.Resources, o PipelineOptions, hooks api.Hooks) (*api.Client, error) {
	cc, err := cfg.API.clientConfig(res)
	if err != nil {
		return nil, err
	}
	cc.BaseURL, cc.APIKey, cc.AnthropicVersion = cfg.BaseURL, cfg.APIKey, cfg.AnthropicVersion
	cc.UserAgent, cc.Hooks = o.UserAgent, hooks
	if o.Probe {
		cc.Retry.Mode = api.RetryDisabled
		cc.Budget = api.Budget{}
	}
	client, err := api.New(cc)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	return client, nil
}

// pipelineResources builds the rate_limit resources (when an input names
// one) and, for state, the cache resources of the config.
func pipelineResources(root map[string]any, limits, caches bool) (*service.Resources, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	sections := map[string]any{}
	if v, ok := root["rate_limit_resources"]; ok && limits {
		sections["rate_limit_resources"] = v
	}
	if v, ok := root["cache_resources"]; ok && caches {
		sections["cache_resources"] = v
	}
	if len(sections) == 0 {
		return nil, noop, nil
	}
	rb := service.NewResourceBuilder()
	rb.DisableLinting()
	y, err := yaml.Marshal(sections)
	if err != nil {
		return nil, nil, err
	}
	if err := rb.AddYAML(string(y)); err != nil {
		return nil, nil, fmt.Errorf("resources: %w", err)
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("resources: %w", err)
	}
	return res, closeRes, nil
}

// cacheDecl is a cache resource as declared: its type and settings.
type cacheDecl struct {
	typ   string
	block map[string]any
}

// cacheResourceTypes maps each cache resource label to its declaration.
func cacheResourceTypes(root map[string]any) map[string]cacheDecl {
	out := map[string]cacheDecl{}
	list, _ := root["cache_resources"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		label, _ := m["label"].(string)
		for k, v := range m {
			if k != "label" {
				block, _ := v.(map[string]any)
				out[label] = cacheDecl{typ: k, block: block}
			}
		}
	}
	return out
}

// inspectStateStore describes an input's checkpoint store and, when it
// exists, opens it through the input's own opener (openStateStore); it never
// creates a state directory.
func inspectStateStore(cfg *inputConfig, res *service.Resources, caches map[string]cacheDecl) (StateStore, *stateStore) {
	st := StateStore{Cache: cfg.StateCache, AllowVolatile: cfg.AllowVolatile, Adopt: cfg.Adopt, Lease: cfg.Lease}
	o := options{cacheResource: func(name string) (CacheResource, bool) {
		decl, ok := caches[name]
		if !ok {
			return CacheResource{}, false
		}
		return CacheResource{Type: decl.typ, Config: decl.block}, true
	}}
	if cfg.StateCache == "" {
		abs, err := filepath.Abs(cfg.StatePath)
		if err != nil {
			st.Err = fmt.Errorf("state.path: %w", err)
			return st, nil
		}
		st.Path, st.Relative = abs, !filepath.IsAbs(cfg.StatePath)
		info, err := os.Stat(abs)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return st, nil
		case err != nil:
			st.Err = fmt.Errorf("state.path: %w", err)
			return st, nil
		case !info.IsDir():
			st.Err = fmt.Errorf("state.path: %s is not a directory", abs)
			return st, nil
		}
		st.Exists = true
	} else if decl, ok := caches[cfg.StateCache]; ok {
		st.CacheType, st.CacheConfig = decl.typ, decl.block
		if d, _ := decl.block["directory"].(string); decl.typ == "atomic_file" && d != "" {
			st.CachePath, _ = filepath.Abs(d)
		}
	}
	store, err := openStateStore(context.Background(), res, cfg, o)
	if err != nil {
		st.Err = err
		return st, nil
	}
	return st, store
}

// Identity is the checkpoint identity this config expects.
func (t *StateTarget) Identity() checkpoint.Identity { return t.identity }

// probeKey is the one key `compliance-connect check` writes next to the
// checkpoints: a tiny document whose revision grows with each check.
const probeKey = "anthropic_compliance/.preflight-probe"

// Probe writes the next revision of a probe document next to the checkpoint
// (never the checkpoint itself) through the same compare-and-swap the input
// uses, reads it back and checks the store kept it. The probe document stays
// behind (the store has no delete: every write is a swap). It returns the
// probe key's location.
func (t *StateTarget) Probe(ctx context.Context) (string, error) {
	return probeStore(ctx, t.store, t.Key)
}
