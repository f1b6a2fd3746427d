package collector

import (
	"sync"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// orphans are the batches of ended jobs that the pipeline still holds.
//
// With auto_replay_nacks (Benthos' default) a batch that fails downstream is
// kept and sent again until it succeeds, and only then acknowledged, with
// nil. A job that ends meanwhile (job_timeout, then the drain grace) leaves
// its batches behind. A new job must not emit the same activities again
// while those copies are still on their way, so it is skipped until every
// orphan is resolved; the ids of orphans acknowledged with nil are recorded
// as pending before the next job emits anything. An orphan nacked (no
// replay) records nothing: it is collected again. The AckFunc goroutines
// and the job goroutine share this state under mu.
type orphans struct {
	mu      sync.Mutex
	batches int              // outstanding batches of ended jobs
	acked   checkpoint.IDSet // ids of orphans acknowledged with nil, not yet recorded
}

// adopt takes over n outstanding batches of a job that ends.
func (o *orphans) adopt(n int) {
	o.mu.Lock()
	o.batches += n
	o.mu.Unlock()
}

// resolve applies the ack of one adopted batch.
func (o *orphans) resolve(ids []idAt, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches--
	if err != nil {
		return
	}
	if o.acked == nil {
		o.acked = checkpoint.IDSet{}
	}
	for _, x := range ids {
		o.acked[x.id] = x.sec
	}
}

// outstanding is the number of adopted batches not resolved yet.
func (o *orphans) outstanding() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.batches
}

// take returns the ids acknowledged late and forgets them; put them back
// with restore if they could not be recorded.
func (o *orphans) take() checkpoint.IDSet {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := o.acked
	o.acked = nil
	return ids
}

func (o *orphans) restore(ids checkpoint.IDSet) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.acked == nil {
		o.acked = checkpoint.IDSet{}
	}
	for id, sec := range ids {
		o.acked[id] = sec
	}
}
