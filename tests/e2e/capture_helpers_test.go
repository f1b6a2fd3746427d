package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// ---------------------------------------------------------------------------
// Log capture.

// logEntry is one captured log line with its attributes flattened to text.
type logEntry struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// text is the entry as one line, every attribute included.
func (e logEntry) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Level, e.Msg)
	keys := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Attrs[k])
	}
	return b.String()
}

// logSink is an slog.Handler that keeps every record at every level (and
// echoes it to stderr when E2E_LOG_LEVEL is set). onEntry, when set, is called
// synchronously on the logging goroutine: a test can react to a log line
// before the code that logged it continues.
type logSink struct {
	mu      sync.Mutex
	entries []logEntry
	onEntry func(logEntry)
	echo    bool
}

func newLogSink() *logSink { return &logSink{echo: os.Getenv("E2E_LOG_LEVEL") != ""} }

func (s *logSink) logger() *slog.Logger { return slog.New(&sinkHandler{sink: s}) }

func (s *logSink) all() []logEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

func (s *logSink) setOnEntry(fn func(logEntry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEntry = fn
}

// matching returns the entries whose message contains substr.
func (s *logSink) matching(substr string) []logEntry {
	var out []logEntry
	for _, e := range s.all() {
		if strings.Contains(e.Msg, substr) {
			out = append(out, e)
		}
	}
	return out
}

// contains reports whether a line at level or above contains every part, in
// its message or its attributes (written as k=v).
func (s *logSink) contains(level slog.Level, parts ...string) bool {
	for _, e := range s.all() {
		if e.Level < level {
			continue
		}
		text := e.Msg
		for k, v := range e.Attrs {
			text += " " + k + "=" + v
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(text, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// dump is every captured line, for failure messages and greps.
func (s *logSink) dump() string {
	var b strings.Builder
	for _, e := range s.all() {
		b.WriteString(e.text())
		b.WriteByte('\n')
	}
	return b.String()
}

// report is the attributes of one "job report" log line.
type report map[string]string

// jobReports lists the job report lines in order.
func (s *logSink) jobReports() []report {
	var out []report
	for _, e := range s.all() {
		if e.Msg == "job report" {
			out = append(out, report(e.Attrs))
		}
	}
	return out
}

// waitJob waits for a job report matching fn and returns it.
func (s *logSink) waitJob(t *testing.T, what string, fn func(report) bool) report {
	t.Helper()
	var found report
	require.Eventually(t, func() bool {
		for _, rep := range s.jobReports() {
			if fn(rep) {
				found = rep
				return true
			}
		}
		return false
	}, 30*time.Second, 5*time.Millisecond, "waiting for a job report: %s; logs:\n%s", what, s.dump())
	return found
}

// waitSuccess waits for the n-th (1-based) successful job report.
func (s *logSink) waitSuccess(t *testing.T, n int) report {
	t.Helper()
	var found report
	require.Eventually(t, func() bool {
		k := 0
		for _, rep := range s.jobReports() {
			if rep["outcome"] == collector.OutcomeSuccess {
				if k++; k == n {
					found = rep
					return true
				}
			}
		}
		return false
	}, 30*time.Second, 5*time.Millisecond, "waiting for successful job report #%d; logs:\n%s", n, s.dump())
	return found
}

type sinkHandler struct {
	sink  *logSink
	attrs []slog.Attr
}

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		e.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		e.Attrs[a.Key] = a.Value.String()
		return true
	})
	s := h.sink
	s.mu.Lock()
	s.entries = append(s.entries, e)
	fn := s.onEntry
	s.mu.Unlock()
	if s.echo {
		fmt.Fprintln(os.Stderr, e.text())
	}
	if fn != nil {
		fn(e)
	}
	return nil
}

func (h *sinkHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sinkHandler{sink: h.sink, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *sinkHandler) WithGroup(string) slog.Handler { return h }
