package normalize_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/normalize"
)

func TestNewRedactionReadsTokensAndMode(t *testing.T) {
	r, err := normalize.NewRedaction([]string{"request_body", "ips"}, "drop", "", false)
	require.NoError(t, err)
	assert.Equal(t, activity.Redaction{RequestBody: true, IPs: true}, r)

	r, err = normalize.NewRedaction([]string{"emails"}, "hash", "k", true)
	require.NoError(t, err)
	assert.Equal(t, activity.Redaction{Emails: true, Strict: true, Hash: true, Key: []byte("k")}, r)
}

func TestNewRedactionRejectsBadValuesNamingTheField(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		mode   string
		key    string
		strict bool
		want   string
	}{
		{"unknown token", []string{"emails", "phones"}, "drop", "", false, `redact: unknown token "phones"`},
		{"unknown mode", nil, "shred", "", false, `redact_mode: unknown value "shred"`},
		{"hash without key", []string{"ips"}, "hash", "", false, "hash_key: required when redact_mode is hash"},
		{"strict without a scan", []string{"request_body"}, "drop", "", true, "redact_strict: needs emails or ips in redact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := normalize.NewRedaction(tt.tokens, tt.mode, tt.key, tt.strict)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

type fakeMapper struct{ err error }

func (f fakeMapper) Map(in []byte) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return append([]byte(`{"mapped":`), append(in, '}')...), nil
}

func TestProcessorReplacesContentAndKeepsMetadata(t *testing.T) {
	p := normalize.NewProcessor("test_proc", fakeMapper{})
	msg := service.NewMessage([]byte(`{"a":1}`))
	msg.MetaSetMut("activity_id", "act_1")
	batch, err := p.Process(t.Context(), msg)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	got, err := batch[0].AsBytes()
	require.NoError(t, err)
	assert.Equal(t, `{"mapped":{"a":1}}`, string(got))
	v, ok := batch[0].MetaGetMut("activity_id")
	assert.True(t, ok)
	assert.Equal(t, "act_1", v)
	orig, _ := msg.AsBytes()
	assert.Equal(t, `{"a":1}`, string(orig), "the input message is not mutated")
	require.NoError(t, p.Close(context.Background()))
}

func TestProcessorReturnsMappingErrorsNamed(t *testing.T) {
	boom := errors.New("boom")
	_, err := normalize.NewProcessor("test_proc", fakeMapper{err: boom}).Process(t.Context(), service.NewMessage([]byte(`x`)))
	require.ErrorIs(t, err, boom)
	assert.Equal(t, "test_proc: boom", err.Error())
}

// syncBuffer is a log sink safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestUnknownTypesLogsEachTypeOnceAtDebug(t *testing.T) {
	var logs syncBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	u := normalize.NewUnknownTypes(service.MockResources(service.MockResourcesOptUseLogger(logger)), "test_unknown_type", "the fallback")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, typ := range []string{"alpha_happened", "beta_happened", "alpha_happened"} {
				u.Record(typ)
			}
		})
	}
	wg.Wait()
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, `alpha_happened`), out)
	assert.Equal(t, 1, strings.Count(out, `beta_happened`), out)
	assert.Contains(t, out, "level=DEBUG")
	assert.Contains(t, out, "the fallback")
}
