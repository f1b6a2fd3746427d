package api

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"time"
)

// TransportConfig selects the proxy and TLS settings of NewTransport.
type TransportConfig struct {
	// ProxyURL routes every request through this proxy; nil means the
	// environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	ProxyURL *url.URL
	// TLS replaces the default TLS settings (custom CAs, client
	// certificates); it is cloned, never modified.
	TLS *tls.Config
}

// Timeouts of NewTransport below the per-attempt RequestTimeout.
const (
	dialTimeout         = 30 * time.Second
	tlsHandshakeTimeout = 15 * time.Second
	idleConnTimeout     = 90 * time.Second
)

// NewTransport returns an *http.Transport for the Compliance API: keep-alive
// connection reuse (at least 4 idle connections per host), HTTP/2 attempted
// even with a custom TLS config, a 30s dial and 15s TLS-handshake timeout, and
// transparent gzip. The whole attempt is bounded by Config.RequestTimeout.
func NewTransport(cfg TransportConfig) *http.Transport {
	proxy := http.ProxyFromEnvironment
	if cfg.ProxyURL != nil {
		proxy = http.ProxyURL(cfg.ProxyURL)
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 proxy,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
	}
	if cfg.TLS != nil {
		t.TLSClientConfig = cfg.TLS.Clone()
	}
	return t
}
