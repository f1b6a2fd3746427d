package timeexpr_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

func TestParseDurationSecondsAcceptsSecondsAndGoDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"30", 30 * time.Second},
		{"+30", 30 * time.Second},
		{"300", 5 * time.Minute},
		{" 45s ", 45 * time.Second},
		{"15m", 15 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"0s", 0},
		{"1.5s", 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		got, err := timeexpr.ParseDurationSeconds(tc.in)
		require.NoError(t, err, "ParseDurationSeconds(%q)", tc.in)
		assert.Equal(t, tc.want, got, "ParseDurationSeconds(%q)", tc.in)
	}
}

func TestParseDurationSecondsRejectsBadValues(t *testing.T) {
	tests := []struct {
		in  string
		msg string
	}{
		{"", `invalid duration "": empty (want seconds such as "30" or a duration such as "45s", "15m", "1h30m")`},
		{"-5", `invalid duration "-5": negative`},
		{"-5s", `invalid duration "-5s": negative`},
		{"99999999999999999999", `invalid duration "99999999999999999999": out of range (at most about 292 years)`},
		{"9300000000", `invalid duration "9300000000": too large (at most about 292 years)`},
		{"5 minutes", `invalid duration "5 minutes": want seconds such as "30" or a duration such as "45s", "15m", "1h30m": time: unknown unit " minutes" in duration "5 minutes"`},
		{"-+5", `invalid duration "-+5": want seconds such as "30" or a duration such as "45s", "15m", "1h30m": time: invalid duration "-+5"`},
	}
	for _, tc := range tests {
		_, err := timeexpr.ParseDurationSeconds(tc.in)
		assert.EqualError(t, err, tc.msg, "ParseDurationSeconds(%q)", tc.in)
	}
}
