package compliance

import (
	"sort"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// jobHistory keeps the reports of recent jobs for job_history_ttl (Cribl's
// "Time to live" of job artifacts).
type jobHistory struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	reports []collector.Report // oldest first
}

func (h *jobHistory) add(r collector.Report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, r)
	h.pruneLocked()
}

func (h *jobHistory) pruneLocked() {
	cut := h.now().Add(-h.ttl)
	i := sort.Search(len(h.reports), func(i int) bool { return !h.reports[i].End.Before(cut) })
	h.reports = append([]collector.Report(nil), h.reports[i:]...)
}

// list returns the kept reports, newest first.
func (h *jobHistory) list() []collector.Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked()
	out := make([]collector.Report, len(h.reports))
	for i, r := range h.reports {
		out[len(out)-1-i] = r
	}
	return out
}
