package api

import "time"

// Hooks observe the client. Every hook is optional and called synchronously
// on the calling goroutine, so it must not block for long. No payload ever
// holds the API key.
type Hooks struct {
	// OnRequest is called before each attempt is sent.
	OnRequest func(RequestInfo)
	// OnResponse is called after each attempt, with a status or a transport
	// error.
	OnResponse func(ResponseInfo)
	// OnRetry is called when a failed attempt will be retried, before the
	// wait.
	OnRetry func(RetryInfo)
	// OnWait is called before a headroom wait and after a Config.Limiter
	// call that blocked.
	OnWait func(WaitInfo)
}

// RequestInfo describes one attempt about to be sent.
type RequestInfo struct {
	Method string
	// URL is the full request URL including the query (no credentials are
	// ever in it).
	URL     string
	Attempt int
	// Headers are the request headers for debug tracing, with x-api-key
	// replaced by "[redacted]".
	Headers map[string]string
}

// ResponseInfo describes the outcome of one attempt.
type ResponseInfo struct {
	// Endpoint names the API endpoint: EndpointActivities or one of the
	// other Endpoint* constants.
	Endpoint string
	// Status is 0 when no response arrived (see Err).
	Status    int
	RequestID string
	Attempt   int
	// Duration runs from sending the request to the end of the body read,
	// measured with Config.Now.
	Duration   time.Duration
	RateLimit  RateLimit
	ServerDate time.Time
	// Err is the transport error of the attempt, or nil.
	Err error
}

// RetryInfo describes a retry about to be waited for.
type RetryInfo struct {
	// Endpoint names the API endpoint: EndpointActivities or one of the
	// other Endpoint* constants.
	Endpoint string
	// Attempt is the number of the attempt that follows the wait.
	Attempt int
	// Reason is "status_<code>", "timeout", "connection_reset",
	// "connection_refused", "truncated_body" or "dns_temporary".
	Reason    string
	Status    int
	RequestID string
	// Wait is the delay before the next attempt.
	Wait time.Duration
	// RetryAfter is the raw Retry-After header, if any.
	RetryAfter string
	// Capped is set when an honoured Retry-After exceeded MaxRetryAfter and
	// was cut to it.
	Capped bool
}

// WaitInfo describes a wait for the rate budget.
type WaitInfo struct {
	// Reason is "headroom" (remaining requests at or below the headroom) or
	// "limiter" (Config.Limiter blocked; Wait is measured after the fact).
	Reason    string
	Wait      time.Duration
	Remaining int
	Limit     int
	// Reset is the window reset the server announced.
	Reset time.Time
}
