package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Head is a checkpoint without its id sets: what a reader beside the
// collector (a reconciliation job) needs to know of it.
type Head struct {
	Identity  Identity
	Floor     time.Time
	ScannedTo time.Time
	SeenFrom  time.Time // zero when unset
	State     map[string]any
	Rev       int64
}

// DecodeHead parses a stored checkpoint without building its id sets; it
// checks what Decode checks of the fields it returns. A tombstone is a
// *DeletedError.
func DecodeHead(data []byte) (*Head, error) {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("not a checkpoint document: %w", err)
	}
	h := &Head{Identity: d.Identity, State: map[string]any{}}
	if d.Rev != nil {
		h.Rev = *d.Rev
	}
	if d.DeletedAt != "" {
		at, err := parseTime("deleted_at", d.DeletedAt)
		if err != nil {
			return nil, fmt.Errorf("invalid checkpoint document: %w", err)
		}
		return nil, &DeletedError{Rev: h.Rev, At: at}
	}
	// Decode's checks, on a record holding only these fields.
	r := &Record{Version: d.Version, Identity: d.Identity, Rev: h.Rev}
	for _, f := range []struct {
		dst  *time.Time
		name string
		raw  string
	}{{&r.Floor, "floor", d.Floor}, {&r.ScannedTo, "scanned_to", d.ScannedTo}, {&r.SeenFrom, "seen_from", d.SeenFrom}} {
		if f.raw == "" {
			continue
		}
		t, err := parseTime(f.name, f.raw)
		if err != nil {
			return nil, fmt.Errorf("invalid checkpoint document: %w", err)
		}
		*f.dst = t
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("invalid checkpoint document: %w", err)
	}
	if len(d.State) > 0 && !bytes.Equal(d.State, []byte("null")) {
		if err := json.Unmarshal(d.State, &h.State); err != nil {
			return nil, fmt.Errorf("invalid checkpoint document: state: must be an object: %w", err)
		}
		if h.State == nil {
			h.State = map[string]any{}
		}
	}
	h.Floor, h.ScannedTo, h.SeenFrom = r.Floor, r.ScannedTo, r.SeenFrom
	return h, nil
}

// LoadHead reads the head of the checkpoint at key; (nil, nil) when there is
// none: never written, or deleted by an operator (a tombstone).
func LoadHead(ctx context.Context, store Store, key string) (*Head, error) {
	data, err := store.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", store.Describe(key), err)
	}
	h, err := DecodeHead(data)
	if errors.Is(err, ErrDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, &CorruptError{Where: store.Describe(key), Err: err}
	}
	return h, nil
}
