package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// This file is the request loop of every endpoint but the Activity Feed: the
// same gate (rate-budget headroom and Limiter, shared by every call of the
// client), the same retry policy and hooks, and the same error types as
// ListActivities, for JSON answers and for streamed downloads.

// Endpoint names of hook payloads (ResponseInfo.Endpoint, RetryInfo.Endpoint)
// besides EndpointActivities.
const (
	EndpointOrganizations        = "organizations"
	EndpointUsers                = "users"
	EndpointRoles                = "roles"
	EndpointRolePermissions      = "role_permissions"
	EndpointOrganizationSettings = "organization_settings"
	EndpointGroups               = "groups"
	EndpointGroupMembers         = "group_members"
	EndpointChats                = "chats"
	EndpointChatMessages         = "chat_messages"
	EndpointFiles                = "files"
	EndpointGeneratedFiles       = "generated_files"
	EndpointArtifacts            = "artifacts"
	EndpointProjects             = "projects"
	EndpointProjectAttachments   = "project_attachments"
	EndpointProjectCollaborators = "project_collaborators"
	EndpointProjectDocuments     = "project_documents"
)

// Meta describes the response a result came from.
type Meta struct {
	// RequestID is the request-id header of the successful response.
	RequestID string
	// ServerDate is the Date header; zero if absent or unparsable.
	ServerDate time.Time
	// RateLimit is what the response's rate-limit headers said.
	RateLimit RateLimit
	// Attempts is the number of attempts the result took.
	Attempts int
}

// response is a successful answer: a JSON body, or an open body to stream.
type response struct {
	Meta
	body   []byte
	resp   *http.Response     // downloads: the body is open
	cancel context.CancelFunc // downloads: ends the request when the body is closed
}

// urlFor builds the URL of path (already escaped) below the base URL, with q.
func (c *Client) urlFor(path string, q url.Values) string {
	base := strings.TrimSuffix(c.endpoint.String(), ActivitiesPath)
	if len(q) == 0 {
		return base + path
	}
	return base + path + "?" + q.Encode()
}

// pathOf fills the {} of pattern with the escaped args; an empty arg is an
// error, before any request.
func pathOf(pattern string, args ...string) (string, error) {
	var b strings.Builder
	for _, a := range args {
		i := strings.Index(pattern, "{}")
		if i < 0 {
			break
		}
		if a == "" {
			return "", fmt.Errorf("compliance api: %s: an id is empty", pattern)
		}
		b.WriteString(pattern[:i])
		b.WriteString(url.PathEscape(a))
		pattern = pattern[i+2:]
	}
	b.WriteString(pattern)
	return b.String(), nil
}

// getJSON fetches one JSON answer of endpoint.
func (c *Client) getJSON(ctx context.Context, endpoint, path string, q url.Values) (*response, error) {
	return c.fetch(ctx, endpoint, c.urlFor(path, q), false)
}

// fetch runs the attempts of one request: the gate before each, the retry
// policy between them. With stream set, a successful answer's body is left
// open for the caller.
func (c *Client) fetch(ctx context.Context, endpoint, target string, stream bool) (*response, error) {
	var last *failure
	for attempt := 1; ; attempt++ {
		if err := c.gate(ctx); err != nil {
			return nil, c.stopped(ctx, err, attempt-1, last)
		}
		res, f, err := c.try(ctx, endpoint, target, attempt, stream)
		c.budget.settled()
		switch {
		case err != nil:
			return nil, err
		case f == nil:
			res.Attempts = attempt
			return res, nil
		}
		last = f
		if !f.retryable || attempt > c.cfg.Retry.maxRetries() {
			return nil, f.final(attempt)
		}
		wait, capped := c.retryWait(f, attempt)
		if h := c.cfg.Hooks.OnRetry; h != nil {
			h(RetryInfo{Endpoint: endpoint, Attempt: attempt + 1, Reason: f.reason, Status: f.status,
				RequestID: f.requestID, Wait: wait, RetryAfter: f.retryAfter, Capped: capped})
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, c.stopped(ctx, err, attempt, last)
		}
	}
}

