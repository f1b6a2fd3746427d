// Package scratch pools what one mapping of an activity reuses: the
// decoder, the document builder and the encoding buffer, so that a warm
// mapping allocates only the document it returns. Both the OCSF and the ECS
// mappers use it.
package scratch

import (
	"bytes"
	"sync"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// maxKeptBuffer bounds the encoding buffer a pooled Scratch keeps.
const maxKeptBuffer = 256 << 10

// Scratch is one mapping's reusable state.
type Scratch struct {
	Dec activity.Decoder
	B   *jsonobj.Builder
	out []byte
}

// Encode renders root and returns an exactly sized copy the caller owns.
func (s *Scratch) Encode(root jsonobj.Object) []byte {
	s.out = root.AppendJSON(s.out[:0])
	return bytes.Clone(s.out)
}

// Pool hands out Scratches whose builders use the given options. It is safe
// for concurrent use.
type Pool struct{ p sync.Pool }

// NewPool returns an empty pool.
func NewPool(opts jsonobj.Options) *Pool {
	p := &Pool{}
	p.p.New = func() any { return &Scratch{B: jsonobj.NewBuilder(opts)} }
	return p
}

// Get takes a Scratch; give it back with Put.
func (p *Pool) Get() *Scratch { return p.p.Get().(*Scratch) }

// Put resets s and returns it to the pool, dropping an oversized buffer.
func (p *Pool) Put(s *Scratch) {
	s.Dec.Reset()
	s.B.Reset()
	if cap(s.out) > maxKeptBuffer {
		s.out = nil
	}
	p.p.Put(s)
}
