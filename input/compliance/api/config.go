package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultBaseURL is the Compliance API's production base URL.
const DefaultBaseURL = "https://api.anthropic.com"

// DefaultMaxResponseBytes is the default cap on a response body: a full page
// of 5000 activities is a few MiB, so 64 MiB leaves room for large activities
// while bounding what one response can cost.
const DefaultMaxResponseBytes = 64 << 20

// Config configures a Client. Zero durations and nil funcs take the documented
// defaults; the zero RetryPolicy and Budget disable retries and the rate-budget
// headroom, so callers normally start from DefaultRetryPolicy and
// DefaultBudget.
type Config struct {
	// BaseURL is the scheme and host (and optional path prefix) of the API,
	// overriding the default https://api.anthropic.com. It must not carry
	// credentials, a query or a fragment, and it must be https unless the
	// host is loopback or AllowInsecureHTTP is set (see CheckBaseURL).
	BaseURL string
	// AllowInsecureHTTP permits an http:// BaseURL to a host that is not
	// loopback, which sends the API key across the network in clear text.
	AllowInsecureHTTP bool
	// MaxResponseBytes caps the body of a successful response: a larger one
	// ends the call with a *MalformedError naming the cap and the
	// request-id, after reading at most MaxResponseBytes+1 bytes of it (none
	// when Content-Length announces it). 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// APIKey is sent as x-api-key. It never appears in an error, a hook
	// payload or a log line.
	APIKey string
	// AnthropicVersion is sent as anthropic-version when non-empty.
	AnthropicVersion string
	// UserAgent is sent as user-agent, overriding the default
	// "compliance-connect".
	UserAgent string
	// RequestTimeout bounds one attempt: connect, TLS, response headers and
	// the full body read. 0 means no per-attempt bound.
	RequestTimeout time.Duration
	// Retry is the one retry layer of the client.
	Retry RetryPolicy
	// Budget keeps a headroom in the organization's shared rate budget.
	Budget Budget
	// Limiter, when set, is called before every attempt (after the headroom
	// wait) and may block; an error ends the call. The glue adapts a Benthos
	// rate_limit resource to it.
	Limiter func(ctx context.Context) error
	// Transport carries the requests, overriding the default
	// NewTransport(TransportConfig{}).
	Transport http.RoundTripper
	// Hooks observe requests, responses, retries and waits.
	Hooks Hooks
	// Now is the clock, overriding time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (returning ctx.Err()), overriding a real
	// timer. Every wait of the client goes through it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a float in [0, 1) for jitter, overriding math/rand/v2.
	Rand func() float64
}

// --------------------------------------------------------------------------
// Retry policy
// --------------------------------------------------------------------------

// RetryMode selects how the delay between attempts grows.
type RetryMode int

const (
	// RetryBackoff waits InitialInterval × Multiplier^(n-1), jittered and
	// capped at MaxInterval, before retry n. It is the zero value.
	RetryBackoff RetryMode = iota
	// RetryStatic waits exactly InitialInterval before every retry.
	RetryStatic
	// RetryDisabled makes exactly one attempt.
	RetryDisabled
)

// String returns the config spelling of the mode: backoff, static, disabled.
func (m RetryMode) String() string {
	switch m {
	case RetryBackoff:
		return "backoff"
	case RetryStatic:
		return "static"
	case RetryDisabled:
		return "disabled"
	}
	return fmt.Sprintf("RetryMode(%d)", int(m))
}

// Bounds and defaults of RetryPolicy, shared with the glue's lint rules.
const (
	MaxInitialInterval = 20 * time.Second
	MaxRetryLimit      = 20
)

// neverRetried are statuses no policy may retry: the request itself is wrong.
var neverRetried = []int{400, 401, 403, 404, 409}

// NeverRetried returns the statuses no policy may retry (400, 401, 403, 404
// and 409: the request itself is rejected), in ascending order.
func NeverRetried() []int { return slices.Clone(neverRetried) }

