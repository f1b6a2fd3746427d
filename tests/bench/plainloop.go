package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// activitiesPath is the Activity Feed's path (compliance-api.md §2).
const activitiesPath = "/v1/compliance/activities"

// plainResult is what the plain-loop child prints, as one JSON line.
type plainResult struct {
	Activities int     `json:"activities"`
	Pages      int     `json:"pages"`
	Seconds    float64 `json:"seconds"`
}

// plainPage is the envelope as a naive consumer decodes it.
type plainPage struct {
	Data    []map[string]any `json:"data"`
	HasMore bool             `json:"has_more"`
	LastID  *string          `json:"last_id"`
}

// plainLoopMain is the plain-loop child: it walks [from, to) and prints a
// plainResult. The key comes from apiKeyEnv.
func plainLoopMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(childPlain, flag.ContinueOnError)
	base := fs.String("url", "", "base URL of the API")
	from := fs.String("from", "", "created_at.gte (RFC 3339)")
	to := fs.String("to", "", "created_at.lt (RFC 3339)")
	limit := fs.Int("page-size", 5000, "page size")
	decode := fs.Bool("decode", true, "decode pages; false only reads the envelope's tail for has_more and last_id (the fake's ceiling)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := os.Getenv(apiKeyEnv)
	if *base == "" || *from == "" || *to == "" || key == "" {
		return fmt.Errorf("-url, -from, -to and $%s are required", apiKeyEnv)
	}
	start := time.Now()
	fetch := plainFetch
	if !*decode {
		fetch = fetchOnly
	}
	acts, pages, err := plainLoop(context.Background(), http.DefaultClient, fetch, *base, key, *from, *to, *limit)
	if err != nil {
		return err
	}
	res := plainResult{Activities: acts, Pages: pages, Seconds: time.Since(start).Seconds()}
	return json.NewEncoder(stdout).Encode(res)
}

// plainLoop is what a consumer with no Benthos would write: one walk over
// the whole range with after_id pagination, each page decoded by
// encoding/json into []map[string]any. It returns the activities and pages
// read.
func plainLoop(ctx context.Context, client *http.Client, fetch fetchFunc, base, key, from, to string, limit int) (acts, pages int, err error) {
	after := ""
	for {
		q := url.Values{}
		q.Set("created_at.gte", from)
		q.Set("created_at.lt", to)
		q.Set("limit", strconv.Itoa(limit))
		if after != "" {
			q.Set("after_id", after)
		}
		pg, err := fetch(ctx, client, base+activitiesPath+"?"+q.Encode(), key)
		if err != nil {
			return acts, pages, fmt.Errorf("page %d: %w", pages+1, err)
		}
		pages++
		acts += pg.count
		if !pg.hasMore {
			return acts, pages, nil
		}
		if pg.lastID == "" {
			return acts, pages, fmt.Errorf("page %d: has_more is true but last_id is empty", pages)
		}
		after = pg.lastID
	}
}

// pageSummary is what the loop needs from a page.
type pageSummary struct {
	count   int
	hasMore bool
	lastID  string
}

// fetchFunc gets one page.
type fetchFunc func(ctx context.Context, client *http.Client, target, key string) (pageSummary, error)

// get sends the request and returns the response of a 200.
func get(ctx context.Context, client *http.Client, target, key string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("x-api-key", key)
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
	}
	return resp, nil
}

// plainFetch decodes the page with encoding/json into []map[string]any.
func plainFetch(ctx context.Context, client *http.Client, target, key string) (pageSummary, error) {
	resp, err := get(ctx, client, target, key)
	if err != nil {
		return pageSummary{}, err
	}
	defer resp.Body.Close()
	var pg plainPage
	if err := json.NewDecoder(resp.Body).Decode(&pg); err != nil {
		return pageSummary{}, fmt.Errorf("decoding the page: %w", err)
	}
	if pg.Data == nil {
		return pageSummary{}, errors.New("the body has no data array")
	}
	// Drain what follows the object so the connection is reused.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return pageSummary{}, fmt.Errorf("reading the body: %w", err)
	}
	sum := pageSummary{count: len(pg.Data), hasMore: pg.HasMore}
	if pg.LastID != nil {
		sum.lastID = *pg.LastID
	}
	return sum, nil
}

// fetchOnly reads the body without decoding it: has_more and last_id come
// from the envelope's tail (the fake writes them after data), the count
// from the number of "id" keys at the start of an activity. It measures
// what the server and the transport alone allow.
func fetchOnly(ctx context.Context, client *http.Client, target, key string) (pageSummary, error) {
	resp, err := get(ctx, client, target, key)
	if err != nil {
		return pageSummary{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return pageSummary{}, fmt.Errorf("reading the body: %w", err)
	}
	sum := pageSummary{count: bytes.Count(body, []byte(`{"id":"activity_`))}
	tailStart := max(0, len(body)-256)
	end := body[tailStart:]
	sum.hasMore = bytes.Contains(end, []byte(`"has_more":true`))
	if _, after, ok := bytes.Cut(end, []byte(`"last_id":"`)); ok {
		if id, _, ok := bytes.Cut(after, []byte(`"`)); ok {
			sum.lastID = string(id)
		}
	}
	return sum, nil
}
