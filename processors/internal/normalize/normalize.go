// Package normalize is the Benthos glue shared by the anthropic_compliance_ocsf
// and anthropic_compliance_ecs processors: their common config fields
// (keep_raw, redact, redact_mode, redact_strict, hash_key), the processor that maps one
// message with a Mapper, and the unknown-type metric. The mappings themselves
// live in processors/ocsf and processors/ecs.
package normalize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
)

// Config field names shared by both processors.
const (
	FieldKeepRaw    = "keep_raw"
	FieldRedact     = "redact"
	FieldRedactMode = "redact_mode"
	FieldStrict     = "redact_strict"
	FieldHashKey    = "hash_key"
)

// Values of the redact list and of redact_mode.
const (
	RedactRequestBody = "request_body"
	RedactEmails      = "emails"
	RedactIPs         = "ips"
	ModeDrop          = "drop"
	ModeHash          = "hash"
)

// Config is what both processors parse from the shared fields.
type Config struct {
	KeepRaw   bool
	Redaction activity.Redaction
}

// Markdown turns each § into a backtick, so spec descriptions with inline
// code can be written as raw strings.
func Markdown(s string) string { return strings.ReplaceAll(s, "§", "`") }

// ConfigFields returns the shared config fields. rawField names where the
// raw event goes (raw_data for OCSF, event.original for ECS).
func ConfigFields(rawField string) []*service.ConfigField {
	return []*service.ConfigField{
		service.NewBoolField(FieldKeepRaw).
			Description("Keep the activity as received, as a JSON string in `" + rawField + "`. When a `redact` " +
				"token matched something, the copy is re-encoded from the redacted activity (keys sorted), so " +
				"redaction also covers it. `false` leaves the field out.").
			Default(false),
		service.NewStringListField(FieldRedact).
			Description("Sensitive data to remove (or hash, see `"+FieldRedactMode+"`) before mapping, so it "+
				"appears nowhere in the output, typed fields, `unmapped`/`anthropic.audit` and the raw copy included. Tokens:\n\n"+
				"- `request_body`: the top-level `request_body` of `compliance_api_accessed`.\n"+
				"- `emails`: every member, at any depth and in the actor, whose name denotes email addresses in any "+
				"case or naming style (`email`, `Email`, `emailAddress`, `invited_email`, `alert_emails`, `e-mail`, "+
				"`recipient`, `recipients`, `shared_with`, ...), and every email address inside any other string value "+
				"or object key (free text, chat names, URLs, user agents), found by a strict tokenizer and confirmed by "+
				"Go's `net/mail` parser (`%40` counts as `@`).\n"+
				"- `ips`: every member whose name denotes IP addresses (`ip`, `ipAddress`, `client_ip`, `allowed_ips`, "+
				"`remote_addr`, `x_forwarded_for`, `X-Forwarded-For`, ...), and every IPv4/IPv6 address inside any other "+
				"string value or object key, confirmed by `net/netip` (a product version such as `Chrome/120.0.0.0` in a "+
				"user agent is not an address).\n\n"+
				"An address that is a whole value removes the value (in a list, the element); one inside a longer text is "+
				"replaced by `[email redacted]` / `[ip redacted]` (or its hash). Empty: nothing is redacted.").
			Examples([]string{RedactRequestBody}, []string{RedactRequestBody, RedactEmails, RedactIPs}).
			// Benthos runs a list field's lint rule on the list and on each element.
			LintRule(`root = if this.type() == "string" && !["request_body", "emails", "ips"].contains(this) { ["redact: unknown token %q, expected request_body, emails or ips".format(this)] }`).
			Default([]string{}),
		service.NewBoolField(FieldStrict).
			Description("Also remove, at any depth and in the actor, every string value and object key that redaction " +
				"cannot vouch for: anything but a short token of letters, digits and `_.:+-` (ids, enum values, RFC 3339 " +
				"times, hashes) that is not an IP address in any notation. Free text, file and chat names, URLs, user " +
				"agents and legacy IP notations (`10.1`, `010.0.0.1`, `0x0a000001`) go, since an address may hide in a form " +
				"no scanner finds. The common members (`id`, `type`, `created_at`, `organization_id`, `organization_uuid`) " +
				"are kept. Needs `emails` or `ips` in `" + FieldRedact + "`.").
			Default(false),
		service.NewStringAnnotatedEnumField(FieldRedactMode, map[string]string{
			ModeDrop: "Remove the member.",
			ModeHash: "Replace the value by `hmac-sha256:` and the hex HMAC-SHA256 of it under `" + FieldHashKey + "` " +
				"(emails lower-cased, IPs in canonical form first; a list of strings is hashed element by element). " +
				"Hashed values stay with the unmapped/vendor fields and never fill a typed email or IP field. " +
				"IPv4 addresses are too few to hide behind an unkeyed hash, hence the key.",
		}).
			Description("What redaction does to a selected member.").
			Default(ModeDrop),
		service.NewStringField(FieldHashKey).
			Description("HMAC key for `" + FieldRedactMode + ": hash`; required then, ignored otherwise. Keep it " +
				"stable to correlate hashed values across events, and secret.").
			Secret().
			Default(""),
	}
}

