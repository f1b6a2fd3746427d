package preflight_test

import (
	"testing"

	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
)

func TestHTTPServerCheck(t *testing.T) {
	tests := []struct {
		name, http, input string
		want              expect
	}{
		{name: "the default address without auth warns: anyone can change the checkpoint", http: "enabled: true",
			want: expect{status: preflight.Warn, contains: []string{"http://0.0.0.0:4195, basic auth off", "every interface", "checkpoint writes are off"}, fix: "127.0.0.1:4195"}},
		{name: "state writes on an open listener fail: the input refuses to start", http: "enabled: true", input: "admin: { state_writes: true }",
			want: expect{status: preflight.Fail, contains: []string{"admin.state_writes is on", "refuses to start"}, fix: "basic_auth"}},
		{name: "state writes on a loopback listener pass", http: "address: 127.0.0.1:4195", input: "admin: { state_writes: true }",
			want: expect{status: preflight.OK, contains: []string{"loopback 127.0.0.1"}}},
		{name: "a loopback address passes", http: "address: 127.0.0.1:4195",
			want: expect{status: preflight.OK, contains: []string{"loopback 127.0.0.1"}}},
		{name: "localhost passes", http: "address: localhost:4195",
			want: expect{status: preflight.OK, contains: []string{"loopback (localhost)"}}},
		{name: "IPv6 loopback passes", http: "address: '[::1]:4195'",
			want: expect{status: preflight.OK, contains: []string{"loopback ::1"}}},
		{name: "a disabled server passes", http: "enabled: false",
			want: expect{status: preflight.OK, contains: []string{"disabled"}}},
		{name: "a public address with basic auth but no TLS warns: clear-text credentials",
			http: "address: 10.1.2.3:4195\nbasic_auth: { enabled: true, username: ops, password_hash: aGFzaA== }",
			want: expect{status: preflight.Warn, contains: []string{"basic auth on", "the interface of 10.1.2.3", "clear text"}, fix: "cert_file"}},
		{name: "a public address with basic auth and TLS passes",
			http: "address: 0.0.0.0:4195\ncert_file: /etc/cc/tls.crt\nkey_file: /etc/cc/tls.key\nbasic_auth: { enabled: true, username: ops, password_hash: aGFzaA== }",
			want: expect{status: preflight.OK, contains: []string{"https://0.0.0.0:4195, basic auth on"}}},
		{name: "debug endpoints on a public address warn",
			http: "address: 0.0.0.0:4195\ndebug_endpoints: true\ncert_file: /c\nkey_file: /k\nbasic_auth: { enabled: true }",
			want: expect{status: preflight.Warn, contains: []string{"profiling"}, fix: "debug_endpoints: false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1)
			r.http, r.input = tt.http, tt.input
			tt.want.assert(t, result(t, r.check(), preflight.CheckHTTP, "http"))
		})
	}
}
