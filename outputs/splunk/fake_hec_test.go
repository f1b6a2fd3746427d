package splunk_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// fakeHEC is a Splunk HTTP Event Collector event endpoint. It checks the
// token and every envelope (recording protocol violations), stores the
// envelopes of accepted requests, and refuses requests on demand.
type fakeHEC struct {
	token   string
	discard bool // count envelopes without storing them (benchmarks)

	mu         sync.Mutex
	envelopes  []hecEnvelope
	requests   int
	events     int // envelopes accepted, stored or not
	gzipped    int // requests with a gzip body
	refusal    *hecRefusal
	violations []string
}

// hecEnvelope is one decoded event envelope; absent fields are nil.
type hecEnvelope struct {
	Time       *json.Number    `json:"time"`
	Host       *string         `json:"host"`
	Source     *string         `json:"source"`
	Sourcetype *string         `json:"sourcetype"`
	Index      *string         `json:"index"`
	Event      json.RawMessage `json:"event"`
}

type hecRefusal struct {
	status int
	body   string
}

// refuseWith makes every request fail with this status and raw body.
func (f *fakeHEC) refuseWith(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusal = &hecRefusal{status, body}
}

func (f *fakeHEC) snapshot() (envs []hecEnvelope, requests, gzipped int, violations []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hecEnvelope(nil), f.envelopes...), f.requests, f.gzipped, append([]string(nil), f.violations...)
}

func (f *fakeHEC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++

	answer := func(status, code int, text string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"text":%q,"code":%d}`, text, code)
	}
	violate := func(format string, args ...any) {
		f.violations = append(f.violations, fmt.Sprintf(format, args...))
		answer(http.StatusBadRequest, 6, "Invalid data format")
	}
	if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
		violate("unexpected request %s %s", r.Method, r.URL.Path)
		return
	}
	switch auth := r.Header.Get("Authorization"); auth {
	case "":
		answer(http.StatusUnauthorized, 2, "Token is required")
		return
	case "Splunk " + f.token:
	default:
		answer(http.StatusForbidden, 4, "Invalid token")
		return
	}
	if f.refusal != nil {
		w.WriteHeader(f.refusal.status)
		_, _ = io.WriteString(w, f.refusal.body)
		return
	}

	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			violate("gzip: %v", err)
			return
		}
		f.gzipped++
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		violate("reading body: %v", err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var envs []hecEnvelope
	for {
		var e hecEnvelope
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			violate("envelope %d: %v", len(envs), err)
			return
		}
		if len(e.Event) == 0 || string(e.Event) == "null" || string(e.Event) == `""` {
			f.violations = append(f.violations, fmt.Sprintf("envelope %d: blank event", len(envs)))
			answer(http.StatusBadRequest, 13, "Event field cannot be blank")
			return
		}
		if e.Time != nil {
			if _, err := e.Time.Float64(); err != nil {
				violate("envelope %d: time %q is not a number", len(envs), *e.Time)
				return
			}
		}
		envs = append(envs, e)
	}
	if len(envs) == 0 {
		answer(http.StatusBadRequest, 5, "No data")
		return
	}
	f.events += len(envs)
	if !f.discard {
		f.envelopes = append(f.envelopes, envs...)
	}
	answer(http.StatusOK, 0, "Success")
}
