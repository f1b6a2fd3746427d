package e2e_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Issue 12 §1: the example pipelines do not open Benthos' HTTP server
// (/ready, /metrics, the state endpoints) to the network.
func TestExampleConfigsBindTheHTTPServerToLoopback(t *testing.T) {
	files, err := filepath.Glob("../../config/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var conf struct {
				HTTP struct {
					Address string `yaml:"address"`
				} `yaml:"http"`
			}
			require.NoError(t, yaml.Unmarshal(b, &conf))
			addr := os.Expand(conf.HTTP.Address, func(v string) string { return "" })
			if def, ok := defaultOf(conf.HTTP.Address); ok {
				addr = def
			}
			host, _, err := net.SplitHostPort(addr)
			require.NoError(t, err, "http.address %q (Benthos' default is 0.0.0.0:4195)", conf.HTTP.Address)
			ip := net.ParseIP(host)
			assert.True(t, ip != nil && ip.IsLoopback(), "http.address %q is not a loopback address", conf.HTTP.Address)
		})
	}
}

// defaultOf returns the default of a ${VAR:default} value.
func defaultOf(v string) (string, bool) {
	if len(v) < 4 || v[:2] != "${" || v[len(v)-1] != '}' {
		return "", false
	}
	for i := 2; i < len(v); i++ {
		if v[i] == ':' {
			return v[i+1 : len(v)-1], true
		}
	}
	return "", false
}
