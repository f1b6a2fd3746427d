package against

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
)

// Auditable are the output kinds the audit can read back.
var Auditable = []string{"file", "aws_s3", "elasticsearch", "kafka"}

// Output is one output block of a pipeline config, found by Outputs.
type Output struct {
	// Kind is the output's type: file, aws_s3, elasticsearch, kafka,
	// splunk_hec...
	Kind string
	// Where is its path in the config, e.g. output.fallback[0].kafka.
	Where string
	// Block is its settings as written (environment variables expanded by
	// the caller).
	Block map[string]any
}

// Outputs returns the outputs of the given kinds in a pipeline config, in a
// stable order: the output tree (through fallback, broker, switch, retry...)
// then output_resources.
func Outputs(pipeline []byte, kinds ...string) ([]Output, error) {
	var root map[string]any
	if err := yaml.Unmarshal(pipeline, &root); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	return findOutputs(root, kinds...), nil
}

func findOutputs(root map[string]any, kinds ...string) []Output {
	var out []Output
	var walk func(node any, where string)
	walk = func(node any, where string) {
		switch n := node.(type) {
		case map[string]any:
			for _, k := range sortedKeys(n) {
				if slices.Contains(kinds, k) {
					if b, ok := n[k].(map[string]any); ok {
						out = append(out, Output{Kind: k, Where: where + "." + k, Block: b})
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

// interpolation matches a Benthos interpolation ${! ... }.
var interpolation = regexp.MustCompile(`\$\{!.*?\}`)

// Interpolated reports whether s holds a Benthos interpolation ${! ... }.
func Interpolated(s string) bool { return interpolation.MatchString(s) }

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

// list reads a list of strings, splitting comma-separated entries as
// Benthos does for urls and seed_brokers.
func list(m map[string]any, key string) []string {
	var out []string
	items, _ := m[key].([]any)
	for _, it := range items {
		if s, ok := it.(string); ok {
			for part := range strings.SplitSeq(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
	}
	return out
}

// TLS parses the output's tls block with the core field, so that every
// setting (root CAs, client certificates, skip_cert_verify) means the same;
// nil when absent or disabled.
func (o Output) TLS() (*tls.Config, error) {
	t, ok := o.Block["tls"]
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

// transport is an HTTP transport with the output's TLS settings.
func (o Output) transport() (*http.Transport, error) {
	tlsConf, err := o.TLS()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	return tr, nil
}

// FileConn is where a file output writes.
type FileConn struct {
	// Path is the path as written; Match is nil when it is static.
	Path string
	// Dir is the directory of Path's static prefix; Match matches the paths
	// below Dir the interpolated rest can produce.
	Dir   string
	Match *regexp.Regexp
}

// File reads a file output's path.
func (o Output) File() (FileConn, error) {
	p := str(o.Block, "path", "")
	if p == "" {
		return FileConn{}, errors.New("path is empty")
	}
	prefix, re := pattern(p)
	if re == nil {
		return FileConn{Path: p, Dir: filepath.Dir(filepath.FromSlash(p))}, nil
	}
	// The directory of the static prefix, and the paths below it that the
	// interpolated rest can produce.
	dir, rest := ".", p
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir, rest = prefix[:max(i, 1)], p[i+1:]
	}
	_, re = pattern(rest)
	return FileConn{Path: p, Dir: filepath.FromSlash(dir), Match: re}, nil
}

// S3Conn is an aws_s3 output's bucket and client.
type S3Conn struct {
	Client *awss3.Client
	Bucket string
	// Prefix is the static prefix of the object path; Match is nil when the
	// path is static.
	Prefix string
	Match  *regexp.Regexp
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

// S3 builds a client with the aws_s3 output's region, endpoint, path style
// and credentials (static, profile or assumed role; else the AWS defaults).
func (o Output) S3(ctx context.Context) (S3Conn, error) {
	b := o.Block
	bucket := str(b, "bucket", "")
	if bucket == "" || interpolation.MatchString(bucket) {
		return S3Conn{}, fmt.Errorf("bucket %q: must be set and static", bucket)
	}
	creds, _ := b["credentials"].(map[string]any)
	pathStyle, _ := b["force_path_style_urls"].(bool)
	client, err := s3Client(ctx, s3Settings{
		region: str(b, "region", ""), endpoint: str(b, "endpoint", ""), pathStyle: pathStyle,
		profile: str(creds, "profile", ""), id: str(creds, "id", ""), secret: str(creds, "secret", ""), token: str(creds, "token", ""),
		role: str(creds, "role", ""), roleExternal: str(creds, "role_external_id", ""),
	})
	if err != nil {
		return S3Conn{}, err
	}
	prefix, re := pattern(strings.TrimPrefix(str(b, "path", s3DefaultPath), "/"))
	return S3Conn{Client: client, Bucket: bucket, Prefix: prefix, Match: re}, nil
}

// ESConn is how to reach an elasticsearch output's cluster.
type ESConn struct {
	URLs []string
	// Index is the index with interpolations replaced by *.
	Index string
	// Header holds the output's headers and its Authorization (basic auth
	// or API key).
	Header    http.Header
	Transport http.RoundTripper
}

// Elasticsearch reads an elasticsearch output's urls, index, headers,
// credentials and TLS.
func (o Output) Elasticsearch() (ESConn, error) {
	b := o.Block
	urls := list(b, "urls")
	if len(urls) == 0 {
		return ESConn{}, errors.New("urls: none")
	}
	index := interpolation.ReplaceAllString(str(b, "index", ""), "*")
	if index == "" {
		return ESConn{}, errors.New("index is empty")
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
	tr, err := o.transport()
	if err != nil {
		return ESConn{}, err
	}
	return ESConn{URLs: urls, Index: index, Header: h, Transport: tr}, nil
}

// KafkaConn is how to reach a kafka output's cluster.
type KafkaConn struct {
	Brokers []string
	// Topic as written (it may be interpolated).
	Topic string
	// ClientID is the output's client_id.
	ClientID string
	// Opts are the seed brokers, TLS and SASL.
	Opts []kgo.Opt
}

// Kafka reads a kafka output's brokers, topic, TLS and SASL.
func (o Output) Kafka() (KafkaConn, error) {
	b := o.Block
	brokers := list(b, "seed_brokers")
	if len(brokers) == 0 {
		return KafkaConn{}, errors.New("seed_brokers: none")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	tlsConf, err := o.TLS()
	if err != nil {
		return KafkaConn{}, err
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
			return KafkaConn{}, fmt.Errorf("sasl[%d].mechanism: unknown mechanism %q", i, mech)
		}
	}
	if len(mechs) > 0 {
		opts = append(opts, kgo.SASL(mechs...))
	}
	return KafkaConn{Brokers: brokers, Topic: str(b, "topic", ""), ClientID: str(b, "client_id", "compliance-connect"), Opts: opts}, nil
}

// HECConn is how to reach a splunk_hec output's collector.
type HECConn struct {
	// URL is the event endpoint (the output's url, with the default path
	// when it has none).
	URL       string
	Token     string
	Transport http.RoundTripper
}

// hecEventPath is the splunk_hec output's default path.
const hecEventPath = "/services/collector/event"

// SplunkHEC reads a splunk_hec output's url, token and TLS.
func (o Output) SplunkHEC() (HECConn, error) {
	raw := strings.TrimSpace(str(o.Block, "url", ""))
	if raw == "" {
		return HECConn{}, errors.New("url is empty")
	}
	u, err := parseURL(raw)
	if err != nil {
		return HECConn{}, fmt.Errorf("url: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = hecEventPath
	}
	tr, err := o.transport()
	if err != nil {
		return HECConn{}, err
	}
	return HECConn{URL: u.String(), Token: strings.TrimSpace(str(o.Block, "token", "")), Transport: tr}, nil
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the URL, which may hold credentials
		}
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("must be an http:// or https:// URL with a host, got scheme %q host %q", u.Scheme, u.Host)
	}
	return u, nil
}
