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

	apiFieldProxyURL          = "proxy_url"
	apiFieldTLS               = "tls"
	apiFieldMaxResponseSize   = "max_response_size"
	apiFieldAllowInsecureHTTP = "allow_insecure_http"
)

// apiClientConfig is the parsed HTTP, retry and rate-budget settings.
type apiClientConfig struct {
	RequestTimeout    time.Duration
	MaxResponseBytes  int64
	AllowInsecureHTTP bool
	Retry             api.RetryPolicy
	Budget            api.Budget
	RateLimitResource string
	ProxyURL          *url.URL
	TLS               *tls.Config // nil when tls.enabled is false
}

// apiMsgProxyURL does not quote the value: it may hold credentials.
const apiMsgProxyURL = "must be an http, https, socks5 or socks5h URL with a host, such as http://proxy.internal:3128"

// Bounds of max_response_size.
const (
	minResponseSize = 1 << 20
	maxResponseSize = 1 << 30
)

// apiClientFields returns the fields of the HTTP, retry and rate-budget part
// of the anthropic_compliance spec, in the order they are documented.
func apiClientFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringField(apiFieldRequestTimeout).
			Description("Longest time one HTTP attempt may take: connecting, TLS, waiting for the response headers and reading the whole body. A duration such as `300s` or `5m`, or a whole number of seconds. `0` means no limit. A timed-out attempt is retried when `retries.retry_connection_timeout` is true. This is per request, unlike the job timeout.").
			Examples("300s", "5m", "45", "0").
			Default("300s").
			Advanced(),

		service.NewStringField(apiFieldMaxResponseSize).
			Description("Largest response body accepted, from 1MiB to 1GiB, in bytes or with a unit (`KiB`, `MiB`, `GiB`). A full page of 5000 activities is a few MiB; a larger body (a broken or hostile upstream, or a gzip bomb) is not read past the cap and ends the job with an error naming the cap and the `request-id`, like any malformed response. The memory a page costs is bounded by about twice this size while it is read, and by its real size while its messages are in flight.").
			Examples("64MiB", "256MiB").
			Default("64MiB").
			Advanced(),
		service.NewBoolField(apiFieldAllowInsecureHTTP).
			Description("Allow an `http://` `base_url` to a host that is not loopback. Over plain HTTP the API key (`x-api-key`) and the audit trail cross the network in clear text; loopback (`127.0.0.1`, `[::1]`, `localhost`: a local gateway or the fake API) is always allowed.").
			Default(false).
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
				Default("1s"),
			service.NewIntField(apiFieldRetriesLimit).
				Description("Retries per failed request after the first attempt, 0 to 20. `0` disables retries. When a request still fails, the job ends with an error naming the status, `error.type`, `error.message` and `request-id`; the checkpoint is not moved and the next scheduled job tries again.").
				Default(5),
			service.NewFloatField(apiFieldRetriesMultiplier).
				Description("Factor by which each `backoff` wait grows over the previous one; at least 1 (1 means constant waits, with jitter).").
				Default(2.0).
				Advanced(),
			service.NewDurationField(apiFieldRetriesMaxInterval).
				Description("Longest `backoff` wait, jitter included; at least `initial_interval`.").
				Examples("60s", "5m").
				Default("60s").
				Advanced(),
			service.NewIntListField(apiFieldRetriesHTTPCodes).
				Description("HTTP statuses that are retried. Independently of this list, a response with `x-should-retry: true` is retried and one with `x-should-retry: false` is not, and 400, 401, 403, 404 and 409 are never retried (they may not be listed). Other statuses end the request at once.").
				Default([]any{429, 500, 502, 503, 504, 529}).
				Advanced(),
			service.NewBoolField(apiFieldRetriesHonorRetryAfter).
				Description("Wait as long as a retried response's `Retry-After` header asks (integer seconds or an HTTP date) instead of the computed wait, up to `max_retry_after`. A longer request is cut to `max_retry_after` and logged.").
				Default(true),
			service.NewDurationField(apiFieldRetriesMaxRetryAfter).
				Description("Longest honoured `Retry-After` wait; must be positive.").
				Examples("180s", "10m").
				Default("180s").
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
			Description("Retries of failed API requests. This is the input's only retry layer: 429s, 5xx and 529s, and network faults are retried here, with `Retry-After` and `x-should-retry` honoured. A response with a malformed body is never retried; it ends the job."),

		service.NewObjectField(apiFieldRateLimit,
			service.NewFloatField(apiFieldRateLimitHeadroom).
				Description("Share of the organization's request budget (600 requests a minute, shared by every tool and key of the organization) left to others: when the `anthropic-ratelimit-requests-remaining` header falls to this fraction of the limit, requests pause until the window resets. At least 0 and less than 1; `0` turns the pause off.").
				Examples(0.1, 0.25, 0.0).
				Default(0.1),
			service.NewDurationField(apiFieldRateLimitMaxWait).
				Description("Longest single pause for the headroom, whatever the reset time says (a guard against clock skew); must be positive.").
				Examples("60s", "2m").
				Default("60s").
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
			Advanced(),

		service.NewTLSToggledField(apiFieldTLS).
			Description("Custom TLS settings: a private CA (e.g. for a TLS-inspecting proxy), client certificates. When disabled the system roots are used; certificates are always verified unless `skip_cert_verify` is set.").
			Advanced(),
	}
}

