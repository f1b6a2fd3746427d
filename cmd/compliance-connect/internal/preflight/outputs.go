package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/compliance-connect/compliance-connect/audit/against"
)

// checkable are the output kinds whose connectivity check can tell.
var checkable = []string{"file", "aws_s3", "elasticsearch", "kafka", "splunk_hec"}

// outputs reaches each output that can tell whether it is reachable,
// without writing anything: Kafka metadata, Elasticsearch GET /, S3
// HeadBucket, Splunk HEC health (and its token with an empty POST), a file
// output's directory.
func (r *run) outputs(ctx context.Context, expanded []byte) {
	outs, err := against.Outputs(expanded, checkable...)
	if err != nil {
		r.add(CheckOutput, "output", Fail, "", "%s", err)
		return
	}
	if len(outs) == 0 {
		r.add(CheckOutput, "output", Skip, "", "no %s output in the pipeline: nothing to reach", strings.Join(checkable, ", "))
		return
	}
	for _, o := range outs {
		pctx, cancel := r.withTimeout(ctx)
		s, fix, msg := r.probeOutput(pctx, o)
		cancel()
		r.add(CheckOutput, o.Where, s, fix, "%s", msg)
	}
}

func (r *run) probeOutput(ctx context.Context, o against.Output) (Status, string, string) {
	switch o.Kind {
	case "kafka":
		return probeKafka(ctx, o)
	case "elasticsearch":
		return probeES(ctx, o)
	case "aws_s3":
		return probeS3(ctx, o)
	case "splunk_hec":
		return probeHEC(ctx, o)
	case "file":
		return probeFile(o)
	}
	return Skip, "", "not checked"
}

func probeKafka(ctx context.Context, o against.Output) (Status, string, string) {
	c, err := o.Kafka()
	if err != nil {
		return Fail, "correct the kafka output's settings", err.Error()
	}
	client, err := kgo.NewClient(append(c.Opts, kgo.ClientID(c.ClientID+"-check"))...)
	if err != nil {
		return Fail, "correct the kafka output's settings", err.Error()
	}
	defer client.Close()
	req := kmsg.NewPtrMetadataRequest()
	static := c.Topic != "" && !against.Interpolated(c.Topic)
	if static {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(c.Topic)
		req.Topics = append(req.Topics, t)
	}
	req.AllowAutoTopicCreation = false // a check never creates a topic
	resp, err := req.RequestWith(ctx, client)
	brokers := strings.Join(c.Brokers, ",")
	if err != nil {
		return Fail, "check seed_brokers, the network path to the brokers, tls and sasl",
			fmt.Sprintf("no broker of %s answered a metadata request: %s", brokers, describe(err))
	}
	msg := fmt.Sprintf("%s answered: %d broker(s)", brokers, len(resp.Brokers))
	if !static {
		return OK, "", msg + fmt.Sprintf("; the topic %q is interpolated, so no topic was checked", c.Topic)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			switch {
			case errors.Is(err, kerr.UnknownTopicOrPartition):
				return Warn, fmt.Sprintf("create the topic %q (or enable auto.create.topics.enable on the brokers)", c.Topic),
					msg + fmt.Sprintf("; topic %q does not exist: the output fails unless the brokers create topics on first write", c.Topic)
			case errors.Is(err, kerr.TopicAuthorizationFailed):
				return Fail, "grant the output's principal Describe and Write on the topic",
					msg + fmt.Sprintf("; not authorised on topic %q", c.Topic)
			}
			return Fail, "", msg + fmt.Sprintf("; topic %q: %v", c.Topic, err)
		}
		return OK, "", msg + fmt.Sprintf("; topic %q has %d partition(s)", c.Topic, len(t.Partitions))
	}
	return Warn, "", msg + fmt.Sprintf("; no metadata for topic %q", c.Topic)
}

func probeES(ctx context.Context, o against.Output) (Status, string, string) {
	c, err := o.Elasticsearch()
	if err != nil {
		return Fail, "correct the elasticsearch output's settings", err.Error()
	}
	client := &http.Client{Transport: c.Transport}
	var ok []string
	var failed []string
	status, fix := OK, ""
	for _, u := range c.URLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u, "/")+"/", nil)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", redactURL(u), urlErr(err)))
			continue
		}
		req.Header = c.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", redactURL(u), urlErr(err)))
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			ok = append(ok, redactURL(u)+" "+esVersion(body))
		case resp.StatusCode == http.StatusUnauthorized:
			status, fix = Fail, "correct the output's basic_auth or api_key"
			failed = append(failed, fmt.Sprintf("%s refused the credentials (401)", redactURL(u)))
		case resp.StatusCode == http.StatusForbidden:
			if status == OK {
				status, fix = Warn, "grant the output's user the monitor cluster privilege to let check see the cluster (writing needs create_doc or index on the indices)"
			}
			failed = append(failed, fmt.Sprintf("%s: GET / is forbidden (403) to these credentials, so check cannot tell; writes may still be allowed", redactURL(u)))
		default:
			failed = append(failed, fmt.Sprintf("%s answered %s", redactURL(u), resp.Status))
		}
	}
	msg := strings.Join(append(ok, failed...), "; ")
	switch {
	case status == Fail:
		return Fail, fix, msg
	case len(ok) == 0 && status == Warn:
		return Warn, fix, msg
	case len(ok) == 0:
		return Fail, "check urls, the network path and tls", msg
	case len(failed) > 0:
		return Warn, "check the urls that did not answer", msg
	}
	return OK, "", msg
}

