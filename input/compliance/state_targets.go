package compliance

// What the operator tools (`compliance-connect state`, `check`) see of the
// checkpoints of every endpoint kind: the feed's and the content endpoints'
// are checkpoint records (StateTarget); a snapshot endpoint's is a snapshot
// document (SnapshotTarget), which can be shown and deleted, never set or
// rewound (it has no position in time).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
)

// The kinds of endpoint, as the operator tools name them.
const (
	// KindFeed is the Activity Feed (`activities`).
	KindFeed = "feed"
	// KindContent is a window on updated_at (`chats`, `files`): its
	// checkpoint is a record of the feed's type (identity.key updated_at).
	KindContent = "content"
	// KindSnapshot walks a whole list every run (directory, `projects`):
	// its checkpoint is the last complete run.
	KindSnapshot = "snapshot"
)

// kindName is the operator tools' name of a family.
func (f family) kindName() string {
	switch f {
	case familyFeed:
		return KindFeed
	case familyIncremental:
		return KindContent
	}
	return KindSnapshot
}

// endpointIdentity is the checkpoint identity the running input gives an
// endpoint of the feed or content kinds (content: its own filters and a
// window on updated_at, contentCollectorConfig).
func endpointIdentity(cfg *inputConfig, ep endpointConfig) checkpoint.Identity {
	if ep.Kind.family == familyIncremental && ep.Content != nil {
		return contentCollectorConfig(cfg, ep).Identity()
	}
	return collectorConfig(cfg, ep).Identity()
}

// SnapshotTarget is where a snapshot endpoint (directory, projects) keeps its
// checkpoint: `compliance-connect state show|delete` and `check` work on it
// through the store's compare-and-swap, as the collector writes it.
type SnapshotTarget struct {
	Label    string
	Endpoint string
	Key      string
	// Emit is the endpoint's emit (snapshot or changes); SilentBaseline is
	// baseline: silent.
	Emit           string
	SilentBaseline bool

	identity snapshot.Identity
	store    checkpoint.Store
}

func newSnapshotTarget(cfg *inputConfig, label string, ep endpointConfig, store checkpoint.Store) *SnapshotTarget {
	id := snapshot.Config{Endpoint: ep.Name, BaseURL: cfg.BaseURL, Emit: ep.Snapshot.Emit,
		OrganizationIDs: ep.Raw.Filters.OrganizationIDs}.Identity()
	return &SnapshotTarget{Label: label, Endpoint: ep.Name, Key: checkpointKey(cfg, label, ep),
		Emit: ep.Snapshot.Emit, SilentBaseline: ep.Snapshot.Baseline == baselineSilent, identity: id, store: store}
}

// Where describes the checkpoint's location.
func (t *SnapshotTarget) Where() string { return t.store.Describe(t.Key) }

// Identity is the identity this config's collector expects.
func (t *SnapshotTarget) Identity() snapshot.Identity { return t.identity }

// RecordsDocs are the keys of the documents holding the previous versions of
// the records (emit: changes with include_previous).
func (t *SnapshotTarget) RecordsDocs() []string {
	return []string{t.Key + "/records/a", t.Key + "/records/b"}
}

// Show returns the stored checkpoint and the document as stored; an error
// wrapping ErrNoCheckpoint when there is none (or an operator deleted it),
// a *checkpoint.CorruptError when it does not parse.
func (t *SnapshotTarget) Show(ctx context.Context) (*snapshot.Checkpoint, []byte, error) {
	data, err := t.store.Load(ctx, t.Key)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		return nil, nil, fmt.Errorf("%s: %w yet", t.Where(), ErrNoCheckpoint)
	case err != nil:
		return nil, nil, fmt.Errorf("reading %s: %w", t.Where(), err)
	}
	if err := deletedSnapshot(t.Where(), data); err != nil {
		return nil, nil, err
	}
	cp, err := snapshot.DecodeCheckpoint(data)
	if err != nil {
		return nil, data, &checkpoint.CorruptError{Where: t.Where(), Err: err}
	}
	return cp, data, nil
}

// Delete replaces the checkpoint with a tombstone, by one compare-and-swap
// from the revision just read (again when a job committed in between): the
// collector's next run starts over (emit: changes takes a new baseline), and
// a job that read the checkpoint before cannot write over the tombstone. An
// unreadable document is replaced too (that is how it is reset). The records
// documents are left: the store has no delete, and rewriting them under a
// running collector would make its next commits fail; no run reads them
// again until the next recorded change rewrites one.
func (t *SnapshotTarget) Delete(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		data, err := t.store.Load(ctx, t.Key)
		switch {
		case errors.Is(err, checkpoint.ErrNotFound):
			return fmt.Errorf("%s: %w yet", t.Where(), ErrNoCheckpoint)
		case err != nil:
			return fmt.Errorf("reading %s: %w", t.Where(), err)
		}
		if err := deletedSnapshot(t.Where(), data); err != nil {
			return err
		}
		expect, next := int64(0), int64(0)
		if rev, err := cas.Rev(data); err != nil {
			expect, next = checkpoint.ReplaceUnreadable, 1
		} else {
			expect, next = rev, rev+1
		}
		doc, err := checkpoint.Tombstone(checkpoint.Identity{Endpoint: t.identity.Endpoint, BaseURL: t.identity.BaseURL,
			Filters: t.identity.Filters}, next, time.Now())
		if err != nil {
			return err
		}
		err = t.store.Swap(ctx, t.Key, expect, doc, checkpoint.Fence{})
		if _, conflict := errors.AsType[*checkpoint.ConflictError](err); conflict && attempt < maxEditAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", t.Where(), err)
		}
		return nil
	}
}

