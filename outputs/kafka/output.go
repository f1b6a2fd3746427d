// Package kafka registers the `kafka` Benthos output, which produces each
// message as one Kafka record with franz-go (github.com/twmb/franz-go/pkg/kgo).
// A batch is produced synchronously and acknowledged only once Kafka has
// acknowledged every record; records that failed are nacked one by one. It
// lives apart from input/ so that Redpanda Connect users can skip it. Beta.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/outputs/internal/cleartext"
)

const (
	fieldSeedBrokers     = "seed_brokers"
	fieldTopic           = "topic"
	fieldKey             = "key"
	fieldPartitioner     = "partitioner"
	fieldPartition       = "partition"
	fieldCompression     = "compression"
	fieldSASL            = "sasl"
	fieldSASLMechanism   = "mechanism"
	fieldSASLUsername    = "username"
	fieldSASLPassword    = "password"
	fieldTLS             = "tls"
	fieldIdempotentWrite = "idempotent_write"
	fieldMetadata        = "metadata"
	fieldTimeout         = "timeout"
	fieldMaxMessageBytes = "max_message_bytes"
	fieldClientID        = "client_id"
	fieldBatching        = "batching"
	fieldMaxInFlight     = "max_in_flight"
)

// Partitioner names accepted by the partitioner field.
const (
	partitionerMurmur2    = "murmur2_hash"
	partitionerRoundRobin = "round_robin"
	partitionerLeastBack  = "least_backup"
	partitionerManual     = "manual"
)

// SASL mechanism names accepted by sasl[].mechanism.
const (
	mechanismPlain       = "PLAIN"
	mechanismScramSHA256 = "SCRAM-SHA-256"
	mechanismScramSHA512 = "SCRAM-SHA-512"
)

var compressionCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

func outputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Writes each message as one record to a Kafka topic (franz-go client), acknowledging a batch only once Kafka has acknowledged its records.").
		Description(`
Each message becomes one record: the message body is the record value, `+"`key`"+` is the record key
(by default the activity id that the `+"`anthropic_compliance`"+` input puts in the `+"`activity_id`"+` metadata),
and metadata keys selected by `+"`metadata`"+` become record headers.

== Delivery guarantees

At least once. A batch is produced with one synchronous call and its messages are acknowledged only after the
brokers have acknowledged every record (all in-sync replicas, `+"`acks=all`"+`). A record that fails (unknown topic,
record too large, authorisation error, timeout...) nacks exactly that message; the rest of the batch is acknowledged.
A nack travels back to the input, which does not commit its checkpoint and delivers the message again, so a
permanently failing record is retried until it succeeds or is routed elsewhere (for example with a `+"`fallback`"+`
output to a dead-letter file). Re-delivery after a crash or a nack can produce duplicates; consumers should
de-duplicate on the record key (the activity id).

With `+"`idempotent_write`"+` (the default) the brokers discard duplicates caused by the client's own internal retries
of a request, but not duplicates caused by the pipeline re-delivering a message.

== Ordering

Within one batch, records for the same partition are written in batch order. With `+"`max_in_flight`"+` above 1,
several batches are produced concurrently and their relative order is not guaranteed; set `+"`max_in_flight: 1`"+`
for strict order. With the default `+"`murmur2_hash`"+` partitioner and key, all re-deliveries of one activity go to the
same partition.

== Connecting

The client is created on connect and must reach at least one seed broker (a metadata request, including TLS and
SASL authentication) within `+"`timeout`"+`, otherwise connecting fails with an error naming the seed brokers and the
pipeline retries.`+service.OutputPerformanceDocs(true, true)).
		Fields(
			service.NewStringListField(fieldSeedBrokers).
				Description("Kafka brokers to bootstrap from, as `host:port`. An entry may hold several comma-separated addresses. At least one is required; the rest of the cluster is discovered from them.").
				Example([]string{"localhost:9092"}).
				Example([]string{"kafka-1:9092", "kafka-2:9092"}).
				LintRule(`root = if this.length() == 0 { ["seed_brokers: at least one broker is required"] }`),
			service.NewInterpolatedStringField(fieldTopic).
				Description("Topic each record is written to, evaluated per message. The topic must exist unless the cluster creates topics automatically.").
				Example("anthropic-compliance-activities").
				Example(`anthropic-${! @activity_type.split(".").index(0).or("other") }`),
			service.NewInterpolatedStringField(fieldKey).
				Description("Record key, evaluated per message. An empty result writes a record without a key. The default is the activity id, so that every delivery of one activity lands on the same partition and consumers can de-duplicate on it.").
				Default(`${! @activity_id.or("") }`),
			service.NewStringAnnotatedEnumField(fieldPartitioner, map[string]string{
				partitionerMurmur2:    "Partition by the murmur2 hash of the key, exactly like the Java client (records without a key stick to one random partition per batch).",
				partitionerRoundRobin: "Spread records evenly across all partitions, ignoring the key.",
				partitionerLeastBack:  "Send each record to the partition with the fewest records still being written, ignoring the key.",
				partitionerManual:     "Use the partition given by the `partition` field.",
			}).
				Description("How records are assigned to partitions.").
				Default(partitionerMurmur2).
				Advanced(),
			service.NewInterpolatedStringField(fieldPartition).
				Description("Partition number for the `manual` partitioner, evaluated per message; must be a non-negative integer lower than the topic's partition count. Only allowed with `partitioner: manual`.").
				Example(`${! @partition }`).
				Optional().
				Advanced(),
			service.NewStringEnumField(fieldCompression, "none", "gzip", "snappy", "lz4", "zstd").
				Description("Compression codec for record batches. JSON activities usually shrink several times with `zstd`, `lz4` or `gzip`.").
				Default("none"),
			service.NewObjectListField(fieldSASL,
				service.NewStringEnumField(fieldSASLMechanism, mechanismPlain, mechanismScramSHA256, mechanismScramSHA512).
					Description("SASL mechanism."),
				service.NewStringField(fieldSASLUsername).
					Description("User name to authenticate as."),
				service.NewStringField(fieldSASLPassword).
					Description("Password of the user.").
					Secret(),
			).
				Description("SASL mechanisms to authenticate with; the first one the broker supports is used. Empty means no SASL authentication. Enable `tls` with SASL: without it the records, and with `PLAIN` the password itself, cross the network in clear text (a warning at start-up unless every seed broker is loopback).").
				Example([]any{map[string]any{
					fieldSASLMechanism: mechanismScramSHA512,
					fieldSASLUsername:  "compliance-connect",
					fieldSASLPassword:  "${KAFKA_PASSWORD}",
				}}).
				Default([]any{}),
			service.NewTLSToggledField(fieldTLS),
			service.NewBoolField(fieldIdempotentWrite).
				Description("Let the brokers discard duplicates caused by the client's internal retries (idempotent producer). Requires the IDEMPOTENT_WRITE cluster permission on Kafka older than 3.0; disable it only if the cluster refuses it.").
				Default(true).
				Advanced(),
			service.NewMetadataFilterField(fieldMetadata).
				Description("Which metadata keys to add to each record as headers (key = metadata key, value = metadata value as a string). The default selects none.").
				Example(map[string]any{"include_prefixes": []string{"activity_"}}),
			service.NewDurationField(fieldTimeout).
				Description("How long connecting (reaching a seed broker) and producing one batch may take before the batch is failed and nacked. Records already sent to a broker with `idempotent_write` are waited for until the broker answers, so a write can outlast this.").
				Default("10s"),
			service.NewIntField(fieldMaxMessageBytes).
				Description("Largest record batch, in bytes, the client sends to one partition in one request; a single record larger than this fails (and is nacked). Keep it at or below the brokers' `message.max.bytes` and the topic's `max.message.bytes` (1 MiB by default in Kafka).").
				Default(1048576).
				Advanced().
				LintRule(`root = if this <= 0 { ["max_message_bytes: must be greater than 0"] }`),
			service.NewStringField(fieldClientID).
				Description("Client id sent to the brokers, visible in broker logs and quotas.").
				Default("compliance-connect").
				Advanced(),
			service.NewBatchPolicyField(fieldBatching),
			service.NewOutputMaxInFlightField(),
		).
		LintRule(`root = match {
  this.partitioner == "manual" && this.partition.or("") == "" => ["partition: required when partitioner is manual"],
  this.partitioner != "manual" && this.partition.or("") != "" => ["partition: only allowed when partitioner is manual"],
}`).
		Example("Activities to Kafka", "Writes every activity to one topic, keyed by activity id, with the activity metadata as headers.", `
input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
output:
  kafka:
    seed_brokers: [ "kafka-1:9092", "kafka-2:9092" ]
    topic: anthropic-compliance-activities
    compression: zstd
    metadata:
      include_prefixes: [ "activity_" ]
    batching:
      count: 500
      period: 5s
`)
}

