package elasticsearch_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// esOutput is an elasticsearch output config for url writing daily indices,
// with fast retries and small batches; extra is added under the output (each
// line indented by two spaces).
func esOutput(url, extra string) string {
	return fmt.Sprintf(`
elasticsearch:
  urls: [ %q ]
  index: 'audit-${! @activity_created_at.ts_format("2006.01.02", "UTC") }'
  item_retry_backoff: 1ms
  batching:
    count: 10
    period: 20ms
%s`, url, extra)
}

func dailyIndex(i int) string { return fmt.Sprintf("audit-2026.04.%02d", 10+i%2) }

func TestEveryMessageIsWrittenToItsIndexWithItsID(t *testing.T) {
	fake := newFakeBulk()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, "  pipeline: anthropic-ecs\n"))

	msgs := activities(60)
	for i, err := range produceAll(t, produce, msgs) {
		require.NoError(t, err, "message %d", i)
	}

	docs, attempts, violations := fake.snapshot()
	require.Empty(t, violations)
	require.Len(t, docs, len(msgs))
	for i, m := range msgs {
		id := fmt.Sprintf("activity_%03d", i)
		d, ok := docs[dailyIndex(i)+"/"+id]
		require.True(t, ok, "document %s not in %s", id, dailyIndex(i))
		want, err := m.AsBytes()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(d.Source), "source of %s must be the message, byte for byte", id)
		assert.Equal(t, "index", d.Op)
		assert.Equal(t, "anthropic-ecs", d.Pipeline)
		assert.Equal(t, 1, attempts[id], "%s sent once", id)
	}
}

func TestPerItemFailuresNackExactlyTheFailedMessages(t *testing.T) {
	fake := newFakeBulk()
	fake.failItem("activity_003", http.StatusBadRequest)
	fake.failItem("activity_005", http.StatusTooManyRequests, http.StatusTooManyRequests)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, "  max_item_retries: 3\n"))

	msgs := activities(20)
	errs := produceAll(t, produce, msgs)

	docs, attempts, violations := fake.snapshot()
	require.Empty(t, violations)
	for i, err := range errs {
		id := fmt.Sprintf("activity_%03d", i)
		if i == 3 {
			require.Error(t, err, "the 400 item must be nacked")
			assert.Contains(t, err.Error(), "mapper_parsing_exception")
			assert.Contains(t, err.Error(), `"activity_003"`)
			assert.NotContains(t, docs, dailyIndex(i)+"/"+id)
			continue
		}
		require.NoError(t, err, "message %d was written and must be acked", i)
		assert.Contains(t, docs, dailyIndex(i)+"/"+id)
	}
	assert.Equal(t, 3, attempts["activity_005"], "429 twice, then written on the third attempt")
	for i := range msgs {
		if id := fmt.Sprintf("activity_%03d", i); i != 5 {
			assert.Equal(t, 1, attempts[id], "only 429 items are sent again, not %s", id)
		}
	}
}

func TestItemsStillRejectedWith429AfterMaxItemRetriesAreNacked(t *testing.T) {
	fake := newFakeBulk()
	fake.failItem("activity_007", 429, 429, 429, 429, 429)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, "  max_item_retries: 2\n"))

	errs := produceAll(t, produce, activities(10))

	for i, err := range errs {
		if i == 7 {
			require.Error(t, err)
			assert.Contains(t, err.Error(), "status 429")
			assert.Contains(t, err.Error(), "after 2 retries")
			continue
		}
		require.NoError(t, err, "message %d", i)
	}
	_, attempts, _ := fake.snapshot()
	assert.Equal(t, 3, attempts["activity_007"], "first attempt plus 2 retries")
}

func TestWholeRequestFailureNacksEveryMessage(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusRequestEntityTooLarge} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			fake := newFakeBulk()
			fake.failRequestsWith(status)
			srv := httptest.NewServer(fake)
			defer srv.Close()
			produce := startStream(t, esOutput(srv.URL, ""))

			for i, err := range produceAll(t, produce, activities(10)) {
				require.Error(t, err, "message %d", i)
				assert.Contains(t, err.Error(), fmt.Sprintf("status %d", status))
				assert.Contains(t, err.Error(), "fake_request_failure")
			}
			docs, _, _ := fake.snapshot()
			assert.Empty(t, docs)
		})
	}
}

