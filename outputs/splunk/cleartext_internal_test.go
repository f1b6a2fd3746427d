package splunk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlainHTTPToARemoteHECWarnsAtStartUp: the HEC token is always sent, so
// an http:// URL to a host that is not loopback exposes it; the output still
// starts (a lab HEC may be plain HTTP) but says so.
func TestPlainHTTPToARemoteHECWarnsAtStartUp(t *testing.T) {
	for url, warns := range map[string]bool{
		"http://splunk.example.com:8088":  true,
		"http://10.0.0.8:8088/custom":     true,
		"https://splunk.example.com:8088": false,
		"http://localhost:8088":           false,
		"http://127.0.0.1:8088":           false,
	} {
		conf, err := outputSpec().ParseYAML("url: "+url+"\ntoken: t0ken\n", nil)
		require.NoError(t, err)
		cfg, err := parseConfig(conf)
		require.NoError(t, err)
		if warns {
			assert.Equal(t, []string{"url: http:// sends the HEC token and the events across the network in clear text; use https"}, cfg.warnings, url)
		} else {
			assert.Empty(t, cfg.warnings, url)
		}
	}
}
