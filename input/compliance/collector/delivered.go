package collector

import (
	"context"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// This file connects the regular jobs to the record of delivered ids that
// reconciliation jobs (reconcile.go) read.

// DeliveredRecorder keeps the record of delivered ids (checkpoint.Delivered):
// Record adds acknowledged ids and marks spans of created_at as covered
// (every id delivered there is recorded).
type DeliveredRecorder interface {
	Record(ctx context.Context, ids checkpoint.IDSet, covered []checkpoint.Span, now time.Time) (checkpoint.RecordResult, error)
}

// DeliveredLedger is the record a reconciliation job reads and adds to.
type DeliveredLedger interface {
	DeliveredRecorder
	// Load returns the bucket holding created_at t, as recorded at now.
	Load(ctx context.Context, t, now time.Time) (*checkpoint.Bucket, error)
	BucketLength() time.Duration
}

// recordDelivered adds the ids of slices about to commit to the record of
// delivered ids, their ranges covered, before the checkpoint moves past them:
// every id a committed walk returned was delivered (emitted and acked, or
// dropped as delivered before), and it returned every id delivered in its
// range. A failure leaves those ranges uncovered, which reconciliation skips
// (never re-emitting what they hold): it is logged, and collection goes on.
func (j *job) recordDelivered(ctx context.Context, ready []*slice) {
	c := j.c
	n := 0
	for _, s := range ready {
		n += len(s.ids)
	}
	ids := make(checkpoint.IDSet, n)
	spans := make([]checkpoint.Span, 0, len(ready))
	for _, s := range ready {
		for id, sec := range s.ids {
			ids[id] = sec
		}
		spans = append(spans, checkpoint.Span{From: s.rng.From, To: s.rng.To})
	}
	if _, err := c.deps.Delivered.Record(ctx, ids, spans, c.now()); err != nil {
		c.deps.Log.Warnf("job %s: recording the %d ids of [%s, %s) as delivered failed: %v. Collection goes on; reconciliation "+
			"will skip that range (it only walks ranges whose deliveries are recorded)", j.id, len(ids), ready[0].from, ready[len(ready)-1].to, err)
	}
}
