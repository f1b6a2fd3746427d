package atomicfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// parseCache builds the plugin from YAML through its real spec.
func parseCache(t *testing.T, yaml string) (*atomicFileCache, error) {
	t.Helper()
	conf, err := atomicFileCacheSpec().ParseYAML(yaml, nil)
	if err != nil {
		return nil, err
	}
	return newAtomicFileCacheFromConfig(conf)
}

func openPluginCache(t *testing.T, dir string) *atomicFileCache {
	t.Helper()
	c, err := parseCache(t, "directory: "+dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close(context.Background())) })
	return c
}

func TestAtomicFileCacheRefusesTTLs(t *testing.T) {
	ctx := context.Background()
	cache := openPluginCache(t, t.TempDir())
	ttl := time.Minute

	for name, err := range map[string]error{
		"set": cache.Set(ctx, "k", []byte("v"), &ttl),
		"add": cache.Add(ctx, "k", []byte("v"), &ttl),
	} {
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "atomic_file cache does not support TTLs", name)
	}
	_, err := cache.Get(ctx, "k")
	require.ErrorIs(t, err, service.ErrKeyNotFound, "a refused write stores nothing")
}

func TestAtomicFileCacheMapsErrorsToTheBenthosSentinels(t *testing.T) {
	ctx := context.Background()
	cache := openPluginCache(t, t.TempDir())

	_, err := cache.Get(ctx, "missing")
	require.ErrorIs(t, err, service.ErrKeyNotFound)

	require.NoError(t, cache.Add(ctx, "k", []byte("first"), nil))
	require.ErrorIs(t, cache.Add(ctx, "k", []byte("second"), nil), service.ErrKeyAlreadyExists)

	require.NoError(t, cache.Delete(ctx, "k"))
	require.NoError(t, cache.Delete(ctx, "k"), "deleting a missing key is not an error")
}

func TestAtomicFileCacheWritesTheStoreLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cache := openPluginCache(t, dir)

	require.NoError(t, cache.Set(ctx, "compliance:activities", []byte(`{"rev":1}`), nil))
	b, err := os.ReadFile(filepath.Join(dir, "compliance%3Aactivities"))
	require.NoError(t, err)
	assert.Equal(t, `{"rev":1}`, string(b))

	store, err := Open(dir)
	require.NoError(t, err)
	got, err := store.Get("compliance:activities")
	require.NoError(t, err)
	assert.Equal(t, `{"rev":1}`, string(got), "the plugin and a Store on the same directory agree")
}

func TestAtomicFileCacheConfigErrorsNameTheField(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))

	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"missing directory", `{}`, "directory"},
		{"empty directory", `directory: ""`, "field directory: must not be empty"},
		{"not a directory", `directory: "` + notADir + `"`, "field directory: atomicfile: create directory " + notADir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCache(t, tc.yaml)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
