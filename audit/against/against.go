// Package against turns what `compliance-connect audit --against` names into
// an audit.Destination: a URL-like spec (file://, s3://, es://, kafka://) or
// "output", the pipeline's own output config.
package against

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/es"
	"github.com/compliance-connect/compliance-connect/audit/file"
	"github.com/compliance-connect/compliance-connect/audit/kafka"
	s3dest "github.com/compliance-connect/compliance-connect/audit/s3"
)

// Help documents the specs, for the command's help.
const Help = `--against names the destination:
  output, output:N              the pipeline's own output (file, aws_s3, elasticsearch or kafka, also inside
                                fallback/broker/switch/retry; N picks one when there are several)
  file:///var/log/acts.ndjson   an NDJSON file or a directory of them (the file output's lines codec; gzip too)
  s3://bucket/prefix            objects written by aws_s3; ?region=&endpoint=&path_style=true; AWS default credentials
  es://host:9200/index-*        Elasticsearch/OpenSearch over http (es+https:// for TLS); auth from ES_API_KEY or
                                ES_USERNAME/ES_PASSWORD; the time field is --time-field (default created_at)
  kafka://b1:9092,b2:9092/topic records produced by the kafka output; ?by=key reads the record key (and the
                                activity_created_at header) instead of the value`

// Options are the settings shared by every kind.
type Options struct {
	// Fields locate the id and created_at in documents ("" = automatic).
	Fields audit.Fields
	// TimeField is the Elasticsearch date field ("" = created_at, or the
	// ECS/OCSF field when the pipeline maps activities).
	TimeField string
	// Slack: files and objects last modified, and Kafka records produced,
	// this long before the window's start are still read.
	Slack time.Duration
	// Pipeline is the pipeline config, env vars expanded (for "output").
	Pipeline []byte
}

// Open returns the destination spec names.
func Open(ctx context.Context, spec string, o Options) (audit.Destination, error) {
	switch {
	case spec == "output" || strings.HasPrefix(spec, "output:"):
		return fromPipeline(ctx, spec, o)
	case strings.HasPrefix(spec, "file://"):
		p := strings.TrimPrefix(spec, "file://")
		if p == "" {
			return nil, errors.New("file:// needs a path, e.g. file:///var/log/activities.ndjson or file://./out")
		}
		return &file.Destination{Path: p, Fields: o.Fields, Slack: o.Slack}, nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("--against: %w", err)
	}
	q := u.Query()
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return nil, errors.New("s3:// needs a bucket: s3://bucket/prefix")
		}
		client, err := s3Client(ctx, s3Settings{region: q.Get("region"), endpoint: q.Get("endpoint"), pathStyle: q.Get("path_style") == "true"})
		if err != nil {
			return nil, err
		}
		return &s3dest.Destination{Client: client, Bucket: u.Host, Prefix: strings.TrimPrefix(u.Path, "/"), Fields: o.Fields, Slack: o.Slack}, nil
	case "es", "es+http", "es+https", "opensearch", "opensearch+https":
		scheme := "http"
		if strings.HasSuffix(u.Scheme, "+https") {
			scheme = "https"
		}
		index := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || index == "" {
			return nil, fmt.Errorf("%s:// needs a host and an index: es://localhost:9200/anthropic-audit-*", u.Scheme)
		}
		var hosts []string
		for h := range strings.SplitSeq(u.Host, ",") {
			hosts = append(hosts, scheme+"://"+h)
		}
		h := http.Header{}
		if k := os.Getenv("ES_API_KEY"); k != "" {
			h.Set("Authorization", "ApiKey "+apiKey(k))
		} else if user := os.Getenv("ES_USERNAME"); user != "" {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+os.Getenv("ES_PASSWORD"))))
		}
		return &es.Destination{URLs: hosts, Index: index, TimeField: timeField(o, ""), Fields: o.Fields, Header: h,
			HTTP: &http.Client{Timeout: 2 * time.Minute}}, nil
	case "kafka":
		topic := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || topic == "" {
			return nil, errors.New("kafka:// needs brokers and a topic: kafka://localhost:9092/anthropic-compliance-activities")
		}
		brokers := strings.Split(u.Host, ",")
		return &kafka.Destination{Opts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Brokers: brokers, Topic: topic,
			By: q.Get("by"), Fields: o.Fields, Slack: o.Slack}, nil
	}
	return nil, fmt.Errorf("--against %q: unknown kind; use output, file://, s3://, es:// or kafka://", spec)
}

