package preflight_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	// The cache types the checkpoint store tests use.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// testKey is the key the fake accepts; it must never appear in a report.
const testKey = "sk-ant-api01-preflight-SECRET-0123456789"

// rig is a fake Compliance API on a manual clock and a pipeline around it.
type rig struct {
	t     *testing.T
	clock *fakeapi.ManualClock
	fake  *fakeapi.Server
	url   string
	dir   string
	// the pipeline's parts
	key, endpoint, input, state, output, http, extra string
	fsType                                           func(string) (string, error)
}

type rigOption func(*fakeapi.Options)

// newRig serves density activities a minute over the last three hours.
func newRig(t *testing.T, density int, opts ...rigOption) *rig {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second).Add(300 * time.Millisecond)
	clock := fakeapi.NewManualClock(now)
	o := fakeapi.Options{
		APIKeys: []string{testKey},
		Clock:   clock.Now,
		Dataset: fakeapi.Generate(fakeapi.GenOptions{Seed: 7, Count: density * 180, From: now.Add(-3 * time.Hour), To: now}),
	}
	for _, opt := range opts {
		opt(&o)
	}
	fake, err := fakeapi.New(o)
	require.NoError(t, err)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	return &rig{
		t: t, clock: clock, fake: fake, url: srv.URL, dir: dir,
		key:      testKey,
		endpoint: "- name: activities\n  schedule: '*/5 * * * *'",
		state:    fmt.Sprintf("path: %s", filepath.Join(dir, "state")),
		output:   "drop: {}",
		http:     "address: 127.0.0.1:4195",
		fsType:   func(string) (string, error) { return "ext4", nil },
	}
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+pad)
}

// pipeline is the config the rig describes.
func (r *rig) pipeline() string {
	return fmt.Sprintf(`http:
%s
input:
  label: compliance
  anthropic_compliance:
    api_key: %q
    base_url: %s
%s
    state:
%s
    endpoints:
%s
output:
%s
%s
`, indent(r.http, 2), r.key, r.url, indent(r.input, 4), indent(r.state, 6), indent(r.endpoint, 6), indent(r.output, 2), r.extra)
}

// check runs every check on the rig's pipeline, on the fake's clock.
func (r *rig) check() *preflight.Report {
	r.t.Helper()
	rep, err := preflight.Run(context.Background(), preflight.Options{
		Pipeline: []byte(r.pipeline()), Timeout: 10 * time.Second, UserAgent: "test",
		Now: r.clock.Now, FSType: r.fsType,
	})
	require.NoError(r.t, err, r.pipeline())
	assertNoSecret(r.t, rep, r.key)
	return rep
}

// assertNoSecret fails if secret appears anywhere in the report.
func assertNoSecret(t *testing.T, rep *preflight.Report, secret string) {
	t.Helper()
	if strings.TrimSpace(secret) == "" {
		return
	}
	var text, js bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	require.NoError(t, rep.WriteJSON(&js))
	assert.NotContains(t, text.String(), secret)
	assert.NotContains(t, js.String(), secret)
}

// result returns the only result of check (whose subject contains subject).
func result(t *testing.T, rep *preflight.Report, check, subject string) preflight.Result {
	t.Helper()
	var found []preflight.Result
	for _, res := range rep.Results {
		if res.Check == check && strings.Contains(res.Subject, subject) {
			found = append(found, res)
		}
	}
	require.Len(t, found, 1, "results of %s %q in %+v", check, subject, rep.Results)
	return found[0]
}

// expect is what a table row wants of one result.
type expect struct {
	status   preflight.Status
	contains []string // in the message
	fix      string   // in the fix ("" = no fix expected for ok)
}

func (e expect) assert(t *testing.T, res preflight.Result) {
	t.Helper()
	assert.Equal(t, e.status, res.Status, "%+v", res)
	for _, c := range e.contains {
		assert.Contains(t, res.Message, c)
	}
	if e.fix != "" {
		assert.Contains(t, res.Fix, e.fix)
	}
	if res.Status != preflight.OK && res.Status != preflight.Skip {
		assert.NotEmpty(t, res.Fix, "a warning or failure says how to fix it: %+v", res)
	}
}
