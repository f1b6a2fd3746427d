package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// buildBinary builds ./cmd/compliance-connect of the enclosing module into dir.
func buildBinary(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the benchmark from inside the compliance-connect module (go run ./tests/bench)")
	}
	bin := filepath.Join(dir, "compliance-connect")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/compliance-connect")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/compliance-connect: %w: %s", err, out)
	}
	return bin, nil
}

// inputConfig is the backfill the binary runs: one `once` job over
// [from, to) into drop, with the checkpoint in stateDir. debugAddr, when not
// empty, serves /debug/pprof there; otherwise the HTTP server is off (runs
// never compete for a port).
func inputConfig(baseURL, stateDir, from, to string, pageSize int, maxSlice, debugAddr string) string {
	httpConf := "http:\n  enabled: false\n"
	if debugAddr != "" {
		httpConf = fmt.Sprintf("http:\n  enabled: true\n  address: %s\n  debug_endpoints: true\n", debugAddr)
	}
	tuning := ""
	if maxSlice != "" {
		tuning = "\n    max_slice: " + maxSlice
	}
	return httpConf + fmt.Sprintf(`logger:
  level: INFO
  format: json
  add_timestamp: false
input:
  label: bench
  anthropic_compliance:
    api_key: ${%s}
    base_url: %s
    state:
      path: %s
    settle: 60s%s
    endpoints:
      - name: activities
        schedule: once
        earliest: %s
        latest: %s
        page_size: %d
        job_timeout: 0
output:
  drop: {}
`, apiKeyEnv, baseURL, stateDir, tuning, from, to, pageSize)
}

// jobReport is the part of the input's "job report" log line the benchmark
// checks.
type jobReport struct {
	Outcome  string
	Emitted  int
	Pages    int
	Slices   int
	Duration time.Duration
	Error    string
}

// findJobReport reads the JSON log lines of a run and returns its job report.
func findJobReport(logs ...[]byte) (jobReport, error) {
	for _, l := range logs {
		sc := bufio.NewScanner(bytes.NewReader(l))
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.Contains(line, []byte(`"job report"`)) {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				return jobReport{}, fmt.Errorf("job report line is not JSON: %w: %s", err, line)
			}
			rep := jobReport{
				Outcome: str(m["outcome"]), Error: str(m["error"]),
				Emitted: num(m["activities_emitted"]), Pages: num(m["pages"]), Slices: num(m["slices"]),
			}
			d, err := time.ParseDuration(str(m["duration"]))
			if err != nil {
				return jobReport{}, fmt.Errorf("job report duration %q: %w", str(m["duration"]), err)
			}
			rep.Duration = d
			return rep, nil
		}
	}
	return jobReport{}, errors.New("no \"job report\" line in the binary's logs")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return -1
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// captureProfiles waits for the binary's HTTP server at addr, then saves a
// CPU profile of secs seconds as dir/cpu.pprof and, right after it, the heap
// profile as dir/heap.pprof.
func captureProfiles(ctx context.Context, addr string, secs int, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	base := "http://" + addr + "/debug/pprof/"
	for {
		err := fetchTo(ctx, base+"profile?seconds="+strconv.Itoa(secs), filepath.Join(dir, "cpu.pprof"))
		if err == nil {
			break
		}
		var reqErr *requestError
		if !errors.As(err, &reqErr) {
			return fmt.Errorf("cpu profile: %w (the run must last longer than -profile-seconds=%d)", err, secs)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cpu profile: the binary's debug endpoint never answered: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := fetchTo(ctx, base+"heap", filepath.Join(dir, "heap.pprof")); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

// requestError is a request that got no answer (the server is not up yet).
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// fetchTo saves the body of a GET of target to path.
func fetchTo(ctx context.Context, target, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &requestError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d from %s", resp.StatusCode, target)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading %s: %w", target, err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}
