package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/outputs/elasticsearch/bulk"
)

// output is the elasticsearch BatchOutput. Its fields are set once by
// newOutput; WriteBatch calls share nothing mutable but the bulk client,
// which is safe for concurrent use.
type output struct {
	cfg       config
	client    *bulk.Client
	transport *http.Transport
	log       *service.Logger
	mRetried  *service.MetricCounter
	mRejected *service.MetricCounter
}

func newOutput(cfg config, mgr *service.Resources) (*output, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.tls
	tr.MaxIdleConnsPerHost = cfg.maxInFlight
	client, err := bulk.New(bulk.Config{
		URLs:       cfg.urls,
		Header:     cfg.header,
		HTTPClient: &http.Client{Transport: tr, Timeout: cfg.timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fieldURLs, err)
	}
	return &output{
		cfg:       cfg,
		client:    client,
		transport: tr,
		log:       mgr.Logger(),
		mRetried:  mgr.Metrics().NewCounter("elasticsearch_item_retries"),
		mRejected: mgr.Metrics().NewCounter("elasticsearch_item_rejections", "status"),
	}, nil
}

// Connect has nothing to open: requests are independent and the first
// WriteBatch shows whether the cluster is reachable.
func (o *output) Connect(context.Context) error { return nil }

// Close drops idle connections.
func (o *output) Close(context.Context) error {
	o.transport.CloseIdleConnections()
	return nil
}

// WriteBatch writes the batch in one bulk request, retries 429 items, and
// returns nil, the request's error (nothing written), or a
// *service.BatchError naming exactly the messages that were not written.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	failed := make([]error, len(batch))
	docs := make([]bulk.Doc, len(batch))
	var pending []int // batch indexes still to write
	ex := executors{
		index:    batch.InterpolationExecutor(o.cfg.index),
		id:       batch.InterpolationExecutor(o.cfg.id),
		pipeline: batch.InterpolationExecutor(o.cfg.pipeline),
	}
	for i := range batch {
		d, err := document(batch, ex, i)
		if err != nil {
			failed[i] = err
			continue
		}
		docs[i] = d
		pending = append(pending, i)
	}

	backoff := o.cfg.itemRetryBackoff
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff); err != nil {
				markAll(failed, pending, fmt.Errorf("retrying documents rejected with 429: %w", err))
				break
			}
			backoff = min(2*backoff, maxItemRetryBackoff)
			o.mRetried.Incr(int64(len(pending)))
		}
		sent := make([]bulk.Doc, len(pending))
		for k, i := range pending {
			sent[k] = docs[i]
		}
		results, err := o.client.Write(ctx, o.cfg.action, sent)
		if err != nil {
			if attempt == 0 && len(pending) == len(batch) {
				return err // nothing of the batch was written
			}
			markAll(failed, pending, err)
			break
		}
		var again []int
		for k, i := range pending {
			r := results[k]
			switch {
			case r.OK(), r.Status == http.StatusConflict && o.cfg.action == bulk.OpCreate:
			case r.Status == http.StatusTooManyRequests && attempt < o.cfg.maxItemRetries:
				again = append(again, i)
			default:
				o.mRejected.Incr(1, strconv.Itoa(r.Status))
				failed[i] = rejection(docs[i], r, attempt)
			}
		}
		pending = again
	}
	return batchResult(batch, failed)
}

// executors evaluate the interpolated fields over one batch.
type executors struct {
	index, id, pipeline *service.MessageBatchInterpolationExecutor
}

// document renders message i of batch as a bulk document.
func document(batch service.MessageBatch, ex executors, i int) (bulk.Doc, error) {
	var d bulk.Doc
	var err error
	if d.Index, err = ex.index.TryString(i); err != nil {
		return d, fmt.Errorf("%s: %w", fieldIndex, err)
	}
	if d.Index == "" {
		return d, fmt.Errorf("%s: evaluated to an empty string", fieldIndex)
	}
	if d.ID, err = ex.id.TryString(i); err != nil {
		return d, fmt.Errorf("%s: %w", fieldID, err)
	}
	if d.Pipeline, err = ex.pipeline.TryString(i); err != nil {
		return d, fmt.Errorf("%s: %w", fieldPipeline, err)
	}
	raw, err := batch[i].AsBytes()
	if err != nil {
		return d, fmt.Errorf("reading message: %w", err)
	}
	if !json.Valid(raw) {
		return d, errors.New("message is not valid JSON, so it cannot be a document")
	}
	if bytes.ContainsAny(raw, "\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return d, fmt.Errorf("compacting message onto one line: %w", err)
		}
		raw = buf.Bytes()
	}
	d.Source = raw
	return d, nil
}

func rejection(d bulk.Doc, r bulk.Result, attempt int) error {
	what := fmt.Sprintf("document %q in index %q", d.ID, d.Index)
	if d.ID == "" {
		what = fmt.Sprintf("document in index %q", d.Index)
	}
	msg := fmt.Sprintf("%s rejected: status %d", what, r.Status)
	if r.Type != "" {
		msg += ": " + r.Type
	}
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	if r.Status == http.StatusTooManyRequests {
		msg += fmt.Sprintf(" (after %d retries)", attempt)
	}
	return errors.New(msg)
}

func markAll(failed []error, idx []int, err error) {
	for _, i := range idx {
		failed[i] = err
	}
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
	bErr := service.NewBatchError(batch, fmt.Errorf("%d of %d documents not written, first: %w", n, len(batch), first))
	for i, err := range failed {
		if err != nil {
			bErr.Failed(i, err)
		}
	}
	return bErr
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
