package compliance

import (
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// liveJob is what the job inspector shows of an endpoint beyond its job
// reports: the job in progress and counters since start-up. It is a field of
// endpointRunner guarded by the runner's mu; the collector hooks and the
// runner goroutine write it through the methods below, the inspector reads a
// copy with inspect.
type liveJob struct {
	running     bool
	tick        time.Time // the scheduled time the running job is for
	started     time.Time // when RunJob was called (the collector's own start is in PageInfo)
	jobID       string    // known from the job's first page
	jobStart    time.Time // the collector's start of the job, for the rate
	slice       string    // the slice of the last page
	slicePage   int       // that page's number within its slice
	pages       int
	emitted     int
	duplicates  int
	progress    float64 // 0..1 of the job's range
	requestID   string  // of the last page
	openSlices  int
	outstanding int // batches handed to the pipeline and not acknowledged yet (any job of this endpoint)

	lateCatches int           // since start-up
	lateDeepest time.Duration // deepest late catch since start-up
	clockSkew   time.Duration // local minus the API's Date header, last seen
	skewKnown   bool
}

// runnerView is a consistent copy of an endpoint runner's state at one time.
type runnerView struct {
	live          liveJob
	lastSuccess   time.Time
	lastCommit    time.Time
	scannedTo     time.Time
	oldestUnacked time.Time
}

// inspect copies the runner's state for the inspector.
func (r *endpointRunner) inspect() runnerView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return runnerView{
		live: r.live, lastSuccess: r.lastSuccess, lastCommit: r.lastCommit,
		scannedTo: r.scannedTo, oldestUnacked: r.oldestUnacked,
	}
}

// jobStarting marks a job as running from now on (the runner goroutine
// calls it right before RunJob).
func (r *endpointRunner) jobStarting(tick, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &r.live
	l.running, l.tick, l.started = true, tick, now
	l.jobID, l.jobStart, l.slice, l.requestID = "", time.Time{}, "", ""
	l.slicePage, l.pages, l.emitted, l.duplicates, l.progress = 0, 0, 0, 0, 0
}

// jobFinished marks the job as no longer running (jobEnded calls it).
func (r *endpointRunner) jobFinished() {
	r.mu.Lock()
	r.live.running = false
	r.mu.Unlock()
}

// paged records one fetched page of the running job.
func (r *endpointRunner) paged(p collector.PageInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &r.live
	l.jobID, l.jobStart, l.slice, l.slicePage = p.JobID, p.Started, p.Slice, p.Page
	l.pages++
	l.emitted = p.EmittedSoFar
	l.duplicates += p.Duplicates
	l.progress = p.Progress
	l.requestID = p.RequestID
}

// opened records how many slices are fetched but not committed.
func (r *endpointRunner) opened(n int) {
	r.mu.Lock()
	r.live.openSlices = n
	r.mu.Unlock()
}

// lateCaught counts an activity caught below the previous scanned_to.
func (r *endpointRunner) lateCaught(depth time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live.lateCatches++
	r.live.lateDeepest = max(r.live.lateDeepest, depth)
}

// skewed records the clock skew the collector measured.
func (r *endpointRunner) skewed(d time.Duration) {
	r.mu.Lock()
	r.live.clockSkew, r.live.skewKnown = d, true
	r.mu.Unlock()
}

// handedOut counts a batch handed to the pipeline and returns the func to
// call (once) when the pipeline acknowledges it.
func (r *endpointRunner) handedOut() (acked func()) {
	r.mu.Lock()
	r.live.outstanding++
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.live.outstanding--
			r.mu.Unlock()
		})
	}
}

// trackBatch counts a batch of endpoint as outstanding until the returned
// func is called.
func (in *input) trackBatch(endpoint string) (acked func()) {
	for _, r := range in.runners {
		if r.name == endpoint {
			return r.handedOut()
		}
	}
	return func() {}
}

//------------------------------------------------------------------------------

// budgetState is the last view of the organisation's shared request budget
// that the input's API client had, and the pauses it made for it.
type budgetState struct {
	mu sync.Mutex
	v  budgetView
}

type budgetView struct {
	last      api.RateLimit // Known is false until a response carried the headers
	seenAt    time.Time
	pauses    int
	paused    time.Duration
	lastPause api.WaitInfo
	pausedAt  time.Time
}

// observe records the rate-limit headers of a response (when it had them).
func (b *budgetState) observe(rl api.RateLimit, at time.Time) {
	if !rl.Known {
		return
	}
	b.mu.Lock()
	b.v.last, b.v.seenAt = rl, at
	b.mu.Unlock()
}

// waited records a pause for the budget.
func (b *budgetState) waited(w api.WaitInfo, at time.Time) {
	b.mu.Lock()
	b.v.pauses++
	b.v.paused += w.Wait
	b.v.lastPause, b.v.pausedAt = w, at
	b.mu.Unlock()
}

func (b *budgetState) view() budgetView {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v
}
