package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ActivitiesPath is the Activity Feed endpoint below the base URL.
const ActivitiesPath = "/v1/compliance/activities"

// MaxLimit is the largest page size the API accepts.
const MaxLimit = 5000

// Body size bounds: a page is capped by Config.MaxResponseBytes; an error
// body is read only for error.type and error.message.
const (
	maxErrorBodyBytes = 64 << 10
	maxMessageBytes   = 1024
)

// Client lists the Activity Feed. It is safe for concurrent use; the latest
// rate-limit reading is shared by all calls.
type Client struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
	budget   budgetState
}

// New validates cfg and returns a client; nothing else in the client can fail
// for configuration reasons later. It starts no goroutine.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	endpoint, err := parseBaseURL(cfg.BaseURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, fmt.Errorf("base url: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	cfg.Retry.HTTPCodes = append([]int(nil), cfg.Retry.HTTPCodes...)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "compliance-connect"
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport(TransportConfig{})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepTimer
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Client{
		cfg:      cfg,
		endpoint: endpoint,
		http: &http.Client{
			Transport: cfg.Transport,
			// Go forwards custom headers such as x-api-key on redirects,
			// even to another host, so none is followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// CheckBaseURL reports a base URL the client would refuse: not an absolute
// http(s) URL with a host, with credentials, a query or a fragment, or http://
// to a host that is not loopback (127.0.0.0/8, ::1, localhost) unless
// allowInsecureHTTP is set, since the API key would cross the network in
// clear text. Empty means DefaultBaseURL.
func CheckBaseURL(raw string, allowInsecureHTTP bool) error {
	if raw == "" {
		return nil
	}
	_, err := parseBaseURL(raw, allowInsecureHTTP)
	return err
}

func parseBaseURL(raw string, allowInsecureHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The url.Error would repeat the raw value, which might hold
		// credentials; keep only its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	switch {
	case u.User != nil:
		return nil, errors.New("must not contain credentials (the key goes in api_key)")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme must be http or https, got %q in %q", u.Scheme, raw)
	case u.Host == "":
		return nil, fmt.Errorf("no host in %q", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("must not have a query or fragment, got %q", raw)
	case u.Scheme == "http" && !allowInsecureHTTP && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("%q would send the API key in clear text: use https, a loopback host (127.0.0.1, [::1], localhost), or set allow_insecure_http: true", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/") + ActivitiesPath
	u.RawPath = ""
	return u, nil
}

// isLoopback reports a host that never leaves the machine: localhost or a
// loopback IP literal. Other names are not resolved: what they resolve to
// can change.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// --------------------------------------------------------------------------
// Request parameters and results
// --------------------------------------------------------------------------

// ListParams are the query of one Activity Feed request. Filters must be
// resent unchanged on every page of a walk.
type ListParams struct {
	// CreatedAtGTE and CreatedAtLT are sent verbatim as created_at.gte and
	// created_at.lt when non-empty; the caller formats them (RFC 3339).
	CreatedAtGTE, CreatedAtLT string
	// Limit is the page size, 1 to 5000; 0 leaves the server default (100).
	Limit int
	// AfterID and BeforeID are opaque cursors; at most one may be set.
	AfterID  string
	BeforeID string
	// Order is "" (server default, newest first), "desc" or "asc".
	Order string
	// Filters, sent as key[]=value once per value. ActivityTypes and
	// ExcludeActivityTypes are mutually exclusive.
	ActivityTypes, ExcludeActivityTypes, ActorIDs, OrganizationIDs []string
}

func (p ListParams) encode() (string, error) {
	switch {
	case p.AfterID != "" && p.BeforeID != "":
		return "", errors.New("compliance api: list params: after_id and before_id are mutually exclusive")
	case len(p.ActivityTypes) > 0 && len(p.ExcludeActivityTypes) > 0:
		return "", errors.New("compliance api: list params: activity_types and exclude_activity_types are mutually exclusive")
	case p.Limit < 0 || p.Limit > MaxLimit:
		return "", fmt.Errorf("compliance api: list params: limit must be between 1 and %d (0 for the server default), got %d", MaxLimit, p.Limit)
	case p.Order != "" && p.Order != "asc" && p.Order != "desc":
		return "", fmt.Errorf("compliance api: list params: order must be asc or desc, got %q", p.Order)
	}
	v := url.Values{}
	set := func(key, value string) {
		if value != "" {
			v.Set(key, value)
		}
	}
	set("created_at.gte", p.CreatedAtGTE)
	set("created_at.lt", p.CreatedAtLT)
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	set("after_id", p.AfterID)
	set("before_id", p.BeforeID)
	set("order", p.Order)
	for _, list := range []struct {
		key    string
		values []string
	}{
		{"activity_types[]", p.ActivityTypes},
		{"exclude_activity_types[]", p.ExcludeActivityTypes},
		{"actor_ids[]", p.ActorIDs},
		{"organization_ids[]", p.OrganizationIDs},
	} {
		for i, value := range list.values {
			if value == "" {
				return "", fmt.Errorf("compliance api: list params: %s value %d is empty", strings.TrimSuffix(list.key, "[]"), i)
			}
			v.Add(list.key, value)
		}
	}
	return v.Encode(), nil
}

// Activity is one entry of a page.
type Activity struct {
	// ID is the activity id, the dedupe key.
	ID string
	// Type is the activity type, e.g. claude_chat_created.
	Type string
	// CreatedAt is created_at, parsed (RFC 3339, with or without fractional
	// seconds; in UTC for a Z suffix, else at the given offset).
	CreatedAt time.Time
	// Raw is the exact bytes of the activity as received. It aliases the
	// page's body buffer (which stays alive while any Raw does); its
	// capacity is capped so appending to it cannot overwrite a neighbour.
	Raw []byte
}

// Page is one decoded response of the Activity Feed.
type Page struct {
	Activities []Activity
	HasMore    bool
	// FirstID and LastID are the cursors; "" when null or absent.
	FirstID, LastID string
	// RequestID is the request-id header of the successful response.
	RequestID string
	// ServerDate is the Date header; zero if absent or unparsable.
	ServerDate time.Time
	// RateLimit is what the response's rate-limit headers said.
	RateLimit RateLimit
	// Attempts is the number of attempts the page took.
	Attempts int
}

// --------------------------------------------------------------------------
// The request loop
// --------------------------------------------------------------------------

// failure is one failed attempt that may be retried.
type failure struct {
	status       int
	errType, msg string
	requestID    string
	retryAfter   string
	serverDate   time.Time
	err          error
	reason       string
	retryable    bool
	receivedAt   time.Time
}

func (f *failure) final(attempts int) *Error {
	return &Error{
		Status:    f.status,
		Type:      f.errType,
		Message:   f.msg,
		RequestID: f.requestID,
		Attempts:  attempts,
		Retryable: f.retryable,
		Err:       f.err,
	}
}

// EndpointActivities is the Endpoint of hook payloads about the Activity Feed.
const EndpointActivities = "activities"

// ListActivities fetches one page. It waits for the rate budget and the
// Limiter before every attempt and retries per Config.Retry. It returns an
// *Error when the request failed for good, a *MalformedError when a response
// could not be decoded (never retried), and an error wrapping ctx.Err() as
// soon as ctx ends, even mid-wait.
func (c *Client) ListActivities(ctx context.Context, p ListParams) (*Page, error) {
	query, err := p.encode()
	if err != nil {
		return nil, err
	}
	target := *c.endpoint
	target.RawQuery = query
	u := target.String()

	var last *failure
	for attempt := 1; ; attempt++ {
		if err := c.gate(ctx); err != nil {
			return nil, c.stopped(ctx, err, attempt-1, last)
		}
		pg, f, err := c.attempt(ctx, u, attempt, p.Limit)
		c.budget.settled()
		switch {
		case err != nil:
			return nil, err
		case f == nil:
			pg.Attempts = attempt
			return pg, nil
		}
		last = f
		if !f.retryable || attempt > c.cfg.Retry.maxRetries() {
			return nil, f.final(attempt)
		}
		wait, capped := c.retryWait(f, attempt)
		if h := c.cfg.Hooks.OnRetry; h != nil {
			h(RetryInfo{
				Endpoint:   EndpointActivities,
				Attempt:    attempt + 1,
				Reason:     f.reason,
				Status:     f.status,
				RequestID:  f.requestID,
				Wait:       wait,
				RetryAfter: f.retryAfter,
				Capped:     capped,
			})
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, c.stopped(ctx, err, attempt, last)
		}
	}
}

// stopped builds the error for a call ended by ctx or by the Limiter.
func (c *Client) stopped(ctx context.Context, err error, attempts int, last *failure) error {
	if ctx.Err() == nil {
		return fmt.Errorf("compliance api: rate limiter: %w", err)
	}
	if last != nil {
		return fmt.Errorf("compliance api: stopped after %d attempts (last: %s): %w", attempts, last.final(attempts).Error(), ctx.Err())
	}
	return fmt.Errorf("compliance api: stopped after %d attempts: %w", attempts, ctx.Err())
}

// retryWait is the wait before the retry that follows attempt n: an
// honoured Retry-After (capped at MaxRetryAfter), else the computed delay.
func (c *Client) retryWait(f *failure, n int) (time.Duration, bool) {
	p := c.cfg.Retry
	if p.HonorRetryAfter && f.retryAfter != "" {
		if d, ok := parseRetryAfter(f.retryAfter, f.serverDate, f.receivedAt); ok {
			if d > p.MaxRetryAfter {
				return p.MaxRetryAfter, true
			}
			return d, false
		}
	}
	return p.delay(n, c.cfg.Rand()), false
}

// gate waits for the headroom and the Limiter before an attempt. When it
// returns nil the attempt counts as in flight: settle it once its answer
// was observed.
func (c *Client) gate(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wait, rl, ok := c.budget.headroomWait(c.cfg.Budget, c.cfg.Now()); ok {
		if h := c.cfg.Hooks.OnWait; h != nil {
			h(WaitInfo{Reason: "headroom", Wait: wait, Remaining: rl.Remaining, Limit: rl.Limit, Reset: rl.Reset})
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
		c.budget.begin()
	}
	// From here the attempt counts as in flight until the caller settles it.
	if c.cfg.Limiter != nil {
		start := c.cfg.Now()
		if err := c.cfg.Limiter(ctx); err != nil {
			c.budget.settled()
			return err
		}
		if waited := c.cfg.Now().Sub(start); waited > 0 {
			if h := c.cfg.Hooks.OnWait; h != nil {
				c.budget.mu.Lock()
				rl := c.budget.rl
				c.budget.mu.Unlock()
				h(WaitInfo{Reason: "limiter", Wait: waited, Remaining: rl.Remaining, Limit: rl.Limit, Reset: rl.Reset})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		c.budget.settled()
		return err
	}
	return nil
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		if err := c.cfg.Sleep(ctx, d); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// attempt sends one request. It returns a page, or a failure to consider for
// a retry, or a final error (ctx ended, malformed body).
func (c *Client) attempt(ctx context.Context, target string, n, sizeHint int) (*Page, *failure, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.cfg.RequestTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.cfg.RequestTimeout)
	}
	defer cancel()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("compliance api: build request: %w", err)
	}
	req.Header.Set("x-api-key", c.cfg.APIKey)
	if c.cfg.AnthropicVersion != "" {
		req.Header.Set("anthropic-version", c.cfg.AnthropicVersion)
	}
	req.Header.Set("user-agent", c.cfg.UserAgent)
	req.Header.Set("accept", "application/json")
	if h := c.cfg.Hooks.OnRequest; h != nil {
		headers := map[string]string{
			"x-api-key":  "[redacted]",
			"user-agent": c.cfg.UserAgent,
			"accept":     "application/json",
		}
		if c.cfg.AnthropicVersion != "" {
			headers["anthropic-version"] = c.cfg.AnthropicVersion
		}
		h(RequestInfo{Method: http.MethodGet, URL: target, Attempt: n, Headers: headers})
	}

	start := c.cfg.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportFailure(ctx, actx, err, n, start, nil)
	}
	limit := c.cfg.MaxResponseBytes
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		limit = maxErrorBodyBytes
	}
	body, tooLarge, readErr := readBody(resp.Body, resp.ContentLength, limit)
	received := c.cfg.Now()
	serverDate, _ := http.ParseTime(resp.Header.Get("Date"))
	rl := parseRateLimit(resp.Header)
	requestID := c.scrub(resp.Header.Get("request-id"))
	c.budget.observe(rl, serverDate, received)

	if ok && readErr != nil {
		return c.transportFailure(ctx, actx, readErr, n, start, resp)
	}
	if h := c.cfg.Hooks.OnResponse; h != nil {
		h(ResponseInfo{
			Endpoint: EndpointActivities,
			Status:   resp.StatusCode, RequestID: requestID, Attempt: n, Duration: received.Sub(start),
			RateLimit: rl, ServerDate: serverDate,
		})
	}
	if !ok {
		f := &failure{
			status:     resp.StatusCode,
			requestID:  requestID,
			retryAfter: c.scrub(resp.Header.Get("retry-after")),
			serverDate: serverDate,
			receivedAt: received,
			reason:     "status_" + strconv.Itoa(resp.StatusCode),
		}
		f.errType, f.msg = c.errorBody(body, resp.StatusCode)
		f.retryable = resp.StatusCode >= 400 && c.cfg.Retry.statusRetryable(resp.StatusCode, resp.Header.Get("x-should-retry"))
		return nil, f, nil
	}
	if tooLarge {
		// Not retried: the same request would get the same body. The job
		// ends here, like on any other guard.
		size := "the body"
		if resp.ContentLength > 0 {
			size = fmt.Sprintf("the body (Content-Length %d bytes)", resp.ContentLength)
		}
		return nil, nil, &MalformedError{Index: -1, Offset: int(limit), RequestID: requestID,
			Reason: fmt.Sprintf("%s is larger than max_response_size (%s): lower page_size, or raise max_response_size if the pages are genuine", size, FormatBytes(limit))}
	}
	pg := &Page{RequestID: requestID, ServerDate: serverDate, RateLimit: rl}
	if merr := decodePage(body, pg, sizeHint); merr != nil {
		merr = c.scrubMalformed(body, merr)
		merr.RequestID = requestID
		return nil, nil, merr
	}
	return pg, nil, nil
}

// transportFailure is failedAttempt (request.go) for the feed: a failed
// round trip or body read becomes a failure, or the final error when the
// caller's ctx ended; actx is the attempt's context (its end is the request
// timeout).
func (c *Client) transportFailure(ctx, actx context.Context, err error, n int, start time.Time, resp *http.Response) (*Page, *failure, error) {
	_, f, ferr := c.failedAttempt(ctx, EndpointActivities, err, actx.Err() != nil, n, start, resp)
	return nil, f, ferr
}

// Chunk sizes of readBody for a body of unknown length.
const (
	firstChunkBytes = 64 << 10
	maxChunkBytes   = 4 << 20
)

// readBody reads a body of at most limit bytes and closes it; tooLarge
// reports one that is longer, which is read no further than limit+1 bytes
// (not at all when contentLength announces it).
//
// The returned slice has exactly the body's length and capacity: decoded
// activities alias it for as long as their messages are in flight, so spare
// capacity would be held that long too. A body of known length is read
// straight into its buffer. One of unknown length (chunked, or decompressed
// gzip) is read into chunks that grow up to 4 MiB, then copied once into a
// buffer of its exact length: reading holds at most twice the body, and never
// more than 2×limit plus one chunk, whatever the server sends.
func readBody(body io.ReadCloser, contentLength, limit int64) (_ []byte, tooLarge bool, _ error) {
	defer body.Close()
	if contentLength > limit {
		return nil, true, nil
	}
	if contentLength >= 0 {
		buf := make([]byte, contentLength)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, false, err
		}
		return buf, false, nil
	}
	var chunks [][]byte
	total := int64(0)
	size := int64(firstChunkBytes)
	for {
		chunk := make([]byte, min(size, limit+1-total))
		n, err := io.ReadFull(body, chunk)
		chunks = append(chunks, chunk[:n])
		total += int64(n)
		if total > limit {
			return nil, true, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, false, err
		}
		size = min(2*size, maxChunkBytes)
	}
	if len(chunks) == 1 && cap(chunks[0]) == len(chunks[0]) {
		return chunks[0], false, nil
	}
	out := make([]byte, 0, total)
	for i, c := range chunks {
		out = append(out, c...)
		chunks[i] = nil
	}
	return out, false, nil
}

// FormatBytes renders a byte count the way max_response_size is written:
// in GiB, MiB or KiB when it is a whole number of them, else in bytes.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.unit
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// errorBody extracts error.type and error.message; a body that is not the
// documented JSON gives the status text. The message is cut to 1 KiB, kept
// on one line, and scrubbed of the API key should a gateway echo it.
func (c *Client) errorBody(body []byte, status int) (string, string) {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	typ, msg := "", ""
	if json.Unmarshal(body, &e) == nil {
		typ, msg = e.Error.Type, e.Error.Message
	}
	if status >= 300 && status < 400 {
		msg = "unexpected redirect (not followed)"
	}
	if msg == "" {
		if msg = http.StatusText(status); msg == "" {
			msg = "unknown status"
		}
	}
	clean := func(s string) string {
		// Scrub before cutting: a key cut in two would escape the scrub.
		s = c.scrub(s)
		if len(s) > maxMessageBytes {
			s = s[:maxMessageBytes] + "..."
		}
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, s)
	}
	return clean(typ), clean(msg)
}

// scrubMalformed keeps the API key, whole or in part, out of a decode error.
// A reason may quote a snippet of the body cut to 64 bytes, and a key cut in
// two escapes a plain replacement (real keys are about 108 bytes). So when
// the body echoes the key, the error is taken from decoding a copy of the
// body with the key replaced; its Offset then refers to that copy.
func (c *Client) scrubMalformed(body []byte, merr *MalformedError) *MalformedError {
	key := []byte(c.cfg.APIKey)
	if !bytes.Contains(body, key) {
		merr.Reason = c.scrub(merr.Reason)
		return merr
	}
	if m := decodePage(bytes.ReplaceAll(body, key, []byte("[redacted]")), &Page{}, 0); m != nil {
		m.Reason = c.scrub(m.Reason)
		return m
	}
	return &MalformedError{Field: merr.Field, Index: merr.Index, Offset: merr.Offset,
		Reason: "invalid (details withheld: the response echoes the API key)"}
}

// scrub replaces the API key in text taken from a response, should a
// gateway echo it back, so that it cannot reach an error or a hook.
func (c *Client) scrub(s string) string {
	return strings.ReplaceAll(s, c.cfg.APIKey, "[redacted]")
}
