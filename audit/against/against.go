// Package against turns what `compliance-connect audit --against` names into
// an audit.Destination: a URL-like spec (file://, s3://, es://, kafka://) or
// "output", the pipeline's own output config.
package against

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
	cands := findOutputs(root, Auditable...)
	var list []string
	for i, c := range cands {
		list = append(list, fmt.Sprintf("output:%d = %s", i, c.Where))
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
	switch c.Kind {
	case "file":
		d, err = fileFromOutput(c, o)
	case "aws_s3":
		d, err = s3FromOutput(ctx, c, o)
	case "elasticsearch":
		d, err = esFromOutput(c, o, mapping(root))
	case "kafka":
		d, err = kafkaFromOutput(c, o)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Where, err)
	}
	return d, nil
}

func fileFromOutput(out Output, o Options) (audit.Destination, error) {
	if codec := str(out.Block, "codec", "lines"); codec != "lines" {
		return nil, fmt.Errorf("codec %q: only the lines codec (one document per line) can be audited", codec)
	}
	f, err := out.File()
	if err != nil {
		return nil, err
	}
	if f.Match == nil {
		return &file.Destination{Path: f.Path, Fields: o.Fields, Slack: o.Slack}, nil
	}
	return &file.Destination{Path: f.Dir, Match: f.Match, Fields: o.Fields, Slack: o.Slack}, nil
}

func s3FromOutput(ctx context.Context, out Output, o Options) (audit.Destination, error) {
	c, err := out.S3(ctx)
	if err != nil {
		return nil, err
	}
	return &s3dest.Destination{Client: c.Client, Bucket: c.Bucket, Prefix: c.Prefix, Match: c.Match, Fields: o.Fields, Slack: o.Slack}, nil
}

func esFromOutput(out Output, o Options, mapped string) (audit.Destination, error) {
	c, err := out.Elasticsearch()
	if err != nil {
		return nil, err
	}
	def := ""
	switch mapped {
	case "anthropic_compliance_ecs":
		def = "@timestamp"
	case "anthropic_compliance_ocsf":
		def = "metadata.original_time"
	}
	return &es.Destination{URLs: c.URLs, Index: c.Index, TimeField: timeField(o, def), Fields: o.Fields, Header: c.Header,
		HTTP: &http.Client{Transport: c.Transport, Timeout: 2 * time.Minute}}, nil
}

func kafkaFromOutput(out Output, o Options) (audit.Destination, error) {
	c, err := out.Kafka()
	if err != nil {
		return nil, err
	}
	if c.Topic == "" || interpolation.MatchString(c.Topic) {
		return nil, fmt.Errorf("topic %q is interpolated or empty: name the topic with --against kafka://%s/<topic>", c.Topic, strings.Join(c.Brokers, ","))
	}
	opts := append(c.Opts, kgo.ClientID(c.ClientID+"-audit"))
	return &kafka.Destination{Opts: opts, Brokers: c.Brokers, Topic: c.Topic, Fields: o.Fields, Slack: o.Slack}, nil
}