// parseAPIClientConfig reads the fields of apiClientFields from r, recording
// every problem in r. In lint mode nothing is read from disk (TLS files).
func parseAPIClientConfig(r fieldReader, mode parseMode) apiClientConfig {
	var out apiClientConfig
	if raw, ok := r.str(apiFieldRequestTimeout); ok {
		d, err := apiParseTimeout(raw)
		r.check(err, apiFieldRequestTimeout)
		out.RequestTimeout = d
	}
	if raw, ok := r.str(apiFieldMaxResponseSize); ok {
		n, err := parseByteSize(raw)
		if err == nil && (n < minResponseSize || n > maxResponseSize) {
			err = fmt.Errorf("must be between 1MiB and 1GiB, got %s", raw)
		}
		r.check(err, apiFieldMaxResponseSize)
		out.MaxResponseBytes = n
	}
	out.AllowInsecureHTTP = r.boolean(apiFieldAllowInsecureHTTP)
	out.Retry = apiParseRetries(r.at(apiFieldRetries))

	rl := r.at(apiFieldRateLimit)
	out.Budget.Headroom = rl.float(apiFieldRateLimitHeadroom)
	if h := out.Budget.Headroom; math.IsNaN(h) || h < 0 || h >= 1 {
		rl.add(apiFieldRateLimitHeadroom, "must be at least 0 and less than 1, got %v", h)
	}
	out.Budget.MaxWait = rl.duration(positive, apiFieldRateLimitMaxWait)
	if rl.conf.Contains(apiFieldRateLimitResource) {
		out.RateLimitResource, _ = rl.str(apiFieldRateLimitResource)
	}

	if proxy, ok := r.str(apiFieldProxyURL); ok && proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil || u.Host == "" || !slices.Contains([]string{"http", "https", "socks5", "socks5h"}, u.Scheme) {
			r.add(apiFieldProxyURL, apiMsgProxyURL)
		} else {
			out.ProxyURL = u
		}
	}

	if mode == atStartup {
		tlsConf, enabled, err := r.conf.FieldTLSToggled(apiFieldTLS)
		r.check(err, apiFieldTLS)
		if err == nil && enabled {
			out.TLS = tlsConf
		}
	}
	return out
}

