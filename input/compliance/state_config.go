package compliance

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// newStateTarget is the state target of one endpoint, for the HTTP endpoints
// (clock: the API's) and the CLI (clock: the local one).
func newStateTarget(cfg *inputConfig, label string, ep endpointConfig, store *stateStore, clock func() time.Time) *StateTarget {
	return &StateTarget{
		Label: label, Endpoint: ep.Name, Key: checkpointKey(cfg, label, ep),
		identity: endpointIdentity(cfg, ep), store: store, settle: cfg.Settle, clock: clock,
	}
}

// pipelineInput is an anthropic_compliance input found in a pipeline config.
type pipelineInput struct {
	label string
	block map[string]any
}

// pipelineConfig is what the state commands and the lint check read from a
// pipeline config: its anthropic_compliance inputs and its cache resources.
type pipelineConfig struct {
	inputs []pipelineInput
	caches []any // the cache_resources list as written
	types  map[string]CacheResource
}

// readPipeline parses a pipeline config (the file given to `run`), with
// ${VAR} and ${VAR:default} expanded from the environment, plus resource
// files (-r).
func readPipeline(pipeline []byte, resources ...[]byte) (*pipelineConfig, error) {
	p := &pipelineConfig{types: map[string]CacheResource{}}
	for i, doc := range append([][]byte{pipeline}, resources...) {
		var root map[string]any
		if err := yaml.Unmarshal(expandEnv(doc), &root); err != nil {
			if i == 0 {
				return nil, fmt.Errorf("reading the config: %w", err)
			}
			return nil, fmt.Errorf("reading resource file %d: %w", i, err)
		}
		collect := func(in any) {
			m, _ := in.(map[string]any)
			if block, ok := m[Name]; ok {
				label, _ := m["label"].(string)
				b, _ := block.(map[string]any)
				if b == nil {
					b = map[string]any{}
				}
				p.inputs = append(p.inputs, pipelineInput{label, b})
			}
		}
		collect(root["input"])
		if list, ok := root["input_resources"].([]any); ok {
			for _, in := range list {
				collect(in)
			}
		}
		list, _ := root["cache_resources"].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			label, _ := m["label"].(string)
			for k, v := range m {
				if k != "label" {
					conf, _ := v.(map[string]any)
					if conf == nil {
						conf = map[string]any{} // `memory:` with no block: every default
					}
					p.types[label] = CacheResource{Type: k, Config: conf}
				}
			}
			p.caches = append(p.caches, item)
		}
	}
	return p, nil
}

// parseInput parses an input block as the input itself would (the API key is
// not needed by the state commands).
func (pi pipelineInput) parse() (*inputConfig, error) {
	block := map[string]any{}
	for k, v := range pi.block {
		block[k] = v
	}
	if k, _ := block[fieldAPIKey].(string); k == "" {
		block[fieldAPIKey] = "unused-by-state-commands"
	}
	b, err := yaml.Marshal(block)
	if err != nil {
		return nil, err
	}
	conf, err := inputSpec().ParseYAML(string(b), nil)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", pi.label, err)
	}
	cfg, err := parseConfig(conf, time.Now())
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", pi.label, err)
	}
	return cfg, nil
}

// OpenStateTargets reads a pipeline config (the file given to `run`) and
// returns the checkpoint of every Activity Feed and content endpoint (chats,
// files: records of the same type) with state tracking of every
// anthropic_compliance input in it, opened the way the running input opens
// them (OpenPipelineState also has the snapshot endpoints). The returned
// func releases the cache resources it opened; warnings are about the store
// (its permissions, a cache that forgets).
func OpenStateTargets(ctx context.Context, pipeline []byte) (targets []*StateTarget, warnings []string, closeFn func(context.Context) error, err error) {
	p, err := OpenPipelineState(ctx, pipeline)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, ep := range p.Endpoints {
		if ep.Target != nil {
			targets = append(targets, ep.Target)
		}
	}
	return targets, p.Warnings, p.Close, nil
}

// LintStateCaches checks, in a pipeline config and its resource files, the
// cache resources that anthropic_compliance inputs name as state.cache, with
// the rule start-up applies (a core `file` cache, a volatile cache without
// allow_volatile, a default TTL). Benthos' lint sees one component at a
// time; the compliance-connect binary adds these to `lint`.
func LintStateCaches(pipeline []byte, resources ...[]byte) ([]string, error) {
	p, err := readPipeline(pipeline, resources...)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, in := range p.inputs {
		state, _ := in.block[fieldState].(map[string]any)
		name, _ := state[fieldStateCache].(string)
		if name == "" {
			continue
		}
		r, known := p.types[name]
		if !known {
			continue // declared elsewhere: checked at start-up
		}
		allow, _ := state[fieldStateAllowVolatile].(bool)
		if _, err := checkStateCache(name, r, allow); err != nil {
			problems = append(problems, fmt.Sprintf("input %q: %v", in.label, err))
		}
	}
	return problems, nil
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
