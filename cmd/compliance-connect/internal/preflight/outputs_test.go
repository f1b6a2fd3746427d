package preflight_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
)

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// fakeES answers GET / as Elasticsearch 8 does, to the API key "es-key".
func fakeES(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "ApiKey es-key" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"type":"security_exception"},"status":401}`)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != "/" {
			t.Errorf("the check sent %s %s: it must only read GET /", r.Method, r.URL.Path)
		}
		_, _ = io.WriteString(w, `{"name":"n1","cluster_name":"siem","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeHEC is a Splunk HTTP Event Collector with the token "hec-token"; it
// fails the test if an event reaches it.
func fakeHEC(t *testing.T, healthy bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/services/collector/health":
			if !healthy {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"text":"HEC is unhealthy, queues are full","code":18}`)
				return
			}
			_, _ = io.WriteString(w, `{"text":"HEC is healthy","code":17}`)
		case "/services/collector/event":
			if r.Header.Get("Authorization") != "Splunk hec-token" {
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, `{"text":"Invalid token","code":4}`)
				return
			}
			if body, _ := io.ReadAll(r.Body); len(body) > 0 {
				t.Errorf("the check sent an event: %q", body)
			}
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"text":"No data","code":5}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func fakeS3(t *testing.T, buckets ...string) string {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		require.NoError(t, backend.CreateBucket(b))
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

func kafkaCluster(t *testing.T, topics ...string) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(3, topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()[0]
}

func s3Output(endpoint, bucket string) string {
	return fmt.Sprintf(`aws_s3:
  bucket: %s
  region: us-east-1
  endpoint: %s
  force_path_style_urls: true
  credentials: { id: test-id, secret: test-secret-value }`, bucket, endpoint)
}

func TestOutputCheck(t *testing.T) {
	tests := []struct {
		name   string
		output func(t *testing.T) string
		where  string
		want   expect
	}{
		{name: "a kafka cluster with the topic passes", where: "output.kafka",
			output: func(t *testing.T) string {
				return "kafka: { seed_brokers: [ " + kafkaCluster(t, "activities") + " ], topic: activities }"
			},
			want: expect{status: preflight.OK, contains: []string{"1 broker(s)", `topic "activities" has 3 partition(s)`}}},
		{name: "a kafka topic that does not exist warns", where: "output.kafka",
			output: func(t *testing.T) string {
				return "kafka: { seed_brokers: [ " + kafkaCluster(t) + " ], topic: activities }"
			},
			want: expect{status: preflight.Warn, contains: []string{`topic "activities" does not exist`}, fix: "create the topic"}},
		{name: "kafka brokers that do not answer fail", where: "output.kafka",
			output: func(t *testing.T) string {
				return "kafka: { seed_brokers: [ " + closedAddr(t) + " ], topic: activities }"
			},
			want: expect{status: preflight.Fail, contains: []string{"answered a metadata request"}, fix: "seed_brokers"}},
		{name: "an Elasticsearch cluster that accepts the credentials passes", where: "output.elasticsearch",
			output: func(t *testing.T) string {
				return "elasticsearch: { urls: [ " + fakeES(t) + " ], index: audit, api_key: es-key }"
			},
			want: expect{status: preflight.OK, contains: []string{`is Elasticsearch 8.15.0 (cluster "siem")`}}},
		{name: "Elasticsearch credentials refused fail", where: "output.elasticsearch",
			output: func(t *testing.T) string {
				return "elasticsearch: { urls: [ " + fakeES(t) + " ], index: audit, api_key: wrong-key }"
			},
			want: expect{status: preflight.Fail, contains: []string{"refused the credentials (401)"}, fix: "api_key"}},
		{name: "an Elasticsearch cluster that does not answer fails", where: "output.elasticsearch",
			output: func(t *testing.T) string {
				return "elasticsearch: { urls: [ http://" + closedAddr(t) + " ], index: audit }"
			},
			want: expect{status: preflight.Fail, contains: []string{"connection refused"}, fix: "urls"}},
		{name: "an S3 bucket that exists passes", where: "output.aws_s3",
			output: func(t *testing.T) string { return s3Output(fakeS3(t, "archive"), "archive") },
			want:   expect{status: preflight.OK, contains: []string{`bucket "archive" exists`}}},
		{name: "an S3 bucket that does not exist fails", where: "output.aws_s3",
			output: func(t *testing.T) string { return s3Output(fakeS3(t, "other"), "archive") },
			want:   expect{status: preflight.Fail, contains: []string{`bucket "archive" does not exist`}, fix: "create the bucket"}},
		{name: "a healthy HEC with a valid token passes, and no event is sent", where: "output.splunk_hec",
			output: func(t *testing.T) string { return "splunk_hec: { url: " + fakeHEC(t, true) + ", token: hec-token }" },
			want:   expect{status: preflight.OK, contains: []string{"is healthy", "the token is accepted"}}},
		{name: "a HEC token refused fails", where: "output.splunk_hec",
			output: func(t *testing.T) string { return "splunk_hec: { url: " + fakeHEC(t, true) + ", token: wrong-token }" },
			want:   expect{status: preflight.Fail, contains: []string{`the token is refused: "Invalid token" (code 4)`}, fix: "HEC token"}},
		{name: "an unhealthy HEC fails", where: "output.splunk_hec",
			output: func(t *testing.T) string { return "splunk_hec: { url: " + fakeHEC(t, false) + ", token: hec-token }" },
			want:   expect{status: preflight.Fail, contains: []string{"503", "queues are full"}}},
		{name: "a file output's writable directory passes", where: "output.file",
			output: func(t *testing.T) string { return "file: { path: " + t.TempDir() + "/acts.ndjson, codec: lines }" },
			want:   expect{status: preflight.OK, contains: []string{"is writable"}}},
		{name: "a file output under a regular file fails", where: "output.file",
			output: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "f")
				require.NoError(t, os.WriteFile(f, nil, 0o600))
				return "file: { path: '" + f + "/${! @activity_type }.ndjson', codec: lines }"
			},
			want: expect{status: preflight.Fail, contains: []string{"is not a directory"}}},
		{name: "outputs inside fallback and switch are each checked", where: "output.fallback[1].switch.cases[0].output.elasticsearch",
			output: func(t *testing.T) string {
				return fmt.Sprintf(`fallback:
  - drop: {}
  - switch:
      cases:
        - output:
            elasticsearch: { urls: [ %s ], index: audit, api_key: es-key }`, fakeES(t))
			},
			want: expect{status: preflight.OK, contains: []string{"Elasticsearch 8.15.0"}}},
		{name: "a pipeline with no output that can tell is skipped", where: "output",
			output: func(*testing.T) string { return "stdout: {}" },
			want:   expect{status: preflight.Skip, contains: []string{"nothing to reach"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1)
			r.output = tt.output(t)
			rep := r.check()
			tt.want.assert(t, result(t, rep, preflight.CheckOutput, tt.where))
			for _, secret := range []string{"hec-token", "es-key", "test-secret-value"} {
				assertNoSecret(t, rep, secret)
			}
		})
	}
}