func timeField(o Options, pipelineDefault string) string {
	switch {
	case o.TimeField != "":
		return o.TimeField
	case pipelineDefault != "":
		return pipelineDefault
	}
	return "created_at"
}

// apiKey encodes an id:api_key pair as the elasticsearch output does.
func apiKey(k string) string {
	k = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(k), "ApiKey "))
	if strings.Contains(k, ":") {
		return base64.StdEncoding.EncodeToString([]byte(k))
	}
	return k
}

//------------------------------------------------------------------------------

// candidate is an output of the pipeline the audit can read.
type candidate struct {
	kind, where string
	block       map[string]any
}

var auditable = []string{"file", "aws_s3", "elasticsearch", "kafka"}

// findOutputs walks the output tree (through fallback, broker, switch,
// retry...) and output_resources for outputs the audit can read.
func findOutputs(root map[string]any) []candidate {
	var out []candidate
	var walk func(node any, where string)
	walk = func(node any, where string) {
		switch n := node.(type) {
		case map[string]any:
			for _, k := range sortedKeys(n) {
				if slices.Contains(auditable, k) {
					if b, ok := n[k].(map[string]any); ok {
						out = append(out, candidate{kind: k, where: where + "." + k, block: b})
						continue
					}
				}
				if k == "processors" {
					continue
				}
				walk(n[k], where+"."+k)
			}
		case []any:
			for i, v := range n {
				walk(v, where+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	walk(root["output"], "output")
	walk(root["output_resources"], "output_resources")
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mapping is the processor the pipeline maps activities with, if any.
func mapping(root map[string]any) string {
	var found string
	var walk func(node any)
	walk = func(node any) {
		switch n := node.(type) {
		case map[string]any:
			for k, v := range n {
				if k == "anthropic_compliance_ecs" || k == "anthropic_compliance_ocsf" {
					found = k
				}
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(root["pipeline"])
	walk(root["input"])
	return found
}

func fromPipeline(ctx context.Context, spec string, o Options) (audit.Destination, error) {
	var root map[string]any
	if err := yaml.Unmarshal(o.Pipeline, &root); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cands := findOutputs(root)
	var list []string
	for i, c := range cands {
		list = append(list, fmt.Sprintf("output:%d = %s", i, c.where))
	}
	pick := 0
	if n, ok := strings.CutPrefix(spec, "output:"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= len(cands) {
			return nil, fmt.Errorf("--against %s: no such output (the pipeline has: %s)", spec, strings.Join(list, "; "))
		}
		pick = i
	} else if len(cands) > 1 {
		return nil, fmt.Errorf("the pipeline has %d outputs the audit can read: choose one with --against output:N (%s)", len(cands), strings.Join(list, "; "))
	}
	if len(cands) == 0 {
		return nil, errors.New("the pipeline has no output the audit can read (file, aws_s3, elasticsearch, kafka): name the destination with file://, s3://, es:// or kafka://")
	}
	c := cands[pick]
	var d audit.Destination
	var err error
	switch c.kind {
	case "file":
		d, err = fileFromOutput(c.block, o)
	case "aws_s3":
		d, err = s3FromOutput(ctx, c.block, o)
	case "elasticsearch":
		d, err = esFromOutput(c.block, o, mapping(root))
	case "kafka":
		d, err = kafkaFromOutput(c.block, o)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.where, err)
	}
	return d, nil
}

// interpolation matches a Benthos interpolation ${! ... }.
var interpolation = regexp.MustCompile(`\$\{!.*?\}`)

// pattern turns an interpolated string into its static prefix and a regexp
// matching every value it can take.
func pattern(s string) (prefix string, re *regexp.Regexp) {
	locs := interpolation.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return s, nil
	}
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, l := range locs {
		b.WriteString(regexp.QuoteMeta(s[last:l[0]]))
		b.WriteString(".*")
		last = l[1]
	}
	b.WriteString(regexp.QuoteMeta(s[last:]) + "$")
	return s[:locs[0][0]], regexp.MustCompile(b.String())
}

func str(m map[string]any, key, def string) string {
	if s, ok := m[key].(string); ok {
		return s
	}
	return def
}

func fileFromOutput(b map[string]any, o Options) (audit.Destination, error) {
	if codec := str(b, "codec", "lines"); codec != "lines" {
		return nil, fmt.Errorf("codec %q: only the lines codec (one document per line) can be audited", codec)
	}
	p := str(b, "path", "")
	if p == "" {
		return nil, errors.New("path is empty")
	}
	prefix, re := pattern(p)
	if re == nil {
		return &file.Destination{Path: p, Fields: o.Fields, Slack: o.Slack}, nil
	}
	// Read the directory of the static prefix, keeping the files whose
	// path below it the interpolated rest can produce.
	dir, rest := ".", p
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir, rest = prefix[:max(i, 1)], p[i+1:]
	}
	_, re = pattern(rest)
	return &file.Destination{Path: filepath.FromSlash(dir), Match: re, Fields: o.Fields, Slack: o.Slack}, nil
}

type s3Settings struct {
	region, endpoint                               string
	pathStyle                                      bool
	profile, id, secret, token, role, roleExternal string
}

func s3Client(ctx context.Context, s s3Settings) (*awss3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if s.region != "" {
		opts = append(opts, awsconfig.WithRegion(s.region))
	}
	if s.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(s.profile))
	}
	if s.id != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.id, s.secret, s.token)))
	}
	conf, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if conf.Region == "" {
		return nil, errors.New("no AWS region: set ?region= (or region in the output), AWS_REGION or a profile")
	}
	if s.role != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(conf), s.role, func(o *stscreds.AssumeRoleOptions) {
			if s.roleExternal != "" {
				o.ExternalID = aws.String(s.roleExternal)
			}
		})
		conf.Credentials = aws.NewCredentialsCache(provider)
	}
	return awss3.NewFromConfig(conf, func(opts *awss3.Options) {
		if s.endpoint != "" {
			opts.BaseEndpoint = aws.String(s.endpoint)
		}
		opts.UsePathStyle = s.pathStyle
	}), nil
}

