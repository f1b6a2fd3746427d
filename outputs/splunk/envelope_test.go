package splunk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHECTimeIsEpochSecondsWithMilliseconds(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "2026-04-10T08:09:10Z", want: "1775808550.000"},
		{in: " 2026-04-10T08:09:10.999999Z ", want: "1775808550.999"},
		{in: "2026-04-10T10:09:10.5+02:00", want: "1775808550.500"},
		{in: "1775808550", want: "1775808550.000"},
		{in: "1775808550.1234", want: "1775808550.123"},
		{in: "", wantErr: "empty time"},
		{in: "1775808550000", wantErr: "out of range"},
		{in: "-5", wantErr: "out of range"},
		{in: "1969-12-31T23:59:59Z", wantErr: "before 1970"},
		{in: "10/04/2026", wantErr: "neither RFC 3339 nor epoch seconds"},
	}
	for _, tt := range tests {
		got, err := hecTime(tt.in)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr, "hecTime(%q)", tt.in)
			continue
		}
		require.NoError(t, err, "hecTime(%q)", tt.in)
		assert.Equal(t, tt.want, got, "hecTime(%q)", tt.in)
	}
}

func TestAppendEnvelopeLeavesOutEmptyFieldsAndKeepsTheEventBytes(t *testing.T) {
	tests := []struct {
		name string
		in   envelope
		want string
	}{
		{"all fields", envelope{time: "1.000", host: "h", source: `s"1`, sourcetype: "st", index: "i", event: []byte(`{"a": "<&>" }`)},
			`{"time":1.000,"host":"h","source":"s\"1","sourcetype":"st","index":"i","event":{"a": "<&>" }}` + "\n"},
		{"only the event", envelope{event: []byte(`[1,2]`)}, `{"event":[1,2]}` + "\n"},
		{"text event", envelope{sourcetype: "st", event: []byte("a \"b\"\n")}, `{"sourcetype":"st","event":"a \"b\"\n"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(appendEnvelope(nil, tt.in)))
		})
	}
}
