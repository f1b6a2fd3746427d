package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/compliance-connect/compliance-connect/outputs/kafka"
)

// newCluster starts an in-process Kafka cluster with auto topic creation off
// and returns it with its broker addresses as a YAML flow list.
func newCluster(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	return cluster, "[ " + strings.Join(cluster.ListenAddrs(), ", ") + " ]"
}

// runStream runs a stream from a batch producer func to the given output and
// returns the producer func; the stream stops when the test ends.
func runStream(t *testing.T, outputYAML string) service.MessageBatchHandlerFunc {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	produce, err := b.AddBatchProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML(outputYAML))
	stream, err := b.Build()
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		assert.NoError(t, stream.Stop(ctx))
		<-done
	})
	return produce
}

// consume reads records from the start of the topics until want records have
// arrived, failing the test after a generous deadline.
func consume(t *testing.T, cluster *kfake.Cluster, want int, topics ...string) []*kgo.Record {
	t.Helper()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	require.NoError(t, err)
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var records []*kgo.Record
	for len(records) < want {
		fetches := client.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "timed out after %d of %d records", len(records), want)
		for _, fe := range fetches.Errors() {
			require.NoError(t, fe.Err, "fetching %s/%d", fe.Topic, fe.Partition)
		}
		records = append(records, fetches.Records()...)
	}
	require.Len(t, records, want)
	return records
}

