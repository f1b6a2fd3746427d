package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// errClaimFailed marks a run whose figures contradict a README claim.
var errClaimFailed = errors.New("a claim does not hold")

// benchKey is the fake API's only accepted key (a fake; still kept out of
// command lines, configs and output).
const benchKey = "sk-ant-api01-bench-0123456789abcdef"

// sizeResult holds the runs of one dataset size.
type sizeResult struct {
	n     int
	input []inputRun
	plain []plainRun
	fetch []plainRun
}

type inputRun struct {
	childRun
	report jobReport
}

type plainRun struct {
	childRun
	result plainResult
}

// loopKind selects what the plain-loop child does with each page.
type loopKind bool

const (
	decodeJSON loopKind = true  // encoding/json into []map[string]any
	fetchBytes loopKind = false // read the bytes only: the fake's ceiling
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "compliance-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	if o.keep {
		fmt.Fprintf(stdout, "keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.binary == "" {
		fmt.Fprintln(stdout, "building ./cmd/compliance-connect ...")
		if o.binary, err = buildBinary(ctx, dir); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating this program for the plain-loop child: %w", err)
	}
	fmt.Fprintf(stdout, "machine: %s/%s, %d CPUs, %s; load average at start: %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), loadAverage())

	var results []sizeResult
	for i, n := range o.sizes {
		profile := o.profileDir != "" && i == len(o.sizes)-1
		r, err := benchSize(ctx, o, n, self, dir, profile, stdout)
		if err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "load average at end: %s\n", loadAverage())
	// A child's ru_maxrss starts at this process's peak (see fakeapi.go):
	// figures at or below it only bound the child's peak from above.
	fmt.Fprintf(stdout, "measurement floor (peak RSS of this program, inherited by each child's count): %s\n\n", mib(selfPeakRSS()))
	return report(o, results, stdout)
}

// benchSize serves a dataset of n activities and runs both consumers on it
// o.runs times each, alternating which goes first.
func benchSize(ctx context.Context, o options, n int, self, dir string, profile bool, stdout io.Writer) (sizeResult, error) {
	to := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	from := to.Add(-o.spanOf(n))
	fmt.Fprintf(stdout, "N=%d: generating (seed %d, %s .. %s) ...\n", n, o.seed, fmtTime(from), fmtTime(to))
	api, err := startFakeAPI(ctx, self, n, o.seed, from, to)
	if err != nil {
		return sizeResult{}, err
	}
	defer api.close()

	res := sizeResult{n: n}
	for r := range o.runs {
		steps := []func() error{
			func() error {
				ir, err := runInput(ctx, o, api.url, filepath.Join(dir, fmt.Sprintf("run-%d-%d", n, r)), fmtTime(from), fmtTime(to), profile && r == 0)
				if err != nil {
					return fmt.Errorf("input run %d: %w", r+1, err)
				}
				if ir.report.Outcome != "success" || ir.report.Emitted != n {
					return fmt.Errorf("input run %d: job ended %q (%s) after emitting %d of %d activities", r+1, ir.report.Outcome, ir.report.Error, ir.report.Emitted, n)
				}
				fmt.Fprintf(stdout, "  input  run %d: %8.3fs wall, %7.3fs CPU (job %7.3fs, %d slices, %d pages)  %9.0f act/s  peak RSS %s\n",
					r+1, ir.Wall.Seconds(), ir.CPU.Seconds(), ir.report.Duration.Seconds(), ir.report.Slices, ir.report.Pages, rate(n, ir.Wall), mib(ir.PeakRSS))
				res.input = append(res.input, ir)
				return nil
			},
			func() error {
				pr, err := runPlain(ctx, o, self, api.url, fmtTime(from), fmtTime(to), decodeJSON)
				if err != nil {
					return fmt.Errorf("plain loop run %d: %w", r+1, err)
				}
				if pr.result.Activities != n {
					return fmt.Errorf("plain loop run %d: read %d of %d activities", r+1, pr.result.Activities, n)
				}
				fmt.Fprintf(stdout, "  plain  run %d: %8.3fs wall, %7.3fs CPU (loop %7.3fs, %d pages)  %9.0f act/s  peak RSS %s\n",
					r+1, pr.Wall.Seconds(), pr.CPU.Seconds(), pr.result.Seconds, pr.result.Pages, rate(n, pr.Wall), mib(pr.PeakRSS))
				res.plain = append(res.plain, pr)
				return nil
			},
			func() error {
				pr, err := runPlain(ctx, o, self, api.url, fmtTime(from), fmtTime(to), fetchBytes)
				if err != nil {
					return fmt.Errorf("fetch-only run %d: %w", r+1, err)
				}
				if pr.result.Activities != n {
					return fmt.Errorf("fetch-only run %d: counted %d of %d activities", r+1, pr.result.Activities, n)
				}
				fmt.Fprintf(stdout, "  fetch  run %d: %8.3fs wall, %7.3fs CPU (loop %7.3fs, %d pages)  %9.0f act/s  peak RSS %s\n",
					r+1, pr.Wall.Seconds(), pr.CPU.Seconds(), pr.result.Seconds, pr.result.Pages, rate(n, pr.Wall), mib(pr.PeakRSS))
				res.fetch = append(res.fetch, pr)
				return nil
			},
		}
		if !o.loops {
			steps = steps[:1]
		}
		if r%2 == 1 {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return sizeResult{}, err
			}
		}
	}
	return res, nil
}

