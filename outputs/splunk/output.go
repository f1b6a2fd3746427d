// Package splunk registers the `splunk_hec` Benthos output, which sends
// message batches to a Splunk HTTP Event Collector as concatenated JSON event
// envelopes in one POST per batch. Each message becomes the envelope's
// `event`, byte for byte, with `time` taken from the activity's creation time.
// Delivery is at-least-once: any refusal by HEC nacks the whole batch.
package splunk

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/outputs/internal/cleartext"
)

// Config field names.
const (
	fieldURL        = "url"
	fieldToken      = "token"
	fieldIndex      = "index"
	fieldSourcetype = "sourcetype"
	fieldSource     = "source"
	fieldHost       = "host"
	fieldTime       = "time"
	fieldGzip       = "gzip"
	fieldTLS        = "tls"
	fieldTimeout    = "timeout"
	fieldBatching   = "batching"
)

// eventPath is the HEC endpoint used when url has no path.
const eventPath = "/services/collector/event"

func outputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Version("0.1.0").
		Categories("Services").
		Summary("Sends messages to a Splunk HTTP Event Collector (HEC) as JSON events.").
		Description(`
Each batch is sent as one POST of concatenated HEC event envelopes:

`+"```json"+`
{"time":1775808550.250,"host":"…","source":"…","sourcetype":"anthropic:compliance:activity","index":"…","event":<message>}
`+"```"+`

`+"`event`"+` is the message itself, byte for byte, when it is valid JSON, and the message as a JSON string
otherwise. `+"`time`"+` is epoch seconds with milliseconds, converted from an RFC 3339 timestamp (or taken from
epoch seconds); when the `+"`time`"+` field evaluates to an empty string or to something else, the envelope has
no time (HEC then uses the arrival time) and a warning is logged. `+"`host`"+`, `+"`source`"+` and `+"`index`"+`
are left out when they evaluate to an empty string, so HEC applies the token's defaults.
HTTPS URLs are verified against the system roots without `+"`tls`"+`; enable `+"`tls`"+` for custom root CAs,
client certificates or `+"`skip_cert_verify`"+`.

== Delivery

Delivery is at-least-once: HEC answers `+"`{\"text\":\"Success\",\"code\":0}`"+` and anything else (a non-zero
code, any 4xx or 5xx status such as 503 "server is busy", a transport error) nacks every message of the batch, so
an input such as `+"`anthropic_compliance`"+` never commits an activity that HEC did not accept. HEC may have
indexed part of a refused batch, so a retry can duplicate events. A message whose `+"`index`"+`, `+"`sourcetype`"+`,
`+"`source`"+` or `+"`host`"+` cannot be evaluated is nacked alone and not sent.

Indexer acknowledgement (tokens with "useACK") is not supported: a 200 from HEC means the events were received.`+
			service.OutputPerformanceDocs(true, true)).
		Fields(
			service.NewStringField(fieldURL).
				Description("The HEC event endpoint. A URL without a path gets `"+eventPath+"`. Use `https://`: over `http://` to a host that is not loopback the token and the events cross the network in clear text (a warning at start-up).").
				Example("https://splunk.example.com:8088/services/collector/event"),
			service.NewStringField(fieldToken).
				Description("The HEC token, sent as `Authorization: Splunk <token>`. Checked at start-up, not by `lint` (which CI runs with `--skip-env-var-check`, without secrets): empty is refused then.").
				Secret(),
			service.NewInterpolatedStringField(fieldIndex).
				Description("The Splunk index of each event. Empty uses the token's default index.").
				Example("anthropic_audit").
				Default(""),
			service.NewInterpolatedStringField(fieldSourcetype).
				Description("The sourcetype of each event. Empty leaves it to HEC.").
				Default("anthropic:compliance:activity"),
			service.NewInterpolatedStringField(fieldSource).
				Description("The source of each event. Empty leaves it to HEC.").
				Example("anthropic:compliance-api").
				Default(""),
			service.NewInterpolatedStringField(fieldHost).
				Description("The host of each event. Empty leaves it to HEC.").
				Example(`${! hostname() }`).
				Default(""),
			service.NewInterpolatedStringField(fieldTime).
				Description("The event time as an RFC 3339 timestamp or epoch seconds. The default is the `activity_created_at` metadata set by the `anthropic_compliance` input, else the message's `created_at` field. Empty (or unparseable, with a warning) sends no time.").
				Default(`${! @activity_created_at | this.created_at | "" }`),
			service.NewBoolField(fieldGzip).
				Description("Compress each request body with gzip (`Content-Encoding: gzip`).").
				Default(false),
			service.NewTLSToggledField(fieldTLS),
			service.NewDurationField(fieldTimeout).
				Description("The maximum time one request may take, including reading the response.").
				Default("30s"),
			service.NewOutputMaxInFlightField(),
			service.NewBatchPolicyField(fieldBatching),
		).
		Example("Authentication events to their own index",
			"Sends activities to HEC in batches of up to 500, with gzip.", `
output:
  splunk_hec:
    url: https://splunk.example.com:8088/services/collector/event
    token: ${SPLUNK_HEC_TOKEN}
    index: anthropic_audit
    gzip: true
    batching:
      count: 500
      period: 5s
`)
}

