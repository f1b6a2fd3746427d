package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// childRun is one measured child process.
type childRun struct {
	Wall    time.Duration // from just before start to exit
	PeakRSS int64         // bytes, from the kernel's accounting of the child (0 if unknown)
	CPU     time.Duration // user + system time of the child
	Stdout  []byte
	Stderr  []byte
}

// runChild runs exe with args and extra environment, waits for it to exit and
// measures it. during, when non-nil, runs concurrently with the child and is
// waited for; its error is returned if the child succeeded.
func runChild(ctx context.Context, exe string, args, env []string, timeout time.Duration, during func(context.Context) error) (childRun, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return childRun{}, fmt.Errorf("starting %s: %w", exe, err)
	}
	var wg sync.WaitGroup
	var duringErr error
	if during != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			duringErr = during(ctx)
		}()
	}
	waitErr := cmd.Wait()
	wall := time.Since(start)
	cancel()
	wg.Wait()
	run := childRun{Wall: wall, PeakRSS: peakRSS(cmd.ProcessState), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ps := cmd.ProcessState; ps != nil {
		run.CPU = ps.UserTime() + ps.SystemTime()
	}
	if waitErr != nil {
		return run, fmt.Errorf("%s exited: %w; stderr tail: %s", exe, waitErr, tail(run.Stderr, 2000))
	}
	return run, duringErr
}

// tail returns at most n bytes of the end of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}
