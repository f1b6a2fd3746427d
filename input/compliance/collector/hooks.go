package collector

import "time"

// Hooks report what jobs do, for metrics and logs. Every field is optional;
// they are called from the job goroutine and must not block.
type Hooks struct {
	OnPage      func(PageInfo)
	OnCommit    func(CommitInfo)
	OnJobEnd    func(Report)
	OnLateCatch func(depth time.Duration) // an activity first seen below the previous scanned_to
	OnClockSkew func(skew time.Duration)  // local minus the API's Date header
	OnAckWait   func(outstanding int, waited time.Duration)
	OnOpen      func(openSlices int, oldestUnacked time.Time)
}

// PageInfo describes one fetched page.
type PageInfo struct {
	JobID      string
	Slice      string
	Page       int
	Activities int
	Emitted    int
	Duplicates int
	RequestID  string
	// Progress is the fraction of the job's time range covered by slices
	// done, plus the current one (0..1).
	Progress     float64
	EmittedSoFar int
	Started      time.Time // when the job started, for rates
}

// CommitInfo describes one checkpoint write.
type CommitInfo struct {
	JobID     string
	ScannedTo time.Time
	Slices    int
	Seen      int
	Pending   int
	Rev       int64
	Err       error
}

func (h Hooks) page(p PageInfo) {
	if h.OnPage != nil {
		h.OnPage(p)
	}
}

func (h Hooks) commit(c CommitInfo) {
	if h.OnCommit != nil {
		h.OnCommit(c)
	}
}

func (h Hooks) jobEnd(r Report) {
	if h.OnJobEnd != nil {
		h.OnJobEnd(r)
	}
}

func (h Hooks) lateCatch(d time.Duration) {
	if h.OnLateCatch != nil {
		h.OnLateCatch(d)
	}
}

func (h Hooks) clockSkew(d time.Duration) {
	if h.OnClockSkew != nil {
		h.OnClockSkew(d)
	}
}

func (h Hooks) ackWait(n int, d time.Duration) {
	if h.OnAckWait != nil {
		h.OnAckWait(n, d)
	}
}

func (h Hooks) open(n int, oldest time.Time) {
	if h.OnOpen != nil {
		h.OnOpen(n, oldest)
	}
}