func TestAuthorizationHeaderFollowsTheConfiguredCredentials(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, conf, wantAuth string
	}{
		{"none", "", ""},
		{"basic auth", "  basic_auth:\n    username: writer\n    password: s3cret-pass\n", basic("writer:s3cret-pass")},
		{"encoded api key", "  api_key: QUJDOkRFRg==\n", "ApiKey QUJDOkRFRg=="},
		{"api key with scheme prefix", "  api_key: 'ApiKey QUJDOkRFRg=='\n", "ApiKey QUJDOkRFRg=="},
		{"id:key api key is encoded", "  api_key: 'ABC:DEF'\n", "ApiKey QUJDOkRFRg=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBulk()
			fake.wantAuth = tt.wantAuth
			srv := httptest.NewServer(fake)
			defer srv.Close()
			produce := startStream(t, esOutput(srv.URL, tt.conf))

			for i, err := range produceAll(t, produce, activities(10)) {
				require.NoError(t, err, "message %d", i)
			}
		})
	}
}

func TestRejectedCredentialsNackEverythingWithoutLeakingThem(t *testing.T) {
	fake := newFakeBulk()
	fake.wantAuth = "ApiKey the-right-one"
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, "  basic_auth:\n    username: writer\n    password: s3cret-pass\n"))

	for i, err := range produceAll(t, produce, activities(10)) {
		require.Error(t, err, "message %d", i)
		assert.Contains(t, err.Error(), "status 401")
		assert.Contains(t, err.Error(), "security_exception")
		assert.NotContains(t, err.Error(), "s3cret-pass")
		assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte("writer:s3cret-pass")))
	}
}

func TestCreateActionCountsAnExistingIDAsDelivered(t *testing.T) {
	fake := newFakeBulk()
	fake.put(fakeDoc{Op: "create", Index: dailyIndex(1), ID: "activity_001", Source: []byte(`{"earlier":"delivery"}`)})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, "  action: create\n"))

	for i, err := range produceAll(t, produce, activities(10)) {
		require.NoError(t, err, "message %d", i)
	}
	docs, _, _ := fake.snapshot()
	assert.Len(t, docs, 10)
	assert.Equal(t, `{"earlier":"delivery"}`, string(docs[dailyIndex(1)+"/activity_001"].Source), "create never overwrites")
	assert.Equal(t, "create", docs[dailyIndex(2)+"/activity_002"].Op)
}

func TestConflictWithIndexActionIsNacked(t *testing.T) {
	fake := newFakeBulk()
	fake.failItem("activity_004", http.StatusConflict)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, ""))

	for i, err := range produceAll(t, produce, activities(10)) {
		if i == 4 {
			require.Error(t, err)
			assert.Contains(t, err.Error(), "status 409")
			continue
		}
		require.NoError(t, err, "message %d", i)
	}
}

func TestMessagesThatCannotBeDocumentsAreNackedAlone(t *testing.T) {
	fake := newFakeBulk()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, `
elasticsearch:
  urls: [ `+srv.URL+` ]
  index: '${! @target_index | "" }'
  batching:
    count: 4
    period: 20ms
`)
	good := service.NewMessage([]byte(`{"id":"a"}`))
	good.MetaSetMut("target_index", "idx")
	good.MetaSetMut("activity_id", "a")
	multiLine := service.NewMessage([]byte("{\n  \"id\": \"b\",\n  \"text\": \"x y\"\n}\n"))
	multiLine.MetaSetMut("target_index", "idx")
	notJSON := service.NewMessage([]byte("plain text"))
	notJSON.MetaSetMut("target_index", "idx")
	noIndex := service.NewMessage([]byte(`{"id":"d"}`))

	errs := produceAll(t, produce, []*service.Message{good, multiLine, notJSON, noIndex})

	require.NoError(t, errs[0])
	require.NoError(t, errs[1], "JSON over several lines is compacted, not refused")
	require.ErrorContains(t, errs[2], "not valid JSON")
	require.ErrorContains(t, errs[3], "index: evaluated to an empty string")
	docs, _, violations := fake.snapshot()
	require.Empty(t, violations)
	assert.Equal(t, `{"id":"a"}`, string(docs["idx/a"].Source))
	assert.Equal(t, `{"id":"b","text":"x y"}`, string(docs["idx/b"].Source), "id falls back to the message's id field")
	assert.Len(t, docs, 2)
}

