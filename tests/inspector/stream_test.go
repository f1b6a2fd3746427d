package inspector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// server is one Benthos stream built from a whole config (with its `http`
// section), serving the Benthos HTTP server on a loopback port, or on a
// ServeMux of the test's when mux is set.
type server struct {
	base   string // http://127.0.0.1:port
	user   string // basic auth, if any
	pass   string
	mux    *http.ServeMux
	stream *service.Stream
	done   chan error
	once   sync.Once
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// startServer builds config (input, output, ...; no http section) with
// the Benthos HTTP server on a free loopback port (httpExtra is added to its
// section, e.g. basic_auth) and runs it until the test ends.
func startServer(t *testing.T, env *service.Environment, config, httpExtra string) *server {
	t.Helper()
	addr := freePort(t)
	full := fmt.Sprintf("http:\n  enabled: true\n  address: %s\n%s\nlogger:\n  level: error\n%s", addr, indent(httpExtra, "  "), config)
	sb := env.NewStreamBuilder()
	require.NoError(t, sb.SetYAML(full))
	s := run(t, sb)
	s.base = "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.base + "/ping")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	}, 30*time.Second, 20*time.Millisecond, "the Benthos HTTP server never answered")
	return s
}

// startOnMux builds the same stream with its endpoints on a ServeMux
// (StreamBuilder.SetHTTPMux), the way embedders and most tests mount them.
func startOnMux(t *testing.T, env *service.Environment, config string) *server {
	t.Helper()
	sb := env.NewStreamBuilder()
	require.NoError(t, sb.SetYAML("logger:\n  level: error\n"+config))
	mux := http.NewServeMux()
	sb.SetHTTPMux(mux)
	s := run(t, sb)
	s.mux = mux
	return s
}

func run(t *testing.T, sb *service.StreamBuilder) *server {
	t.Helper()
	stream, err := sb.Build()
	require.NoError(t, err)
	s := &server{stream: stream, done: make(chan error, 1)}
	go func() { s.done <- stream.Run(context.Background()) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t *testing.T) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, s.stream.Stop(ctx))
		<-s.done
	})
}

// get requests path with the server's credentials (if any).
func (s *server) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	require.NoError(t, err)
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	return s.do(t, req)
}

func (s *server) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	if s.mux != nil {
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// pageURL is the inspector's URL for the browser, with the credentials.
func (s *server) pageURL(query string) string {
	base := s.base
	if s.user != "" {
		base = strings.Replace(base, "http://", "http://"+s.user+":"+s.pass+"@", 1)
	}
	return base + "/compliance" + query
}

// jobReport is a report of GET /compliance/<label>/jobs.
type jobReport struct {
	JobID           string  `json:"job_id"`
	Endpoint        string  `json:"endpoint"`
	Start           string  `json:"start"`
	End             string  `json:"end"`
	From            string  `json:"window_from"`
	To              string  `json:"window_to"`
	Slices          int     `json:"slices"`
	SlicesCommitted int     `json:"slices_committed"`
	Pages           int     `json:"pages"`
	Emitted         int     `json:"activities_emitted"`
	Duplicates      int     `json:"activities_deduplicated"`
	LateCatches     int     `json:"late_catches"`
	FinalRequestID  string  `json:"final_request_id"`
	ScannedTo       string  `json:"scanned_to"`
	DurationSeconds float64 `json:"duration_seconds"`
	Outcome         string  `json:"outcome"`
	Error           string  `json:"error"`
}

// jobs returns the input's job reports, newest first; ok is false until
// the input has mounted its endpoint.
func (s *server) jobs(t *testing.T, label string) (jobs []jobReport, ok bool) {
	t.Helper()
	code, body := s.get(t, "/compliance/"+label+"/jobs")
	if code == http.StatusNotFound {
		return nil, false
	}
	var out struct {
		Jobs []jobReport `json:"jobs"`
	}
	assert.Equal(t, http.StatusOK, code, body)
	assert.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out.Jobs, code == http.StatusOK
}

// waitJobs waits until input label has reported n jobs and returns them,
// newest first.
func (s *server) waitJobs(t *testing.T, label string, n int) []jobReport {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		jobs, ok := s.jobs(t, label)
		if ok && len(jobs) >= n {
			return jobs
		}
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf("waiting for %d job reports of %s: have %d", n, label, len(jobs)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func indent(s, by string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n")
}