// RetryPolicy decides which failures are retried and how long to wait between
// attempts.
//
// Rules, in order: 400/401/403/404/409 are never retried; a response with
// x-should-retry: false is never retried; x-should-retry: true is always
// retried; any other status is retried when it is in HTTPCodes. Transport
// failures are retried per RetryConnectionTimeout and RetryConnectionReset.
// A 2xx response with a malformed body is never retried.
//
// Jitter: in RetryBackoff mode each delay is spread uniformly over ±25% of the
// nominal delay and then capped at MaxInterval. RetryStatic delays are exact.
// An honoured Retry-After replaces the computed delay (it is not added) and is
// not jittered.
type RetryPolicy struct {
	// Mode is RetryBackoff (default), RetryStatic or RetryDisabled.
	Mode RetryMode
	// InitialInterval is the delay before the first retry, 0 to 20s; 0 means
	// retry immediately.
	InitialInterval time.Duration
	// Limit is the number of retries after the first attempt, 0 to 20; 0
	// disables retries.
	Limit int
	// Multiplier grows the delay in RetryBackoff mode; at least 1 (checked
	// only when retries are enabled).
	Multiplier float64
	// MaxInterval caps a computed delay; at least InitialInterval.
	MaxInterval time.Duration
	// HTTPCodes are the statuses retried without an x-should-retry header.
	HTTPCodes []int
	// HonorRetryAfter uses a response's Retry-After (integer seconds or
	// HTTP-date) as the delay before the next attempt.
	HonorRetryAfter bool
	// MaxRetryAfter caps an honoured Retry-After; a longer one is cut to it
	// and reported through Hooks.OnRetry with Capped set. Must be positive
	// when HonorRetryAfter is set.
	MaxRetryAfter time.Duration
	// RetryConnectionTimeout retries dial, TLS handshake, response header
	// and body read timeouts, including RequestTimeout.
	RetryConnectionTimeout bool
	// RetryConnectionReset retries broken connections: reset, refused,
	// aborted, broken pipe, EOF before the response, a body cut short, and
	// temporary DNS failures.
	RetryConnectionReset bool
}

// DefaultRetryPolicy returns the documented defaults: backoff from 1s,
// doubling, up to 60s, 5 retries, codes 429, 500, 502, 503, 504, 529,
// Retry-After honoured up to 180s, timeouts and resets retried.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Mode:                   RetryBackoff,
		InitialInterval:        time.Second,
		Limit:                  5,
		Multiplier:             2,
		MaxInterval:            60 * time.Second,
		HTTPCodes:              []int{429, 500, 502, 503, 504, 529},
		HonorRetryAfter:        true,
		MaxRetryAfter:          180 * time.Second,
		RetryConnectionTimeout: true,
		RetryConnectionReset:   true,
	}
}

// Validate reports the first setting out of range, naming it.
func (p RetryPolicy) Validate() error {
	switch p.Mode {
	case RetryBackoff, RetryStatic, RetryDisabled:
	default:
		return fmt.Errorf("retry mode: unknown mode %d", int(p.Mode))
	}
	if p.InitialInterval < 0 || p.InitialInterval > MaxInitialInterval {
		return fmt.Errorf("retry initial interval: must be between 0s and %s, got %s", MaxInitialInterval, p.InitialInterval)
	}
	if p.Limit < 0 || p.Limit > MaxRetryLimit {
		return fmt.Errorf("retry limit: must be between 0 and %d, got %d", MaxRetryLimit, p.Limit)
	}
	if p.Mode == RetryBackoff && p.Limit > 0 {
		if math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) || p.Multiplier < 1 {
			return fmt.Errorf("retry multiplier: must be at least 1, got %v", p.Multiplier)
		}
		if p.MaxInterval < p.InitialInterval {
			return fmt.Errorf("retry max interval: must be at least the initial interval %s, got %s", p.InitialInterval, p.MaxInterval)
		}
	}
	for _, code := range p.HTTPCodes {
		if code < 400 || code > 599 {
			return fmt.Errorf("retry http codes: %d is not an HTTP error status (400-599)", code)
		}
		if slices.Contains(neverRetried, code) {
			return fmt.Errorf("retry http codes: %d is never retried (the request itself is rejected)", code)
		}
	}
	if p.MaxRetryAfter < 0 || (p.HonorRetryAfter && p.MaxRetryAfter == 0) {
		return fmt.Errorf("retry max retry-after: must be positive when Retry-After is honoured, got %s", p.MaxRetryAfter)
	}
	return nil
}

