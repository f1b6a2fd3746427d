package compliance

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// Field names of the HTTP, retry and rate-budget part of the
// anthropic_compliance spec.
const (
	apiFieldRequestTimeout = "request_timeout"

	apiFieldRetries                = "retries"
	apiFieldRetriesType            = "type"
	apiFieldRetriesInitialInterval = "initial_interval"
	apiFieldRetriesLimit           = "limit"
	apiFieldRetriesMultiplier      = "multiplier"
	apiFieldRetriesMaxInterval     = "max_interval"
	apiFieldRetriesHTTPCodes       = "http_codes"
	apiFieldRetriesHonorRetryAfter = "honor_retry_after"
	apiFieldRetriesMaxRetryAfter   = "max_retry_after"
	apiFieldRetriesConnTimeout     = "retry_connection_timeout"
	apiFieldRetriesConnReset       = "retry_connection_reset"

	apiFieldRateLimit         = "rate_limit"
	apiFieldRateLimitHeadroom = "headroom"
	apiFieldRateLimitMaxWait  = "max_wait"
	apiFieldRateLimitResource = "resource"

	apiFieldProxyURL = "proxy_url"
	apiFieldTLS      = "tls"
)

// apiClientConfig is the parsed HTTP, retry and rate-budget settings.
type apiClientConfig struct {
	RequestTimeout    time.Duration
	Retry             api.RetryPolicy
	Budget            api.Budget
	RateLimitResource string
	ProxyURL          *url.URL
	TLS               *tls.Config // nil when tls.enabled is false
}

// The messages of every range check, shared by the lint rules and
// parseAPIClientConfig so that `lint` and start-up say the same thing.
const (
	apiMsgRequestTimeout  = "request_timeout: must be a non-negative duration such as 300s or a whole number of seconds, got "
	apiMsgInitialInterval = "retries.initial_interval: must be between 0s and 20s, got "
	apiMsgLimit           = "retries.limit: must be between 0 and 20, got "
	apiMsgMultiplier      = "retries.multiplier: must be at least 1, got "
	apiMsgMaxInterval     = "retries.max_interval: must be at least retries.initial_interval, got "
	apiMsgHTTPCodeRange   = "retries.http_codes: %v is not an HTTP error status (400-599)"
	apiMsgHTTPCodeNever   = "retries.http_codes: %v is never retried (400, 401, 403, 404 and 409 reject the request itself)"
	apiMsgMaxRetryAfter   = "retries.max_retry_after: must be positive, got "
	apiMsgHeadroom        = "rate_limit.headroom: must be at least 0 and less than 1, got "
	apiMsgMaxWait         = "rate_limit.max_wait: must be positive, got "
	apiMsgProxyURL        = "proxy_url: must be an http, https, socks5 or socks5h URL with a host, such as http://proxy.internal:3128"
)

// apiBloblDuration is Bloblang that sets $<name> to the nanoseconds of the
// Go duration string expr evaluates to, or null if it is not one. It uses
// only core Bloblang methods (lint rules are parsed before any plugin
// package such as pure/extended registers parse_duration).
func apiBloblDuration(name, expr string) string {
	return `let ` + name + `_s = ` + expr + `
let ` + name + ` = if $` + name + `_s.type() == "string" && $` + name + `_s.re_match("^[-+]?(0|([0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$") {
  ($` + name + `_s.re_find_all_submatch("([0-9]*(?:\\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)").map_each(m -> m.index(1).number() * {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1000000, "s": 1000000000, "m": 60000000000, "h": 3600000000000}.get(m.index(2))).sum() * if $` + name + `_s.has_prefix("-") { -1 } else { 1 }).catch(null)
} else { null }
`
}

// apiLintDuration builds a lint rule for a duration field: cond is a
// Bloblang condition on its nanoseconds $d.
func apiLintDuration(cond, msg string) string {
	return apiBloblDuration("d", "this") + `root = if $d != null && (` + cond + `) { [` + strconv.Quote(msg) + ` + this] }`
}

