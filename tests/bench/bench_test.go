package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/compliance-connect/compliance-connect/input/compliance"
)

// TestMain lets this test binary play every child of the program: the fake
// API and the plain loop as the program does, and, for childBenthos, a
// Benthos CLI with the anthropic_compliance input that stands in for the
// compliance-connect binary (so the smoke test needs no go build).
func TestMain(m *testing.M) {
	switch mode := os.Getenv(childModeEnv); mode {
	case "":
		os.Exit(m.Run())
	case childBenthos:
		code, _ := service.RunCLIToCode(context.Background(),
			service.CLIOptSetArgs(append([]string{"compliance-connect"}, os.Args[1:]...)...))
		os.Exit(code)
	default:
		os.Exit(runChildMode(mode, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
}

// TestProgramRunsEveryConsumerOverTheWholeDataset runs the program end to
// end on small datasets. It checks that the machinery works (every consumer
// saw exactly N activities, the table is printed), not the figures: the
// thresholds are disabled because speed is not asserted in tests.
func TestProgramRunsEveryConsumerOverTheWholeDataset(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	// Under -race every child would sleep 1s at exit (GORACE atexit_sleep_ms).
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	var out bytes.Buffer
	err = run(t.Context(), []string{
		"-n", "500,2000", "-runs", "1", "-span", "48h",
		"-binary", self, "-binary-env", childModeEnv + "=" + childBenthos,
		"-min-ratio", "0", "-max-rss-ratio", "1000", "-timeout", "60s",
	}, &out, &out)
	require.NoError(t, err, out.String())
	text := out.String()
	for _, want := range []string{"input  run 1", "plain  run 1", "fetch  run 1", "all claims hold"} {
		assert.Contains(t, text, want)
	}
	assert.Regexp(t, `(?m)^ +500 +\d+ +\d+ +\d+\.\d\d `, text, "a table row for N=500")
	assert.Regexp(t, `(?m)^ +2,000 +\d+ +\d+ +\d+\.\d\d `, text, "a table row for N=2,000")
	assert.NotContains(t, text, benchKey, "the fake's key must not be printed")
}

// TestReportFailsEachBrokenClaim pins the two checks on synthetic figures.
func TestReportFailsEachBrokenClaim(t *testing.T) {
	mk := func(n int, input, plain time.Duration, rss int64) sizeResult {
		return sizeResult{
			n:     n,
			input: []inputRun{{childRun: childRun{Wall: input, PeakRSS: rss}}},
			plain: []plainRun{{childRun: childRun{Wall: plain, PeakRSS: rss}}},
			fetch: []plainRun{{childRun: childRun{Wall: plain / 4}}},
		}
	}
	const mb = 1 << 20
	cases := []struct {
		name    string
		results []sizeResult
		want    []string // failure texts; none means the claims hold
	}{
		{"both hold", []sizeResult{mk(10, time.Second, time.Second, 40*mb), mk(1000, 2*time.Second, time.Second, 50*mb)}, nil},
		{"input slower than half the plain loop", []sizeResult{mk(10, 3*time.Second, time.Second, 40*mb)}, []string{"N=10: input/plain loop throughput 0.33 < 0.50"}},
		{"memory grows by more than a quarter", []sizeResult{mk(10, time.Second, time.Second, 40*mb), mk(1000, time.Second, time.Second, 51*mb)}, []string{"peak RSS grows 1.27x from N=10 to N=1000"}},
		{"both broken", []sizeResult{mk(10, 3*time.Second, time.Second, 40*mb), mk(1000, time.Second, time.Second, 80*mb)}, []string{"throughput 0.33", "grows 2.00x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := report(options{runs: 1, minRatio: 0.5, maxRSSRatio: 1.25, loops: true}, tc.results, &out)
			if tc.want == nil {
				require.NoError(t, err, out.String())
				return
			}
			require.ErrorIs(t, err, errClaimFailed)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestFindJobReportReadsTheInputsLogLine(t *testing.T) {
	cases := []struct {
		name    string
		logs    string
		want    jobReport
		wantErr string
	}{
		{
			name: "success line among others",
			logs: `{"level":"info","msg":"Launching"}` + "\n" +
				`{"level":"info","msg":"job report","outcome":"success","activities_emitted":"2000","pages":"3","slices":"2","duration":"1.5s"}` + "\n",
			want: jobReport{Outcome: "success", Emitted: 2000, Pages: 3, Slices: 2, Duration: 1500 * time.Millisecond},
		},
		{
			name: "numbers as JSON numbers and an error",
			logs: `{"level":"error","msg":"job report","outcome":"failed","activities_emitted":7,"pages":1,"slices":1,"duration":"20ms","error":"boom"}`,
			want: jobReport{Outcome: "failed", Emitted: 7, Pages: 1, Slices: 1, Duration: 20 * time.Millisecond, Error: "boom"},
		},
		{name: "no report", logs: `{"msg":"Launching"}`, wantErr: `no "job report" line`},
		{name: "report that is not JSON", logs: `level=info msg="job report"`, wantErr: "not JSON"},
		{name: "bad duration", logs: `{"msg":"job report","duration":"soon"}`, wantErr: `duration "soon"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findJobReport([]byte(tc.logs))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseOptionsRejectsBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-n", "10,zero"}, `-n: "zero" is not a positive number`},
		{[]string{"-n", "0"}, `-n: "0" is not a positive number`},
		{[]string{"-runs", "0"}, "-runs must be at least 1"},
		{[]string{"-page-size", "5001"}, "-page-size must be 1..5000"},
		{[]string{"-span", "1500ms"}, "-span must be whole seconds"},
		{[]string{"-density", "-1"}, "-density must not be negative"},
		{[]string{"-max-slice", "a day"}, `-max-slice: "a day" is not a duration`},
		{[]string{"-binary-env", "GOGC"}, `-binary-env: "GOGC" is not KEY=VALUE`},
		{[]string{"extra"}, "unexpected arguments: extra"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseOptions(tc.args, &bytes.Buffer{})
			require.ErrorContains(t, err, tc.want)
		})
	}
	o, err := parseOptions([]string{"-n", "10_000,1_000_000", "-density", "5952"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []int{10000, 1000000}, o.sizes)
	assert.Equal(t, 7*24*time.Hour, o.spanOf(1_000_000).Round(time.Hour), "1M at 5952/h spans a week")
	assert.Equal(t, 2*time.Second, o.spanOf(1), "a span is at least 2s")
}

func TestHelpIsNotAnError(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"-h"}, &out, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "Usage: go run ./tests/bench")
	assert.False(t, errors.Is(err, errClaimFailed))
}
