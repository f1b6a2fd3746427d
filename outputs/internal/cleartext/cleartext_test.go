package cleartext_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/compliance-connect/compliance-connect/outputs/internal/cleartext"
)

func TestHTTPIsCleartextUnlessLoopback(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://splunk.example.com:8088":   true,
		"HTTP://10.1.2.3:9200":             true,
		"http://[fe80::1]:9200":            true,
		"http://localhost.example.com":     true,
		"https://splunk.example.com:8088":  false,
		"http://localhost:9200":            false,
		"http://127.0.0.1:9200":            false,
		"http://[::1]:9200":                false,
		"http://%zz":                       false, // does not parse: the output refuses it itself
		" http://es.internal:9200/prefix ": true,
	} {
		assert.Equal(t, want, cleartext.HTTP(raw), raw)
	}
}

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"localhost:9092": true, "127.0.0.1:9092": true, "[::1]:9092": true, "localhost": true,
		"kafka-1.internal:9092": false, "10.0.0.7:9092": false, "kafka": false,
	} {
		assert.Equal(t, want, cleartext.LoopbackAddr(addr), addr)
	}
}
