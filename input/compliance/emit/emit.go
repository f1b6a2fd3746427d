// Package emit is what the collectors of the input's endpoints other than the
// Activity Feed hand to the pipeline: batches of messages, each a body and
// its metadata, acknowledged once. The input turns a Batch into Benthos
// messages and calls its Ack with the pipeline's result; a collector counts
// its batches with an Acks. It imports nothing of the module or of Benthos,
// so that every collector package can use it.
package emit

import (
	"sync"
)

// Meta is one metadata entry of a message.
type Meta struct{ Key, Value string }

// Message is one message for the pipeline.
type Message struct {
	Body []byte
	Meta []Meta
}

// Batch is messages handed to the pipeline together. Ack must be called
// exactly once: nil when every message was delivered, else the error.
type Batch struct {
	// Endpoint is the endpoint entry (endpoints[].name) that emitted it.
	Endpoint string
	Messages []Message
	Ack      func(err error)
}

// Acks counts the batches a collector handed out and how they were
// acknowledged. AckFuncs (any goroutine) resolve batches; the collector's job
// goroutine reads the state. It is safe for concurrent use.
type Acks struct {
	mu          sync.Mutex
	outstanding int
	acked       map[int]bool // batch number -> acknowledged with nil
	failed      error        // first nack
	changed     chan struct{}
}

// NewAcks returns an empty Acks.
func NewAcks() *Acks {
	return &Acks{acked: map[int]bool{}, changed: make(chan struct{}, 1)}
}

// Track counts batch number n as handed out and returns its Ack.
func (a *Acks) Track(n int) func(error) {
	a.mu.Lock()
	a.outstanding++
	a.mu.Unlock()
	var once sync.Once
	return func(err error) {
		once.Do(func() {
			a.mu.Lock()
			a.outstanding--
			if err == nil {
				a.acked[n] = true
			} else if a.failed == nil {
				a.failed = err
			}
			a.mu.Unlock()
			select {
			case a.changed <- struct{}{}:
			default:
			}
		})
	}
}

// Untrack forgets batch number n, handed out by Track but never delivered
// (the send was abandoned); its Ack must not be called.
func (a *Acks) Untrack() {
	a.mu.Lock()
	a.outstanding--
	a.mu.Unlock()
}

// Outstanding is the number of batches not acknowledged yet.
func (a *Acks) Outstanding() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.outstanding
}

// Failed is the error of the first batch acknowledged with one, or nil.
func (a *Acks) Failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed
}

// Acked reports whether batch n was acknowledged with nil.
func (a *Acks) Acked(n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acked[n]
}

// Changed receives after an acknowledgement; a waiter re-reads the state.
func (a *Acks) Changed() <-chan struct{} { return a.changed }
