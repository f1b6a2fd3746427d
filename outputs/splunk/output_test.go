package splunk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/outputs/splunk"
)

const testToken = "11111111-2222-3333-4444-555555555555"

// hecOutput is a splunk_hec output config for url with small batches; extra
// is added under the output (each line indented by two spaces).
func hecOutput(url, extra string) string {
	return fmt.Sprintf(`
splunk_hec:
  url: %q
  token: %q
  batching:
    count: 10
    period: 20ms
%s`, url, testToken, extra)
}

func TestEveryEventArrivesInItsEnvelope(t *testing.T) {
	fake := &fakeHEC{token: testToken}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, hecOutput(srv.URL+"/services/collector/event",
		"  index: anthropic_audit\n  source: anthropic:compliance-api\n  host: collector-1\n"))

	msgs := activities(30)
	for i, err := range produceAll(t, produce, msgs) {
		require.NoError(t, err, "message %d", i)
	}

	envs, _, _, violations := fake.snapshot()
	require.Empty(t, violations)
	require.Len(t, envs, len(msgs))
	byEvent := map[string]hecEnvelope{}
	for _, e := range envs {
		byEvent[string(e.Event)] = e
	}
	for i, m := range msgs {
		raw, err := m.AsBytes()
		require.NoError(t, err)
		e, ok := byEvent[string(raw)]
		require.True(t, ok, "message %d must arrive as the event, byte for byte", i)
		require.NotNil(t, e.Time)
		assert.Equal(t, activityEpoch(i), e.Time.String(), "time of message %d", i)
		assert.Equal(t, "anthropic:compliance:activity", deref(e.Sourcetype))
		assert.Equal(t, "anthropic_audit", deref(e.Index))
		assert.Equal(t, "anthropic:compliance-api", deref(e.Source))
		assert.Equal(t, "collector-1", deref(e.Host))
	}
}

func TestEventTimeComesFromMetadataThenTheEventElseIsLeftOut(t *testing.T) {
	fake := &fakeHEC{token: testToken}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, hecOutput(srv.URL, ""))

	tests := []struct {
		name, meta, body string
		want             string // "" = no time field
	}{
		{"metadata wins", "2026-04-10T08:09:10Z", `{"n":1,"created_at":"2001-01-01T00:00:00Z"}`, "1775808550.000"},
		{"fractional seconds keep milliseconds", "2026-04-10T08:09:10.1239+02:00", `{"n":2}`, "1775801350.123"},
		{"epoch seconds metadata", "1775808550.5", `{"n":3}`, "1775808550.500"},
		{"event created_at without metadata", "", `{"n":4,"created_at":"2026-04-10T08:09:10.250Z"}`, "1775808550.250"},
		{"neither", "", `{"n":5}`, ""},
		{"unparseable", "yesterday", `{"n":6}`, ""},
		{"not JSON and no metadata", "", `plain text 7`, ""},
	}
	msgs := make([]*service.Message, len(tests))
	for i, tt := range tests {
		msgs[i] = service.NewMessage([]byte(tt.body))
		if tt.meta != "" {
			msgs[i].MetaSetMut("activity_created_at", tt.meta)
		}
	}
	for i, err := range produceAll(t, produce, msgs) {
		require.NoError(t, err, "message %d", i)
	}

	envs, _, _, violations := fake.snapshot()
	require.Empty(t, violations)
	byEvent := map[string]hecEnvelope{}
	for _, e := range envs {
		byEvent[string(e.Event)] = e
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := tt.body
			if !strings.HasPrefix(event, "{") {
				event = fmt.Sprintf("%q", event) // non-JSON travels as a JSON string
			}
			e, ok := byEvent[event]
			require.True(t, ok, "event %s not received", event)
			if tt.want == "" {
				assert.Nil(t, e.Time)
				return
			}
			require.NotNil(t, e.Time)
			assert.Equal(t, tt.want, e.Time.String())
		})
	}
}

func TestGzipCompressesEveryRequest(t *testing.T) {
	fake := &fakeHEC{token: testToken}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, hecOutput(srv.URL, "  gzip: true\n"))

	for i, err := range produceAll(t, produce, activities(20)) {
		require.NoError(t, err, "message %d", i)
	}
	envs, requests, gzipped, violations := fake.snapshot()
	require.Empty(t, violations)
	assert.Len(t, envs, 20)
	assert.Equal(t, requests, gzipped)
}