func TestCustomHeadersAreSentWithEveryRequest(t *testing.T) {
	fake := newFakeBulk()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	produce := startStream(t, esOutput(srv.URL, "  headers:\n    X-Opaque-Id: compliance-connect\n"))

	for i, err := range produceAll(t, produce, activities(10)) {
		require.NoError(t, err, "message %d", i)
	}
	hs := fake.lastHeaders()
	require.NotEmpty(t, hs)
	for _, h := range hs {
		assert.Equal(t, "compliance-connect", h.Get("X-Opaque-Id"))
	}
}

func TestTLSToggleControlsCertificateChecks(t *testing.T) {
	fake := newFakeBulk()
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()

	t.Run("skip_cert_verify accepts the test certificate", func(t *testing.T) {
		produce := startStream(t, esOutput(srv.URL, "  tls:\n    enabled: true\n    skip_cert_verify: true\n"))
		for i, err := range produceAll(t, produce, activities(10)) {
			require.NoError(t, err, "message %d", i)
		}
	})
	t.Run("an unknown authority is a whole-request failure", func(t *testing.T) {
		produce := startStream(t, esOutput(srv.URL, ""))
		for i, err := range produceAll(t, produce, activities(10)) {
			require.Error(t, err, "message %d", i)
			assert.Contains(t, err.Error(), "certificate")
		}
	})
}

func TestTransportErrorOnOneURLFailsOverToTheNext(t *testing.T) {
	fake := newFakeBulk()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connections to it are refused

	produce := startStream(t, fmt.Sprintf(`
elasticsearch:
  urls: [ %q, %q ]
  index: idx
  batching:
    count: 1
`, deadURL, srv.URL))

	for i, err := range produceAll(t, produce, activities(6)) {
		require.NoError(t, err, "message %d", i)
	}
	docs, _, _ := fake.snapshot()
	assert.Len(t, docs, 6)
}

func TestInvalidConfigsAreRefusedWithTheReason(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"no urls", "urls: []\nindex: x\n", "urls: at least one URL is required"},
		{"credentials in url", "urls: [ 'http://u:p@localhost:9200' ]\nindex: x\n", "credentials in the URL are not allowed"},
		{"not http", "urls: [ 'ftp://localhost' ]\nindex: x\n", "scheme must be http or https"},
		{"basic auth and api key", "urls: [ 'http://localhost:9200' ]\nindex: x\napi_key: k\nbasic_auth:\n  username: u\n  password: p\n", "set one, not both"},
		{"password without user", "urls: [ 'http://localhost:9200' ]\nindex: x\nbasic_auth:\n  password: p\n", "basic_auth.username: required"},
		{"negative retries", "urls: [ 'http://localhost:9200' ]\nindex: x\nmax_item_retries: -1\n", "max_item_retries must be 0 or more"},
		{"unknown action", "urls: [ 'http://localhost:9200' ]\nindex: x\naction: upsert\n", "upsert"},
		{"missing index", "urls: [ 'http://localhost:9200' ]\n", "index"},
		{"bad interpolation", "urls: [ 'http://localhost:9200' ]\nindex: '${! this.( }'\n", "expected query"},
		{"zero timeout", "urls: [ 'http://localhost:9200' ]\nindex: x\ntimeout: 0s\n", "timeout: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runConfig(t, "elasticsearch:\n"+indent(tt.conf))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "u:p@")
		})
	}
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

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
