// Package es audits an Elasticsearch 7/8/9 or OpenSearch 1/2/3 index (or
// index pattern) written by the elasticsearch output. It pages through the
// window sorted on the time field, keyset style: each page asks for the
// documents at or after the last time seen, excluding the (_index, _id) pairs
// already seen at exactly that time. Unlike search_after on the time alone it
// cannot skip documents that share a timestamp, and unlike a point in time
// with the _shard_doc tiebreaker it works the same on every version of both
// (OpenSearch has _shard_doc only since 3.3). Only the id is fetched
// (_source filtering); the time comes from the sort value.
package es

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/audit"
)

// DefaultPageSize is the number of hits per search request, below the
// default index.max_result_window of 10,000.
const DefaultPageSize = 5000

// Destination is an index, alias or pattern of a cluster.
type Destination struct {
	// URLs are node base URLs; a transport error moves to the next one.
	URLs []string
	// Index is the index, alias, data stream or pattern ("audit-*").
	Index string
	// TimeField is the date field holding created_at ("created_at" for raw
	// activities, "@timestamp" for ECS documents).
	TimeField string
	// Fields locate the id in _source (Fields.Time is not used: the time is
	// TimeField's sort value).
	Fields audit.Fields
	// Header is sent with every request (Authorization...).
	Header http.Header
	// HTTP sends the requests (nil = http.DefaultClient).
	HTTP *http.Client
	// PageSize is hits per request (0 = DefaultPageSize).
	PageSize int
}

func (d *Destination) String() string {
	return fmt.Sprintf("elasticsearch %s index %s (time field %s)", strings.Join(d.URLs, ","), d.Index, d.TimeField)
}

type hit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
	Sort   []json.Number   `json:"sort"`
}

// Scan pages through every document of the index whose time field lies in w.
func (d *Destination) Scan(ctx context.Context, w audit.Window, sink *audit.Sink) error {
	size := d.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	fromMs := w.From.UnixMilli()
	toMs := int64(math.Ceil(float64(w.To.UnixNano()) / 1e6))
	source := []string{"id", "event.id", "metadata.uid"}
	if d.Fields.ID != "" {
		source = []string{d.Fields.ID}
	}
	lastT := fromMs
	seen := map[string][]string{} // _index -> _ids seen at lastT
	requests := 0
	for {
		body := map[string]any{
			"size":             size,
			"track_total_hits": false,
			"_source":          source,
			"sort":             []any{map[string]any{d.TimeField: map[string]any{"order": "asc"}}},
			"query": map[string]any{"bool": map[string]any{
				"filter":   []any{map[string]any{"range": map[string]any{d.TimeField: map[string]any{"gte": lastT, "lt": toMs, "format": "epoch_millis"}}}},
				"must_not": mustNot(seen),
			}},
		}
		hits, err := d.search(ctx, body)
		requests++
		if err != nil {
			return err
		}
		fresh := 0
		for _, h := range hits {
			if len(h.Sort) == 0 {
				return fmt.Errorf("hit %s/%s has no sort value for %s", h.Index, h.ID, d.TimeField)
			}
			t, err := h.Sort[0].Int64()
			if err != nil || t < fromMs || t >= toMs {
				return fmt.Errorf("the sort value %q of %s is not a time in the window in epoch milliseconds: is %s a date field (not date_nanos or a number)?", h.Sort[0], d.TimeField, d.TimeField)
			}
			if t > lastT {
				lastT = t
				clear(seen)
			}
			if containsID(seen[h.Index], h.ID) {
				continue // the cluster ignored must_not: counted already
			}
			seen[h.Index] = append(seen[h.Index], h.ID)
			fresh++
			where := audit.Loc{Where: h.Index + "/" + h.ID}
			r, err := d.Fields.Extract(h.Source)
			if err != nil {
				sink.Unreadable(where, err)
				continue
			}
			r.CreatedAt = time.UnixMilli(t).UTC()
			if err := sink.Add(r); err != nil {
				return err
			}
		}
		if len(hits) < size {
			sink.Note(fmt.Sprintf("%d search requests", requests))
			return nil
		}
		if fresh == 0 {
			return errors.New("the cluster returned only documents already seen: it does not apply must_not, so the walk cannot continue")
		}
	}
}

func containsID(ids []string, id string) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// mustNot excludes the documents already seen at the last time.
func mustNot(seen map[string][]string) []any {
	out := []any{}
	for idx, ids := range seen {
		out = append(out, map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"term": map[string]any{"_index": idx}},
			map[string]any{"ids": map[string]any{"values": ids}},
		}}})
	}
	return out
}

func (d *Destination) search(ctx context.Context, body map[string]any) ([]hit, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	client := d.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	var lastErr error
	for _, base := range d.URLs {
		u := strings.TrimRight(base, "/") + "/" + url.PathEscape(d.Index) + "/_search?ignore_unavailable=true&allow_no_indices=true&filter_path=hits.hits._index,hits.hits._id,hits.hits._source,hits.hits.sort,error"
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		for k, vs := range d.Header {
			req.Header[k] = vs
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			continue
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("search of %s on %s: status %d: %s", d.Index, base, resp.StatusCode, truncate(string(raw), 300))
		}
		var out struct {
			Hits struct {
				Hits []hit `json:"hits"`
			} `json:"hits"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("search of %s on %s: decoding the response: %w", d.Index, base, err)
		}
		return out.Hits.Hits, nil
	}
	return nil, fmt.Errorf("search of %s: every node failed, last: %w", d.Index, lastErr)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
