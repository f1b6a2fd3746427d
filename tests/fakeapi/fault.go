package fakeapi

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// FaultKind names one injected failure. The string values are what the CLI's
// --fault-kinds flag accepts.
type FaultKind string

// The fault kinds.
const (
	// FaultRateLimited answers 429 rate_limit_error with retry-after (Fault.RetryAfter, default 1s).
	FaultRateLimited FaultKind = "429"
	// FaultRateLimitedNoRetryAfter answers 429 rate_limit_error without retry-after.
	FaultRateLimitedNoRetryAfter FaultKind = "429-no-retry-after"
	// FaultServerError answers 500 api_error with x-should-retry: true.
	FaultServerError FaultKind = "500"
	// FaultServerErrorNoRetry answers 500 api_error with x-should-retry: false.
	FaultServerErrorNoRetry FaultKind = "500-no-retry"
	// FaultBadGateway answers 502 api_error.
	FaultBadGateway FaultKind = "502"
	// FaultUnavailable answers 503 api_error.
	FaultUnavailable FaultKind = "503"
	// FaultGatewayTimeout answers 504 timeout_error.
	FaultGatewayTimeout FaultKind = "504"
	// FaultOverloaded answers 529 overloaded_error.
	FaultOverloaded FaultKind = "529"
	// FaultConnectionReset closes the connection without an answer (TCP RST
	// where possible).
	FaultConnectionReset FaultKind = "reset"
	// FaultTruncatedBody sends 200 with the full Content-Length of the real
	// page, half of its body, then closes the connection.
	FaultTruncatedBody FaultKind = "truncated"
	// FaultHTMLBody answers 200 with a text/html body.
	FaultHTMLBody FaultKind = "html"
	// FaultSlow waits Fault.Delay (default 2s, or Options.FaultDelay for random
	// faults) before answering normally; it gives up when the request's
	// context ends.
	FaultSlow FaultKind = "slow"
	// FaultNullCursor answers the real page with has_more true and null
	// first_id and last_id.
	FaultNullCursor FaultKind = "null-cursor"
	// FaultRepeatedCursor answers the real page with has_more true and
	// last_id set to the cursor the request sent. It applies only to requests
	// that carry after_id or before_id.
	FaultRepeatedCursor FaultKind = "repeated-cursor"
	// FaultBadEnvelope answers 200 with JSON that is not the envelope.
	FaultBadEnvelope FaultKind = "envelope"
	// FaultCorruptContent serves a /content download with one byte flipped
	// and the Content-MD5 of the right bytes. It applies only to downloads.
	FaultCorruptContent FaultKind = "corrupt-content"
)

// AllFaultKinds lists every fault kind.
func AllFaultKinds() []FaultKind {
	return []FaultKind{
		FaultRateLimited, FaultRateLimitedNoRetryAfter, FaultServerError, FaultServerErrorNoRetry,
		FaultBadGateway, FaultUnavailable, FaultGatewayTimeout, FaultOverloaded, FaultConnectionReset,
		FaultTruncatedBody, FaultHTMLBody, FaultSlow, FaultNullCursor, FaultRepeatedCursor, FaultBadEnvelope,
		FaultCorruptContent,
	}
}

// DefaultFaultKinds lists the transient faults a correct client survives by
// retrying; random faults (Options.FaultRate) use them when Options.FaultKinds
// is empty.
func DefaultFaultKinds() []FaultKind {
	return []FaultKind{
		FaultRateLimited, FaultRateLimitedNoRetryAfter, FaultServerError, FaultBadGateway,
		FaultUnavailable, FaultGatewayTimeout, FaultOverloaded, FaultConnectionReset, FaultTruncatedBody,
	}
}

// ParseFaultKinds parses a comma-separated list such as "429,500,reset".
func ParseFaultKinds(s string) ([]FaultKind, error) {
	var out []FaultKind
	for part := range strings.SplitSeq(s, ",") {
		k := FaultKind(strings.TrimSpace(part))
		if k == "" {
			continue
		}
		if !k.valid() {
			return nil, fmt.Errorf("unknown fault kind %q (known: %s)", k, kindList())
		}
		out = append(out, k)
	}
	return out, nil
}

func (k FaultKind) valid() bool {
	for _, known := range AllFaultKinds() {
		if k == known {
			return true
		}
	}
	return false
}

func kindList() string {
	var names []string
	for _, k := range AllFaultKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// Fault is one injected failure.
type Fault struct {
	// Kind selects the failure.
	Kind FaultKind
	// RetryAfter is the retry-after header of FaultRateLimited, rounded up to
	// whole seconds. Zero means 1s.
	RetryAfter time.Duration
	// Delay is how long FaultSlow waits. Zero means 2s.
	Delay time.Duration
	// OnlyIfCursor makes the fault wait for a request that carries after_id or
	// before_id; requests without one pass untouched while it waits.
	OnlyIfCursor bool
	// Match, when set, makes the fault wait for a request whose query it
	// accepts.
	Match func(url.Values) bool
	// Path, when set, makes the fault wait for a request to that endpoint:
	// one of the *Path constants, {…} parameters included (ChatsPath,
	// FileContentPath, ...).
	Path string
}

// applies reports whether the fault should fire on a request to rs with
// query v. The cursor faults apply only to the Activity Feed, a corrupt
// content only to downloads, and the others everywhere.
func (f *Fault) applies(rs *routeSpec, v url.Values) bool {
	switch {
	case f.Path != "" && f.Path != rs.pattern:
		return false
	case (f.Kind == FaultNullCursor || f.Kind == FaultRepeatedCursor) && rs.id != rActivities:
		return false
	case f.Kind == FaultCorruptContent && !rs.content:
		return false
	case (f.OnlyIfCursor || f.Kind == FaultRepeatedCursor) && !hasCursor(v):
		return false
	}
	return f.Match == nil || f.Match(v)
}

// faultAnswer is the fixed error answer of a status fault.
func (f *Fault) errorAnswer() (*apiError, map[string]string, bool) {
	switch f.Kind {
	case FaultRateLimited:
		secs := max(1, int((f.RetryAfter+time.Second-1)/time.Second))
		return &apiError{429, "rate_limit_error", "Request rate limit exceeded (injected fault)."},
			map[string]string{"retry-after": fmt.Sprint(secs)}, true
	case FaultRateLimitedNoRetryAfter:
		return &apiError{429, "rate_limit_error", "Request rate limit exceeded (injected fault)."}, nil, true
	case FaultServerError:
		return &apiError{500, "api_error", "Internal server error (injected fault)."},
			map[string]string{"x-should-retry": "true"}, true
	case FaultServerErrorNoRetry:
		return &apiError{500, "api_error", "Internal server error (injected fault)."},
			map[string]string{"x-should-retry": "false"}, true
	case FaultBadGateway:
		return &apiError{502, "api_error", "Bad gateway (injected fault)."}, nil, true
	case FaultUnavailable:
		return &apiError{503, "api_error", "Service unavailable (injected fault)."}, nil, true
	case FaultGatewayTimeout:
		return &apiError{504, "timeout_error", "Gateway timeout (injected fault)."}, nil, true
	case FaultOverloaded:
		return &apiError{529, "overloaded_error", "Overloaded (injected fault)."}, nil, true
	}
	return nil, nil, false
}

const htmlFaultBody = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>upstream unavailable (injected fault)</p></body></html>\n"

const envelopeFaultBody = `{"items":[],"next":null}`