// esVersion names the cluster from GET /'s body.
func esVersion(body []byte) string {
	var info struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if json.Unmarshal(body, &info) != nil || info.Version.Number == "" {
		return "answered, but not as Elasticsearch does"
	}
	product := "Elasticsearch"
	if info.Version.Distribution == "opensearch" {
		product = "OpenSearch"
	}
	return fmt.Sprintf("is %s %s (cluster %q)", product, info.Version.Number, info.ClusterName)
}

func probeS3(ctx context.Context, o against.Output) (Status, string, string) {
	c, err := o.S3(ctx)
	if err != nil {
		return Fail, "correct the aws_s3 output's bucket, region and credentials", err.Error()
	}
	_, err = c.Client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(c.Bucket)})
	if err == nil {
		return OK, "", fmt.Sprintf("bucket %q exists and these credentials may list it (HeadBucket); writes need s3:PutObject, which only a write can prove", c.Bucket)
	}
	var apiErr interface{ ErrorCode() string } // smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NotFound", "NoSuchBucket":
			return Fail, "create the bucket or correct bucket/region", fmt.Sprintf("bucket %q does not exist", c.Bucket)
		case "Forbidden", "AccessDenied":
			return Warn, "grant s3:ListBucket on the bucket to let check see it (the output itself needs s3:PutObject)",
				fmt.Sprintf("HeadBucket on %q is forbidden to these credentials (403), so check cannot tell; writes may still be allowed", c.Bucket)
		case "PermanentRedirect", "301":
			return Fail, "set the bucket's region in region", fmt.Sprintf("bucket %q is in another region", c.Bucket)
		}
		return Fail, "check the bucket, region, endpoint and credentials", fmt.Sprintf("HeadBucket on %q: %s", c.Bucket, apiErr.ErrorCode())
	}
	return Fail, "check the bucket, region, endpoint, credentials and the network path", fmt.Sprintf("HeadBucket on %q: %s", c.Bucket, describe(err))
}

// probeHEC asks HEC's health endpoint, then checks the token with an empty
// POST to the event endpoint: HEC authenticates before it finds no event
// ("No data", code 5), so nothing is written.
func probeHEC(ctx context.Context, o against.Output) (Status, string, string) {
	c, err := o.SplunkHEC()
	if err != nil {
		return Fail, "correct the splunk_hec output's url", err.Error()
	}
	client := &http.Client{Transport: c.Transport}
	u, _ := url.Parse(c.URL)
	health := *u
	health.Path, health.RawQuery = "/services/collector/health", ""
	code, text, status, err := hecCall(ctx, client, http.MethodGet, health.String(), "")
	if err != nil {
		return Fail, "check url, the network path to HEC (port 8088 by default) and tls", fmt.Sprintf("HEC at %s did not answer: %s", redactURL(health.String()), urlErr(err))
	}
	if status != http.StatusOK {
		return Fail, "enable HEC (Settings > Data inputs > HTTP Event Collector > Global Settings) and check its queues",
			fmt.Sprintf("HEC health at %s: %d %q (code %d)", redactURL(health.String()), status, text, code)
	}
	msg := fmt.Sprintf("HEC at %s is healthy", redactURL(health.String()))
	code, text, status, err = hecCall(ctx, client, http.MethodPost, c.URL, c.Token)
	switch {
	case err != nil:
		return Warn, "", msg + fmt.Sprintf("; the token check did not answer: %s", urlErr(err))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Fail, "put an enabled HEC token in token (Settings > Data inputs > HTTP Event Collector)",
			msg + fmt.Sprintf("; the token is refused: %q (code %d)", text, code)
	case status == http.StatusBadRequest && code == 5, status == http.StatusOK:
		return OK, "", msg + "; the token is accepted (an empty request, nothing written)"
	case status == http.StatusBadRequest && code == 7:
		return Fail, "set index to an index the token may write to, or empty for the token's default", msg + fmt.Sprintf("; %q (code %d)", text, code)
	}
	return Warn, "", msg + fmt.Sprintf("; the token check got %d %q (code %d)", status, text, code)
}

func hecCall(ctx context.Context, client *http.Client, method, u, token string) (code int, text string, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, "", 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Splunk "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Text string `json:"text"`
		Code int    `json:"code"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &body) != nil {
		body.Code = -1
		body.Text = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	}
	return body.Code, body.Text, resp.StatusCode, nil
}

func probeFile(o against.Output) (Status, string, string) {
	f, err := o.File()
	if err != nil {
		return Fail, "correct the file output's path", err.Error()
	}
	info, err := os.Stat(f.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := existingParent(f.Dir)
		if err := writable(parent); err != nil {
			return Fail, fmt.Sprintf("create %s for the user the service runs as", f.Dir), fmt.Sprintf("directory %s does not exist and cannot be created in %s: %s", f.Dir, parent, err)
		}
		return OK, "", fmt.Sprintf("directory %s does not exist yet; the output creates it in %s, which is writable", f.Dir, parent)
	case err != nil:
		return Fail, "correct the file output's path", err.Error()
	case !info.IsDir():
		return Fail, "correct the file output's path", fmt.Sprintf("%s is not a directory", f.Dir)
	}
	if err := writable(f.Dir); err != nil {
		return Fail, fmt.Sprintf("make %s writable by the user the service runs as", f.Dir), err.Error()
	}
	return OK, "", fmt.Sprintf("directory %s is writable", f.Dir)
}

// redactURL drops credentials from a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// urlErr is an HTTP client error without the URL it repeats (which may
// hold credentials).
func urlErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return describe(err)
}