// LintRule is the cross-field rule both specs carry. The emptiness of
// hash_key is not linted: it is a secret, and `lint --skip-env-var-check`
// sees an unset one as empty; ParseConfig refuses it at start-up.
const LintRule = `root = if this.redact_strict.or(false) && !this.redact.or([]).string().contains("\"emails\"") && !this.redact.or([]).string().contains("\"ips\"") { ["redact_strict: needs emails or ips in redact"] }`

// ParseConfig reads the shared fields and re-checks what the lint rules
// check, with the same wording, because lints can be disabled.
func ParseConfig(conf *service.ParsedConfig) (Config, error) {
	var c Config
	var err error
	if c.KeepRaw, err = conf.FieldBool(FieldKeepRaw); err != nil {
		return c, err
	}
	tokens, err := conf.FieldStringList(FieldRedact)
	if err != nil {
		return c, err
	}
	mode, err := conf.FieldString(FieldRedactMode)
	if err != nil {
		return c, err
	}
	key, err := conf.FieldString(FieldHashKey)
	if err != nil {
		return c, err
	}
	strict, err := conf.FieldBool(FieldStrict)
	if err != nil {
		return c, err
	}
	c.Redaction, err = NewRedaction(tokens, mode, key, strict)
	return c, err
}

// NewRedaction builds a Redaction from the config values.
func NewRedaction(tokens []string, mode, key string, strict bool) (activity.Redaction, error) {
	var r activity.Redaction
	for _, t := range tokens {
		switch t {
		case RedactRequestBody:
			r.RequestBody = true
		case RedactEmails:
			r.Emails = true
		case RedactIPs:
			r.IPs = true
		default:
			return r, fmt.Errorf("redact: unknown token %q, expected request_body, emails or ips", t)
		}
	}
	switch mode {
	case ModeDrop, "":
	case ModeHash:
		r.Hash = true
		r.Key = []byte(key)
	default:
		return r, fmt.Errorf("redact_mode: unknown value %q, expected drop or hash", mode)
	}
	r.Strict = strict
	switch err := r.Validate(); {
	case errors.Is(err, activity.ErrNoHashKey):
		return r, errors.New("hash_key: required when redact_mode is hash")
	case errors.Is(err, activity.ErrStrictNeedsScans):
		return r, errors.New("redact_strict: needs emails or ips in redact")
	case err != nil:
		return r, err
	}
	return r, nil
}

//------------------------------------------------------------------------------

// Mapper turns one activity's JSON into one normalized JSON object. It must
// be safe for concurrent use.
type Mapper interface {
	Map(in []byte) ([]byte, error)
}

// NewProcessor returns a processor that replaces each message's content by
// m's result, keeping its metadata. A mapping error is returned for the
// message, which Benthos then passes on unchanged and flagged with the error.
func NewProcessor(name string, m Mapper) service.Processor {
	return &processor{name: name, mapper: m}
}

type processor struct {
	name   string
	mapper Mapper
}

func (p *processor) Process(_ context.Context, msg *service.Message) (service.MessageBatch, error) {
	in, err := msg.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("%s: reading message: %w", p.name, err)
	}
	out, err := p.mapper.Map(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	res := msg.Copy()
	res.SetBytes(out)
	return service.MessageBatch{res}, nil
}

func (*processor) Close(context.Context) error { return nil }

//------------------------------------------------------------------------------

// maxLoggedTypes bounds the set of unknown types remembered for logging.
const maxLoggedTypes = 1024

// UnknownTypes counts activities whose type the catalogue does not list, in a counter
// without labels (types are unbounded), and logs each new type once at debug
// level. It is safe for concurrent use.
type UnknownTypes struct {
	counter *service.MetricCounter
	log     *service.Logger
	what    string

	mu   sync.Mutex
	seen map[string]struct{}
}

// NewUnknownTypes creates the counter metricName on mgr's metrics; what
// names the fallback in the log line.
func NewUnknownTypes(mgr *service.Resources, metricName, what string) *UnknownTypes {
	return &UnknownTypes{
		counter: mgr.Metrics().NewCounter(metricName),
		log:     mgr.Logger(),
		what:    what,
		seen:    map[string]struct{}{},
	}
}

// Record counts one activity of an unknown type.
func (u *UnknownTypes) Record(activityType string) {
	u.counter.Incr(1)
	u.mu.Lock()
	_, dup := u.seen[activityType]
	fresh := !dup && len(u.seen) < maxLoggedTypes
	if fresh {
		u.seen[activityType] = struct{}{}
	}
	u.mu.Unlock()
	if fresh && u.log != nil {
		if len(activityType) > 120 {
			activityType = activityType[:120] + "..."
		}
		u.log.Debugf("Activity type %q is not in the catalogue; mapped by %s", activityType, u.what)
	}
}