func init() {
	service.MustRegisterBatchOutput("kafka", outputSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		cfg, err := parseConfig(conf)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		for _, w := range cfg.warnings {
			mgr.Logger().Warn(w)
		}
		return newOutput(cfg, mgr.Logger()), cfg.batching, cfg.maxInFlight, nil
	})
}

//------------------------------------------------------------------------------

// config holds the parsed and validated output settings.
type config struct {
	brokers     []string
	topic       *service.InterpolatedString
	key         *service.InterpolatedString
	partition   *service.InterpolatedString // nil unless the partitioner is manual
	metadata    *service.MetadataFilter
	timeout     time.Duration
	batching    service.BatchPolicy
	maxInFlight int
	clientOpts  []kgo.Opt
	warnings    []string // logged at start-up
}

func parseConfig(conf *service.ParsedConfig) (*config, error) {
	cfg := &config{}
	rawBrokers, err := conf.FieldStringList(fieldSeedBrokers)
	if err != nil {
		return nil, err
	}
	for _, entry := range rawBrokers {
		for b := range strings.SplitSeq(entry, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.brokers = append(cfg.brokers, b)
			}
		}
	}
	if len(cfg.brokers) == 0 {
		return nil, errors.New("seed_brokers: at least one broker is required")
	}
	if cfg.topic, err = conf.FieldInterpolatedString(fieldTopic); err != nil {
		return nil, err
	}
	if cfg.key, err = conf.FieldInterpolatedString(fieldKey); err != nil {
		return nil, err
	}
	partitionerName, err := conf.FieldString(fieldPartitioner)
	if err != nil {
		return nil, err
	}
	partitioner, err := newPartitioner(partitionerName)
	if err != nil {
		return nil, err
	}
	if conf.Contains(fieldPartition) {
		if cfg.partition, err = conf.FieldInterpolatedString(fieldPartition); err != nil {
			return nil, err
		}
	}
	if manual := partitionerName == partitionerManual; manual && cfg.partition == nil {
		return nil, errors.New("partition: required when partitioner is manual")
	} else if !manual && cfg.partition != nil {
		return nil, errors.New("partition: only allowed when partitioner is manual")
	}
	codecName, err := conf.FieldString(fieldCompression)
	if err != nil {
		return nil, err
	}
	codec, ok := compressionCodecs[codecName]
	if !ok {
		return nil, fmt.Errorf("compression: unknown codec %q", codecName)
	}
	mechanisms, err := saslFromConfig(conf)
	if err != nil {
		return nil, err
	}
	tlsConf, tlsEnabled, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	idempotent, err := conf.FieldBool(fieldIdempotentWrite)
	if err != nil {
		return nil, err
	}
	if cfg.metadata, err = conf.FieldMetadataFilter(fieldMetadata); err != nil {
		return nil, err
	}
	if cfg.metadata.IsEmpty() {
		cfg.metadata = nil // no headers at all
	}
	if cfg.timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return nil, err
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be greater than 0, got %v", cfg.timeout)
	}
	maxBytes, err := conf.FieldInt(fieldMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	if maxBytes <= 0 || maxBytes > 1<<30 {
		return nil, fmt.Errorf("max_message_bytes: must be between 1 and 1073741824, got %d", maxBytes)
	}
	clientID, err := conf.FieldString(fieldClientID)
	if err != nil {
		return nil, err
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

	cfg.clientOpts = []kgo.Opt{
		kgo.SeedBrokers(cfg.brokers...),
		kgo.ClientID(clientID),
		kgo.RecordPartitioner(partitioner),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(int32(maxBytes)),
		kgo.RecordDeliveryTimeout(cfg.timeout),
	}
	// The client refuses a request larger than BrokerMaxWriteBytes (100 MiB by
	// default), so raise it along with a large max_message_bytes.
	if int32(maxBytes) > 100<<20 {
		cfg.clientOpts = append(cfg.clientOpts, kgo.BrokerMaxWriteBytes(int32(maxBytes)+(1<<20)))
	}
	if !idempotent {
		cfg.clientOpts = append(cfg.clientOpts, kgo.DisableIdempotentWrite())
	}
	if tlsEnabled {
		cfg.clientOpts = append(cfg.clientOpts, kgo.DialTLSConfig(tlsConf))
	}
	if len(mechanisms) > 0 {
		cfg.clientOpts = append(cfg.clientOpts, kgo.SASL(mechanisms...))
		remote := func(b string) bool { return !cleartext.LoopbackAddr(b) }
		if !tlsEnabled && slices.ContainsFunc(cfg.brokers, remote) {
			cfg.warnings = append(cfg.warnings, "sasl without tls: the records, and with PLAIN the password itself, cross the network in clear text; enable tls")
		}
	}
	return cfg, nil
}

func newPartitioner(name string) (kgo.Partitioner, error) {
	switch name {
	case partitionerMurmur2:
		return kgo.StickyKeyPartitioner(nil), nil
	case partitionerRoundRobin:
		return kgo.RoundRobinPartitioner(), nil
	case partitionerLeastBack:
		return kgo.LeastBackupPartitioner(), nil
	case partitionerManual:
		return kgo.ManualPartitioner(), nil
	}
	return nil, fmt.Errorf("partitioner: unknown partitioner %q", name)
}

func saslFromConfig(conf *service.ParsedConfig) ([]sasl.Mechanism, error) {
	entries, err := conf.FieldObjectList(fieldSASL)
	if err != nil {
		return nil, err
	}
	mechanisms := make([]sasl.Mechanism, 0, len(entries))
	for i, entry := range entries {
		name, err := entry.FieldString(fieldSASLMechanism)
		if err != nil {
			return nil, fmt.Errorf("sasl[%d]: %w", i, err)
		}
		user, err := entry.FieldString(fieldSASLUsername)
		if err != nil {
			return nil, fmt.Errorf("sasl[%d]: %w", i, err)
		}
		pass, err := entry.FieldString(fieldSASLPassword)
		if err != nil {
			return nil, fmt.Errorf("sasl[%d]: %w", i, err)
		}
		if user == "" {
			return nil, fmt.Errorf("sasl[%d].username: must not be empty", i)
		}
		switch name {
		case mechanismPlain:
			mechanisms = append(mechanisms, plain.Auth{User: user, Pass: pass}.AsMechanism())
		case mechanismScramSHA256:
			mechanisms = append(mechanisms, scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
		case mechanismScramSHA512:
			mechanisms = append(mechanisms, scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
		default:
			return nil, fmt.Errorf("sasl[%d].mechanism: unknown mechanism %q", i, name)
		}
	}
	return mechanisms, nil
}

//------------------------------------------------------------------------------

// output produces batches with one franz-go client. The mutex guards client,
// which Connect creates and Close destroys while writers read it.
type output struct {
	log *service.Logger
	cfg *config

	mu     sync.RWMutex
	client *kgo.Client
}

func newOutput(cfg *config, log *service.Logger) *output {
	return &output{log: log, cfg: cfg}
}

// Connect creates the client and checks that a seed broker answers.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		return nil
	}
	opts := append(slices.Clip(o.cfg.clientOpts), kgo.WithLogger(kgoLogger{o.log}))
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating kafka client for seed brokers %v: %w", o.cfg.brokers, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
	defer cancel()
	if err := client.Ping(pingCtx); err != nil {
		client.Close()
		return fmt.Errorf("reaching kafka seed brokers %v: %w", o.cfg.brokers, err)
	}
	o.client = client
	return nil
}

// WriteBatch produces every message of the batch and waits for all results.
// Messages whose record could not be built or produced are reported in a
// *service.BatchError, so only they are nacked.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	client := o.client
	o.mu.RUnlock()
	if client == nil {
		return service.ErrNotConnected
	}

	failures := make(map[int]error)
	records := make([]*kgo.Record, 0, len(batch))
	indexOf := make(map[*kgo.Record]int, len(batch))
	for i := range batch {
		rec, err := o.record(batch, i)
		if err != nil {
			failures[i] = err
			continue
		}
		records = append(records, rec)
		indexOf[rec] = i
	}

	if len(records) > 0 {
		produceCtx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
		// Results arrive in completion order, not batch order.
		for _, res := range client.ProduceSync(produceCtx, records...) {
			if res.Err != nil {
				failures[indexOf[res.Record]] = fmt.Errorf("producing to topic %q: %w", res.Record.Topic, res.Err)
			}
		}
		cancel()
	}
	if len(failures) == 0 {
		return nil
	}

	first := slices.Min(slices.Collect(maps.Keys(failures)))
	batchErr := service.NewBatchError(batch, fmt.Errorf("kafka: %d of %d messages failed, first (message %d): %w", len(failures), len(batch), first, failures[first]))
	for i, err := range failures {
		batchErr.Failed(i, err)
	}
	return batchErr
}

