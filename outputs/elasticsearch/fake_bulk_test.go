package elasticsearch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// fakeBulk is an Elasticsearch/OpenSearch _bulk endpoint. It checks every
// request against the wire protocol (recording violations instead of
// guessing), stores accepted documents, and fails items or whole requests
// on demand.
type fakeBulk struct {
	wantAuth string // required Authorization header; "" requires none
	discard  bool   // count documents without storing them (benchmarks)

	mu           sync.Mutex
	docs         map[string]fakeDoc // by _index + "/" + _id
	attempts     map[string]int     // times each _id was sent
	script       map[string][]int   // per _id: statuses for its next attempts, then success
	failRequests int                // status of every whole request; 0 = none fail
	requests     int
	received     int // documents received, including failed ones
	headers      []http.Header
	violations   []string
}

type fakeDoc struct {
	Op, Index, ID, Pipeline string
	Source                  []byte
}

func newFakeBulk() *fakeBulk {
	return &fakeBulk{
		docs:     map[string]fakeDoc{},
		attempts: map[string]int{},
		script:   map[string][]int{},
	}
}

// failItem makes the next attempts of the document with this _id fail with
// the given statuses, in order; later attempts succeed.
func (f *fakeBulk) failItem(id string, statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[id] = append(f.script[id], statuses...)
}

// failRequestsWith makes every request fail as a whole with status.
func (f *fakeBulk) failRequestsWith(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failRequests = status
}

func (f *fakeBulk) put(d fakeDoc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.docs[d.Index+"/"+d.ID] = d
}

func (f *fakeBulk) snapshot() (docs map[string]fakeDoc, attempts map[string]int, violations []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	docs = make(map[string]fakeDoc, len(f.docs))
	for k, v := range f.docs {
		docs[k] = v
	}
	attempts = make(map[string]int, len(f.attempts))
	for k, v := range f.attempts {
		attempts[k] = v
	}
	return docs, attempts, append([]string(nil), f.violations...)
}

func (f *fakeBulk) count() (requests, received int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, f.received
}

func (f *fakeBulk) lastHeaders() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.headers...)
}

func (f *fakeBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	violate := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		f.mu.Lock()
		f.violations = append(f.violations, msg)
		f.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":  map[string]any{"type": "illegal_argument_exception", "reason": msg},
			"status": 400,
		})
	}

	f.mu.Lock()
	f.requests++
	f.headers = append(f.headers, r.Header.Clone())
	wantAuth, failStatus := f.wantAuth, f.failRequests
	f.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		violate("unexpected request %s %s", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		violate("Content-Type %q, want application/x-ndjson", ct)
		return
	}
	if got := r.Header.Get("Authorization"); got != wantAuth {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error":  map[string]any{"type": "security_exception", "reason": "unable to authenticate user for REST request [/_bulk]"},
			"status": 401,
		})
		return
	}
	if failStatus != 0 {
		writeJSON(w, failStatus, map[string]any{
			"error":  map[string]any{"type": "fake_request_failure", "reason": "failing on purpose"},
			"status": failStatus,
		})
		return
	}

	// Parse and check the whole request before changing any state.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		violate("reading body: %v", err)
		return
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		violate("body must end with a newline")
		return
	}
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	if len(lines)%2 != 0 {
		violate("odd number of lines: %d", len(lines))
		return
	}
	docs := make([]fakeDoc, 0, len(lines)/2)
	for p := 0; p < len(lines); p += 2 {
		d, err := parseActionLine(lines[p])
		if err != nil {
			violate("line %d: %v", p+1, err)
			return
		}
		if !json.Valid(lines[p+1]) {
			violate("line %d: source is not valid JSON: %q", p+2, lines[p+1])
			return
		}
		d.Source = lines[p+1]
		docs = append(docs, d)
	}

	items := make([]map[string]any, len(docs))
	anyErrors := false
	f.mu.Lock()
	for k, d := range docs {
		f.received++
		f.attempts[d.ID]++
		status := http.StatusCreated
		if s := f.script[d.ID]; len(s) > 0 {
			status, f.script[d.ID] = s[0], s[1:]
		} else if _, exists := f.docs[d.Index+"/"+d.ID]; exists && d.Op == "create" {
			status = http.StatusConflict
		}
		item := map[string]any{"_index": d.Index, "_id": d.ID, "status": status}
		if status >= 300 {
			anyErrors = true
			item["error"] = map[string]any{"type": errorType(status), "reason": fmt.Sprintf("fake item failure %d", status)}
		} else if !f.discard {
			f.docs[d.Index+"/"+d.ID] = d
		}
		items[k] = map[string]any{d.Op: item}
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"took": 1, "errors": anyErrors, "items": items})
}

func parseActionLine(line []byte) (fakeDoc, error) {
	var action map[string]json.RawMessage
	if err := json.Unmarshal(line, &action); err != nil {
		return fakeDoc{}, fmt.Errorf("action line: %w", err)
	}
	if len(action) != 1 {
		return fakeDoc{}, fmt.Errorf("action line has %d keys, want 1", len(action))
	}
	var d fakeDoc
	for op, raw := range action {
		if op != "index" && op != "create" {
			return d, fmt.Errorf("unexpected action %q", op)
		}
		var meta struct {
			Index    string `json:"_index"`
			ID       string `json:"_id"`
			Pipeline string `json:"pipeline"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&meta); err != nil {
			return d, fmt.Errorf("action metadata: %w", err)
		}
		if strings.TrimSpace(meta.Index) == "" {
			return d, fmt.Errorf("action without _index")
		}
		d = fakeDoc{Op: op, Index: meta.Index, ID: meta.ID, Pipeline: meta.Pipeline}
	}
	return d, nil
}

func errorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "mapper_parsing_exception"
	case http.StatusConflict:
		return "version_conflict_engine_exception"
	case http.StatusTooManyRequests:
		return "es_rejected_execution_exception"
	default:
		return "fake_exception"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
