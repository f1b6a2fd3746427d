package elasticsearch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/outputs/elasticsearch"
)

// startStream runs a stream of a producer func into the given output and
// returns the producer; the stream stops when the test ends.
func startStream(t testing.TB, outputYAML string) service.MessageHandlerFunc {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	require.NoError(t, b.AddOutputYAML(outputYAML))
	produce, err := b.AddProducerFunc()
	require.NoError(t, err)
	stream, err := b.Build()
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	t.Cleanup(func() {
		require.NoError(t, stream.StopWithin(20*time.Second))
		<-done
	})
	return produce
}

// produceAll sends every message as its own transaction, all at once so the
// output batches them, and returns each message's ack result.
func produceAll(t testing.TB, produce service.MessageHandlerFunc, msgs []*service.Message) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = produce(ctx, m)
		}()
	}
	wg.Wait()
	require.NoError(t, ctx.Err(), "producers did not get every ack in time")
	return errs
}

// activity builds message i the way the anthropic_compliance input does:
// the activity JSON plus activity_id, activity_type and activity_created_at
// metadata. Even messages are created on 2026-04-10, odd ones a day later.
func activity(i int) *service.Message {
	id := fmt.Sprintf("activity_%03d", i)
	created := fmt.Sprintf("2026-04-%02dT23:%02d:10.25Z", 10+i%2, i%60)
	m := service.NewMessage(fmt.Appendf(nil,
		`{"id":%q,"created_at":%q,"type":"claude_chat_created","actor":{"type":"user_actor","email_address":"u%d@example.com"},"note":"<&>"}`,
		id, created, i))
	m.MetaSetMut("activity_id", id)
	m.MetaSetMut("activity_type", "claude_chat_created")
	m.MetaSetMut("activity_created_at", created)
	return m
}

func activities(n int) []*service.Message {
	msgs := make([]*service.Message, n)
	for i := range msgs {
		msgs[i] = activity(i)
	}
	return msgs
}