func init() {
	service.MustRegisterBatchOutput("splunk_hec", outputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			cfg, err := parseConfig(conf)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			for _, w := range cfg.warnings {
				mgr.Logger().Warn(w)
			}
			return newOutput(cfg, mgr), cfg.batching, cfg.maxInFlight, nil
		})
}

// config is the parsed and validated output configuration.
type config struct {
	url         string
	token       string
	index       *service.InterpolatedString
	sourcetype  *service.InterpolatedString
	source      *service.InterpolatedString
	host        *service.InterpolatedString
	time        *service.InterpolatedString
	gzip        bool
	tls         *tls.Config // nil when disabled
	timeout     time.Duration
	maxInFlight int
	batching    service.BatchPolicy
	warnings    []string // logged at start-up
}

func parseConfig(conf *service.ParsedConfig) (cfg config, err error) {
	rawURL, err := conf.FieldString(fieldURL)
	if err != nil {
		return cfg, err
	}
	if cfg.url, err = parseURL(rawURL); err != nil {
		return cfg, fmt.Errorf("%s: %w", fieldURL, err)
	}
	if cleartext.HTTP(cfg.url) {
		cfg.warnings = append(cfg.warnings, fieldURL+": http:// sends the HEC token and the events across the network in clear text; use https")
	}
	if cfg.token, err = conf.FieldString(fieldToken); err != nil {
		return cfg, err
	}
	if cfg.token = strings.TrimSpace(cfg.token); cfg.token == "" {
		return cfg, fmt.Errorf("%s: must not be empty", fieldToken)
	}
	for _, f := range []struct {
		name string
		dst  **service.InterpolatedString
	}{
		{fieldIndex, &cfg.index},
		{fieldSourcetype, &cfg.sourcetype},
		{fieldSource, &cfg.source},
		{fieldHost, &cfg.host},
		{fieldTime, &cfg.time},
	} {
		if *f.dst, err = conf.FieldInterpolatedString(f.name); err != nil {
			return cfg, err
		}
	}
	if cfg.gzip, err = conf.FieldBool(fieldGzip); err != nil {
		return cfg, err
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return cfg, err
	}
	if tlsOn {
		cfg.tls = tlsConf
	}
	if cfg.timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return cfg, err
	}
	if cfg.timeout <= 0 {
		return cfg, fmt.Errorf("%s: must be positive, got %v", fieldTimeout, cfg.timeout)
	}
	if cfg.maxInFlight, err = conf.FieldMaxInFlight(); err != nil {
		return cfg, err
	}
	if cfg.maxInFlight < 1 {
		return cfg, fmt.Errorf("max_in_flight: must be at least 1, got %d", cfg.maxInFlight)
	}
	if cfg.batching, err = conf.FieldBatchPolicy(fieldBatching); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parseURL checks the HEC URL and adds the event path when it has none.
func parseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var uErr *url.Error // repeats the URL; keep it out of the message
		if errors.As(err, &uErr) {
			err = uErr.Err
		}
		return "", err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return "", errors.New("missing host")
	case u.User != nil:
		return "", errors.New("credentials in the URL are not allowed, use token")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = eventPath
	}
	return u.String(), nil
}