func TestRefusedRequestsNackEveryMessageOfTheBatch(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"server busy", 503, `{"text":"Server is busy","code":9}`, "status 503: code 9: Server is busy"},
		{"invalid data format", 400, `{"text":"Invalid data format","code":6,"invalid-event-number":3}`, "code 6: Invalid data format (event 3 of the request)"},
		{"incorrect index", 400, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`, "code 7: Incorrect index"},
		{"success status with an error code", 200, `{"text":"Data channel is missing","code":10}`, "status 200: code 10"},
		{"proxy page", 502, `<html>Bad Gateway</html>`, `status 502: unexpected response "<html>Bad Gateway</html>"`},
		{"empty 200", 200, ``, "status 200: unexpected response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeHEC{token: testToken}
			fake.refuseWith(tt.status, tt.body)
			srv := httptest.NewServer(fake)
			defer srv.Close()
			produce := startStream(t, hecOutput(srv.URL, ""))

			for i, err := range produceAll(t, produce, activities(10)) {
				require.Error(t, err, "message %d", i)
				assert.Contains(t, err.Error(), tt.want)
				assert.NotContains(t, err.Error(), testToken)
			}
		})
	}
}

func TestWrongTokenNacksWithoutLeakingIt(t *testing.T) {
	fake := &fakeHEC{token: "the-right-token"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, hecOutput(srv.URL, ""))

	for i, err := range produceAll(t, produce, activities(10)) {
		require.Error(t, err, "message %d", i)
		assert.Contains(t, err.Error(), "status 403: code 4: Invalid token")
		assert.NotContains(t, err.Error(), testToken)
	}
}

func TestUnreachableHECNacksEverything(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	produce := startStream(t, hecOutput(dead.URL, ""))

	for i, err := range produceAll(t, produce, activities(5)) {
		require.ErrorContains(t, err, "sending to HEC", "message %d", i)
	}
}

func TestMessagesThatCannotBeEventsAreNackedAlone(t *testing.T) {
	fake := &fakeHEC{token: testToken}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, hecOutput(srv.URL, "  index: '${! @idx.not_null() }'\n"))

	good := service.NewMessage([]byte(`{"n":1}`))
	good.MetaSetMut("idx", "main")
	noIndex := service.NewMessage([]byte(`{"n":2}`))
	blank := service.NewMessage([]byte("  "))
	blank.MetaSetMut("idx", "main")
	null := service.NewMessage([]byte("null"))
	null.MetaSetMut("idx", "main")

	errs := produceAll(t, produce, []*service.Message{good, noIndex, blank, null})

	require.NoError(t, errs[0])
	require.ErrorContains(t, errs[1], "index:")
	require.ErrorContains(t, errs[2], "blank")
	require.ErrorContains(t, errs[3], "blank")
	envs, _, _, violations := fake.snapshot()
	require.Empty(t, violations)
	require.Len(t, envs, 1)
	assert.Equal(t, `{"n":1}`, string(envs[0].Event))
	assert.Equal(t, "main", deref(envs[0].Index))
}

func TestInvalidConfigsAreRefusedWithTheReason(t *testing.T) {
	tests := []struct{ name, conf, want string }{
		{"missing token", "url: http://localhost:8088\n", "token"},
		{"empty token", "url: http://localhost:8088\ntoken: ' '\n", "token: must not be empty"},
		{"credentials in url", "url: 'https://admin:changeme@splunk:8088'\ntoken: t\n", "credentials in the URL are not allowed"},
		{"unparsable url with credentials", "url: 'https://admin:changeme@splunk:port'\ntoken: t\n", "invalid port"},
		{"not http", "url: 'splunk:8088'\ntoken: t\n", "scheme must be http or https"},
		{"zero timeout", "url: http://localhost:8088\ntoken: t\ntimeout: 0s\n", "timeout: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runConfig(t, "splunk_hec:\n"+indent(tt.conf))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "changeme")
		})
	}
}

func TestURLWithoutPathGetsTheEventEndpoint(t *testing.T) {
	fake := &fakeHEC{token: testToken}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, hecOutput(srv.URL, ""))

	for i, err := range produceAll(t, produce, activities(3)) {
		require.NoError(t, err, "message %d", i)
	}
	_, _, _, violations := fake.snapshot()
	require.Empty(t, violations)
}

// activityEpoch is the HEC time of activity(i).
func activityEpoch(i int) string {
	t := time.Date(2026, 4, 10+i%2, 23, i%60, 10, 250_000_000, time.UTC)
	return fmt.Sprintf("%d.250", t.Unix())
}

func deref(s *string) string {
	if s == nil {
		return "<absent>"
	}
	return *s
}

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

// runConfig builds and runs a stream into outputYAML and returns the error
// that stopped it: a config error stops it at once.
func runConfig(t *testing.T, outputYAML string) error {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	if err := b.AddOutputYAML(outputYAML); err != nil {
		return err
	}
	_, err := b.AddProducerFunc()
	require.NoError(t, err)
	stream, err := b.Build()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = stream.Run(ctx)
	require.NoError(t, ctx.Err(), "the stream should have refused the config at once")
	return err
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

// activity builds message i the way the anthropic_compliance input does.
func activity(i int) *service.Message {
	id := fmt.Sprintf("activity_%03d", i)
	created := fmt.Sprintf("2026-04-%02dT23:%02d:10.25Z", 10+i%2, i%60)
	m := service.NewMessage(fmt.Appendf(nil,
		`{"id":%q,"created_at":%q,"type":"sso_login_succeeded","actor":{"type":"user_actor","email_address":"u%d@example.com"},"note":"<&>"}`,
		id, created, i))
	m.MetaSetMut("activity_id", id)
	m.MetaSetMut("activity_type", "sso_login_succeeded")
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

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
