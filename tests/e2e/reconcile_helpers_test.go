package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// reconcileReports lists the "reconcile report" log lines in order.
func (s *logSink) reconcileReports() []report {
	var out []report
	for _, e := range s.all() {
		if e.Msg == "reconcile report" {
			out = append(out, report(e.Attrs))
		}
	}
	return out
}

// waitReconcile waits for a reconcile report matching fn and returns it.
func (r *rig) waitReconcile(what string, fn func(report) bool) report {
	r.t.Helper()
	var found report
	require.Eventually(r.t, func() bool {
		for _, rep := range r.logs.reconcileReports() {
			if fn(rep) {
				found = rep
				return true
			}
		}
		return false
	}, 30*time.Second, 5*time.Millisecond, "waiting for a reconcile report: %s; logs:\n%s", what, r.logs.dump())
	return found
}

// ledger reads the record of delivered ids the input (unfiltered, on the
// rig's API) keeps beside the checkpoint at key in the rig's state
// directory, for retention = lookback + settle (read only).
func (r *rig) ledger(key string, retention time.Duration) *checkpoint.Delivered {
	id := checkpoint.Identity{Endpoint: "activities", BaseURL: r.url, Filters: collector.Filters{}.Hash()}
	return checkpoint.NewDelivered(readOnlyStore{r.store}, key, id, retention)
}

// recorded reports whether the record of delivered ids holds id, created at
// createdAt, at now.
func recorded(t *testing.T, d *checkpoint.Delivered, id string, createdAt, now time.Time) bool {
	t.Helper()
	b, err := d.Load(context.Background(), createdAt, now)
	require.NoError(t, err)
	return b.Has(id)
}

// readOnlyStore reads an atomicfile store as a checkpoint.Store.
type readOnlyStore struct{ s *atomicfile.Store }

func (s readOnlyStore) Load(_ context.Context, key string) ([]byte, error) {
	v, err := s.s.Get(key)
	if errors.Is(err, atomicfile.ErrNotFound) {
		return nil, checkpoint.ErrNotFound
	}
	return v, err
}

func (readOnlyStore) Swap(context.Context, string, int64, []byte, checkpoint.Fence) error {
	return errors.New("read only")
}

func (s readOnlyStore) Describe(key string) string { return s.s.Path(key) }

// crash stops the stream at once (a hard stop: the input writes nothing
// more, and batches the output holds are never acknowledged), as a kill
// would, and waits for it to end.
func (st *stream) crash() {
	st.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_ = st.s.Stop(ctx)
		<-st.done
		st.ended = true
	})
}

// isReconcile reports whether a delivery came from a reconciliation job.
func isReconcile(d delivery) bool {
	return len(d.Meta) > 0 && strings.Contains(d.Meta[0]["compliance_job_id"], "-reconcile-")
}

// between returns the activities created in [from, to).
func between(data []fakeapi.Activity, from, to time.Time) []fakeapi.Activity {
	var out []fakeapi.Activity
	for _, a := range data {
		if !a.CreatedAt.Before(from) && a.CreatedAt.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// missing returns the ids of want not acknowledged in acked.
func missing(want []fakeapi.Activity, acked map[string]int) []fakeapi.Activity {
	var out []fakeapi.Activity
	for _, a := range want {
		if acked[a.ID] == 0 {
			out = append(out, a)
		}
	}
	return out
}

// requireEachAckedOnce fails unless every activity of want was acknowledged
// exactly once.
func requireEachAckedOnce(t *testing.T, want []fakeapi.Activity, acked map[string]int) {
	t.Helper()
	var lost, twice []string
	for _, a := range want {
		switch n := acked[a.ID]; {
		case n == 0:
			lost = append(lost, a.ID)
		case n > 1:
			twice = append(twice, a.ID)
		}
	}
	require.Empty(t, lost, "%d of %d activities never acknowledged, e.g. %v", len(lost), len(want), head(lost))
	require.Empty(t, twice, "%d activities acknowledged more than once, e.g. %v", len(twice), head(twice))
}