// try sends one attempt. RequestTimeout bounds a JSON attempt whole, and a
// download until its headers arrive (the caller's ctx bounds its body).
func (c *Client) try(ctx context.Context, endpoint, target string, n int, stream bool) (*response, *failure, error) {
	actx, cancel := context.WithCancel(ctx)
	var timer *time.Timer
	var timedOut atomic.Bool
	if d := c.cfg.RequestTimeout; d > 0 {
		timer = time.AfterFunc(d, func() { timedOut.Store(true); cancel() })
	}
	done := func() {
		if timer != nil {
			timer.Stop()
		}
		cancel()
	}
	accept := "application/json"
	if stream {
		accept = "*/*"
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("compliance api: build request: %w", err)
	}
	req.Header.Set("x-api-key", c.cfg.APIKey)
	if c.cfg.AnthropicVersion != "" {
		req.Header.Set("anthropic-version", c.cfg.AnthropicVersion)
	}
	req.Header.Set("user-agent", c.cfg.UserAgent)
	req.Header.Set("accept", accept)
	if h := c.cfg.Hooks.OnRequest; h != nil {
		headers := map[string]string{"x-api-key": "[redacted]", "user-agent": c.cfg.UserAgent, "accept": accept}
		if c.cfg.AnthropicVersion != "" {
			headers["anthropic-version"] = c.cfg.AnthropicVersion
		}
		h(RequestInfo{Method: http.MethodGet, URL: target, Attempt: n, Headers: headers})
	}

	start := c.cfg.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		done()
		return c.failedAttempt(ctx, endpoint, err, timedOut.Load(), n, start, nil)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	serverDate, _ := http.ParseTime(resp.Header.Get("Date"))
	rl := parseRateLimit(resp.Header)
	requestID := c.scrub(resp.Header.Get("request-id"))
	meta := Meta{RequestID: requestID, ServerDate: serverDate, RateLimit: rl}

	if ok && stream {
		if timer != nil && !timer.Stop() {
			resp.Body.Close()
			cancel()
			return c.failedAttempt(ctx, endpoint, context.DeadlineExceeded, true, n, start, resp)
		}
		received := c.cfg.Now()
		c.budget.observe(rl, serverDate, received)
		c.responded(endpoint, resp.StatusCode, requestID, n, received.Sub(start), rl, serverDate)
		return &response{Meta: meta, resp: resp, cancel: cancel}, nil, nil
	}

	limit := c.cfg.MaxResponseBytes
	if !ok {
		limit = maxErrorBodyBytes
	}
	body, tooLarge, readErr := readBody(resp.Body, resp.ContentLength, limit)
	done()
	received := c.cfg.Now()
	c.budget.observe(rl, serverDate, received)
	if ok && readErr != nil {
		return c.failedAttempt(ctx, endpoint, readErr, timedOut.Load(), n, start, resp)
	}
	c.responded(endpoint, resp.StatusCode, requestID, n, received.Sub(start), rl, serverDate)
	if !ok {
		f := &failure{status: resp.StatusCode, requestID: requestID, retryAfter: c.scrub(resp.Header.Get("retry-after")),
			serverDate: serverDate, receivedAt: received, reason: "status_" + strconv.Itoa(resp.StatusCode)}
		f.errType, f.msg = c.errorBody(body, resp.StatusCode)
		f.retryable = resp.StatusCode >= 400 && c.cfg.Retry.statusRetryable(resp.StatusCode, resp.Header.Get("x-should-retry"))
		return nil, f, nil
	}
	if tooLarge {
		return nil, nil, &MalformedError{Index: -1, Offset: int(limit), RequestID: requestID,
			Reason: fmt.Sprintf("body larger than the %d MiB cap (max_response_size)", limit>>20)}
	}
	meta.RequestID = requestID
	return &response{Meta: meta, body: body}, nil, nil
}

func (c *Client) responded(endpoint string, status int, requestID string, n int, d time.Duration, rl RateLimit, date time.Time) {
	if h := c.cfg.Hooks.OnResponse; h != nil {
		h(ResponseInfo{Endpoint: endpoint, Status: status, RequestID: requestID, Attempt: n, Duration: d, RateLimit: rl, ServerDate: date})
	}
}

// failedAttempt turns a failed round trip or body read into a failure, or
// into the final error when the caller's ctx ended.
func (c *Client) failedAttempt(ctx context.Context, endpoint string, err error, timedOut bool, n int, start time.Time, resp *http.Response) (*response, *failure, error) {
	reason := classifyTransport(err, resp != nil)
	if ctx.Err() == nil && timedOut {
		reason = reasonTimeout
		err = fmt.Errorf("request timeout of %s exceeded: %w", c.cfg.RequestTimeout, err)
	}
	f := &failure{err: err, reason: reason, receivedAt: c.cfg.Now()}
	status := 0
	if resp != nil {
		status = resp.StatusCode
		f.requestID = c.scrub(resp.Header.Get("request-id"))
		f.err = fmt.Errorf("reading the body of a %d response: %w", resp.StatusCode, err)
	}
	if h := c.cfg.Hooks.OnResponse; h != nil {
		h(ResponseInfo{Endpoint: endpoint, Status: status, RequestID: f.requestID, Attempt: n, Duration: f.receivedAt.Sub(start), Err: f.err})
	}
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("compliance api: stopped during attempt %d: %w", n, ctx.Err())
	}
	f.retryable = c.cfg.Retry.transportRetryable(reason)
	return nil, f, nil
}