// apiClientFields returns the fields of the HTTP, retry and rate-budget part
// of the anthropic_compliance spec, in the order they are documented.
func apiClientFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringField(apiFieldRequestTimeout).
			Description("Longest time one HTTP attempt may take: connecting, TLS, waiting for the response headers and reading the whole body. A duration such as `300s` or `5m`, or a whole number of seconds. `0` means no limit. A timed-out attempt is retried when `retries.retry_connection_timeout` is true. This is per request, unlike the job timeout.").
			Examples("300s", "5m", "45", "0").
			Default("300s").
			LintRule(apiBloblDuration("d", "this") +
				`root = if this.type() == "string" && !this.re_match("^[0-9]+$") && ($d == null || $d < 0) { [` + strconv.Quote(apiMsgRequestTimeout) + ` + this] }`).
			Advanced(),

		service.NewObjectField(apiFieldRetries,
			service.NewStringAnnotatedEnumField(apiFieldRetriesType, map[string]string{
				"backoff":  "Wait `initial_interval`, then `multiplier` times longer before each further retry, up to `max_interval`, with ±25% jitter.",
				"static":   "Wait exactly `initial_interval` before every retry.",
				"disabled": "Make one attempt per request; never retry.",
			}).
				Description("How the wait between retries grows.").
				Default("backoff"),
			service.NewDurationField(apiFieldRetriesInitialInterval).
				Description("Wait before the first retry, at most 20s. `0s` retries immediately (until `limit` is reached). Ignored for a response whose `Retry-After` is honoured.").
				Examples("1s", "500ms", "0s").
				Default("1s").
				LintRule(apiLintDuration(`$d < 0 || $d > 20000000000`, apiMsgInitialInterval)),
			service.NewIntField(apiFieldRetriesLimit).
				Description("Retries per failed request after the first attempt, 0 to 20. `0` disables retries. When a request still fails, the job ends with an error naming the status, `error.type`, `error.message` and `request-id`; the checkpoint is not moved and the next scheduled job tries again.").
				Default(5).
				LintRule(`root = if this.type() == "number" && (this < 0 || this > 20) { [`+strconv.Quote(apiMsgLimit)+` + this.string()] }`),
			service.NewFloatField(apiFieldRetriesMultiplier).
				Description("Factor by which each `backoff` wait grows over the previous one; at least 1 (1 means constant waits, with jitter).").
				Default(2.0).
				LintRule(`root = if this.type() == "number" && this < 1 { [`+strconv.Quote(apiMsgMultiplier)+` + this.string()] }`).
				Advanced(),
			service.NewDurationField(apiFieldRetriesMaxInterval).
				Description("Longest `backoff` wait, jitter included; at least `initial_interval`.").
				Examples("60s", "5m").
				Default("60s").
				Advanced(),
			service.NewIntListField(apiFieldRetriesHTTPCodes).
				Description("HTTP statuses that are retried. Independently of this list, a response with `x-should-retry: true` is retried and one with `x-should-retry: false` is not, and 400, 401, 403, 404 and 409 are never retried (they may not be listed). Other statuses end the request at once.").
				Default([]any{429, 500, 502, 503, 504, 529}).
				LintRule(`root = if this.type() == "array" { [
  this.filter(c -> c.type() == "number" && (c < 400 || c > 599)).map_each(c -> `+strconv.Quote(apiMsgHTTPCodeRange)+`.format(c)),
  this.filter(c -> [400, 401, 403, 404, 409].contains(c)).map_each(c -> `+strconv.Quote(apiMsgHTTPCodeNever)+`.format(c))
].flatten() }`).
				Advanced(),
			service.NewBoolField(apiFieldRetriesHonorRetryAfter).
				Description("Wait as long as a retried response's `Retry-After` header asks (integer seconds or an HTTP date) instead of the computed wait, up to `max_retry_after`. A longer request is cut to `max_retry_after` and logged.").
				Default(true),
			service.NewDurationField(apiFieldRetriesMaxRetryAfter).
				Description("Longest honoured `Retry-After` wait; must be positive.").
				Examples("180s", "10m").
				Default("180s").
				LintRule(apiLintDuration(`$d <= 0`, apiMsgMaxRetryAfter)).
				Advanced(),
			service.NewBoolField(apiFieldRetriesConnTimeout).
				Description("Retry an attempt that timed out: connecting, the TLS handshake, waiting for headers, reading the body, or `request_timeout`.").
				Default(true).
				Advanced(),
			service.NewBoolField(apiFieldRetriesConnReset).
				Description("Retry an attempt whose connection broke: reset, refused, broken pipe, closed before the response, a body cut short, or a temporary DNS failure.").
				Default(true).
				Advanced(),
		).
			Description("Retries of failed API requests. This is the input's only retry layer: 429s, 5xx and 529s, and network faults are retried here, with `Retry-After` and `x-should-retry` honoured. A response with a malformed body is never retried; it ends the job.").
			LintRule(apiBloblDuration("i", `if this.type() == "object" { this.initial_interval.or("1s") } else { null }`) +
				apiBloblDuration("m", `if this.type() == "object" { this.max_interval.or("60s") } else { null }`) +
				`root = if $i != null && $m != null && $m < $i { [` + strconv.Quote(apiMsgMaxInterval) + ` + $m_s] }`),

		service.NewObjectField(apiFieldRateLimit,
			service.NewFloatField(apiFieldRateLimitHeadroom).
				Description("Share of the organization's request budget (600 requests a minute, shared by every tool and key of the organization) left to others: when the `anthropic-ratelimit-requests-remaining` header falls to this fraction of the limit, requests pause until the window resets. At least 0 and less than 1; `0` turns the pause off.").
				Examples(0.1, 0.25, 0.0).
				Default(0.1).
				LintRule(`root = if this.type() == "number" && (this < 0 || this >= 1) { [`+strconv.Quote(apiMsgHeadroom)+` + this.string()] }`),
			service.NewDurationField(apiFieldRateLimitMaxWait).
				Description("Longest single pause for the headroom, whatever the reset time says (a guard against clock skew); must be positive.").
				Examples("60s", "2m").
				Default("60s").
				LintRule(apiLintDuration(`$d <= 0`, apiMsgMaxWait)).
				Advanced(),
			service.NewStringField(apiFieldRateLimitResource).
				Description("Name of a `rate_limit` resource every request must also pass, e.g. to share one budget between several inputs. Unset means none.").
				Example("compliance_api_budget").
				Optional().
				Advanced(),
		).
			Description("Keeps a headroom in the organization's shared request budget, and optionally obeys a `rate_limit` resource."),

		service.NewStringField(apiFieldProxyURL).
			Description("HTTP(S) or SOCKS5 proxy for every request. Empty means the `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` environment variables. It may hold credentials, so it is treated as a secret.").
			Examples("http://proxy.internal:3128", "socks5://proxy.internal:1080").
			Default("").
			Secret().
			LintRule(`root = if this.type() == "string" && this != "" && !["http", "https", "socks5", "socks5h"].contains(this.parse_url().catch({}).scheme.or("")) { [` + strconv.Quote(apiMsgProxyURL) + `] }`).
			Advanced(),

		service.NewTLSToggledField(apiFieldTLS).
			Description("Custom TLS settings: a private CA (e.g. for a TLS-inspecting proxy), client certificates. When disabled the system roots are used; certificates are always verified unless `skip_cert_verify` is set.").
			Advanced(),
	}
}

