package compliance

import (
	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// newStateFuncs returns the state update/merge functions: the native
// default for a mapping left at its default, Bloblang otherwise.
func newStateFuncs(update, merge *bloblang.Executor) collector.StateFuncs {
	if update == nil && merge == nil {
		return collector.DefaultState{}
	}
	return blobState{update: update, merge: merge}
}

// blobState runs user mappings. Update sees the activity as `this` and the
// slice's state as metadata `state`; Merge sees {"prev": …, "new": …}. A
// result that is not an object (or a deleted root) leaves the state as is.
type blobState struct {
	update, merge *bloblang.Executor
}

func (b blobState) Update(state map[string]any, a api.Activity) (map[string]any, error) {
	if b.update == nil {
		return collector.DefaultState{}.Update(state, a)
	}
	msg := service.NewMessage(a.Raw)
	msg.MetaSetMut("state", state)
	return objectResult(msg.BloblangQuery(b.update))
}

func (b blobState) Merge(prev, next map[string]any) (map[string]any, error) {
	if b.merge == nil {
		return collector.DefaultState{}.Merge(prev, next)
	}
	msg := service.NewMessage(nil)
	msg.SetStructured(map[string]any{"prev": prev, "new": next})
	return objectResult(msg.BloblangQuery(b.merge))
}

func objectResult(res *service.Message, err error) (map[string]any, error) {
	if err != nil || res == nil {
		return nil, err
	}
	v, err := res.AsStructured()
	if err != nil {
		return nil, nil
	}
	m, _ := v.(map[string]any)
	return m, nil
}
