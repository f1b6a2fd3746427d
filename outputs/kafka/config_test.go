package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func parseYAML(t *testing.T, yaml string) (*config, error) {
	t.Helper()
	conf, err := outputSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	return parseConfig(conf)
}

func TestParseConfigRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"no brokers", `{seed_brokers: [], topic: t}`, "seed_brokers: at least one broker is required"},
		{"only blank brokers", `{seed_brokers: [" , "], topic: t}`, "seed_brokers: at least one broker is required"},
		{"manual without partition", `{seed_brokers: [b:9092], topic: t, partitioner: manual}`, "partition: required when partitioner is manual"},
		{"partition without manual", `{seed_brokers: [b:9092], topic: t, partition: "1"}`, "partition: only allowed when partitioner is manual"},
		{"unknown partitioner", `{seed_brokers: [b:9092], topic: t, partitioner: sticky}`, `partitioner: unknown partitioner "sticky"`},
		{"unknown compression", `{seed_brokers: [b:9092], topic: t, compression: brotli}`, `compression: unknown codec "brotli"`},
		{"unknown sasl mechanism", `{seed_brokers: [b:9092], topic: t, sasl: [{mechanism: GSSAPI, username: u, password: p}]}`, `sasl[0].mechanism: unknown mechanism "GSSAPI"`},
		{"empty sasl user", `{seed_brokers: [b:9092], topic: t, sasl: [{mechanism: PLAIN, username: "", password: p}]}`, "sasl[0].username: must not be empty"},
		{"zero timeout", `{seed_brokers: [b:9092], topic: t, timeout: 0s}`, "timeout: must be greater than 0"},
		{"zero max_message_bytes", `{seed_brokers: [b:9092], topic: t, max_message_bytes: 0}`, "max_message_bytes: must be between 1 and 1073741824"},
		{"zero max_in_flight", `{seed_brokers: [b:9092], topic: t, max_in_flight: 0}`, "max_in_flight: must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseYAML(t, tt.yaml)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestParseConfigAcceptsEverySupportedOption(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, c *config)
	}{
		{"defaults", `{seed_brokers: [b:9092], topic: t}`, func(t *testing.T, c *config) {
			assert.Equal(t, []string{"b:9092"}, c.brokers)
			assert.Equal(t, 10*time.Second, c.timeout)
			assert.Equal(t, 64, c.maxInFlight)
			assert.Nil(t, c.partition)
			assert.Nil(t, c.metadata)
		}},
		{"comma separated brokers", `{seed_brokers: ["a:9092, b:9092", c:9092], topic: t}`, func(t *testing.T, c *config) {
			assert.Equal(t, []string{"a:9092", "b:9092", "c:9092"}, c.brokers)
		}},
		{"manual partition", `{seed_brokers: [b:9092], topic: t, partitioner: manual, partition: "${! @p }"}`, func(t *testing.T, c *config) {
			assert.NotNil(t, c.partition)
		}},
		{"every sasl mechanism", `{seed_brokers: [b:9092], topic: t, sasl: [
			{mechanism: PLAIN, username: u, password: p},
			{mechanism: SCRAM-SHA-256, username: u, password: p},
			{mechanism: SCRAM-SHA-512, username: u, password: p}]}`, func(t *testing.T, c *config) {
			assert.NotEmpty(t, c.clientOpts)
		}},
		{"tls and compression", `{seed_brokers: [b:9092], topic: t, compression: lz4, idempotent_write: false, tls: {enabled: true, skip_cert_verify: true}}`, func(t *testing.T, c *config) {
			assert.NotEmpty(t, c.clientOpts)
		}},
		{"batching and metadata", `{seed_brokers: [b:9092], topic: t, metadata: {include_prefixes: [activity_]}, batching: {count: 100, period: 1s}, max_in_flight: 1}`, func(t *testing.T, c *config) {
			assert.Equal(t, 100, c.batching.Count)
			assert.Equal(t, "1s", c.batching.Period)
			assert.Equal(t, 1, c.maxInFlight)
			require.NotNil(t, c.metadata)
			assert.True(t, c.metadata.Match("activity_id"))
			assert.False(t, c.metadata.Match("state"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseYAML(t, tt.yaml)
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestLintReportsPartitionerMismatchAndEmptyBrokers(t *testing.T) {
	linter := service.NewEnvironment().FullConfigSchema("", "").NewStreamConfigLinter()
	tests := []struct{ name, output, want string }{
		{"manual without partition", `{seed_brokers: [b:9092], topic: t, partitioner: manual}`, "partition: required when partitioner is manual"},
		{"partition without manual", `{seed_brokers: [b:9092], topic: t, partition: "2"}`, "partition: only allowed when partitioner is manual"},
		{"no brokers", `{seed_brokers: [], topic: t}`, "seed_brokers: at least one broker is required"},
		{"bad mechanism", `{seed_brokers: [b:9092], topic: t, sasl: [{mechanism: GSSAPI, username: u, password: p}]}`, "GSSAPI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lints, err := linter.LintYAML([]byte("output:\n  kafka: " + tt.output + "\n"))
			require.NoError(t, err)
			var whats []string
			for _, l := range lints {
				whats = append(whats, l.What)
			}
			assert.Contains(t, strings.Join(whats, "\n"), tt.want)
		})
	}
}

func TestConnectFailureNamesTheSeedBrokers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more

	cfg, err := parseYAML(t, fmt.Sprintf(`{seed_brokers: [%q], topic: t, timeout: 2s}`, addr))
	require.NoError(t, err)
	out := newOutput(cfg, nil)
	err = out.Connect(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "reaching kafka seed brokers ["+addr+"]")

	assert.ErrorIs(t, out.WriteBatch(context.Background(), service.MessageBatch{service.NewMessage([]byte("x"))}), service.ErrNotConnected)
}

func TestSASLAuthenticatesAndWrongPasswordFailsConnect(t *testing.T) {
	for _, mechanism := range []string{mechanismPlain, mechanismScramSHA256, mechanismScramSHA512} {
		t.Run(mechanism, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(mechanism, "collector", "right-password"), kfake.SeedTopics(1, "activities"))
			require.NoError(t, err)
			t.Cleanup(cluster.Close)
			brokers := cluster.ListenAddrs()

			for _, tc := range []struct {
				password string
				wantErr  bool
			}{{"right-password", false}, {"wrong-password", true}} {
				cfg, err := parseYAML(t, fmt.Sprintf(`{seed_brokers: [%q], topic: activities, timeout: 5s, sasl: [{mechanism: %s, username: collector, password: %s}]}`,
					brokers[0], mechanism, tc.password))
				require.NoError(t, err)
				out := newOutput(cfg, nil)
				err = out.Connect(context.Background())
				if tc.wantErr {
					require.Error(t, err)
					assert.NotContains(t, err.Error(), tc.password, "the password must never appear in errors")
					continue
				}
				require.NoError(t, err)
				require.NoError(t, out.WriteBatch(context.Background(), service.MessageBatch{service.NewMessage([]byte(`{"id":"a"}`))}))
				require.NoError(t, out.Close(context.Background()))
			}
		})
	}
}

func TestTLSConnectsWithConfiguredRootCA(t *testing.T) {
	certPEM, serverCert := selfSignedCert(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "activities"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)

	indented := strings.ReplaceAll(strings.TrimSpace(string(certPEM)), "\n", "\n    ")
	cfg, err := parseYAML(t, fmt.Sprintf(`
seed_brokers: [ %q ]
topic: activities
timeout: 5s
tls:
  enabled: true
  root_cas: |
    %s
`, cluster.ListenAddrs()[0], indented))
	require.NoError(t, err)
	out := newOutput(cfg, nil)
	require.NoError(t, out.Connect(context.Background()))
	require.NoError(t, out.WriteBatch(context.Background(), service.MessageBatch{service.NewMessage([]byte(`{"id":"a"}`))}))
	require.NoError(t, out.Close(context.Background()))

	// Without the CA the handshake fails at connect.
	cfg, err = parseYAML(t, fmt.Sprintf(`{seed_brokers: [%q], topic: activities, timeout: 2s, tls: {enabled: true}}`, cluster.ListenAddrs()[0]))
	require.NoError(t, err)
	require.Error(t, newOutput(cfg, nil).Connect(context.Background()))
}

// selfSignedCert returns a PEM certificate for 127.0.0.1 and the matching
// server key pair.
func selfSignedCert(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	require.NoError(t, err)
	return certPEM, pair
}

// TestSASLWithoutTLSWarnsAtStartUp: SASL over a plain connection sends the
// records (and with PLAIN the password) in clear text; the output starts but
// says so, unless every seed broker is loopback.
func TestSASLWithoutTLSWarnsAtStartUp(t *testing.T) {
	const sasl = `, sasl: [{mechanism: SCRAM-SHA-512, username: u, password: p}]`
	tests := []struct {
		name, yaml string
		warns      bool
	}{
		{"sasl without tls", `{seed_brokers: ["kafka-1.internal:9092"], topic: t` + sasl + `}`, true},
		{"one remote broker among loopback ones", `{seed_brokers: ["localhost:9092,10.0.0.3:9092"], topic: t` + sasl + `}`, true},
		{"sasl with tls", `{seed_brokers: ["kafka-1.internal:9093"], topic: t, tls: {enabled: true}` + sasl + `}`, false},
		{"no sasl", `{seed_brokers: ["kafka-1.internal:9092"], topic: t}`, false},
		{"loopback brokers", `{seed_brokers: ["localhost:9092", "127.0.0.1:9093"], topic: t` + sasl + `}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseYAML(t, tt.yaml)
			require.NoError(t, err)
			if tt.warns {
				assert.Equal(t, []string{"sasl without tls: the records, and with PLAIN the password itself, cross the network in clear text; enable tls"}, cfg.warnings)
			} else {
				assert.Empty(t, cfg.warnings)
			}
		})
	}
}