func runInput(ctx context.Context, o options, baseURL, runDir, from, to string, profile bool) (inputRun, error) {
	stateDir := filepath.Join(runDir, "state")
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return inputRun{}, fmt.Errorf("state dir: %w", err)
	}
	var debugAddr string
	var during func(context.Context) error
	if profile {
		addr, err := freeAddr()
		if err != nil {
			return inputRun{}, err
		}
		debugAddr = addr
		during = func(ctx context.Context) error {
			return captureProfiles(ctx, addr, o.profileSecs, o.profileDir)
		}
	}
	cfg := filepath.Join(runDir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(inputConfig(baseURL, stateDir, from, to, o.pageSize, o.maxSlice, debugAddr)), 0o644); err != nil {
		return inputRun{}, fmt.Errorf("writing the config: %w", err)
	}
	env := append([]string{apiKeyEnv + "=" + benchKey}, o.binaryEnv...)
	cr, err := runChild(ctx, o.binary, []string{"run", cfg}, env, o.timeout, during)
	if o.keep {
		_ = os.WriteFile(filepath.Join(runDir, "stdout.log"), cr.Stdout, 0o644)
		_ = os.WriteFile(filepath.Join(runDir, "stderr.log"), cr.Stderr, 0o644)
	}
	if err != nil {
		return inputRun{}, err
	}
	rep, err := findJobReport(cr.Stdout, cr.Stderr)
	if err != nil {
		return inputRun{}, fmt.Errorf("%w; stdout tail: %s; stderr tail: %s", err, tail(cr.Stdout, 1000), tail(cr.Stderr, 1000))
	}
	return inputRun{childRun: cr, report: rep}, nil
}

func runPlain(ctx context.Context, o options, self, baseURL, from, to string, kind loopKind) (plainRun, error) {
	args := []string{"-url", baseURL, "-from", from, "-to", to, "-page-size", fmt.Sprint(o.pageSize), "-decode=" + fmt.Sprint(bool(kind))}
	env := []string{childModeEnv + "=" + childPlain, apiKeyEnv + "=" + benchKey}
	cr, err := runChild(ctx, self, args, env, o.timeout, nil)
	if err != nil {
		return plainRun{}, err
	}
	var pr plainResult
	if err := json.Unmarshal(cr.Stdout, &pr); err != nil {
		return plainRun{}, fmt.Errorf("plain loop output %q: %w", tail(cr.Stdout, 200), err)
	}
	return plainRun{childRun: cr, result: pr}, nil
}

// report prints the table of medians and checks the claims.
func report(o options, results []sizeResult, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tinput act/s\tplain loop act/s\tratio\tinput wall\tplain wall\tinput peak RSS\tplain peak RSS\tfetch-only act/s\t")
	var failures []string
	for _, r := range results {
		inWall := median(r.input, func(x inputRun) time.Duration { return x.Wall })
		inRSS := median(r.input, func(x inputRun) int64 { return x.PeakRSS })
		plain, ratio, plWall, plRSS, fetch := "-", "-", "-", "-", "-"
		if len(r.plain) > 0 {
			w := median(r.plain, func(x plainRun) time.Duration { return x.Wall })
			q := w.Seconds() / inWall.Seconds()
			plain, ratio, plWall = fmt.Sprintf("%.0f", rate(r.n, w)), fmt.Sprintf("%.2f", q), fmt.Sprintf("%.3fs", w.Seconds())
			plRSS = mib(median(r.plain, func(x plainRun) int64 { return x.PeakRSS }))
			fetch = fmt.Sprintf("%.0f", rate(r.n, median(r.fetch, func(x plainRun) time.Duration { return x.Wall })))
			if q < o.minRatio {
				failures = append(failures, fmt.Sprintf("N=%d: input/plain loop throughput %.2f < %.2f", r.n, q, o.minRatio))
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.3fs\t%s\t%s\t%s\t%s\t\n",
			thousands(r.n), rate(r.n, inWall), plain, ratio, inWall.Seconds(), plWall, mib(inRSS), plRSS, fetch)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "(medians of %d runs; wall = process start to exit; ratio = input act/s / plain loop act/s, must be >= %.2f;\n"+
		" fetch-only = the same walk reading bytes without decoding: what the fake API and loopback allow)\n", o.runs, o.minRatio)
	if len(results) > 1 {
		first, last := results[0], results[len(results)-1]
		a := median(first.input, func(x inputRun) int64 { return x.PeakRSS })
		b := median(last.input, func(x inputRun) int64 { return x.PeakRSS })
		if a > 0 && b > 0 {
			growth := float64(b) / float64(a)
			fmt.Fprintf(stdout, "input peak RSS, N=%s over N=%s: %.2f (must be <= %.2f)\n", thousands(last.n), thousands(first.n), growth, o.maxRSSRatio)
			if growth > o.maxRSSRatio {
				failures = append(failures, fmt.Sprintf("peak RSS grows %.2fx from N=%d to N=%d (limit %.2f)", growth, first.n, last.n, o.maxRSSRatio))
			}
		} else {
			fmt.Fprintln(stdout, "input peak RSS: not reported by this OS, memory claim not checked")
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%w: %s", errClaimFailed, strings.Join(failures, "; "))
	}
	fmt.Fprintln(stdout, "all claims hold")
	return nil
}

// median returns the median of f over xs (the upper one for an even count).
func median[T any, V int64 | time.Duration](xs []T, f func(T) V) V {
	vs := make([]V, len(xs))
	for i, x := range xs {
		vs[i] = f(x)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// spanOf is the time span of a dataset of n activities.
func (o options) spanOf(n int) time.Duration {
	if o.density == 0 {
		return o.span
	}
	secs := max(2, (int64(n)*3600+int64(o.density)-1)/int64(o.density))
	return time.Duration(secs) * time.Second
}
