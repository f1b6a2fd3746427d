package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// The fake API runs in a child process of its own. Linux starts children
// with vfork and records the parent's peak RSS as the child's starting
// ru_maxrss at exec, so a parent holding a million generated activities would
// inflate every child's measured peak; a small parent keeps the figures exact.

// fakeAPI is a running fake-API child.
type fakeAPI struct {
	url    string
	cmd    *exec.Cmd
	stdin  io.Closer
	stderr *bytes.Buffer
}

// startFakeAPI starts the fake-API child with n activities in [from, to) and
// waits until it listens.
func startFakeAPI(ctx context.Context, self string, n int, seed uint64, from, to time.Time) (*fakeAPI, error) {
	cmd := exec.CommandContext(ctx, self, "-n", strconv.Itoa(n), "-seed", strconv.FormatUint(seed, 10),
		"-from", fmtTime(from), "-to", fmtTime(to))
	cmd.Env = append(os.Environ(), childModeEnv+"="+childFakeAPI, apiKeyEnv+"="+benchKey)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("fake api: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("fake api: %w", err)
	}
	f := &fakeAPI{cmd: cmd, stdin: stdin, stderr: &bytes.Buffer{}}
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("fake api: starting: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = f.close()
		return nil, fmt.Errorf("fake api: no URL on its stdout: %w; stderr: %s", err, tail(f.stderr.Bytes(), 1000))
	}
	f.url = strings.TrimSpace(line)
	if !strings.HasPrefix(f.url, "http://") {
		_ = f.close()
		return nil, fmt.Errorf("fake api: unexpected first line %q", line)
	}
	return f, nil
}

// close tells the child to stop (its stdin closes) and waits for it.
func (f *fakeAPI) close() error {
	_ = f.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- f.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("fake api exited: %w; stderr: %s", err, tail(f.stderr.Bytes(), 1000))
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
		return errors.New("fake api did not stop within 30s of its stdin closing; killed")
	}
}

// fakeAPIMain is the fake-API child: it generates the dataset, serves it on
// a free loopback port with no lag and no rate limit, prints the URL as its
// first line and serves until stdin closes.
func fakeAPIMain(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet(childFakeAPI, flag.ContinueOnError)
	n := fs.Int("n", 0, "activities")
	seed := fs.Uint64("seed", 1, "dataset seed")
	fromS := fs.String("from", "", "first created_at (RFC 3339)")
	toS := fs.String("to", "", "end of created_at, exclusive (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	from, err := time.Parse(time.RFC3339, *fromS)
	if err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	to, err := time.Parse(time.RFC3339, *toS)
	if err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	key := os.Getenv(apiKeyEnv)
	if key == "" {
		return fmt.Errorf("$%s is required", apiKeyEnv)
	}
	ds := fakeapi.Generate(fakeapi.GenOptions{Seed: *seed, Count: *n, From: from, To: to})
	if len(ds) != *n {
		return fmt.Errorf("generated %d activities, want %d", len(ds), *n)
	}
	run, err := fakeapi.Start(fakeapi.Options{APIKeys: []string{key}, Dataset: ds, Seed: *seed}, "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, run.URL()); err != nil {
		_ = run.Close()
		return err
	}
	_, _ = io.Copy(io.Discard, stdin) // until the parent closes it
	return run.Close()
}