// parseAPIClientConfig reads the fields of apiClientFields, applying the same
// range checks as their lint rules (lints can be skipped with --chilled).
func parseAPIClientConfig(conf *service.ParsedConfig) (apiClientConfig, error) {
	var out apiClientConfig
	var err error

	rawTimeout, err := conf.FieldString(apiFieldRequestTimeout)
	if err != nil {
		return out, err
	}
	if out.RequestTimeout, err = apiParseTimeout(rawTimeout); err != nil {
		return out, err
	}

	if out.Retry, err = apiParseRetries(conf.Namespace(apiFieldRetries)); err != nil {
		return out, err
	}

	rl := conf.Namespace(apiFieldRateLimit)
	if out.Budget.Headroom, err = rl.FieldFloat(apiFieldRateLimitHeadroom); err != nil {
		return out, err
	}
	if math.IsNaN(out.Budget.Headroom) || out.Budget.Headroom < 0 || out.Budget.Headroom >= 1 {
		return out, fmt.Errorf("%s%v", apiMsgHeadroom, out.Budget.Headroom)
	}
	var raw string
	if out.Budget.MaxWait, raw, err = apiDuration(rl, apiFieldRateLimit, apiFieldRateLimitMaxWait); err != nil {
		return out, err
	}
	if out.Budget.MaxWait <= 0 {
		return out, fmt.Errorf("%s%s", apiMsgMaxWait, raw)
	}
	if rl.Contains(apiFieldRateLimitResource) {
		if out.RateLimitResource, err = rl.FieldString(apiFieldRateLimitResource); err != nil {
			return out, err
		}
	}

	proxy, err := conf.FieldString(apiFieldProxyURL)
	if err != nil {
		return out, err
	}
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil || u.Host == "" || !slices.Contains([]string{"http", "https", "socks5", "socks5h"}, u.Scheme) {
			// The value is not quoted: it may hold credentials.
			return out, fmt.Errorf("%s", apiMsgProxyURL)
		}
		out.ProxyURL = u
	}

	tlsConf, enabled, err := conf.FieldTLSToggled(apiFieldTLS)
	if err != nil {
		return out, fmt.Errorf("tls: %w", err)
	}
	if enabled {
		out.TLS = tlsConf
	}
	return out, nil
}

