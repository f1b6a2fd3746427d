package compliance

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// PipelineAPI is one endpoint of an anthropic_compliance input of a pipeline
// config, ready to list the Activity Feed exactly as that input does: same
// base URL, key, version header, retries, rate-budget headroom, rate_limit
// resource, proxy, TLS and filters. `compliance-connect audit` uses it.
type PipelineAPI struct {
	Label, Endpoint string
	BaseURL         string
	// Filters holds the endpoint's filters (no time bounds, limit or cursor).
	Filters         api.ListParams
	Settle, Overlap time.Duration
	Budget          api.Budget
	Client          *api.Client
	// Close releases the rate_limit resources the config declared.
	Close func(context.Context) error
}

// ExpandEnv replaces ${VAR} and ${VAR:default} in a pipeline config as
// Benthos does (for callers that read other parts of the config).
func ExpandEnv(pipeline []byte) []byte { return expandEnv(pipeline) }

// OpenPipelineAPI reads the anthropic_compliance input labelled label (any
// label when empty and there is only one) in pipeline and builds an API
// client for its endpoint. hooks observe the client (user agent and hooks
// are the caller's).
func OpenPipelineAPI(pipeline []byte, label, endpoint, userAgent string, hooks api.Hooks) (*PipelineAPI, error) {
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
			if label == "" || l == label {
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
	case len(blocks) == 0 && label != "":
		return nil, fmt.Errorf("the config has no %s input labelled %q", Name, label)
	case len(blocks) == 0:
		return nil, fmt.Errorf("the config has no %s input (looked at input and input_resources)", Name)
	case len(blocks) > 1:
		return nil, fmt.Errorf("the config has %d %s inputs (labels %q): choose one with --label", len(blocks), Name, labels)
	}
	b, err := yaml.Marshal(blocks[0])
	if err != nil {
		return nil, err
	}
	conf, err := inputSpec().ParseYAML(string(b), nil)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", labels[0], err)
	}
	cfg, err := parseConfig(conf, time.Now())
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", labels[0], err)
	}
	var ep *endpointConfig
	var names []string
	for i := range cfg.Endpoints {
		names = append(names, cfg.Endpoints[i].Name)
		if cfg.Endpoints[i].Name == endpoint {
			ep = &cfg.Endpoints[i]
		}
	}
	if ep == nil {
		return nil, fmt.Errorf("input %q has no enabled endpoint %q (it has: %s)", labels[0], endpoint, strings.Join(names, ", "))
	}

	var res *service.Resources
	closeRes := func(context.Context) error { return nil }
	if cfg.API.RateLimitResource != "" {
		limits, ok := root["rate_limit_resources"]
		if !ok {
			return nil, fmt.Errorf("rate_limit.resource: rate_limit resource %q was not found in the config", cfg.API.RateLimitResource)
		}
		rb := service.NewResourceBuilder()
		rb.DisableLinting()
		y, err := yaml.Marshal(map[string]any{"rate_limit_resources": limits})
		if err != nil {
			return nil, err
		}
		if err := rb.AddYAML(string(y)); err != nil {
			return nil, fmt.Errorf("rate_limit_resources: %w", err)
		}
		if res, closeRes, err = rb.Build(); err != nil {
			return nil, fmt.Errorf("rate_limit_resources: %w", err)
		}
	}
	cc, err := cfg.API.clientConfig(res)
	if err != nil {
		_ = closeRes(context.Background())
		return nil, err
	}
	cc.BaseURL, cc.APIKey, cc.AnthropicVersion = cfg.BaseURL, cfg.APIKey, cfg.AnthropicVersion
	cc.UserAgent, cc.Hooks = userAgent, hooks
	client, err := api.New(cc)
	if err != nil {
		_ = closeRes(context.Background())
		return nil, fmt.Errorf("base_url: %w", err)
	}
	f := ep.Raw.Filters
	return &PipelineAPI{
		Label: labels[0], Endpoint: ep.Name, BaseURL: cfg.BaseURL,
		Filters: api.ListParams{ActivityTypes: f.ActivityTypes, ExcludeActivityTypes: f.ExcludeActivityTypes,
			ActorIDs: f.ActorIDs, OrganizationIDs: f.OrganizationIDs},
		Settle: cfg.Settle, Overlap: cfg.Overlap, Budget: cfg.API.Budget,
		Client: client, Close: closeRes,
	}, nil
}
