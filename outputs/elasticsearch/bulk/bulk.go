// Package bulk speaks the _bulk wire protocol shared by Elasticsearch 7/8/9
// and OpenSearch 1/2/3: it encodes documents as NDJSON action/source line
// pairs, POSTs them to one of several node URLs (trying the next node on a
// transport error) and decodes the per-item results. It knows nothing about
// Benthos and depends on the standard library only.
package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Op is the bulk action applied to each document.
type Op string

// The supported bulk actions.
const (
	// OpIndex creates the document or replaces an existing one with the same
	// _id, so re-delivery overwrites instead of duplicating.
	OpIndex Op = "index"
	// OpCreate creates the document and fails with 409 if the _id exists
	// (required by data streams).
	OpCreate Op = "create"
)

// Doc is one document of a bulk request.
type Doc struct {
	// Index is the target index, alias or data stream; it must not be empty.
	Index string
	// ID is the document _id; empty lets the cluster generate one.
	ID string
	// Pipeline is the ingest pipeline to run; empty runs none (or the index
	// default pipeline).
	Pipeline string
	// Source is the document, one line of JSON (no '\n' or '\r').
	Source []byte
}

// Result is the outcome of one document, in request order.
type Result struct {
	// Status is the HTTP status the cluster reported for the item.
	Status int
	// Type and Reason describe a failed item (e.g. mapper_parsing_exception).
	Type   string
	Reason string
}

// OK reports whether the item was written.
func (r Result) OK() bool { return r.Status >= 200 && r.Status < 300 }

// RequestError is a failure of a whole bulk request: no item of it is known
// to be written. It never contains credentials.
type RequestError struct {
	// Node is the node URL the request was sent to last.
	Node string
	// Status is the HTTP status, or 0 for a transport error.
	Status int
	// Type and Reason come from the cluster's error body when it had one.
	Type   string
	Reason string
	// Err is the transport or decoding error, if any.
	Err error
}

func (e *RequestError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bulk request to %s failed", e.Node)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Type != "" {
		fmt.Fprintf(&b, ": %s", e.Type)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *RequestError) Unwrap() error { return e.Err }

// Config configures a Client.
type Config struct {
	// URLs are the node base URLs (scheme, host, optional path prefix), e.g.
	// https://es1:9200. Credentials in URLs are refused: use Header.
	URLs []string
	// Header is sent with every request (authorization, custom headers).
	Header http.Header
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Client sends bulk requests. It is safe for concurrent use.
type Client struct {
	endpoints []string // full _bulk URLs
	nodes     []string // base URLs, for errors
	header    http.Header
	http      *http.Client
	next      atomic.Uint64 // round-robin start node
}

// New validates cfg and returns a Client; it sends nothing.
func New(cfg Config) (*Client, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("at least one URL is required")
	}
	c := &Client{header: cfg.Header.Clone(), http: cfg.HTTPClient}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			// A *url.Error repeats the URL, which may hold a password.
			var uErr *url.Error
			if errors.As(err, &uErr) {
				err = uErr.Err
			}
			return nil, fmt.Errorf("urls[%d]: %w", i, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("urls[%d]: scheme must be http or https, got %q", i, u.Scheme)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("urls[%d]: missing host", i)
		}
		if u.User != nil {
			return nil, fmt.Errorf("urls[%d]: credentials in the URL are not allowed, use basic_auth or api_key", i)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("urls[%d]: query and fragment are not allowed", i)
		}
		base := strings.TrimSuffix(u.String(), "/")
		c.nodes = append(c.nodes, base)
		// filter_path trims each item to what Write needs.
		c.endpoints = append(c.endpoints, base+"/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason")
	}
	return c, nil
}

// AppendDoc appends the NDJSON action and source lines of d to buf.
func AppendDoc(buf []byte, op Op, d Doc) ([]byte, error) {
	meta, err := json.Marshal(struct {
		Index    string `json:"_index"`
		ID       string `json:"_id,omitempty"`
		Pipeline string `json:"pipeline,omitempty"`
	}{d.Index, d.ID, d.Pipeline})
	if err != nil {
		return buf, fmt.Errorf("encoding action line: %w", err)
	}
	buf = append(buf, `{"`...)
	buf = append(buf, op...)
	buf = append(buf, `":`...)
	buf = append(buf, meta...)
	buf = append(buf, "}\n"...)
	buf = append(buf, d.Source...)
	return append(buf, '\n'), nil
}

