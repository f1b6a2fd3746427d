// Command bench measures a backfill through the compliance-connect binary
// against the fake Compliance API (tests/fakeapi), next to a plain Go loop
// that fetches and decodes the same pages, and checks the README's claims:
// the input reaches at least half the plain loop's throughput, and its peak
// RSS does not grow with the size of the backfill. Run: go run ./tests/bench -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

// childModeEnv selects a child role when set (see runChildMode): the program
// re-executes itself so that the plain loop runs in its own process, like
// the binary it is compared with.
const childModeEnv = "COMPLIANCE_BENCH_CHILD"

// Child roles.
const (
	childPlain   = "plain-loop"
	childFakeAPI = "fake-api"
	// childBenthos is only served by the smoke test binary (it stands in for
	// compliance-connect without a go build).
	childBenthos = "benthos"
)

// apiKeyEnv carries the fake's key to both children; it never appears in a
// command line, a config file or the output.
const apiKeyEnv = "ANTHROPIC_COMPLIANCE_API_KEY"

func main() {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChildMode(mode, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, errClaimFailed) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// runChildMode runs a child role and returns its exit code.
func runChildMode(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch mode {
	case childPlain:
		err = plainLoopMain(args, stdout)
	case childFakeAPI:
		err = fakeAPIMain(args, stdin, stdout)
	default:
		err = fmt.Errorf("unknown %s=%q", childModeEnv, mode)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// options are the command-line settings of a benchmark run.
type options struct {
	sizes       []int
	runs        int
	seed        uint64
	span        time.Duration
	density     int // activities per hour; 0: every size spans span
	pageSize    int
	binary      string
	minRatio    float64
	maxRSSRatio float64
	timeout     time.Duration
	profileDir  string
	profileSecs int
	keep        bool
	loops       bool     // run the plain loop and the fetch-only loop too
	binaryEnv   []string // extra environment of the binary only
	maxSlice    string   // the input's max_slice; "" keeps its default
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("n", "10000,1000000", "comma list of dataset sizes (activities); the first and last are compared for peak RSS")
	runs := fs.Int("runs", 3, "runs per size and consumer; the table shows the median")
	seed := fs.Uint64("seed", 1, "seed of the generated dataset")
	span := fs.Duration("span", 7*24*time.Hour, "time span every dataset is spread over (unless -density is set)")
	density := fs.Int("density", 0, "activities per hour: each dataset spans N/density hours instead of -span (an organisation's backfill grows by time, not by density)")
	pageSize := fs.Int("page-size", 5000, "page size of both consumers (1..5000)")
	binary := fs.String("binary", "", "compliance-connect binary to measure (default: go build ./cmd/compliance-connect into a temp dir)")
	minRatio := fs.Float64("min-ratio", 0.5, "least input/plain-loop throughput ratio accepted for every size")
	maxRSS := fs.Float64("max-rss-ratio", 1.25, "largest accepted peak RSS of the last size over the first")
	timeout := fs.Duration("timeout", 15*time.Minute, "limit of each child process")
	profileDir := fs.String("profile-dir", "", "save cpu.pprof and then heap.pprof of the binary (first input run of the last size) in this directory")
	profileSecs := fs.Int("profile-seconds", 2, "length of the -profile-dir CPU capture; must be shorter than that run")
	loops := fs.Bool("loops", true, "also run the plain loop and the fetch-only loop (false: only the binary, for A/B comparisons of builds; no ratio check)")
	maxSlice := fs.String("max-slice", "", "the input's max_slice (e.g. 24h); empty keeps the input's default (1h)")
	binaryEnv := fs.String("binary-env", "", "space-separated KEY=VALUE pairs set for the binary only (e.g. \"GOGC=50 GOMEMLIMIT=48MiB\")")
	keep := fs.Bool("keep", false, "keep the temp directory (binary, configs, state, child logs)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: go run ./tests/bench [flags]

For each size N: generates N activities (seeded, spread over -span) in a fake
Compliance API child process, then runs -runs times, alternating the order:
  - compliance-connect with a "schedule: once" anthropic_compliance input into
    drop (wall time from start to exit, CPU time, peak RSS of the process),
  - a plain Go loop (net/http, after_id pagination, encoding/json into
    []map[string]any) over the same range, as its own process, and
  - the same walk reading the bytes only (the fake's and loopback's ceiling).
Every consumer must see exactly N activities. Prints a table of medians and
exits 2 if a claim fails (input/plain-loop throughput below -min-ratio for any
size, or peak RSS of the last size above -max-rss-ratio times the first's).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	o := options{
		runs: *runs, seed: *seed, span: *span, density: *density, pageSize: *pageSize, binary: *binary,
		minRatio: *minRatio, maxRSSRatio: *maxRSS, timeout: *timeout,
		profileDir: *profileDir, profileSecs: *profileSecs, keep: *keep, loops: *loops, maxSlice: *maxSlice,
	}
	for _, kv := range strings.Fields(*binaryEnv) {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return options{}, fmt.Errorf("-binary-env: %q is not KEY=VALUE", kv)
		}
		o.binaryEnv = append(o.binaryEnv, kv)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("-n: %q is not a positive number of activities", s)
		}
		o.sizes = append(o.sizes, n)
	}
	switch {
	case o.runs < 1:
		return options{}, fmt.Errorf("-runs must be at least 1, got %d", o.runs)
	case o.pageSize < 1 || o.pageSize > 5000:
		return options{}, fmt.Errorf("-page-size must be 1..5000, got %d", o.pageSize)
	case o.span < 2*time.Second || o.span%time.Second != 0:
		return options{}, fmt.Errorf("-span must be whole seconds and at least 2s, got %v", o.span)
	case o.maxSlice != "" && !validDuration(o.maxSlice):
		return options{}, fmt.Errorf("-max-slice: %q is not a duration", o.maxSlice)
	case o.density < 0:
		return options{}, fmt.Errorf("-density must not be negative, got %d", o.density)
	case o.profileSecs < 1:
		return options{}, fmt.Errorf("-profile-seconds must be at least 1, got %d", o.profileSecs)
	}
	return o, nil
}

func validDuration(s string) bool {
	_, err := time.ParseDuration(s)
	return err == nil
}
