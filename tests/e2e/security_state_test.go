package e2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// The attacks of issue 12 §1 on the state endpoints, each performed and
// shown refused with the checkpoint left as it was.

// securityRig runs the state rig's input with state writes as given (extra
// lines under anthropic_compliance) and waits for its first full job.
func securityRig(t *testing.T, extra string, ro rigOptions) (*rig, *stream) {
	t.Helper()
	data := spread("a", 20, at("2026-11-25T11:00:00Z"), 50*time.Minute)
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, ro)
	st := r.start(r.config("  min_slice: 1h\n"+extra+`
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "2026-11-25T11:00:00Z"
`), streamOptions{})
	r.waitJobTo("2026-11-25T11:58:00Z")
	return r, st
}

// request is an HTTP request to the stream's mux, starting from what a local
// operator sends (loopback, Host localhost, JSON) and changed by edits.
func request(method, target, body string, edits ...func(*http.Request)) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr, req.Host = "127.0.0.1:50000", "localhost:4195"
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, e := range edits {
		e(req)
	}
	return req
}

const stateWritesOn = "  admin:\n    state_writes: true\n"

// rewindTo1970 is the attack of the issue: a full re-send of the history.
var rewindTo1970 = statePath + "?rewind_to=" + url.QueryEscape("1970-01-01T00:00:00Z")

func TestStateWritesAreOffUnlessTheOperatorEnablesThem(t *testing.T) {
	r, st := securityRig(t, "", rigOptions{})
	before := r.raw(stateKey)
	for _, req := range []*http.Request{
		request(http.MethodPost, rewindTo1970, ""),
		request(http.MethodDelete, statePath, ""),
		request(http.MethodPut, statePath, before),
	} {
		code, body := st.serve(req)
		assert.Equal(t, http.StatusForbidden, code, "%s: %s", req.Method, body)
		assert.Contains(t, body, "admin.state_writes: true", req.Method)
		assert.Contains(t, body, "compliance-connect state", req.Method)
	}
	assert.Equal(t, before, r.raw(stateKey), "a refused write changed the checkpoint")
	code, body := st.serve(request(http.MethodGet, statePath, ""))
	assert.Equal(t, http.StatusOK, code, "reads stay: %s", body)
}

// Writes from another address are refused when the build cannot tell how
// the HTTP server listens (a custom build without WithHTTPServer).
func TestStateWritesFromTheNetworkAreRefusedWhenTheServerIsUnknown(t *testing.T) {
	r, st := securityRig(t, stateWritesOn, rigOptions{})
	before := r.raw(stateKey)
	code, body := st.serve(request(http.MethodPost, rewindTo1970, "", func(req *http.Request) {
		req.RemoteAddr, req.Host = "192.0.2.7:41000", "192.0.2.1:4195"
	}))
	assert.Equal(t, http.StatusForbidden, code, body)
	assert.Contains(t, body, "loopback")
	assert.Equal(t, before, r.raw(stateKey))
}

// With the HTTP server known (the binary passes it), state writes on a
// server that listens beyond loopback without basic auth refuse to start;
// loopback or basic auth are accepted.
func TestStateWritesOnAServerOpenToTheNetworkRefuseToStart(t *testing.T) {
	tests := []struct {
		name    string
		server  compliance.HTTPServer
		refused bool
	}{
		{"0.0.0.0 without auth", compliance.HTTPServer{Enabled: true, Address: "0.0.0.0:4195"}, true},
		{"all interfaces (:4195) without auth", compliance.HTTPServer{Enabled: true, Address: ":4195"}, true},
		{"a LAN address without auth", compliance.HTTPServer{Enabled: true, Address: "10.1.2.3:4195"}, true},
		{"loopback", compliance.HTTPServer{Enabled: true, Address: "127.0.0.1:4195"}, false},
		{"IPv6 loopback", compliance.HTTPServer{Enabled: true, Address: "[::1]:4195"}, false},
		{"0.0.0.0 with basic auth", compliance.HTTPServer{Enabled: true, Address: "0.0.0.0:4195", BasicAuth: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			server := compliance.WithHTTPServer(func() (compliance.HTTPServer, bool) { return tc.server, true })
			data := spread("a", 3, at("2026-11-25T11:00:00Z"), 50*time.Minute)
			r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data}, rigOptions{register: []compliance.Option{server}})
			st := r.start(r.config("  min_slice: 1h\n"+everyJobOverTheHour), streamOptions{}) // state_writes: true
			if !tc.refused {
				r.waitJobTo("2026-11-25T11:58:00Z")
				code, body := st.serve(request(http.MethodPost, statePath+"?rewind_to="+url.QueryEscape("2026-11-25T11:30:00Z"), ""))
				assert.Equal(t, http.StatusOK, code, body)
				return
			}
			err := st.waitEnded()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "admin.state_writes")
			assert.Contains(t, err.Error(), tc.server.Address)
			assert.Contains(t, err.Error(), "http.basic_auth")
			assert.Empty(t, r.sink.delivered())
		})
	}
}

