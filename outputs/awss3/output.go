// Package awss3 registers the `aws_s3` Benthos output, which writes each batch
// of messages as one newline-delimited JSON object (gzip-compressed by default)
// to Amazon S3 or an S3-compatible store with aws-sdk-go-v2. A batch is
// acknowledged only once its object is stored. It lives apart from input/ so
// that Redpanda Connect users can skip it. Beta.
package awss3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/klauspost/compress/gzip"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	fieldBucket            = "bucket"
	fieldPath              = "path"
	fieldCompression       = "compression"
	fieldContentType       = "content_type"
	fieldObjectPerMessage  = "object_per_message"
	fieldRegion            = "region"
	fieldEndpoint          = "endpoint"
	fieldForcePathStyle    = "force_path_style_urls"
	fieldCredentials       = "credentials"
	fieldCredProfile       = "profile"
	fieldCredID            = "id"
	fieldCredSecret        = "secret"
	fieldCredToken         = "token"
	fieldCredRole          = "role"
	fieldCredRoleExternal  = "role_external_id"
	fieldStorageClass      = "storage_class"
	fieldKMSKeyID          = "kms_key_id"
	fieldTimeout           = "timeout"
	fieldBatching          = "batching"
	compressionGzip        = "gzip"
	compressionNone        = "none"
	defaultPath            = `anthropic/activities/${! timestamp_unix_nano() }-${! uuid_v4() }.ndjson.gz`
	dailyPartitionedPathEx = `anthropic/activities/${! now().ts_format("2006/01/02") }/${! uuid_v4() }.ndjson.gz`
)

func outputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Writes each batch of messages as one newline-delimited JSON object, gzip-compressed by default, to Amazon S3 or an S3-compatible store.").
		Description(`
Each batch becomes one object: every message on its own line, each line ending with a newline (NDJSON). A message
that contains a line break is re-encoded as compact JSON so it stays on one line; one that contains a line break and
is not JSON cannot be written as a line and is nacked on its own.

The object key is `+"`path`"+`, evaluated **once per batch, against the first message of the batch**, so functions such as
`+"`now()`"+`, `+"`uuid_v4()`"+` or metadata of the first message decide where the whole batch goes. Configure `+"`batching`"+`
(a `+"`count`"+` and a `+"`period`"+`) to control how many activities each object holds and how long they may wait. The
count is a threshold: batches that arrive whole from the input are not split, so an object can hold a few more than
`+"`count`"+` messages.

== Delivery guarantees

At least once. A batch is acknowledged only after S3 has confirmed the upload of its object; any failure
(missing bucket, access denied, timeout...) nacks the whole batch, the input keeps its checkpoint and the
activities are written again later, into a new object. Objects therefore never hold a partial batch, but a
retried batch can leave activities in two objects if an earlier upload succeeded without its confirmation
arriving; de-duplicate on the activity `+"`id`"+`.

== Ordering

Objects are independent; with `+"`max_in_flight`"+` above 1 several are uploaded at once. Within an object, lines keep
the batch order.

== Credentials

By default the AWS SDK default chain is used (environment variables, shared config/credentials files and
`+"`AWS_PROFILE`"+`, web identity, ECS and EC2 instance roles). `+"`credentials`"+` can pick a profile, give static keys,
and/or assume a role on top of them.`+service.OutputPerformanceDocs(true, true)).
		Fields(
			service.NewStringField(fieldBucket).
				Description("Bucket to write objects to. It must already exist.").
				Example("acme-compliance-archive").
				LintRule(`root = if this == "" { ["bucket: must not be empty"] }`),
			service.NewInterpolatedStringField(fieldPath).
				Description("Object key, evaluated once per batch against its first message. Make it unique per batch (for example with `uuid_v4()`), or batches overwrite each other. Keep the `.gz` suffix only with `compression: gzip`.").
				Default(defaultPath).
				Example(dailyPartitionedPathEx).
				Example(`anthropic/activities/${! @activity_created_at.or(now()).ts_format("2006/01/02/15") }/${! uuid_v4() }.ndjson.gz`),
			service.NewStringAnnotatedEnumField(fieldCompression, map[string]string{
				compressionGzip: "Compress each object with gzip and store it with `Content-Encoding: gzip`.",
				compressionNone: "Store plain NDJSON without a `Content-Encoding`.",
			}).
				Description("How object bodies are compressed.").
				Default(compressionGzip),
			service.NewInterpolatedStringField(fieldContentType).
				Description("`Content-Type` of every object, evaluated like `path`. With gzip compression the type still describes the decompressed content; the compression is in `Content-Encoding`.").
				Default("application/x-ndjson").
				Advanced(),
			service.NewBoolField(fieldObjectPerMessage).
				Description("Write every message as its own object, its bytes unchanged (no NDJSON line, no newline added), with `path` and `content_type` evaluated per message: for binary content such as the files of the `anthropic_compliance` input's `files` endpoint (e.g. `content_type: ${! @compliance_content_type }`, `compression: none`). A message whose upload fails is nacked on its own.").
				Default(false).
				Advanced(),
			service.NewStringField(fieldRegion).
				Description("AWS region of the bucket. Empty means the region from the default chain (`AWS_REGION`, the profile); one must be found.").
				Example("eu-west-1").
				Default(""),
			service.NewStringField(fieldEndpoint).
				Description("Base URL of an S3-compatible store (MinIO, Ceph, R2...) or a VPC endpoint. Empty means the AWS endpoint of the region.").
				Example("https://minio.internal:9000").
				Default("").
				Advanced(),
			service.NewBoolField(fieldForcePathStyle).
				Description("Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`; most S3-compatible stores need this.").
				Default(false).
				Advanced(),
			service.NewObjectField(fieldCredentials,
				service.NewStringField(fieldCredProfile).
					Description("Profile of the shared config and credentials files to use. Empty means `AWS_PROFILE` or `default`.").
					Default(""),
				service.NewStringField(fieldCredID).
					Description("Static access key id; requires `secret`. Empty means the default chain.").
					Default("").
					Secret(),
				service.NewStringField(fieldCredSecret).
					Description("Static secret access key.").
					Default("").
					Secret(),
				service.NewStringField(fieldCredToken).
					Description("Session token for temporary static credentials.").
					Default("").
					Secret(),
				service.NewStringField(fieldCredRole).
					Description("ARN of a role to assume (through STS) with the credentials above. Empty means no role.").
					Example("arn:aws:iam::123456789012:role/compliance-archive-writer").
					Default(""),
				service.NewStringField(fieldCredRoleExternal).
					Description("External id to present when assuming `role`.").
					Default(""),
			).
				Description("Credentials to use instead of the SDK default chain. Leave everything empty to use the default chain.").
				Advanced(),
			service.NewStringField(fieldStorageClass).
				Description("S3 storage class of new objects. Empty means the bucket default (normally `STANDARD`).").
				Examples("STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR").
				Default("").
				Advanced(),
			service.NewStringField(fieldKMSKeyID).
				Description("KMS key (id, ARN or alias) to encrypt objects with (`aws:kms` server-side encryption). Empty means the bucket's default encryption.").
				Example("alias/compliance-archive").
				Default("").
				Advanced(),
			service.NewDurationField(fieldTimeout).
				Description("Maximum time for uploading one object, SDK retries included; the batch is nacked when it runs out.").
				Default("30s"),
			service.NewBatchPolicyField(fieldBatching),
			service.NewOutputMaxInFlightField(),
		).
		LintRule(`root = if (this.credentials.id.or("") == "") != (this.credentials.secret.or("") == "") { ["credentials: id and secret must be set together"] }`).
		Example("Daily-partitioned archive", "Writes gzipped NDJSON objects of up to 1000 activities, at least every minute, under one prefix per day.", `
input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
output:
  aws_s3:
    bucket: acme-compliance-archive
    region: eu-west-1
    path: '`+dailyPartitionedPathEx+`'
    batching:
      count: 1000
      period: 60s
`)
}

func init() {
	service.MustRegisterBatchOutput("aws_s3", outputSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		cfg, err := parseConfig(conf)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		out, err := newOutput(context.Background(), cfg)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		return out, cfg.batching, cfg.maxInFlight, nil
	})
}

//------------------------------------------------------------------------------

// config holds the parsed and validated output settings.
type config struct {
	bucket         string
	path           *service.InterpolatedString
	gzip           bool
	contentType    *service.InterpolatedString
	perMessage     bool
	region         string
	endpoint       string
	forcePathStyle bool
	profile        string
	id             string
	secret         string
	token          string
	role           string
	roleExternalID string
	storageClass   string
	kmsKeyID       string
	timeout        time.Duration
	batching       service.BatchPolicy
	maxInFlight    int
}