func activity(i int) *service.Message {
	msg := service.NewMessage(fmt.Appendf(nil, `{"id":"activity_%05d","type":"claude_chat_created"}`, i))
	msg.MetaSetMut("activity_id", fmt.Sprintf("activity_%05d", i))
	msg.MetaSetMut("activity_type", "claude_chat_created")
	msg.MetaSetMut("kind", []string{"chat", "file"}[i%2])
	msg.MetaSetMut("internal_state", `{"latestTime":1}`)
	return msg
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestEveryMessageIsReadBackWithKeyHeadersAndInterpolatedTopic(t *testing.T) {
	const total, producers, perBatch = 10000, 8, 250
	cluster, brokers := newCluster(t, kfake.SeedTopics(4, "activities-chat", "activities-file"))
	produce := runStream(t, fmt.Sprintf(`
kafka:
  seed_brokers: %s
  topic: 'activities-${! @kind }'
  compression: zstd
  metadata:
    include_prefixes: [ "activity_" ]
  batching:
    count: 500
    period: 20ms
  max_in_flight: 8
`, brokers))

	var wg sync.WaitGroup
	errs := make(chan error, total/perBatch)
	for p := range producers {
		wg.Go(func() {
			for start := p * perBatch; start < total; start += producers * perBatch {
				batch := make(service.MessageBatch, 0, perBatch)
				for i := start; i < start+perBatch; i++ {
					batch = append(batch, activity(i))
				}
				errs <- produce(context.Background(), batch)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	seen := make(map[int]bool, total)
	for _, r := range consume(t, cluster, total, "activities-chat", "activities-file") {
		id := strings.TrimPrefix(string(r.Key), "activity_")
		i, err := strconv.Atoi(id)
		require.NoError(t, err, "key %q", r.Key)
		require.False(t, seen[i], "record %d read twice", i)
		seen[i] = true

		assert.Equal(t, fmt.Sprintf(`{"id":"activity_%05d","type":"claude_chat_created"}`, i), string(r.Value))
		assert.Equal(t, "activities-"+[]string{"chat", "file"}[i%2], r.Topic)
		gotID, _ := header(r, "activity_id")
		assert.Equal(t, string(r.Key), gotID)
		gotType, _ := header(r, "activity_type")
		assert.Equal(t, "claude_chat_created", gotType)
		assert.Len(t, r.Headers, 2, "only activity_* metadata becomes headers")
	}
	assert.Len(t, seen, total)
}

func TestRecordsWithoutActivityIDHaveNoKeyAndNoHeadersByDefault(t *testing.T) {
	cluster, brokers := newCluster(t, kfake.SeedTopics(1, "plain"))
	produce := runStream(t, fmt.Sprintf(`
kafka:
  seed_brokers: %s
  topic: plain
`, brokers))

	msg := service.NewMessage([]byte(`{"hello":"world"}`))
	msg.MetaSetMut("kind", "x")
	require.NoError(t, produce(context.Background(), service.MessageBatch{msg}))

	records := consume(t, cluster, 1, "plain")
	assert.Nil(t, records[0].Key)
	assert.Empty(t, records[0].Headers)
	assert.JSONEq(t, `{"hello":"world"}`, string(records[0].Value))
}

func TestManualPartitionerWritesToTheGivenPartition(t *testing.T) {
	cluster, brokers := newCluster(t, kfake.SeedTopics(3, "manual"))
	produce := runStream(t, fmt.Sprintf(`
kafka:
  seed_brokers: %s
  topic: manual
  partitioner: manual
  partition: '${! @p }'
`, brokers))

	var batch service.MessageBatch
	for i := range 6 {
		m := service.NewMessage([]byte(strconv.Itoa(i)))
		m.MetaSetMut("p", strconv.Itoa(i%3))
		batch = append(batch, m)
	}
	require.NoError(t, produce(context.Background(), batch))

	for _, r := range consume(t, cluster, 6, "manual") {
		i, err := strconv.Atoi(string(r.Value))
		require.NoError(t, err)
		assert.Equal(t, int32(i%3), r.Partition, "record %d", i)
	}
}

func TestMissingTopicNacksTheBatch(t *testing.T) {
	_, brokers := newCluster(t) // auto topic creation is off
	produce := runStream(t, fmt.Sprintf(`
kafka:
  seed_brokers: %s
  topic: does-not-exist
  timeout: 5s
`, brokers))

	err := produce(context.Background(), service.MessageBatch{activity(1)})
	require.Error(t, err)
	assert.ErrorContains(t, err, "does-not-exist")
}

func TestBrokerProduceErrorNacksAndNextWriteSucceeds(t *testing.T) {
	cluster, brokers := newCluster(t, kfake.SeedTopics(1, "activities"))
	failed := make(chan struct{})
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		produceReq := req.(*kmsg.ProduceRequest)
		resp := produceReq.ResponseKind().(*kmsg.ProduceResponse)
		for _, topic := range produceReq.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = topic.Topic
			rt.TopicID = topic.TopicID
			for _, p := range topic.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		close(failed) // the control function handles exactly one request
		return resp, nil, true
	})
	produce := runStream(t, fmt.Sprintf(`
kafka:
  seed_brokers: %s
  topic: activities
`, brokers))

	err := produce(context.Background(), service.MessageBatch{activity(1), activity(2)})
	require.Error(t, err)
	assert.ErrorContains(t, err, "TOPIC_AUTHORIZATION_FAILED")
	<-failed

	require.NoError(t, produce(context.Background(), service.MessageBatch{activity(3)}))
	records := consume(t, cluster, 1, "activities")
	assert.Equal(t, "activity_00003", string(records[0].Key))
}

func TestPartialFailureNacksOnlyTheFailedMessages(t *testing.T) {
	cluster, brokers := newCluster(t, kfake.SeedTopics(1, "exists"))
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddOutputYAML(fmt.Sprintf(`
label: out
kafka:
  seed_brokers: %s
  topic: '${! @topic }'
  timeout: 5s
`, brokers)))
	res, stop, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })

	var batch service.MessageBatch
	for i, topic := range []string{"exists", "missing", "exists", "missing", "exists"} {
		m := activity(i)
		m.MetaSetMut("topic", topic)
		batch = append(batch, m)
	}
	var writeErr error
	require.NoError(t, res.AccessOutput(context.Background(), "out", func(o *service.ResourceOutput) {
		writeErr = o.WriteBatch(context.Background(), batch)
	}))

	var batchErr *service.BatchError
	require.ErrorAs(t, writeErr, &batchErr)
	// Identify failed messages by content, not index, so the check holds
	// however the engine reshapes the batch.
	var failed []string
	batchErr.WalkMessages(func(_ int, m *service.Message, err error) bool {
		if err != nil {
			id, _ := m.MetaGet("activity_id")
			failed = append(failed, id)
			assert.ErrorContains(t, err, `topic "missing"`)
		}
		return true
	})
	assert.ElementsMatch(t, []string{"activity_00001", "activity_00003"}, failed)

	var keys []string
	for _, r := range consume(t, cluster, 3, "exists") {
		keys = append(keys, string(r.Key))
	}
	assert.ElementsMatch(t, []string{"activity_00000", "activity_00002", "activity_00004"}, keys)
}