// A web page the operator visits can send a simple cross-origin POST (no
// preflight): form or text bodies, no custom header. Such requests, and
// any whose Origin or Sec-Fetch-Site shows another site, are refused.
func TestCrossSiteStateWritesAreRefused(t *testing.T) {
	r, st := securityRig(t, stateWritesOn, rigOptions{})
	before := r.raw(stateKey)
	tests := []struct {
		name   string
		edit   func(*http.Request)
		status int
		want   string
	}{
		{"no content type (a form or fetch with no-cors)", func(req *http.Request) { req.Header.Del("Content-Type") }, http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		{"a form post", func(req *http.Request) { req.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, http.StatusUnsupportedMediaType, "application/json"},
		{"text/plain", func(req *http.Request) { req.Header.Set("Content-Type", "text/plain") }, http.StatusUnsupportedMediaType, "application/json"},
		{"another origin", func(req *http.Request) { req.Header.Set("Origin", "https://evil.example") }, http.StatusForbidden, "Origin"},
		{"an opaque origin", func(req *http.Request) { req.Header.Set("Origin", "null") }, http.StatusForbidden, "Origin"},
		{"cross-site fetch metadata", func(req *http.Request) { req.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden, "cross-site"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := st.serve(request(http.MethodPost, rewindTo1970+"&force=true", "", tc.edit))
			assert.Equal(t, tc.status, code, body)
			assert.Contains(t, body, tc.want)
			assert.Equal(t, before, r.raw(stateKey), "the checkpoint changed")
		})
	}
	code, body := st.serve(request(http.MethodPost, statePath+"?rewind_to="+url.QueryEscape("2026-11-25T11:30:00Z"), "", func(req *http.Request) {
		req.Header.Set("Origin", "http://localhost:4195")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}))
	assert.Equal(t, http.StatusOK, code, "a same-origin JSON request is a legitimate operator's: %s", body)
}

// DNS rebinding: a page on evil.example whose name now resolves to this host
// talks to the server "same-origin", with Host: evil.example. Reads and
// writes are refused unless the name is an IP, localhost or allowed.
func TestRequestsAddressedToAnUnknownHostNameAreRefused(t *testing.T) {
	r, st := securityRig(t, stateWritesOn+"    allowed_hosts: [collector.corp.example]\n", rigOptions{})
	before := r.raw(stateKey)
	rebound := func(req *http.Request) { req.Host = "evil.example:4195" }
	for _, req := range []*http.Request{
		request(http.MethodGet, statePath, "", rebound),
		request(http.MethodGet, "/compliance/e2e/jobs", "", rebound),
		request(http.MethodPost, rewindTo1970+"&force=true", "", rebound),
		request(http.MethodDelete, statePath, "", rebound),
	} {
		code, body := st.serve(req)
		assert.Equal(t, http.StatusForbidden, code, "%s %s: %s", req.Method, req.URL, body)
		assert.Contains(t, body, "evil.example")
		assert.Contains(t, body, "DNS rebinding")
	}
	assert.Equal(t, before, r.raw(stateKey))
	for _, host := range []string{"collector.corp.example:4195", "127.0.0.1:4195", "[::1]:4195", "localhost"} {
		code, body := st.serve(request(http.MethodGet, statePath, "", func(req *http.Request) { req.Host = host }))
		assert.Equal(t, http.StatusOK, code, "%s: %s", host, body)
	}
}

// A huge PUT once raised RSS to 2.75 GB: bodies are capped.
func TestAnOversizedStateBodyIsRefusedWithoutReadingIt(t *testing.T) {
	r, st := securityRig(t, stateWritesOn, rigOptions{})
	before := r.raw(stateKey)
	huge := io.MultiReader(strings.NewReader(`{"rev":1,"pad":"`), &zeros{n: 64 << 20})
	req := request(http.MethodPut, statePath, "")
	req.Body = io.NopCloser(huge)
	code, body := st.serve(req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code, body)
	assert.Contains(t, body, "compliance-connect state set")
	assert.Equal(t, before, r.raw(stateKey))
}

// zeros reads n bytes of '0'.
type zeros struct{ n int }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), z.n)
	for i := range p[:k] {
		p[i] = '0'
	}
	z.n -= k
	return k, nil
}

