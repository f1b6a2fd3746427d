package compliance

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// apiTestSpec is a spec holding only the fields under test.
func apiTestSpec() *service.ConfigSpec {
	return service.NewConfigSpec().Fields(apiClientFields()...)
}

func apiParseYAML(t *testing.T, yaml string) (apiClientConfig, error) {
	t.Helper()
	conf, err := apiTestSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	var p problems
	got := parseAPIClientConfig(fieldReader{conf: conf, p: &p}, atStartup)
	if len(p) > 0 {
		return got, errors.New(strings.Join(p, "; "))
	}
	return got, nil
}

// apiLint lints yaml (fields of the input) within an anthropic_compliance
// input, as `compliance-connect lint` would.
func apiLint(t *testing.T, yaml string) []string {
	t.Helper()
	indented := "  " + strings.ReplaceAll(strings.TrimSpace(yaml), "\n", "\n  ")
	if strings.TrimSpace(yaml) == "{}" {
		indented = ""
	}
	return lintInput(t, validationEnv(t), inputYAML("  api_key: k\n"+indented))
}

func TestAPIClientConfigDefaults(t *testing.T) {
	got, err := apiParseYAML(t, ``)
	require.NoError(t, err)
	assert.Equal(t, apiClientConfig{
		RequestTimeout:   300 * time.Second,
		MaxResponseBytes: api.DefaultMaxResponseBytes,
		Retry:            api.DefaultRetryPolicy(),
		Budget:           api.DefaultBudget(),
	}, got)
	assert.Empty(t, apiLint(t, `{}`))
}

func TestAPIClientConfigReadsEveryField(t *testing.T) {
	yaml := `
request_timeout: 45
max_response_size: 256MiB
allow_insecure_http: true
retries:
  type: static
  initial_interval: 2s
  limit: 7
  multiplier: 1.5
  max_interval: 30s
  http_codes: [429, 503]
  honor_retry_after: false
  max_retry_after: 10m
  retry_connection_timeout: false
  retry_connection_reset: false
rate_limit:
  headroom: 0.25
  max_wait: 2m
  resource: compliance_budget
proxy_url: http://user:pw@proxy.internal:3128
tls:
  enabled: true
  skip_cert_verify: true
`
	got, err := apiParseYAML(t, yaml)
	require.NoError(t, err)
	assert.Equal(t, 45*time.Second, got.RequestTimeout)
	assert.Equal(t, int64(256<<20), got.MaxResponseBytes)
	assert.True(t, got.AllowInsecureHTTP)
	assert.Equal(t, api.RetryPolicy{
		Mode:                   api.RetryStatic,
		InitialInterval:        2 * time.Second,
		Limit:                  7,
		Multiplier:             1.5,
		MaxInterval:            30 * time.Second,
		HTTPCodes:              []int{429, 503},
		HonorRetryAfter:        false,
		MaxRetryAfter:          10 * time.Minute,
		RetryConnectionTimeout: false,
		RetryConnectionReset:   false,
	}, got.Retry)
	assert.Equal(t, api.Budget{Headroom: 0.25, MaxWait: 2 * time.Minute}, got.Budget)
	assert.Equal(t, "compliance_budget", got.RateLimitResource)
	require.NotNil(t, got.ProxyURL)
	assert.Equal(t, "proxy.internal:3128", got.ProxyURL.Host)
	require.NotNil(t, got.TLS)
	assert.True(t, got.TLS.InsecureSkipVerify)
	assert.Empty(t, apiLint(t, yaml))
}

func TestAPIClientConfigRetryTypes(t *testing.T) {
	for mode, want := range map[string]api.RetryMode{"backoff": api.RetryBackoff, "static": api.RetryStatic, "disabled": api.RetryDisabled} {
		got, err := apiParseYAML(t, "retries:\n  type: "+mode)
		require.NoError(t, err)
		assert.Equal(t, want, got.Retry.Mode)
	}
	_, err := apiParseYAML(t, "retries:\n  type: exponential")
	require.EqualError(t, err, `retries.type: must be one of backoff, static, disabled, got "exponential"`)
	assert.NotEmpty(t, apiLint(t, "retries:\n  type: exponential"), "the enum is linted")
}

