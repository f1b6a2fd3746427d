package api_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

func TestNewTransportDefaults(t *testing.T) {
	tr := api.NewTransport(api.TransportConfig{})
	assert.True(t, tr.ForceAttemptHTTP2)
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 4)
	assert.False(t, tr.DisableKeepAlives)
	assert.NotZero(t, tr.TLSHandshakeTimeout)
	assert.NotZero(t, tr.IdleConnTimeout)
	assert.Nil(t, tr.TLSClientConfig)
	assert.Equal(t, reflect.ValueOf(http.ProxyFromEnvironment).Pointer(), reflect.ValueOf(tr.Proxy).Pointer(),
		"no proxy_url means HTTPS_PROXY/NO_PROXY from the environment")
}

// With a custom TLS config (a private CA), HTTP/2 is still negotiated and
// the connection is reused across calls.
func TestTransportSpeaksHTTP2WithCustomTLSAndReusesConnections(t *testing.T) {
	var mu sync.Mutex
	var protos []string
	newConns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Proto)
		mu.Unlock()
		_, _ = w.Write([]byte(emptyPage))
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			newConns++
			mu.Unlock()
		}
	}
	srv.StartTLS()
	defer srv.Close()

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr := api.NewTransport(api.TransportConfig{TLS: tlsConf})
	assert.Empty(t, tlsConf.NextProtos, "the caller's TLS config is cloned, not modified")
	c := newClient(t, srv.URL, newClock(), func(c *api.Config) { c.Transport = tr })
	for range 3 {
		_, err := c.ListActivities(t.Context(), api.ListParams{})
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"HTTP/2.0", "HTTP/2.0", "HTTP/2.0"}, protos)
	assert.Equal(t, 1, newConns)
}

func TestTransportRejectsUnknownCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := newClient(t, srv.URL, newClock(), func(c *api.Config) { c.Transport = api.NewTransport(api.TransportConfig{}) })
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	e, ok := asError(err)
	require.True(t, ok, "got %v", err)
	assert.False(t, e.Retryable, "a certificate error is not transient")
	assert.Equal(t, 1, e.Attempts)
	assert.Contains(t, err.Error(), "certificate")
}

func TestTransportUsesTheConfiguredProxy(t *testing.T) {
	var seen *url.URL
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL
		_, _ = w.Write([]byte(emptyPage))
	}))
	defer proxy.Close()
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	// A plain-HTTP proxy sees the request only for an http:// base URL.
	c := newClient(t, "http://compliance.example.invalid", newClock(), func(c *api.Config) {
		c.Transport = api.NewTransport(api.TransportConfig{ProxyURL: proxyURL})
		c.AllowInsecureHTTP = true
	})
	_, err = c.ListActivities(t.Context(), api.ListParams{Limit: 5})
	require.NoError(t, err)
	require.NotNil(t, seen)
	assert.Equal(t, "compliance.example.invalid", seen.Host)
	assert.Equal(t, "/v1/compliance/activities", seen.Path)
}
