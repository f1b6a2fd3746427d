// Package elasticsearch registers the `elasticsearch` Benthos output, which
// writes message batches to Elasticsearch 7/8/9 or OpenSearch 1/2/3 with the
// _bulk API. Delivery is at-least-once: a document the cluster did not accept
// is nacked (individually, through a batch error), items rejected with 429
// are retried inside the output first, and the wire protocol lives in bulk/.
package elasticsearch

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/outputs/elasticsearch/bulk"
	"github.com/compliance-connect/compliance-connect/outputs/internal/cleartext"
)

// Config field names.
const (
	fieldURLs             = "urls"
	fieldIndex            = "index"
	fieldID               = "id"
	fieldAction           = "action"
	fieldPipeline         = "pipeline"
	fieldBasicAuth        = "basic_auth"
	fieldUsername         = "username"
	fieldPassword         = "password"
	fieldAPIKey           = "api_key"
	fieldTLS              = "tls"
	fieldTimeout          = "timeout"
	fieldHeaders          = "headers"
	fieldMaxItemRetries   = "max_item_retries"
	fieldItemRetryBackoff = "item_retry_backoff"
	fieldBatching         = "batching"
)

// maxItemRetryBackoff caps the doubling wait between retries of 429 items.
const maxItemRetryBackoff = 30 * time.Second

func outputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Version("0.1.0").
		Categories("Services").
		Summary("Writes messages as documents to Elasticsearch or OpenSearch with the _bulk API.").
		Description(`
Each batch becomes one _bulk request: an action line (`+"`index`"+` or `+"`create`"+`, with `+"`_index`"+`,
`+"`_id`"+` and `+"`pipeline`"+`) followed by the message itself as the document source, byte for byte. A message
that is not valid JSON is nacked without being sent; JSON spread over several lines is compacted onto one.

The same wire protocol serves Elasticsearch 7, 8 and 9 and OpenSearch 1, 2 and 3, so there is no flavour switch.
Requests go to the `+"`urls`"+` in turn; a transport error moves on to the next URL within the same write.
HTTPS URLs are verified against the system roots without `+"`tls`"+`; enable `+"`tls`"+` for custom root CAs,
client certificates or `+"`skip_cert_verify`"+`.

== Delivery

Delivery is at-least-once: an error is a nack, so an input such as `+"`anthropic_compliance`"+` never commits an
activity that was not written.

- A failure of the whole request (transport error on every URL, any non-2xx status such as 401, 413 or 5xx,
  an unreadable response) nacks every message of the batch.
- Per-item failures nack exactly the failed messages; the rest of the batch is acknowledged.
- Items rejected with status 429 are sent again, alone, up to `+"`max_item_retries`"+` times, waiting
  `+"`item_retry_backoff`"+` (doubling each time, at most 30s) in between, and nacked after that.
- With `+"`action: create`"+` an item rejected with 409 (the _id already exists) counts as delivered, because it
  was written by an earlier delivery of the same message.

The default `+"`id`"+` is the activity id, so a re-delivered activity overwrites its earlier copy instead of
duplicating it.`+service.OutputPerformanceDocs(true, true)).
		Fields(
			service.NewStringListField(fieldURLs).
				Description("Base URLs of the cluster nodes (scheme, host, port and optional path prefix). Credentials in URLs are refused; use `basic_auth` or `api_key`, over `https://`: with credentials, an `http://` URL to a host that is not loopback sends them in clear text (a warning at start-up).").
				Example([]string{"http://localhost:9200"}).
				Example([]string{"https://es1.example.com:9200", "https://es2.example.com:9200"}),
			service.NewInterpolatedStringField(fieldIndex).
				Description("The index, alias or data stream each document is written to, evaluated per message. A message for which it is empty or fails is nacked.").
				Example(`anthropic-compliance`).
				Example(`anthropic-audit-${! @activity_created_at.ts_format("2006.01.02", "UTC") }`).
				Example(`anthropic-audit-${! now().ts_format("2006.01.02", "UTC") }`),
			service.NewInterpolatedStringField(fieldID).
				Description("The document _id, evaluated per message. The default is the `activity_id` metadata set by the `anthropic_compliance` input, else the message's `id` field; when it evaluates to an empty string the cluster generates an id (and re-delivery then duplicates).").
				Default(`${! @activity_id | this.id | "" }`),
			service.NewStringAnnotatedEnumField(fieldAction, map[string]string{
				string(bulk.OpIndex):  "Create the document or replace the one with the same _id.",
				string(bulk.OpCreate): "Create the document; an existing _id (409) counts as already delivered. Required for data streams.",
			}).
				Description("The bulk action for each document.").
				Default(string(bulk.OpIndex)),
			service.NewInterpolatedStringField(fieldPipeline).
				Description("The ingest pipeline each document is run through, evaluated per message. Empty runs none (or the index's default pipeline).").
				Example("anthropic-compliance-ecs").
				Default(""),
			service.NewObjectField(fieldBasicAuth,
				service.NewStringField(fieldUsername).
					Description("The user name. Empty disables basic authentication.").
					Default(""),
				service.NewStringField(fieldPassword).
					Description("The password.").
					Secret().
					Default(""),
			).
				Description("HTTP basic authentication. Cannot be combined with `api_key`."),
			service.NewStringField(fieldAPIKey).
				Description("An API key sent as `Authorization: ApiKey <api_key>`: the base64 `encoded` value Elasticsearch returns, or `id:api_key`, which is encoded for you. Empty sends no API key. Cannot be combined with `basic_auth`.").
				Secret().
				Default(""),
			service.NewTLSToggledField(fieldTLS),
			service.NewDurationField(fieldTimeout).
				Description("The maximum time one bulk request may take, including reading the response.").
				Default("30s"),
			service.NewStringMapField(fieldHeaders).
				Description("Extra HTTP headers sent with every request.").
				Example(map[string]any{"X-Opaque-Id": "compliance-connect"}).
				Default(map[string]any{}).
				Advanced(),
			service.NewIntField(fieldMaxItemRetries).
				Description("How many times items rejected with 429 are sent again before they are nacked. 0 nacks them at once.").
				Default(3).
				LintRule(`root = if this < 0 { ["max_item_retries must be 0 or more"] }`),
			service.NewDurationField(fieldItemRetryBackoff).
				Description("The wait before the first retry of 429 items; it doubles with each retry, up to 30s.").
				Default("1s").
				Advanced(),
			service.NewOutputMaxInFlightField(),
			service.NewBatchPolicyField(fieldBatching),
		).
		Example("Daily indices with document ids",
			"Writes each activity to a daily index named after the day it was created, with its id as _id.", `
output:
  elasticsearch:
    urls: [ "https://localhost:9200" ]
    index: 'anthropic-audit-${! @activity_created_at.ts_format("2006.01.02", "UTC") }'
    api_key: ${ES_API_KEY}
    tls:
      enabled: true
    batching:
      count: 500
      period: 5s
`)
}