func TestAPIClientConfigRequestTimeoutForms(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{`"300s"`, 300 * time.Second},
		{`"5m"`, 5 * time.Minute},
		{`45`, 45 * time.Second},
		{`"45"`, 45 * time.Second},
		{`0`, 0},
		{`"0s"`, 0},
		{`"1m30s"`, 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := apiParseYAML(t, "request_timeout: "+tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.RequestTimeout)
			assert.Empty(t, apiLint(t, "request_timeout: "+tt.in))
		})
	}
}

// Every out-of-range value is an error naming the field path, and `lint`
// reports it with the same words (lint runs the same parse).
func TestAPIClientConfigRejectsOutOfRangeValues(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{name: "negative request timeout", yaml: `request_timeout: -5s`, want: "request_timeout: must be a non-negative duration such as 300s or a whole number of seconds, got -5s"},
		{name: "request timeout without unit", yaml: `request_timeout: 5 minutes`, want: "request_timeout: must be a non-negative duration such as 300s or a whole number of seconds, got 5 minutes"},
		{name: "retry limit 25", yaml: "retries:\n  limit: 25", want: "retries.limit: must be between 0 and 20, got 25"},
		{name: "retry limit -1", yaml: "retries:\n  limit: -1", want: "retries.limit: must be between 0 and 20, got -1"},
		{name: "initial interval 21s", yaml: "retries:\n  initial_interval: 21s", want: "retries.initial_interval: must be between 0s and 20s, got 21s"},
		{name: "negative initial interval", yaml: "retries:\n  initial_interval: -1s", want: "retries.initial_interval: must be between 0s and 20s, got -1s"},
		{name: "multiplier 0.5", yaml: "retries:\n  multiplier: 0.5", want: "retries.multiplier: must be at least 1, got 0.5"},
		{name: "max interval below initial", yaml: "retries:\n  initial_interval: 10s\n  max_interval: 5s", want: "retries.max_interval: must be at least retries.initial_interval, got 5s"},
		{name: "max interval below default initial", yaml: "retries:\n  max_interval: 500ms", want: "retries.max_interval: must be at least retries.initial_interval, got 500ms"},
		{name: "http code 404", yaml: "retries:\n  http_codes: [429, 404]", want: "retries.http_codes: 404 is never retried (400, 401, 403, 404 and 409 reject the request itself)"},
		{name: "http code 200", yaml: "retries:\n  http_codes: [200]", want: "retries.http_codes: 200 is not an HTTP error status (400-599)"},
		{name: "max retry-after 0", yaml: "retries:\n  max_retry_after: 0s", want: "retries.max_retry_after: must be positive, got 0s"},
		{name: "headroom 1", yaml: "rate_limit:\n  headroom: 1", want: "rate_limit.headroom: must be at least 0 and less than 1, got 1"},
		{name: "headroom -0.1", yaml: "rate_limit:\n  headroom: -0.1", want: "rate_limit.headroom: must be at least 0 and less than 1, got -0.1"},
		{name: "max wait 0", yaml: "rate_limit:\n  max_wait: 0s", want: "rate_limit.max_wait: must be positive, got 0s"},
		{name: "proxy url scheme", yaml: "proxy_url: ftp://proxy.internal", want: "proxy_url: must be an http, https, socks5 or socks5h URL with a host, such as http://proxy.internal:3128"},
		{name: "proxy url without scheme", yaml: "proxy_url: proxy.internal:3128", want: "proxy_url: must be an http, https, socks5 or socks5h URL with a host, such as http://proxy.internal:3128"},
		{name: "proxy url without host", yaml: "proxy_url: http://", want: "proxy_url: must be an http, https, socks5 or socks5h URL with a host, such as http://proxy.internal:3128"},
		{name: "max_response_size too small", yaml: "max_response_size: 64KiB", want: "max_response_size: must be between 1MiB and 1GiB, got 64KiB"},
		{name: "max_response_size too large", yaml: "max_response_size: 2GiB", want: "max_response_size: must be between 1MiB and 1GiB, got 2GiB"},
		{name: "max_response_size unit", yaml: "max_response_size: 64 megabytes", want: `max_response_size: must be a number of bytes such as 67108864 or 64MiB, got "64 megabytes"`},
		{name: "duration that does not parse", yaml: "rate_limit:\n  max_wait: soon", want: `rate_limit.max_wait: must be a duration such as 90s or 1m30s, got "soon"`},
		{name: "huge whole seconds", yaml: "request_timeout: 99999999999999", want: "request_timeout: must be a non-negative duration such as 300s or a whole number of seconds, got 99999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apiParseYAML(t, tt.yaml)
			require.EqualError(t, err, tt.want)
			assert.Contains(t, apiLint(t, tt.yaml), tt.want)
		})
	}
}

