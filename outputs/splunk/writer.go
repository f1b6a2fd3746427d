package splunk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// output is the splunk_hec BatchOutput. Its fields are set once by
// newOutput; concurrent WriteBatch calls share only the HTTP client.
type output struct {
	cfg       config
	http      *http.Client
	transport *http.Transport
	log       *service.Logger
	mNoTime   *service.MetricCounter
}

func newOutput(cfg config, mgr *service.Resources) *output {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.tls
	tr.MaxIdleConnsPerHost = cfg.maxInFlight
	return &output{
		cfg:       cfg,
		http:      &http.Client{Transport: tr, Timeout: cfg.timeout},
		transport: tr,
		log:       mgr.Logger(),
		mNoTime:   mgr.Metrics().NewCounter("splunk_hec_events_without_time"),
	}
}

// Connect has nothing to open: requests are independent and the first
// WriteBatch shows whether HEC is reachable.
func (o *output) Connect(context.Context) error { return nil }

// Close drops idle connections.
func (o *output) Close(context.Context) error {
	o.transport.CloseIdleConnections()
	return nil
}

// WriteBatch sends the batch as one HEC request. It returns nil, the
// request's error (nacking the batch), or a *service.BatchError when some
// messages could not be rendered and were not sent.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	failed := make([]error, len(batch))
	var body []byte
	sent := 0
	ex := o.executors(batch)
	for i := range batch {
		e, err := o.envelope(batch, ex, i)
		if err != nil {
			failed[i] = err
			continue
		}
		body = appendEnvelope(body, e)
		sent++
	}
	if sent > 0 {
		if err := o.post(ctx, body); err != nil {
			if sent == len(batch) {
				return err
			}
			for i := range failed {
				if failed[i] == nil {
					failed[i] = err
				}
			}
		}
	}
	return batchResult(batch, failed)
}

// executors evaluate the interpolated fields over one batch.
type executors struct {
	index, sourcetype, source, host, time *service.MessageBatchInterpolationExecutor
}

func (o *output) executors(batch service.MessageBatch) executors {
	return executors{
		index:      batch.InterpolationExecutor(o.cfg.index),
		sourcetype: batch.InterpolationExecutor(o.cfg.sourcetype),
		source:     batch.InterpolationExecutor(o.cfg.source),
		host:       batch.InterpolationExecutor(o.cfg.host),
		time:       batch.InterpolationExecutor(o.cfg.time),
	}
}

// envelope renders message i of batch.
func (o *output) envelope(batch service.MessageBatch, ex executors, i int) (envelope, error) {
	var e envelope
	for _, f := range []struct {
		name string
		expr *service.MessageBatchInterpolationExecutor
		dst  *string
	}{
		{fieldIndex, ex.index, &e.index},
		{fieldSourcetype, ex.sourcetype, &e.sourcetype},
		{fieldSource, ex.source, &e.source},
		{fieldHost, ex.host, &e.host},
	} {
		v, err := f.expr.TryString(i)
		if err != nil {
			return e, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = v
	}
	raw, err := batch[i].AsBytes()
	if err != nil {
		return e, fmt.Errorf("reading message: %w", err)
	}
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", `""`: // HEC refuses the whole request for a blank event
		return e, fmt.Errorf("message is blank (%q), HEC would refuse it", truncate(string(raw), 20))
	}
	e.event = raw

	ts, err := ex.time.TryString(i)
	if err == nil {
		e.time, err = hecTime(ts)
	}
	if err != nil {
		// The event is still worth delivering: HEC stamps it on arrival.
		o.mNoTime.Incr(1)
		if ts != "" {
			o.log.Warnf("Sending event without time: %s: %v", fieldTime, err)
		}
		e.time = ""
	}
	return e, nil
}

// hecResponse is HEC's answer, e.g. {"text":"Success","code":0}.
type hecResponse struct {
	Text               string `json:"text"`
	Code               *int   `json:"code"`
	InvalidEventNumber *int   `json:"invalid-event-number"`
}

func (o *output) post(ctx context.Context, body []byte) error {
	var reader io.Reader = bytes.NewReader(body)
	if o.cfg.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("compressing request: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compressing request: %w", err)
		}
		reader = &buf
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.url, reader)
	if err != nil {
		return fmt.Errorf("building HEC request: %w", err)
	}
	req.Header.Set("Authorization", "Splunk "+o.cfg.token)
	req.Header.Set("Content-Type", "application/json")
	if o.cfg.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return fmt.Errorf("sending to HEC: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("HEC at %s: status %d: reading response: %w", o.cfg.url, resp.StatusCode, err)
	}
	var r hecResponse
	if err := json.Unmarshal(raw, &r); err != nil || r.Code == nil {
		return fmt.Errorf("HEC at %s refused the batch: status %d: unexpected response %q", o.cfg.url, resp.StatusCode, truncate(string(raw), 200))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && *r.Code == 0 {
		return nil
	}
	msg := fmt.Sprintf("HEC at %s refused the batch: status %d: code %d: %s", o.cfg.url, resp.StatusCode, *r.Code, r.Text)
	if r.InvalidEventNumber != nil {
		msg += fmt.Sprintf(" (event %d of the request)", *r.InvalidEventNumber)
	}
	return fmt.Errorf("%s", msg)
}

// batchResult turns per-message errors into the WriteBatch result.
func batchResult(batch service.MessageBatch, failed []error) error {
	var n int
	var first error
	for _, err := range failed {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	bErr := service.NewBatchError(batch, fmt.Errorf("%d of %d events not sent, first: %w", n, len(batch), first))
	for i, err := range failed {
		if err != nil {
			bErr.Failed(i, err)
		}
	}
	return bErr
}

// truncate shortens s to at most n bytes, keeping whole runes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
