package cas_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/caches/cas"
	_ "github.com/compliance-connect/compliance-connect/caches/redis"
)

func TestRevReadsTheHeadAndFallsBackToAFullScan(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		rev    int64
		atHead bool
		bad    bool
	}{
		{"compact head", `{"rev":412,"version":1}`, 412, true, false},
		{"indented head", "{\n  \"rev\": 7,\n  \"version\": 1\n}", 7, true, false},
		{"rev alone", `{"rev":3}`, 3, true, false},
		{"rev last (an older document)", `{"version":1,"state":{"rev":9},"rev":5}`, 5, false, false},
		{"rev last, nested rev first", `{"state":{"rev":9},"rev":5}`, 5, false, false},
		{"no rev", `{"version":1}`, 0, false, true},
		{"negative rev", `{"version":1,"rev":-2}`, 0, false, true},
		{"fractional rev", `{"rev":1.5}`, 0, false, true},
		{"not json", `{torn`, 0, false, true},
		{"empty", ``, 0, false, true},
		{"a rev past the head is not read from the head", `{"rev":` + strings.Repeat(" ", 60) + `1}`, 1, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, atHead := cas.HeadRev([]byte(tc.doc))
			assert.Equal(t, tc.atHead, atHead)
			rev, err := cas.Rev([]byte(tc.doc))
			if tc.bad {
				require.ErrorIs(t, err, cas.ErrUnreadable)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.rev, rev)
		})
	}
}

// The input reaches a cache resource's atomic write through Benthos' shared
// resource map: this pins, on Benthos v4.60, that a cache constructor sees its
// resource label and that the map it writes is the one an input's
// constructor reads (the same manager), for both caches of this module. Cache
// resources are built lazily, on their first access: the input accesses the
// resource before looking its CAS up.
func TestACacheResourceRegistersItsCASForTheInputsOfItsStream(t *testing.T) {
	env := service.NewEnvironment()
	found := make(chan map[string]bool, 1)
	require.NoError(t, env.RegisterInput("cas_probe", service.NewConfigSpec(),
		func(_ *service.ParsedConfig, res *service.Resources) (service.Input, error) {
			got := map[string]bool{}
			for _, label := range []string{"files", "shared", "plain"} {
				_, before := cas.Lookup(res, label)
				got[label+" before access"] = before
				// Cache resources are built on first access.
				require.NoError(t, res.AccessCache(context.Background(), label, func(service.Cache) {}))
				_, got[label] = cas.Lookup(res, label)
			}
			found <- got
			return probeInput{}, nil
		}))
	b := env.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	redisURL := os.Getenv("COMPLIANCE_TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:1" // never dialled: the client connects lazily
	}
	require.NoError(t, b.AddResourcesYAML(`
cache_resources:
  - label: files
    atomic_file:
      directory: `+t.TempDir()+`
  - label: shared
    redis:
      url: `+redisURL+`
  - label: plain
    memory: {}
`))
	require.NoError(t, b.AddInputYAML(`cas_probe: {}`))
	require.NoError(t, b.AddOutputYAML(`drop: {}`))
	stream, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _ = stream.Run(ctx) }()
	defer func() { _ = stream.StopWithin(5 * time.Second) }()
	select {
	case got := <-found:
		assert.Equal(t, map[string]bool{
			"files": true, "shared": true, "plain": false,
			"files before access": false, "shared before access": false, "plain before access": false,
		}, got)
	case <-time.After(10 * time.Second):
		t.Fatal("the input was never constructed")
	}
}

func TestTheDirectoryStoreIsACASStore(t *testing.T) {
	s, err := atomicfile.Open(t.TempDir())
	require.NoError(t, err)
	var _ cas.Store = s.CAS()
	_, err = s.CAS().Get(context.Background(), "missing")
	require.ErrorIs(t, err, cas.ErrNotFound)
}

type probeInput struct{}

func (probeInput) Connect(context.Context) error { return nil }
func (probeInput) Read(ctx context.Context) (*service.Message, service.AckFunc, error) {
	<-ctx.Done()
	return nil, nil, ctx.Err()
}
func (probeInput) Close(context.Context) error { return nil }
