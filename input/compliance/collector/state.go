package collector

import (
	"encoding/json"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// StateFuncs fold user state (Cribl's state update and merge expressions).
// Update runs once per delivered activity inside its slice, starting from an
// empty object for each slice; Merge runs when a slice that delivered
// activities commits, with the saved state and the slice's state. A result
// that is nil leaves the state unchanged. User state never moves the
// collection window.
type StateFuncs interface {
	Update(state map[string]any, a api.Activity) (map[string]any, error)
	Merge(prev, next map[string]any) (map[string]any, error)
}

// DefaultState keeps the largest created_at, in epoch milliseconds, as
// latestTime; the merge keeps whichever side has the larger latestTime.
type DefaultState struct{}

// Update implements StateFuncs.
func (DefaultState) Update(state map[string]any, a api.Activity) (map[string]any, error) {
	ms := a.CreatedAt.UnixMilli()
	if cur, ok := number(state["latestTime"]); ok && cur >= float64(ms) {
		return state, nil
	}
	if state == nil {
		state = map[string]any{}
	}
	state["latestTime"] = ms
	return state, nil
}

// Merge implements StateFuncs.
func (DefaultState) Merge(prev, next map[string]any) (map[string]any, error) {
	p, pok := number(prev["latestTime"])
	n, nok := number(next["latestTime"])
	if pok && (!nok || p > n) {
		return prev, nil
	}
	return next, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