// maxRetries is the number of retries the policy allows after attempt 1.
func (p RetryPolicy) maxRetries() int {
	if p.Mode == RetryDisabled {
		return 0
	}
	return p.Limit
}

// --------------------------------------------------------------------------
// Rate budget
// --------------------------------------------------------------------------

// Budget keeps a headroom in the organization's shared request budget (600 a
// minute by default, shared by every tool and key of the organization).
//
// Before each attempt, if the latest anthropic-ratelimit-requests-* headers
// show Remaining <= ceil(Headroom × Limit) and the window's reset lies ahead,
// the client waits until the reset, at most MaxWait, and reports it through
// Hooks.OnWait. The reset is taken relative to the response's Date header
// when present, so a skewed local clock cannot stretch the wait; a wait is
// never negative and never longer than MaxWait.
type Budget struct {
	// Headroom is the fraction of the limit left to other tools, in [0, 1);
	// 0 disables the headroom wait. Default 0.10.
	Headroom float64
	// MaxWait caps one headroom wait; must be positive when Headroom is set.
	// Default 60s.
	MaxWait time.Duration
}

// DefaultBudget returns a 10% headroom and a 60s cap.
func DefaultBudget() Budget {
	return Budget{Headroom: 0.10, MaxWait: 60 * time.Second}
}

// Validate reports the first setting out of range, naming it.
func (b Budget) Validate() error {
	if math.IsNaN(b.Headroom) || b.Headroom < 0 || b.Headroom >= 1 {
		return fmt.Errorf("budget headroom: must be at least 0 and less than 1, got %v", b.Headroom)
	}
	if b.MaxWait < 0 || (b.Headroom > 0 && b.MaxWait == 0) {
		return fmt.Errorf("budget max wait: must be positive when a headroom is set, got %s", b.MaxWait)
	}
	return nil
}

// threshold is the remaining count at or below which the client waits.
func (b Budget) threshold(limit int) int {
	// The epsilon keeps 0.1 × 600 at 60 despite binary rounding.
	return int(math.Ceil(b.Headroom*float64(limit) - 1e-9))
}

// --------------------------------------------------------------------------
// Validation of the whole config
// --------------------------------------------------------------------------

// CheckAPIKey reports a key that cannot be sent as an x-api-key header:
// empty, with surrounding whitespace, or with a character outside visible
// ASCII. The error never quotes the key.
func CheckAPIKey(key string) error {
	if key == "" {
		return errors.New("is empty")
	}
	if strings.TrimSpace(key) != key {
		return errors.New("has leading or trailing whitespace")
	}
	for i := 0; i < len(key); i++ {
		if b := key[i]; b < 0x21 || b > 0x7e {
			return errors.New("contains a character not allowed in an HTTP header")
		}
	}
	return nil
}

func (c Config) validate() error {
	if err := CheckAPIKey(c.APIKey); err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	if c.MaxResponseBytes < 0 {
		return fmt.Errorf("max response bytes: must not be negative, got %d", c.MaxResponseBytes)
	}
	for i := 0; i < len(c.AnthropicVersion); i++ {
		if b := c.AnthropicVersion[i]; b < 0x20 || b == 0x7f {
			return fmt.Errorf("anthropic version: contains a control character: %q", c.AnthropicVersion)
		}
	}
	for i := 0; i < len(c.UserAgent); i++ {
		if b := c.UserAgent[i]; b < 0x20 || b == 0x7f {
			return fmt.Errorf("user agent: contains a control character: %q", c.UserAgent)
		}
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("request timeout: must not be negative, got %s", c.RequestTimeout)
	}
	if err := c.Retry.Validate(); err != nil {
		return err
	}
	return c.Budget.Validate()
}