// Write sends docs in one bulk request and returns one Result per doc, in
// order. A transport error is retried once on each other node; any failure
// of the request as a whole is a *RequestError and then no Result is known.
func (c *Client) Write(ctx context.Context, op Op, docs []Doc) ([]Result, error) {
	if op != OpIndex && op != OpCreate {
		return nil, fmt.Errorf("unsupported bulk action %q", op)
	}
	if len(docs) == 0 {
		return nil, nil
	}
	var body []byte
	for i, d := range docs {
		if d.Index == "" {
			return nil, fmt.Errorf("document %d: empty index", i)
		}
		if bytes.ContainsAny(d.Source, "\r\n") {
			return nil, fmt.Errorf("document %d: source contains a line break", i)
		}
		var err error
		if body, err = AppendDoc(body, op, d); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
	}

	start := int(c.next.Add(1) % uint64(len(c.endpoints)))
	var lastErr error
	for k := range c.endpoints {
		n := (start + k) % len(c.endpoints)
		res, err := c.send(ctx, n, body, len(docs))
		var reqErr *RequestError
		if err == nil || !errors.As(err, &reqErr) || reqErr.Status != 0 || ctx.Err() != nil {
			return res, err
		}
		lastErr = err // transport error: try the next node
	}
	return nil, lastErr
}

func (c *Client) send(ctx context.Context, node int, body []byte, n int) ([]Result, error) {
	fail := func(status int, err error) *RequestError {
		return &RequestError{Node: c.nodes[node], Status: status, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoints[node], bytes.NewReader(body))
	if err != nil {
		return nil, fail(0, err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error carries the URL without its password; ours has none anyway.
		return nil, fail(0, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fail(resp.StatusCode, fmt.Errorf("reading response: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := fail(resp.StatusCode, nil)
		e.Type, e.Reason = decodeErrorBody(raw)
		if e.Type == "" && e.Reason == "" && len(raw) > 0 {
			e.Reason = truncate(string(raw), 200)
		}
		return nil, e
	}
	res, err := decodeResponse(raw, n)
	if err != nil {
		return nil, fail(resp.StatusCode, err)
	}
	return res, nil
}

// decodeResponse reads a bulk response body with n items.
func decodeResponse(raw []byte, n int) ([]Result, error) {
	var body struct {
		Errors *bool                         `json:"errors"`
		Items  []map[string]itemResponseBody `json:"items"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("decoding bulk response: %w", err)
	}
	if body.Errors == nil {
		return nil, errors.New("bulk response has no errors field")
	}
	if len(body.Items) != n {
		return nil, fmt.Errorf("bulk response has %d items for %d documents", len(body.Items), n)
	}
	out := make([]Result, n)
	for i, item := range body.Items {
		if len(item) != 1 {
			return nil, fmt.Errorf("bulk response item %d has %d actions, want 1", i, len(item))
		}
		for _, r := range item {
			if r.Status == 0 {
				return nil, fmt.Errorf("bulk response item %d has no status", i)
			}
			out[i] = Result{Status: r.Status}
			if r.Error != nil {
				out[i].Type, out[i].Reason = r.Error.Type, truncate(r.Error.Reason, 300)
			}
		}
	}
	return out, nil
}

type itemResponseBody struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// decodeErrorBody extracts the error type and reason of a failed request,
// which is {"error":{"type":..,"reason":..},"status":..} or, from some
// proxies and older versions, {"error":"text"}.
func decodeErrorBody(raw []byte) (typ, reason string) {
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &body) != nil || len(body.Error) == 0 {
		return "", ""
	}
	var obj struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body.Error, &obj) == nil {
		return obj.Type, truncate(obj.Reason, 300)
	}
	var text string
	if json.Unmarshal(body.Error, &text) == nil {
		return "", truncate(text, 300)
	}
	return "", ""
}

// truncate shortens s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