func parseConfig(conf *service.ParsedConfig) (*config, error) {
	cfg := &config{}
	var err error
	strs := []struct {
		dst  *string
		path []string
	}{
		{&cfg.bucket, []string{fieldBucket}},
		{&cfg.region, []string{fieldRegion}},
		{&cfg.endpoint, []string{fieldEndpoint}},
		{&cfg.profile, []string{fieldCredentials, fieldCredProfile}},
		{&cfg.id, []string{fieldCredentials, fieldCredID}},
		{&cfg.secret, []string{fieldCredentials, fieldCredSecret}},
		{&cfg.token, []string{fieldCredentials, fieldCredToken}},
		{&cfg.role, []string{fieldCredentials, fieldCredRole}},
		{&cfg.roleExternalID, []string{fieldCredentials, fieldCredRoleExternal}},
		{&cfg.storageClass, []string{fieldStorageClass}},
		{&cfg.kmsKeyID, []string{fieldKMSKeyID}},
	}
	for _, s := range strs {
		if *s.dst, err = conf.FieldString(s.path...); err != nil {
			return nil, err
		}
	}
	if cfg.bucket == "" {
		return nil, errors.New("bucket: must not be empty")
	}
	if (cfg.id == "") != (cfg.secret == "") {
		return nil, errors.New("credentials: id and secret must be set together")
	}
	if cfg.token != "" && cfg.id == "" {
		return nil, errors.New("credentials: token requires id and secret")
	}
	if cfg.roleExternalID != "" && cfg.role == "" {
		return nil, errors.New("credentials: role_external_id requires role")
	}
	if cfg.path, err = conf.FieldInterpolatedString(fieldPath); err != nil {
		return nil, err
	}
	if cfg.contentType, err = conf.FieldInterpolatedString(fieldContentType); err != nil {
		return nil, err
	}
	if cfg.perMessage, err = conf.FieldBool(fieldObjectPerMessage); err != nil {
		return nil, err
	}
	compression, err := conf.FieldString(fieldCompression)
	if err != nil {
		return nil, err
	}
	switch compression {
	case compressionGzip:
		cfg.gzip = true
	case compressionNone:
	default:
		return nil, fmt.Errorf("compression: unknown value %q, want gzip or none", compression)
	}
	if cfg.forcePathStyle, err = conf.FieldBool(fieldForcePathStyle); err != nil {
		return nil, err
	}
	if cfg.timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return nil, err
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be greater than 0, got %v", cfg.timeout)
	}
	if cfg.batching, err = conf.FieldBatchPolicy(fieldBatching); err != nil {
		return nil, err
	}
	if cfg.maxInFlight, err = conf.FieldMaxInFlight(); err != nil {
		return nil, err
	}
	if cfg.maxInFlight < 1 {
		return nil, fmt.Errorf("max_in_flight: must be at least 1, got %d", cfg.maxInFlight)
	}
	return cfg, nil
}

// awsConfig resolves region and credentials; it reads the environment and
// shared files but makes no request.
func awsConfig(ctx context.Context, cfg *config) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.region))
	}
	if cfg.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.profile))
	}
	if cfg.id != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.id, cfg.secret, cfg.token)))
	}
	awsConf, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsConf.Region == "" {
		return aws.Config{}, errors.New("region: not set, and no region found in AWS_REGION or the AWS profile")
	}
	if cfg.role != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsConf), cfg.role, func(o *stscreds.AssumeRoleOptions) {
			if cfg.roleExternalID != "" {
				o.ExternalID = aws.String(cfg.roleExternalID)
			}
		})
		awsConf.Credentials = aws.NewCredentialsCache(provider)
	}
	return awsConf, nil
}

//------------------------------------------------------------------------------

// output uploads one object per batch. The mutex guards client, which Connect
// sets and Close clears while writers read it.
type output struct {
	cfg     *config
	awsConf aws.Config

	mu     sync.RWMutex
	client *s3.Client
}

func newOutput(ctx context.Context, cfg *config) (*output, error) {
	awsConf, err := awsConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &output{cfg: cfg, awsConf: awsConf}, nil
}

// Connect resolves credentials, so that missing or unusable credentials are
// reported (and retried) before any batch is attempted, and creates the client.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		return nil
	}
	credCtx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
	defer cancel()
	if _, err := o.awsConf.Credentials.Retrieve(credCtx); err != nil {
		return fmt.Errorf("resolving AWS credentials for bucket %q: %w", o.cfg.bucket, err)
	}
	o.client = s3.NewFromConfig(o.awsConf, func(opts *s3.Options) {
		if o.cfg.endpoint != "" {
			opts.BaseEndpoint = aws.String(o.cfg.endpoint)
		}
		opts.UsePathStyle = o.cfg.forcePathStyle
	})
	return nil
}