// record builds the Kafka record for message i of the batch.
func (o *output) record(batch service.MessageBatch, i int) (*kgo.Record, error) {
	value, err := batch[i].AsBytes()
	if err != nil {
		return nil, fmt.Errorf("reading message body: %w", err)
	}
	topic, err := batch.TryInterpolatedString(i, o.cfg.topic)
	if err != nil {
		return nil, fmt.Errorf("evaluating topic: %w", err)
	}
	if topic == "" {
		return nil, errors.New("topic: evaluated to an empty string")
	}
	key, err := batch.TryInterpolatedBytes(i, o.cfg.key)
	if err != nil {
		return nil, fmt.Errorf("evaluating key: %w", err)
	}
	rec := &kgo.Record{Topic: topic, Value: value}
	if len(key) > 0 {
		rec.Key = key
	}
	if o.cfg.partition != nil {
		raw, err := batch.TryInterpolatedString(i, o.cfg.partition)
		if err != nil {
			return nil, fmt.Errorf("evaluating partition: %w", err)
		}
		p, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("partition: %q is not a non-negative integer", raw)
		}
		rec.Partition = int32(p)
	}
	if o.cfg.metadata != nil {
		_ = o.cfg.metadata.Walk(batch[i], func(k, v string) error {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			return nil
		})
		// Metadata is walked in map order; sort for reproducible records.
		slices.SortFunc(rec.Headers, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	}
	return rec, nil
}

// Close flushes nothing (every write is synchronous) and closes the client.
func (o *output) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		o.client.Close()
		o.client = nil
	}
	return nil
}

//------------------------------------------------------------------------------

// kgoLogger forwards franz-go's warnings and errors to the Benthos logger.
type kgoLogger struct{ log *service.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if l.log == nil {
		return
	}
	switch level {
	case kgo.LogLevelError:
		l.log.With(keyvals...).Error(msg)
	case kgo.LogLevelWarn:
		l.log.With(keyvals...).Warn(msg)
	}
}