func TestAPIClientConfigProxyErrorHidesCredentials(t *testing.T) {
	_, err := apiParseYAML(t, "proxy_url: ftp://user:s3cret@proxy.internal")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
	for _, l := range apiLint(t, "proxy_url: ftp://user:s3cret@proxy.internal") {
		assert.NotContains(t, l, "s3cret")
	}
}

func TestAPIClientConfigTLSDisabledIsNil(t *testing.T) {
	got, err := apiParseYAML(t, "tls:\n  enabled: false\n  skip_cert_verify: true")
	require.NoError(t, err)
	assert.Nil(t, got.TLS)
}

func TestAPIClientConfigBuildsClientConfig(t *testing.T) {
	got, err := apiParseYAML(t, "request_timeout: 10s\nproxy_url: http://proxy.internal:3128")
	require.NoError(t, err)
	cfg, err := got.clientConfig(service.MockResources())
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.RequestTimeout)
	assert.Equal(t, api.DefaultRetryPolicy(), cfg.Retry)
	assert.Equal(t, api.DefaultBudget(), cfg.Budget)
	assert.Nil(t, cfg.Limiter)
	require.NotNil(t, cfg.Transport)

	cfg.APIKey = "sk-ant-api01-test"
	_, err = api.New(cfg)
	require.NoError(t, err, "the built config is a valid api.Config once the key is set")
}

func TestAPIClientConfigMissingRateLimitResource(t *testing.T) {
	got, err := apiParseYAML(t, "rate_limit:\n  resource: nope")
	require.NoError(t, err)
	_, err = got.clientConfig(service.MockResources())
	require.EqualError(t, err, `rate_limit.resource: rate_limit resource "nope" was not found`)
}

// The gate asks the resource again after each wait it returns, until access
// is granted.
func TestAPIRateLimitGateWaitsUntilGranted(t *testing.T) {
	var calls atomic.Int32
	res := service.MockResources(service.MockResourcesOptAddRateLimit("budget", func(context.Context) (time.Duration, error) {
		if calls.Add(1) < 3 {
			return time.Millisecond, nil
		}
		return 0, nil
	}))
	got, err := apiParseYAML(t, "rate_limit:\n  resource: budget")
	require.NoError(t, err)
	cfg, err := got.clientConfig(res)
	require.NoError(t, err)
	require.NotNil(t, cfg.Limiter)
	require.NoError(t, cfg.Limiter(t.Context()))
	assert.Equal(t, int32(3), calls.Load())
}

func TestAPIRateLimitGateErrorsAndCancel(t *testing.T) {
	res := service.MockResources(
		service.MockResourcesOptAddRateLimit("broken", func(context.Context) (time.Duration, error) {
			return 0, errors.New("redis down")
		}),
		service.MockResourcesOptAddRateLimit("slow", func(context.Context) (time.Duration, error) {
			return time.Hour, nil
		}),
	)
	err := apiRateLimitGate(res, "broken")(t.Context())
	require.EqualError(t, err, `rate_limit resource "broken": redis down`)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- apiRateLimitGate(res, "slow")(ctx) }()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the gate did not return after cancel")
	}
}

func TestAPIClientConfigDurationBoundsAcceptEquivalentSpellings(t *testing.T) {
	for _, yaml := range []string{
		"retries:\n  initial_interval: 20000ms",
		"retries:\n  initial_interval: 0s\n  max_interval: 0s",
		"retries:\n  initial_interval: 19.5s\n  max_interval: 1h",
		"retries:\n  max_retry_after: 1ns",
		"rate_limit:\n  max_wait: 1m30s",
	} {
		_, err := apiParseYAML(t, yaml)
		require.NoError(t, err, yaml)
		assert.Empty(t, apiLint(t, yaml), yaml)
	}
	for _, yaml := range []string{"retries:\n  initial_interval: 1m", "retries:\n  initial_interval: 20001ms"} {
		_, err := apiParseYAML(t, yaml)
		require.ErrorContains(t, err, "retries.initial_interval: must be between 0s and 20s", yaml)
		assert.NotEmpty(t, apiLint(t, yaml), yaml)
	}
}