// WriteBatch uploads the batch as one NDJSON object. An upload failure nacks
// the whole batch; a message that cannot be encoded as one line is left out
// of the object and nacked alone through a *service.BatchError.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	client := o.client
	o.mu.RUnlock()
	if client == nil {
		return service.ErrNotConnected
	}

	if o.cfg.perMessage {
		return o.writeEach(ctx, client, batch)
	}
	key, contentType, err := o.target(batch, 0)
	if err != nil {
		return err
	}
	body, failures, err := o.encode(batch)
	if err != nil {
		return err
	}

	if len(failures) < len(batch) {
		if err := o.put(ctx, client, key, contentType, body, o.cfg.gzip); err != nil {
			return fmt.Errorf("writing %d messages to s3://%s/%s: %w", len(batch)-len(failures), o.cfg.bucket, key, err)
		}
	}
	if len(failures) == 0 {
		return nil
	}
	indexes := slices.Sorted(maps.Keys(failures))
	batchErr := service.NewBatchError(batch, fmt.Errorf("%d of %d messages could not be written as NDJSON lines, first (message %d): %w", len(failures), len(batch), indexes[0], failures[indexes[0]]))
	for _, i := range indexes {
		batchErr.Failed(i, failures[i])
	}
	return batchErr
}

// target evaluates the object key and content type against message i.
func (o *output) target(batch service.MessageBatch, i int) (key, contentType string, err error) {
	key, err = batch.TryInterpolatedString(i, o.cfg.path)
	if err != nil {
		return "", "", fmt.Errorf("evaluating path: %w", err)
	}
	if key = strings.TrimPrefix(key, "/"); key == "" {
		return "", "", errors.New("path: evaluated to an empty object key")
	}
	if contentType, err = batch.TryInterpolatedString(i, o.cfg.contentType); err != nil {
		return "", "", fmt.Errorf("evaluating content_type: %w", err)
	}
	return key, contentType, nil
}

// put uploads one object.
func (o *output) put(ctx context.Context, client *s3.Client, key, contentType string, body []byte, gzipped bool) error {
	input := &s3.PutObjectInput{
		Bucket:        aws.String(o.cfg.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
	}
	if gzipped {
		input.ContentEncoding = aws.String("gzip")
	}
	if o.cfg.storageClass != "" {
		input.StorageClass = types.StorageClass(o.cfg.storageClass)
	}
	if o.cfg.kmsKeyID != "" {
		input.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		input.SSEKMSKeyId = aws.String(o.cfg.kmsKeyID)
	}
	putCtx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
	defer cancel()
	_, err := client.PutObject(putCtx, input)
	return err
}

// writeEach writes every message as its own object (object_per_message);
// a message that fails is nacked on its own.
func (o *output) writeEach(ctx context.Context, client *s3.Client, batch service.MessageBatch) error {
	var batchErr *service.BatchError
	for i, m := range batch {
		err := func() error {
			key, contentType, err := o.target(batch, i)
			if err != nil {
				return err
			}
			body, err := m.AsBytes()
			if err != nil {
				return err
			}
			if o.cfg.gzip {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				if _, err := zw.Write(body); err != nil {
					return err
				}
				if err := zw.Close(); err != nil {
					return err
				}
				body = buf.Bytes()
			}
			if err := o.put(ctx, client, key, contentType, body, o.cfg.gzip); err != nil {
				return fmt.Errorf("writing s3://%s/%s: %w", o.cfg.bucket, key, err)
			}
			return nil
		}()
		if err != nil {
			if batchErr == nil {
				batchErr = service.NewBatchError(batch, err)
			}
			batchErr.Failed(i, err)
		}
	}
	if batchErr != nil {
		return batchErr
	}
	return nil
}

// encode renders the batch as NDJSON, gzipped if configured. Messages that
// cannot be one line are returned in failures and left out of the body.
func (o *output) encode(batch service.MessageBatch) (body []byte, failures map[int]error, err error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if o.cfg.gzip {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	var compact bytes.Buffer
	for i, msg := range batch {
		line, err := msg.AsBytes()
		if err != nil {
			failures = setFailure(failures, i, fmt.Errorf("reading message body: %w", err))
			continue
		}
		if bytes.ContainsAny(line, "\r\n") {
			compact.Reset()
			if err := json.Compact(&compact, line); err != nil {
				failures = setFailure(failures, i, fmt.Errorf("message contains a line break and is not valid JSON, so it cannot be one NDJSON line: %w", err))
				continue
			}
			line = compact.Bytes()
		}
		if _, err := w.Write(line); err != nil {
			return nil, nil, fmt.Errorf("encoding batch: %w", err)
		}
		if _, err := w.Write([]byte{'\n'}); err != nil {
			return nil, nil, fmt.Errorf("encoding batch: %w", err)
		}
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, nil, fmt.Errorf("compressing batch: %w", err)
		}
	}
	return buf.Bytes(), failures, nil
}

// Close releases the client; uploads are synchronous, so nothing is pending.
func (o *output) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.client = nil
	return nil
}

//------------------------------------------------------------------------------

func setFailure(m map[int]error, i int, err error) map[int]error {
	if m == nil {
		m = make(map[int]error)
	}
	m[i] = err
	return m
}