// deletedSnapshot is an error wrapping ErrNoCheckpoint when data is the
// tombstone of an operator's delete, else nil.
func deletedSnapshot(where string, data []byte) error {
	_, err := checkpoint.Decode(data)
	if deleted, ok := errors.AsType[*checkpoint.DeletedError](err); ok {
		return fmt.Errorf("%s: %w (deleted by an operator at %s, rev %d: the next run starts over)",
			where, ErrNoCheckpoint, deleted.At.UTC().Format(time.RFC3339), deleted.Rev)
	}
	return nil
}

// Probe writes and reads back the probe document next to the checkpoint (see
// StateTarget.Probe).
func (t *SnapshotTarget) Probe(ctx context.Context) (string, error) {
	return probeStore(ctx, t.store, t.Key)
}

// EndpointState is one enabled endpoint of a pipeline config and its
// checkpoint.
type EndpointState struct {
	Label, Endpoint string
	// Kind is KindFeed, KindContent or KindSnapshot.
	Kind string
	// Tracking is state_tracking.enabled: the endpoint keeps a checkpoint.
	Tracking bool
	// Target is the checkpoint of a feed or content endpoint with state
	// tracking; Snapshot that of a snapshot endpoint with state tracking.
	Target   *StateTarget
	Snapshot *SnapshotTarget
}

// PipelineState is every enabled endpoint of every anthropic_compliance
// input of a pipeline config, with its checkpoint opened the way the running
// input opens it.
type PipelineState struct {
	Endpoints []EndpointState
	// Warnings are about the stores (their permissions, a cache that
	// forgets).
	Warnings []string
	// Close releases the cache resources opened.
	Close func(context.Context) error
}

// OpenPipelineState reads a pipeline config (the file given to `run`: its
// `input` and `input_resources`) and opens the checkpoint store of each
// anthropic_compliance input the way the running input does.
func OpenPipelineState(ctx context.Context, pipeline []byte) (*PipelineState, error) {
	p, err := readPipeline(pipeline)
	if err != nil {
		return nil, err
	}
	if len(p.inputs) == 0 {
		return nil, fmt.Errorf("the config has no %s input (looked at input and input_resources)", Name)
	}
	closeRes := func(context.Context) error { return nil }
	var res *service.Resources
	if len(p.caches) > 0 {
		rb := service.NewResourceBuilder()
		rb.DisableLinting()
		b, err := yaml.Marshal(map[string]any{"cache_resources": p.caches})
		if err != nil {
			return nil, err
		}
		if err := rb.AddYAML(string(b)); err != nil {
			return nil, fmt.Errorf("cache_resources: %w", err)
		}
		if res, closeRes, err = rb.Build(); err != nil {
			return nil, fmt.Errorf("cache_resources: %w", err)
		}
	}
	o := options{cacheResource: func(name string) (CacheResource, bool) {
		r, ok := p.types[name]
		return r, ok
	}}
	fail := func(err error) (*PipelineState, error) {
		_ = closeRes(ctx)
		return nil, err
	}
	out := &PipelineState{Close: closeRes}
	for _, in := range p.inputs {
		cfg, err := in.parse()
		if err != nil {
			return fail(err)
		}
		store, err := openStateStore(ctx, res, cfg, o)
		if err != nil {
			return fail(fmt.Errorf("input %q: %w", in.label, err))
		}
		for _, w := range store.warnings {
			out.Warnings = append(out.Warnings, fmt.Sprintf("input %q: %s", in.label, w))
		}
		for _, ep := range cfg.Endpoints {
			es := EndpointState{Label: in.label, Endpoint: ep.Name, Kind: ep.Kind.family.kindName(), Tracking: ep.Tracking}
			switch {
			case !ep.Tracking:
			case ep.Kind.family == familySnapshot:
				es.Snapshot = newSnapshotTarget(cfg, in.label, ep, store)
			default:
				es.Target = newStateTarget(cfg, in.label, ep, store, time.Now)
			}
			out.Endpoints = append(out.Endpoints, es)
		}
	}
	return out, nil
}

// probeStore is StateTarget.Probe on any store: it writes the next revision
// of the probe document, reads it back and checks the store kept it.
func probeStore(ctx context.Context, store checkpoint.Store, checkpointKey string) (string, error) {
	if probeKey == checkpointKey {
		return "", errors.New("probe key collides with the checkpoint key")
	}
	where := store.Describe(probeKey)
	var rev int64
	switch cur, err := store.Load(ctx, probeKey); {
	case errors.Is(err, checkpoint.ErrNotFound):
	case err != nil:
		return where, fmt.Errorf("reading %s: %w", where, err)
	default:
		if rev, err = cas.Rev(cur); err != nil {
			return where, fmt.Errorf("reading %s: %w", where, err)
		}
	}
	value := fmt.Appendf(nil, `{"rev":%d,"probe":%q}`, rev+1, time.Now().UTC().Format(time.RFC3339Nano))
	if err := store.Swap(ctx, probeKey, rev, value, checkpoint.Fence{}); err != nil {
		return where, fmt.Errorf("writing %s: %w", where, err)
	}
	got, err := store.Load(ctx, probeKey)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		return where, fmt.Errorf("reading back %s: it is gone right after the write: the store does not keep what it is given", where)
	case err != nil:
		return where, fmt.Errorf("reading back %s: %w", where, err)
	case !bytes.Equal(got, value):
		return where, fmt.Errorf("reading back %s: the value read back differs from the one written", where)
	}
	return where, nil
}
