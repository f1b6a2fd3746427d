package elasticsearch

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCredentialsOverPlainHTTPWarnAtStartUp: basic_auth, api_key or an
// Authorization header sent to an http:// URL that is not loopback cross
// the network in clear text; the output starts but says which URL.
func TestCredentialsOverPlainHTTPWarnAtStartUp(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"api key over http", "urls: [https://es1.example.com:9200, http://es2.example.com:9200]\napi_key: k\n",
			[]string{"urls[1]: http:// sends the credentials (basic_auth, api_key or an Authorization header) and the documents across the network in clear text; use https"}},
		{"basic auth over http", "urls: [http://10.0.0.9:9200]\nbasic_auth:\n  username: u\n  password: p\n",
			[]string{"urls[0]: http:// sends the credentials (basic_auth, api_key or an Authorization header) and the documents across the network in clear text; use https"}},
		{"authorization header over http", "urls: [http://es.internal:9200]\nheaders:\n  Authorization: Bearer x\n",
			[]string{"urls[0]: http:// sends the credentials (basic_auth, api_key or an Authorization header) and the documents across the network in clear text; use https"}},
		{"no credentials", "urls: [http://es.internal:9200]\n", nil},
		{"https", "urls: [https://es.internal:9200]\napi_key: k\n", nil},
		{"loopback", "urls: [http://localhost:9200, http://127.0.0.1:9201]\napi_key: k\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := outputSpec().ParseYAML(tt.yaml+"index: x\n", nil)
			require.NoError(t, err)
			cfg, err := parseConfig(conf)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.warnings)
		})
	}
}
