package activity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyWordsSplitsEveryNamingStyle(t *testing.T) {
	for key, want := range map[string][]string{
		"emailAddress":    {"email", "address"},
		"EmailAddress":    {"email", "address"},
		"EMAIL_ADDRESS":   {"email", "address"},
		"email-address":   {"email", "address"},
		"IPAddress":       {"ip", "address"},
		"ipAddress":       {"ip", "address"},
		"x_forwarded_for": {"x", "forwarded", "for"},
		"X-Forwarded-For": {"x", "forwarded", "for"},
		"remoteAddr":      {"remote", "addr"},
		"clientIPv6":      {"client", "ipv6"},
		"a_b_c_d_e_f":     {"c", "d", "e", "f"}, // the last four are kept
		"shared_with":     {"shared", "with"},
		"Email":           {"email"},
	} {
		w := splitKey(key)
		var got []string
		for i := range w.len() {
			got = append(got, strings.ToLower(w.word(i)))
		}
		assert.Equal(t, want, got, key)
	}
}

func TestFindSensitiveParsesAddressesInText(t *testing.T) {
	tests := []struct {
		text string
		want []string // the spans found, in order
	}{
		{"invited frank@example.com from 192.0.2.77", []string{"frank@example.com", "192.0.2.77"}},
		{"Notes for Grace.Hopper+ai@mail.example.co.uk.", []string{"Grace.Hopper+ai@mail.example.co.uk"}},
		{"mailto:heidi@example.org>", []string{"heidi@example.org"}},
		{"https://x.example/y?email=ivan%40example.com&z=1", []string{"ivan%40example.com"}},
		{`"john doe"@example.com wrote`, []string{`"john doe"@example.com`}},
		{"admin@[192.0.2.5] and root@[IPv6:2001:db8::5]", []string{"admin@[192.0.2.5]", "root@[IPv6:2001:db8::5]"}},
		{"from 2001:db8::1 via fe80::1%eth0", []string{"2001:db8::1", "fe80::1"}},
		{"[2001:db8::7]:443 and 198.51.100.4:51512", []string{"2001:db8::7", "198.51.100.4"}},
		{"::ffff:192.0.2.1", []string{"::ffff:192.0.2.1"}},
		{"https://x.example/hosts/10.1.2.3/status", []string{"10.1.2.3"}},
		{"http://10.9.8.7:8080/", []string{"10.9.8.7"}},
		{"Mozilla/5.0 (client 10.20.30.40) Chrome/120.0.0.0 Safari/537.36", []string{"10.20.30.40"}},
		{"héllo ünïcode@bücher.example", []string{"ünïcode@bücher.example"}},
		// Not addresses.
		{"Chrome/120.0.0.0", nil},
		{"2026-04-10T08:09:10Z", nil},
		{"std::vector and ns::name", nil},
		{"a::b is a valid IPv6 address", []string{"a::b"}},
		{"version 1.2.3, 10.1, 010.001.001.001", nil},
		{"00:1a:2b:3c:4d:5e", nil},
		{"a@b, user@localhost, @mention, x@y.1, trailing@", nil},
		{"deadbeef cafe:babe", nil},
		{"Error:: retry", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, sp := range findSensitive(tt.text, true, true) {
			got = append(got, tt.text[sp.start:sp.end])
		}
		assert.Equal(t, tt.want, got, tt.text)
	}
}

func TestVouchableKeepsOnlyTokensThatCannotHoldAnAddress(t *testing.T) {
	for s, want := range map[string]bool{
		"claude_chat_01XyDMpzjS89pFZXqSFUBDr6": true,
		"user_actor":                           true,
		"GET":                                  true,
		"2026-04-10T08:09:10.123Z":             true,
		"2026-04-10T10:09:10.5+02:00":          true,
		"abcdef01-2345-6789-abcd-ef0123456789": true,
		"hmac-sha256:0123456789abcdef":         true,
		"200":                                  true,
		"":                                     true,
		"192.0.2.1":                            false,
		"2001:db8::1":                          false,
		"10.1":                                 false,
		"010.000.000.001":                      false,
		"0x0a000001":                           false,
		"167772161":                            false, // 10.0.0.1 as one integer
		"fe80:0:0:0":                           false,
		"alice@example.com":                    false,
		"a@b":                                  false,
		"john at example dot com":              false,
		"Mozilla/5.0":                          false,
		"https://api.anthropic.com/v1/x":       false,
		"quarterly report.pdf":                 false,
		"ivan%40example.com":                   false,
	} {
		assert.Equal(t, want, Vouchable(s), "%q", s)
	}
}