// s3DefaultPath is the aws_s3 output's default path.
const s3DefaultPath = `anthropic/activities/${! timestamp_unix_nano() }-${! uuid_v4() }.ndjson.gz`

func s3FromOutput(ctx context.Context, b map[string]any, o Options) (audit.Destination, error) {
	bucket := str(b, "bucket", "")
	if bucket == "" || interpolation.MatchString(bucket) {
		return nil, fmt.Errorf("bucket %q: must be set and static", bucket)
	}
	creds, _ := b["credentials"].(map[string]any)
	pathStyle, _ := b["force_path_style_urls"].(bool)
	client, err := s3Client(ctx, s3Settings{
		region: str(b, "region", ""), endpoint: str(b, "endpoint", ""), pathStyle: pathStyle,
		profile: str(creds, "profile", ""), id: str(creds, "id", ""), secret: str(creds, "secret", ""), token: str(creds, "token", ""),
		role: str(creds, "role", ""), roleExternal: str(creds, "role_external_id", ""),
	})
	if err != nil {
		return nil, err
	}
	prefix, re := pattern(strings.TrimPrefix(str(b, "path", s3DefaultPath), "/"))
	return &s3dest.Destination{Client: client, Bucket: bucket, Prefix: prefix, Match: re, Fields: o.Fields, Slack: o.Slack}, nil
}

