package inspector_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// apiKey is the key the fake API accepts; no page may show it.
const apiKey = "sk-ant-api01-inspector-test-key-7f3a9c2e51"

// gate sits in front of the fake API: it records every answered page
// request (one with created_at bounds) and can hold the next request with
// an after_id (a slice's second page) until the test releases it, so that a
// job can be looked at while it runs.
type gate struct {
	next http.Handler

	mu      sync.Mutex
	armed   bool
	held    url.Values // the held request's query
	pages   []answered
	last    http.Header // headers of the last answer of any request
	blocked chan struct{}
	release chan struct{}
}

type answered struct {
	query      url.Values
	activities int
	requestID  string
}

func newGate(next http.Handler) *gate {
	return &gate{next: next, blocked: make(chan struct{}), release: make(chan struct{})}
}

// holdNextCursorPage makes the next request with an after_id wait for
// release; blocked is closed when it arrives.
func (g *gate) holdNextCursorPage() {
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	isPage := q.Get("created_at.gte") != "" || q.Get("created_at.gt") != ""
	g.mu.Lock()
	hold := g.armed && q.Get("after_id") != ""
	if hold {
		g.armed, g.held = false, q
	}
	g.mu.Unlock()
	if hold {
		close(g.blocked)
		<-g.release
	}
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r)
	g.mu.Lock()
	g.last = rec.Header().Clone()
	if isPage && rec.Code == http.StatusOK {
		var env struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err == nil {
			g.pages = append(g.pages, answered{query: q, activities: len(env.Data), requestID: rec.Header().Get("request-id")})
		}
	}
	g.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (g *gate) answered() []answered {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]answered(nil), g.pages...)
}

func (g *gate) lastHeader(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last.Get(name)
}

func (g *gate) heldQuery() url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// newAPI serves a fake API holding n activities created in [from, to),
// through a gate, with a budget of 600 requests a minute.
func newAPI(t *testing.T, clock func() time.Time, seed uint64, n int, from, to time.Time) (*fakeapi.Server, *gate, string) {
	t.Helper()
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: seed, Count: n, From: from, To: to})
	api, err := fakeapi.New(fakeapi.Options{APIKeys: []string{apiKey}, Clock: clock, Dataset: data, RateLimit: 600})
	require.NoError(t, err)
	g := newGate(api)
	hs := httptest.NewServer(g)
	t.Cleanup(hs.Close)
	return api, g, hs.URL
}

// inputConfig is a pipeline of one anthropic_compliance input (label) into
// drop.
func inputConfig(label, baseURL, stateDir, schedule string, earliest time.Time) string {
	return fmt.Sprintf(`
input:
  label: %s
  anthropic_compliance:
    api_key: %s
    base_url: %s
    state:
      path: %s
    endpoints:
      - name: activities
        schedule: "%s"
        earliest: "%s"
        page_size: 100
output:
  drop: {}
`, label, apiKey, baseURL, stateDir, schedule, earliest.Format(time.RFC3339))
}

// lateActivity is an activity created at created that the API indexes only
// at visible.
func lateActivity(id string, created, visible time.Time) fakeapi.Activity {
	return fakeapi.Activity{
		ID: id, Type: "claude_chat_created", CreatedAt: created, VisibleAt: visible,
		ActorType: "user_actor", ActorID: "user_inspector",
		JSON: fmt.Appendf(nil, `{"id":%q,"created_at":%q,"organization_id":null,"organization_uuid":null,"actor":{"type":"user_actor","user_id":"user_inspector","email_address":"inspector@example.com"},"type":"claude_chat_created"}`,
			id, created.Format(time.RFC3339Nano)),
	}
}

// noKey fails the test if the API key appears in s.
func noKey(t *testing.T, s, where string) {
	t.Helper()
	require.False(t, bytes.Contains([]byte(s), []byte(apiKey)), "%s shows the API key", where)
	require.NotContains(t, s, apiKey[len(apiKey)-12:], "%s shows part of the API key", where)
}

// newServer serves h on loopback until the test ends and returns its URL.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

// sha256Base64 is a basic_auth password_hash of algorithm sha256.
func sha256Base64(pass string) string {
	sum := sha256.Sum256([]byte(pass))
	return base64.StdEncoding.EncodeToString(sum[:])
}