func init() {
	service.MustRegisterBatchOutput("elasticsearch", outputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			cfg, err := parseConfig(conf)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			for _, w := range cfg.warnings {
				mgr.Logger().Warn(w)
			}
			out, err := newOutput(cfg, mgr)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			return out, cfg.batching, cfg.maxInFlight, nil
		})
}

// config is the parsed and validated output configuration.
type config struct {
	urls             []string
	index            *service.InterpolatedString
	id               *service.InterpolatedString
	pipeline         *service.InterpolatedString
	action           bulk.Op
	header           http.Header // authorization and custom headers
	tls              *tls.Config // nil when disabled
	timeout          time.Duration
	maxItemRetries   int
	itemRetryBackoff time.Duration
	maxInFlight      int
	batching         service.BatchPolicy
	warnings         []string // logged at start-up
}

func parseConfig(conf *service.ParsedConfig) (cfg config, err error) {
	if cfg.urls, err = conf.FieldStringList(fieldURLs); err != nil {
		return cfg, err
	}
	if len(cfg.urls) == 0 {
		return cfg, fmt.Errorf("%s: at least one URL is required", fieldURLs)
	}
	if cfg.index, err = conf.FieldInterpolatedString(fieldIndex); err != nil {
		return cfg, err
	}
	if cfg.id, err = conf.FieldInterpolatedString(fieldID); err != nil {
		return cfg, err
	}
	if cfg.pipeline, err = conf.FieldInterpolatedString(fieldPipeline); err != nil {
		return cfg, err
	}
	action, err := conf.FieldString(fieldAction)
	if err != nil {
		return cfg, err
	}
	cfg.action = bulk.Op(action)

	if cfg.header, err = parseHeader(conf); err != nil {
		return cfg, err
	}
	if cfg.header.Get("Authorization") != "" {
		for i, u := range cfg.urls {
			if cleartext.HTTP(u) {
				cfg.warnings = append(cfg.warnings, fmt.Sprintf("%s[%d]: http:// sends the credentials (basic_auth, api_key or an Authorization header) and the documents across the network in clear text; use https", fieldURLs, i))
			}
		}
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
	if cfg.maxItemRetries, err = conf.FieldInt(fieldMaxItemRetries); err != nil {
		return cfg, err
	}
	if cfg.maxItemRetries < 0 {
		return cfg, fmt.Errorf("%s: must be 0 or more, got %d", fieldMaxItemRetries, cfg.maxItemRetries)
	}
	if cfg.itemRetryBackoff, err = conf.FieldDuration(fieldItemRetryBackoff); err != nil {
		return cfg, err
	}
	if cfg.itemRetryBackoff < 0 {
		return cfg, fmt.Errorf("%s: must not be negative, got %v", fieldItemRetryBackoff, cfg.itemRetryBackoff)
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

// parseHeader builds the headers sent with every request: custom headers,
// then the authorization chosen by basic_auth or api_key.
func parseHeader(conf *service.ParsedConfig) (http.Header, error) {
	h := http.Header{}
	custom, err := conf.FieldStringMap(fieldHeaders)
	if err != nil {
		return nil, err
	}
	for k, v := range custom {
		h.Set(k, v)
	}

	user, err := conf.FieldString(fieldBasicAuth, fieldUsername)
	if err != nil {
		return nil, err
	}
	pass, err := conf.FieldString(fieldBasicAuth, fieldPassword)
	if err != nil {
		return nil, err
	}
	apiKey, err := conf.FieldString(fieldAPIKey)
	if err != nil {
		return nil, err
	}
	apiKey = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(apiKey), "ApiKey "))

	switch {
	case user == "" && pass != "":
		return nil, fmt.Errorf("%s.%s: required when %s.%s is set", fieldBasicAuth, fieldUsername, fieldBasicAuth, fieldPassword)
	case user != "" && apiKey != "":
		return nil, errors.New("basic_auth and api_key: set one, not both")
	case user != "":
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	case apiKey != "":
		if strings.Contains(apiKey, ":") { // id:api_key, not yet encoded
			apiKey = base64.StdEncoding.EncodeToString([]byte(apiKey))
		}
		h.Set("Authorization", "ApiKey "+apiKey)
	}
	return h, nil
}