// State writes are serialised: while one is reading its body, another is
// refused at once (no second body held in memory, no queue to fill).
func TestStateWritesAreSerialised(t *testing.T) {
	r, st := securityRig(t, stateWritesOn, rigOptions{})
	before := r.raw(stateKey)
	pr, pw := io.Pipe()
	first := request(http.MethodPut, statePath, "")
	first.Body = pr
	var wg sync.WaitGroup
	var firstCode int
	wg.Add(1)
	go func() {
		defer wg.Done()
		firstCode, _ = st.serve(first)
	}()
	// The write returns once the handler read it: the first PUT holds the slot.
	_, err := pw.Write([]byte(`{"version":`))
	require.NoError(t, err)

	code, body := st.serve(request(http.MethodPut, statePath, before))
	assert.Equal(t, http.StatusConflict, code, body)
	assert.Contains(t, body, "another state write is in progress")

	require.NoError(t, pw.Close())
	wg.Wait()
	assert.Equal(t, http.StatusBadRequest, firstCode, "the first PUT's document was cut short")
	code, body = st.serve(request(http.MethodPut, statePath, before))
	assert.Equal(t, http.StatusOK, code, "the slot is free again: %s", body)
}

// Issue 12 §2: a checkpoint far in the future stops collection silently
// (every job empty, /ready 200). PUT and rewind refuse it; a rewind below
// earliest needs force.
func TestStateEditsThatStopOrRedoCollectionSilentlyAreRefused(t *testing.T) {
	r, st := securityRig(t, stateWritesOn, rigOptions{})
	before := r.raw(stateKey)
	rec := r.mustCheckpoint(stateKey)
	rec.ScannedTo = at("2099-01-01T00:00:00Z")
	future, err := rec.Encode()
	require.NoError(t, err)

	code, body := st.serve(request(http.MethodPut, statePath, string(future)))
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "2099-01-01T00:00:00Z is later than the API's clock plus settle")
	code, body = st.serve(request(http.MethodPost, statePath+"?force=true&rewind_to="+url.QueryEscape("2099-01-01T00:00:00Z"), ""))
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "later than the API's clock plus settle")
	// The API's clock, not the collector's: 12:00 + settle 2m.
	code, body = st.serve(request(http.MethodPost, statePath+"?rewind_to="+url.QueryEscape("2026-11-25T12:03:00Z"), ""))
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)

	code, body = st.serve(request(http.MethodPost, rewindTo1970, ""))
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "before earliest (the checkpoint's floor, 2026-11-25T11:00:00Z)")
	assert.Contains(t, body, "force=true")
	assert.Equal(t, before, r.raw(stateKey), "a refused edit changed the checkpoint")

	code, body = st.serve(request(http.MethodPost, rewindTo1970+"&force=true", ""))
	require.Equal(t, http.StatusOK, code, "an explicit force is the operator's choice: %s", body)
	assert.Equal(t, "1970-01-01T00:00:00Z", ts(decodeRecord(t, body).Floor))
}