// apiParseTimeout accepts a duration or a whole number of seconds.
func apiParseTimeout(raw string) (time.Duration, error) {
	bad := fmt.Errorf("must be a non-negative duration such as 300s or a whole number of seconds, got %s", raw)
	s := strings.TrimSpace(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && s[0] != '+' && s[0] != '-' {
		if n > int64(math.MaxInt64/time.Second) {
			return 0, bad
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// parseByteSize reads a whole number of bytes, optionally followed by B,
// KiB, MiB or GiB (powers of 1024; KB, MB and GB are read the same way).
func parseByteSize(raw string) (int64, error) {
	s := strings.TrimSpace(raw)
	digits := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToLower(strings.TrimSpace(s[len(digits):]))
	mult := map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "kb": 1 << 10, "mib": 1 << 20, "mb": 1 << 20, "gib": 1 << 30, "gb": 1 << 30}[unit]
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || mult == 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("must be a number of bytes such as 67108864 or 64MiB, got %q", raw)
	}
	return n * mult, nil
}

// apiParseRetries reads the retries object. Its bounds are api's
// (MaxInitialInterval, MaxRetryLimit, NeverRetried), named here by field.
func apiParseRetries(r fieldReader) api.RetryPolicy {
	var p api.RetryPolicy
	switch mode, _ := r.str(apiFieldRetriesType); mode {
	case "backoff":
		p.Mode = api.RetryBackoff
	case "static":
		p.Mode = api.RetryStatic
	case "disabled":
		p.Mode = api.RetryDisabled
	default:
		r.add(apiFieldRetriesType, "must be one of backoff, static, disabled, got %q", mode)
	}
	p.InitialInterval = r.duration(durationRule{
		ok:  func(d time.Duration) bool { return d >= 0 && d <= api.MaxInitialInterval },
		msg: "must be between 0s and " + api.MaxInitialInterval.String(),
	}, apiFieldRetriesInitialInterval)
	p.Limit = r.integer(apiFieldRetriesLimit)
	if p.Limit < 0 || p.Limit > api.MaxRetryLimit {
		r.add(apiFieldRetriesLimit, "must be between 0 and %d, got %d", api.MaxRetryLimit, p.Limit)
	}
	p.Multiplier = r.float(apiFieldRetriesMultiplier)
	if m := p.Multiplier; math.IsNaN(m) || math.IsInf(m, 0) || m < 1 {
		r.add(apiFieldRetriesMultiplier, "must be at least 1, got %v", m)
	}
	p.MaxInterval = r.duration(durationRule{
		ok:  func(d time.Duration) bool { return d >= p.InitialInterval },
		msg: "must be at least retries.initial_interval",
	}, apiFieldRetriesMaxInterval)
	p.HTTPCodes = r.intList(apiFieldRetriesHTTPCodes)
	never := api.NeverRetried()
	for _, code := range p.HTTPCodes {
		if code < 400 || code > 599 {
			r.add(apiFieldRetriesHTTPCodes, "%d is not an HTTP error status (400-599)", code)
		} else if slices.Contains(never, code) {
			r.add(apiFieldRetriesHTTPCodes, "%d is never retried (%s reject the request itself)", code, joinCodes(never))
		}
	}
	p.HonorRetryAfter = r.boolean(apiFieldRetriesHonorRetryAfter)
	p.MaxRetryAfter = r.duration(positive, apiFieldRetriesMaxRetryAfter)
	p.RetryConnectionTimeout = r.boolean(apiFieldRetriesConnTimeout)
	p.RetryConnectionReset = r.boolean(apiFieldRetriesConnReset)
	return p
}

// joinCodes renders 400, 401 and 409 as "400, 401 and 409".
func joinCodes(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.Itoa(c)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// clientConfig returns the api.Config parts these fields own: request
// timeout, response cap, plain-HTTP permission, retry policy, budget,
// transport (proxy and TLS) and the rate_limit resource gate. The caller adds BaseURL, APIKey, AnthropicVersion,
// UserAgent and Hooks.
func (c apiClientConfig) clientConfig(res *service.Resources) (api.Config, error) {
	cfg := api.Config{
		RequestTimeout:    c.RequestTimeout,
		MaxResponseBytes:  c.MaxResponseBytes,
		AllowInsecureHTTP: c.AllowInsecureHTTP,
		Retry:             c.Retry,
		Budget:            c.Budget,
		Transport:         api.NewTransport(api.TransportConfig{ProxyURL: c.ProxyURL, TLS: c.TLS}),
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
