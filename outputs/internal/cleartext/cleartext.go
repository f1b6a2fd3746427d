// Package cleartext tells the outputs when a connection would carry
// credentials and the audit trail across the network unencrypted, so that
// they can warn at start-up.
package cleartext

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// LoopbackHost reports a host that never leaves the machine: localhost or a
// loopback IP literal. Other names are not resolved.
func LoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// LoopbackAddr is LoopbackHost for a host:port address (a port is optional).
func LoopbackAddr(addr string) bool {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return LoopbackHost(host)
	}
	return LoopbackHost(addr)
}

// HTTP reports a URL that is plain http:// to a host that is not loopback.
// A URL that does not parse is not judged here.
func HTTP(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && strings.EqualFold(u.Scheme, "http") && !LoopbackHost(u.Hostname())
}