// tlsOf parses a Benthos tls block with the core field, so that every
// setting (root CAs, client certificates, skip_cert_verify) means the same.
func tlsOf(b map[string]any) (*tls.Config, error) {
	t, ok := b["tls"]
	if !ok {
		return nil, nil
	}
	y, err := yaml.Marshal(map[string]any{"tls": t})
	if err != nil {
		return nil, err
	}
	conf, err := service.NewConfigSpec().Field(service.NewTLSToggledField("tls")).ParseYAML(string(y), nil)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	c, enabled, err := conf.FieldTLSToggled("tls")
	if err != nil || !enabled {
		return nil, err
	}
	return c, nil
}

func esFromOutput(b map[string]any, o Options, mapped string) (audit.Destination, error) {
	var urls []string
	list, _ := b["urls"].([]any)
	for _, u := range list {
		if s, ok := u.(string); ok {
			for part := range strings.SplitSeq(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					urls = append(urls, part)
				}
			}
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("urls: none")
	}
	index := interpolation.ReplaceAllString(str(b, "index", ""), "*")
	if index == "" {
		return nil, errors.New("index is empty")
	}
	h := http.Header{}
	if hs, ok := b["headers"].(map[string]any); ok {
		for k, v := range hs {
			if s, ok := v.(string); ok {
				h.Set(k, s)
			}
		}
	}
	auth, _ := b["basic_auth"].(map[string]any)
	if user := str(auth, "username", ""); user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+str(auth, "password", ""))))
	} else if k := str(b, "api_key", ""); strings.TrimSpace(k) != "" {
		h.Set("Authorization", "ApiKey "+apiKey(k))
	}
	tlsConf, err := tlsOf(b)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	def := ""
	switch mapped {
	case "anthropic_compliance_ecs":
		def = "@timestamp"
	case "anthropic_compliance_ocsf":
		def = "metadata.original_time"
	}
	return &es.Destination{URLs: urls, Index: index, TimeField: timeField(o, def), Fields: o.Fields, Header: h,
		HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

func kafkaFromOutput(b map[string]any, o Options) (audit.Destination, error) {
	var brokers []string
	list, _ := b["seed_brokers"].([]any)
	for _, e := range list {
		if s, ok := e.(string); ok {
			for part := range strings.SplitSeq(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					brokers = append(brokers, part)
				}
			}
		}
	}
	if len(brokers) == 0 {
		return nil, errors.New("seed_brokers: none")
	}
	topic := str(b, "topic", "")
	if topic == "" || interpolation.MatchString(topic) {
		return nil, fmt.Errorf("topic %q is interpolated or empty: name the topic with --against kafka://%s/<topic>", topic, strings.Join(brokers, ","))
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(str(b, "client_id", "compliance-connect") + "-audit")}
	tlsConf, err := tlsOf(b)
	if err != nil {
		return nil, err
	}
	if tlsConf != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsConf))
	}
	var mechs []sasl.Mechanism
	entries, _ := b["sasl"].([]any)
	for i, e := range entries {
		m, _ := e.(map[string]any)
		user, pass := str(m, "username", ""), str(m, "password", "")
		switch mech := str(m, "mechanism", ""); mech {
		case "PLAIN":
			mechs = append(mechs, plain.Auth{User: user, Pass: pass}.AsMechanism())
		case "SCRAM-SHA-256":
			mechs = append(mechs, scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
		case "SCRAM-SHA-512":
			mechs = append(mechs, scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
		default:
			return nil, fmt.Errorf("sasl[%d].mechanism: unknown mechanism %q", i, mech)
		}
	}
	if len(mechs) > 0 {
		opts = append(opts, kgo.SASL(mechs...))
	}
	return &kafka.Destination{Opts: opts, Brokers: brokers, Topic: topic, Fields: o.Fields, Slack: o.Slack}, nil
}
