// Package fakees is an in-memory Elasticsearch for the audit's tests: the
// _bulk API the elasticsearch output writes with, and the subset of _search
// the audit reads with (range on a date field in epoch_millis, must_not of
// _index + ids, sort on that field, size, _source filtering). Documents that
// share a sort value come back in a different random order on every request,
// as across shards, so a reader that relies on their order is caught.
package fakees

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

type doc struct {
	index, id string
	source    map[string]any
	seq       int
}

// Server is the fake cluster; it is an http.Handler.
type Server struct {
	mu       sync.Mutex
	docs     map[string]*doc // index + "/" + id
	seq      int
	rng      *rand.Rand
	Searches int
}

// New returns an empty cluster.
func New(seed uint64) *Server {
	return &Server{docs: map[string]*doc{}, rng: rand.New(rand.NewPCG(seed, 7))}
}

// Put stores a document, as an index action would.
func (s *Server) Put(index, id string, source map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if id == "" {
		id = fmt.Sprintf("auto-%d", s.seq)
	}
	s.docs[index+"/"+id] = &doc{index: index, id: id, source: source, seq: s.seq}
}

// Len is the number of stored documents.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// Writes is the number of documents indexed so far, overwrites included.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Find returns the source of the document with this _id in any index, or nil.
func (s *Server) Find(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.docs {
		if d.id == id {
			return d.source
		}
	}
	return nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_bulk"):
		s.bulk(w, r)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_search"):
		s.search(w, r)
	default:
		http.Error(w, `{"error":{"type":"unsupported","reason":"not in the fake"}}`, http.StatusBadRequest)
	}
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request) {
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var items []map[string]any
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 || !sc.Scan() {
			http.Error(w, `{"error":{"type":"parse_exception","reason":"bad bulk body"}}`, http.StatusBadRequest)
			return
		}
		var src map[string]any
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			http.Error(w, `{"error":{"type":"parse_exception","reason":"bad source"}}`, http.StatusBadRequest)
			return
		}
		for op, a := range action {
			s.Put(a.Index, a.ID, src)
			items = append(items, map[string]any{op: map[string]any{"status": 201}})
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": false, "items": items})
}

type searchBody struct {
	Size   int              `json:"size"`
	Source []string         `json:"_source"`
	Sort   []map[string]any `json:"sort"`
	Query  struct {
		Bool struct {
			Filter []struct {
				Range map[string]struct {
					GTE    int64  `json:"gte"`
					LT     int64  `json:"lt"`
					Format string `json:"format"`
				} `json:"range"`
			} `json:"filter"`
			MustNot []struct {
				Bool struct {
					Filter []struct {
						Term map[string]string `json:"term"`
						IDs  struct {
							Values []string `json:"values"`
						} `json:"ids"`
					} `json:"filter"`
				} `json:"bool"`
			} `json:"must_not"`
		} `json:"bool"`
	} `json:"query"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	var q searchBody
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || len(q.Sort) != 1 || len(q.Query.Bool.Filter) != 1 {
		http.Error(w, `{"error":{"type":"parse_exception","reason":"query outside the fake's subset"}}`, http.StatusBadRequest)
		return
	}
	var field string
	for f := range q.Sort[0] {
		field = f
	}
	rng, ok := q.Query.Bool.Filter[0].Range[field]
	if !ok || rng.Format != "epoch_millis" {
		http.Error(w, `{"error":{"type":"parse_exception","reason":"range must be on the sort field, in epoch_millis"}}`, http.StatusBadRequest)
		return
	}
	excluded := map[string]bool{}
	for _, mn := range q.Query.Bool.MustNot {
		var idx string
		var ids []string
		for _, f := range mn.Bool.Filter {
			if v, ok := f.Term["_index"]; ok {
				idx = v
			}
			ids = append(ids, f.IDs.Values...)
		}
		for _, id := range ids {
			excluded[idx+"/"+id] = true
		}
	}
	patterns := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/_search"), ",")

	s.mu.Lock()
	s.Searches++
	type match struct {
		d  *doc
		ms int64
	}
	var hits []match
	for key, d := range s.docs {
		if excluded[key] || !matchAny(patterns, d.index) {
			continue
		}
		ms, ok := millis(lookup(d.source, field))
		if !ok || ms < rng.GTE || ms >= rng.LT {
			continue
		}
		hits = append(hits, match{d, ms})
	}
	s.rng.Shuffle(len(hits), func(i, j int) { hits[i], hits[j] = hits[j], hits[i] })
	s.mu.Unlock()
	slices.SortStableFunc(hits, func(a, b match) int { return int(a.ms - b.ms) })
	if len(hits) > q.Size {
		hits = hits[:q.Size]
	}
	out := []any{}
	for _, h := range hits {
		src := map[string]any{}
		for _, p := range q.Source {
			if v := lookup(h.d.source, p); v != nil {
				set(src, p, v)
			}
		}
		out = append(out, map[string]any{"_index": h.d.index, "_id": h.d.id, "_source": src, "sort": []any{h.ms}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"hits": map[string]any{"hits": out}})
}

func matchAny(patterns []string, index string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, index); ok {
			return true
		}
	}
	return false
}

func lookup(m map[string]any, p string) any {
	var v any = m
	for part := range strings.SplitSeq(p, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}

func set(m map[string]any, p string, v any) {
	parts := strings.Split(p, ".")
	for _, part := range parts[:len(parts)-1] {
		next, ok := m[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[part] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func millis(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}
