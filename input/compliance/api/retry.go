package api

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// statusRetryable applies the policy's rules to a non-2xx status and its
// x-should-retry header.
func (p RetryPolicy) statusRetryable(status int, shouldRetry string) bool {
	if slices.Contains(neverRetried, status) {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(shouldRetry)) {
	case "false":
		return false
	case "true":
		return true
	}
	return slices.Contains(p.HTTPCodes, status)
}

// Reasons of transport failures, as reported in RetryInfo.Reason.
const (
	reasonTimeout   = "timeout"
	reasonReset     = "connection_reset"
	reasonRefused   = "connection_refused"
	reasonTruncated = "truncated_body"
	reasonDNS       = "dns_temporary"
	reasonTransport = "transport_error"
)

// classifyTransport names a transport failure. inBody is set when the
// response headers had arrived and the body read failed.
func classifyTransport(err error, inBody bool) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return reasonTimeout
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return reasonTimeout
		}
		if dnsErr.IsTemporary {
			return reasonDNS
		}
		return reasonTransport
	case errors.As(err, &netErr) && netErr.Timeout():
		return reasonTimeout
	case inBody && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return reasonTruncated
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reasonReset
	}
	return reasonTransport
}

// transportRetryable applies the policy's connection flags to a reason.
func (p RetryPolicy) transportRetryable(reason string) bool {
	switch reason {
	case reasonTimeout:
		return p.RetryConnectionTimeout
	case reasonReset, reasonRefused, reasonTruncated, reasonDNS:
		return p.RetryConnectionReset
	}
	return false
}

// delay is the computed wait before retry n (1-based), given a jitter draw
// r in [0, 1).
func (p RetryPolicy) delay(n int, r float64) time.Duration {
	if p.Mode == RetryStatic || p.InitialInterval <= 0 {
		return p.InitialInterval
	}
	nominal := float64(p.InitialInterval) * math.Pow(p.Multiplier, float64(n-1))
	nominal = min(nominal, float64(p.MaxInterval))
	jittered := nominal * (0.75 + 0.5*r)
	return time.Duration(min(jittered, float64(p.MaxInterval)))
}

// maxRetryAfterSeconds bounds a parsed Retry-After before the policy caps it.
const maxRetryAfterSeconds = 1 << 31

// parseRetryAfter parses a Retry-After header: integer seconds or an
// HTTP-date, the latter taken relative to the response's Date header when
// known, else to now. A time in the past gives 0.
func parseRetryAfter(v string, serverDate, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case secs < 0:
			return 0, true
		case secs > maxRetryAfterSeconds || err != nil:
			return maxRetryAfterSeconds * time.Second, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	ref := now
	if !serverDate.IsZero() {
		ref = serverDate
	}
	return max(at.Sub(ref), 0), true
}
