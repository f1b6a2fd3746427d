package emit_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/compliance-connect/compliance-connect/input/compliance/emit"
)

// TestAcksCountEveryBatchOnceFromAnyGoroutine: acks arrive concurrently,
// each batch counts once however often its Ack is called, the first nack is
// kept, and an untracked batch (never delivered) is no longer outstanding.
func TestAcksCountEveryBatchOnceFromAnyGoroutine(t *testing.T) {
	a := emit.NewAcks()
	const n = 100
	acks := make([]func(error), n)
	for i := range acks {
		acks[i] = a.Track(i)
	}
	extra := a.Track(n)
	a.Untrack()
	_ = extra
	assert.Equal(t, n, a.Outstanding())
	refused := errors.New("refused")
	var wg sync.WaitGroup
	for i, ack := range acks {
		var err error
		if i == 7 {
			err = refused
		}
		wg.Add(2)
		go func() { defer wg.Done(); ack(err) }()
		go func() { defer wg.Done(); ack(err) }() // a second call changes nothing
	}
	wg.Wait()
	<-a.Changed()
	assert.Zero(t, a.Outstanding())
	assert.ErrorIs(t, a.Failed(), refused)
	assert.False(t, a.Acked(7))
	assert.True(t, a.Acked(8))
	assert.False(t, a.Acked(n), "the untracked batch")
}