// apiParseTimeout accepts a duration or a whole number of seconds.
func apiParseTimeout(raw string) (time.Duration, error) {
	s := strings.TrimSpace(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && s[0] != '+' && s[0] != '-' {
		if n > int64(math.MaxInt64/time.Second) {
			return 0, fmt.Errorf("%s%s", apiMsgRequestTimeout, raw)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s%s", apiMsgRequestTimeout, raw)
	}
	return d, nil
}

// apiDuration reads a duration field, returning its raw text for messages.
func apiDuration(conf *service.ParsedConfig, path, field string) (time.Duration, string, error) {
	raw, err := conf.FieldString(field)
	if err != nil {
		return 0, "", err
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, raw, fmt.Errorf("%s.%s: %w", path, field, err)
	}
	return d, raw, nil
}

func apiParseRetries(conf *service.ParsedConfig) (api.RetryPolicy, error) {
	var p api.RetryPolicy
	mode, err := conf.FieldString(apiFieldRetriesType)
	if err != nil {
		return p, err
	}
	switch mode {
	case "backoff":
		p.Mode = api.RetryBackoff
	case "static":
		p.Mode = api.RetryStatic
	case "disabled":
		p.Mode = api.RetryDisabled
	default:
		return p, fmt.Errorf("retries.type: must be one of backoff, static, disabled, got %q", mode)
	}

	var rawInitial string
	if p.InitialInterval, rawInitial, err = apiDuration(conf, apiFieldRetries, apiFieldRetriesInitialInterval); err != nil {
		return p, err
	}
	if p.InitialInterval < 0 || p.InitialInterval > api.MaxInitialInterval {
		return p, fmt.Errorf("%s%s", apiMsgInitialInterval, rawInitial)
	}
	if p.Limit, err = conf.FieldInt(apiFieldRetriesLimit); err != nil {
		return p, err
	}
	if p.Limit < 0 || p.Limit > api.MaxRetryLimit {
		return p, fmt.Errorf("%s%d", apiMsgLimit, p.Limit)
	}
	if p.Multiplier, err = conf.FieldFloat(apiFieldRetriesMultiplier); err != nil {
		return p, err
	}
	if math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) || p.Multiplier < 1 {
		return p, fmt.Errorf("%s%v", apiMsgMultiplier, p.Multiplier)
	}
	var rawMax string
	if p.MaxInterval, rawMax, err = apiDuration(conf, apiFieldRetries, apiFieldRetriesMaxInterval); err != nil {
		return p, err
	}
	if p.MaxInterval < p.InitialInterval {
		return p, fmt.Errorf("%s%s", apiMsgMaxInterval, rawMax)
	}
	if p.HTTPCodes, err = conf.FieldIntList(apiFieldRetriesHTTPCodes); err != nil {
		return p, err
	}
	for _, code := range p.HTTPCodes {
		if code < 400 || code > 599 {
			return p, fmt.Errorf(apiMsgHTTPCodeRange, code)
		}
		if slices.Contains([]int{400, 401, 403, 404, 409}, code) {
			return p, fmt.Errorf(apiMsgHTTPCodeNever, code)
		}
	}
	if p.HonorRetryAfter, err = conf.FieldBool(apiFieldRetriesHonorRetryAfter); err != nil {
		return p, err
	}
	var rawMaxRA string
	if p.MaxRetryAfter, rawMaxRA, err = apiDuration(conf, apiFieldRetries, apiFieldRetriesMaxRetryAfter); err != nil {
		return p, err
	}
	if p.MaxRetryAfter <= 0 {
		return p, fmt.Errorf("%s%s", apiMsgMaxRetryAfter, rawMaxRA)
	}
	if p.RetryConnectionTimeout, err = conf.FieldBool(apiFieldRetriesConnTimeout); err != nil {
		return p, err
	}
	if p.RetryConnectionReset, err = conf.FieldBool(apiFieldRetriesConnReset); err != nil {
		return p, err
	}
	return p, p.Validate()
}

// clientConfig returns the api.Config parts these fields own: request
// timeout, retry policy, budget, transport (proxy and TLS) and the rate_limit
// resource gate. The caller adds BaseURL, APIKey, AnthropicVersion,
// UserAgent and Hooks.
func (c apiClientConfig) clientConfig(res *service.Resources) (api.Config, error) {
	cfg := api.Config{
		RequestTimeout: c.RequestTimeout,
		Retry:          c.Retry,
		Budget:         c.Budget,
		Transport:      api.NewTransport(api.TransportConfig{ProxyURL: c.ProxyURL, TLS: c.TLS}),
	}
	if c.RateLimitResource != "" {
		if res == nil || !res.HasRateLimit(c.RateLimitResource) {
			return cfg, fmt.Errorf("rate_limit.resource: rate_limit resource %q was not found", c.RateLimitResource)
		}
		cfg.Limiter = apiRateLimitGate(res, c.RateLimitResource)
	}
	return cfg, nil
}

// apiRateLimitGate adapts a rate_limit resource to api.Config.Limiter: it
// asks the resource for access and sleeps the wait it returns until access
// is granted or ctx ends.
func apiRateLimitGate(res *service.Resources, name string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for {
			var wait time.Duration
			var accessErr error
			if err := res.AccessRateLimit(ctx, name, func(rl service.RateLimit) {
				wait, accessErr = rl.Access(ctx)
			}); err != nil {
				return fmt.Errorf("rate_limit resource %q: %w", name, err)
			}
			if accessErr != nil {
				return fmt.Errorf("rate_limit resource %q: %w", name, accessErr)
			}
			if wait <= 0 {
				return nil
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}
