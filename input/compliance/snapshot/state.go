package snapshot

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// Version is the format of the checkpoint documents this package writes.
const Version = 2

// Identity names what a checkpoint collects; a checkpoint of another
// identity is refused unless Config.Adopt.
type Identity struct {
	Endpoint string `json:"endpoint"`
	BaseURL  string `json:"base_url"`
	Filters  string `json:"filters"`
	Emit     string `json:"emit"`
}

// String names the identity in messages.
func (id Identity) String() string {
	return fmt.Sprintf("endpoint %s, base_url %s, emit %s, filters %s", id.Endpoint, id.BaseURL, id.Emit, id.Filters)
}

// Checkpoint is a snapshot endpoint's document. Its position is the last
// complete run (SnapshotID, CompletedAt, Records); with emit: changes,
// Hashes hold the hash of every record the outputs acknowledged, which a
// failed run may update for the changes that were acknowledged.
type Checkpoint struct {
	Identity Identity
	// SnapshotID is the job id of the last complete run ("" before one).
	SnapshotID  string
	CompletedAt time.Time
	Records     int
	// RecordsDoc is the key of the document holding the records Hashes
	// describe (emit: changes with include_previous), "" without one, and
	// RecordsID the id that document must carry.
	RecordsDoc, RecordsID string
	Hashes                map[string]uint64
	Rev                   int64
	UpdatedAt             time.Time
}

// wireCheckpoint is the JSON form; rev comes first (the compare-and-swap
// reads it from the document's head).
type wireCheckpoint struct {
	Rev         int64                        `json:"rev"`
	Version     int                          `json:"version"`
	Identity    Identity                     `json:"identity"`
	SnapshotID  string                       `json:"snapshot_id,omitempty"`
	CompletedAt string                       `json:"completed_at,omitempty"`
	Records     int                          `json:"records"`
	RecordsDoc  string                       `json:"records_doc,omitempty"`
	RecordsID   string                       `json:"records_id,omitempty"`
	UpdatedAt   string                       `json:"updated_at"`
	Hashes      map[string]map[string]string `json:"hashes,omitempty"`
}

// Encode renders the checkpoint. Hashes are grouped by the key's parent (the
// part before its last "/", or its type for top-level records), so that a
// users checkpoint spells each organisation once: about 46 bytes a record.
func (c *Checkpoint) Encode() ([]byte, error) {
	w := wireCheckpoint{Rev: c.Rev, Version: Version, Identity: c.Identity, SnapshotID: c.SnapshotID,
		Records: c.Records, RecordsDoc: c.RecordsDoc, RecordsID: c.RecordsID, UpdatedAt: formatTime(c.UpdatedAt)}
	if !c.CompletedAt.IsZero() {
		w.CompletedAt = formatTime(c.CompletedAt)
	}
	if c.Hashes != nil {
		w.Hashes = map[string]map[string]string{}
		for key, h := range c.Hashes {
			parent, leaf := splitKey(key)
			g := w.Hashes[parent]
			if g == nil {
				g = map[string]string{}
				w.Hashes[parent] = g
			}
			g[leaf] = FormatHash(h)
		}
	}
	return json.Marshal(w)
}

// DecodeCheckpoint reads a checkpoint document.
func DecodeCheckpoint(data []byte) (*Checkpoint, error) {
	var w wireCheckpoint
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("not a snapshot checkpoint: %w", err)
	}
	if w.Version != Version {
		return nil, fmt.Errorf("version %d is not a snapshot checkpoint (version %d)", w.Version, Version)
	}
	c := &Checkpoint{Identity: w.Identity, SnapshotID: w.SnapshotID, Records: w.Records, RecordsDoc: w.RecordsDoc, RecordsID: w.RecordsID, Rev: w.Rev}
	var err error
	if c.CompletedAt, err = parseTime("completed_at", w.CompletedAt); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = parseTime("updated_at", w.UpdatedAt); err != nil {
		return nil, err
	}
	if w.Hashes != nil {
		c.Hashes = map[string]uint64{}
		for parent, g := range w.Hashes {
			for leaf, text := range g {
				h, err := ParseHash(text)
				if err != nil {
					return nil, fmt.Errorf("hashes[%q][%q]: %w", parent, leaf, err)
				}
				c.Hashes[joinKey(parent, leaf)] = h
			}
		}
	}
	return c, nil
}

// splitKey cuts a record key into its parent and leaf: "user:o/u" into
// "user:o" and "u", "org:o" into "org:" and "o".
func splitKey(key string) (parent, leaf string) {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	if i := strings.IndexByte(key, ':'); i >= 0 {
		return key[:i+1], key[i+1:]
	}
	return "", key
}

func joinKey(parent, leaf string) string {
	if parent == "" || strings.HasSuffix(parent, ":") {
		return parent + leaf
	}
	return parent + "/" + leaf
}

// FormatHash renders a record hash: its 8 bytes in unpadded base64url (11
// characters).
func FormatHash(h uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseHash reads a FormatHash.
func ParseHash(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, fmt.Errorf("%q is not an 11-character base64url hash", s)
	}
	return binary.BigEndian.Uint64(b), nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

// recordsDoc is the document of the records a checkpoint's Hashes describe,
// for the `previous` of changes. Its id is named by the checkpoint, so that
// an orphan (written by a run that crashed before its commit) is never taken
// for the current one. It is rewritten only when a change is recorded.
type recordsDoc struct {
	Rev     int64                      `json:"rev"`
	ID      string                     `json:"id"`
	Records map[string]json.RawMessage `json:"records"`
}

//------------------------------------------------------------------------------

// keeper loads and saves one key's document through the store's
// compare-and-swap from the revision it last read or wrote, so that a
// foreign write is never overwritten. The job goroutine owns it.
type keeper struct {
	store checkpoint.Store
	key   string
	fence checkpoint.Fence
	rev   int64
	known bool // a document was read or written
}

// load returns the stored document, nil when there is none. A document
// this keeper saw that has since vanished is a *checkpoint.ConflictError.
func (k *keeper) load(ctx context.Context) ([]byte, error) {
	data, err := k.store.Load(ctx, k.key)
	if errors.Is(err, checkpoint.ErrNotFound) {
		if k.known {
			return nil, &checkpoint.ConflictError{Where: k.store.Describe(k.key), Expected: k.rev, FoundMissing: true}
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", k.store.Describe(k.key), err)
	}
	rev, err := cas.Rev(data)
	if err != nil {
		return nil, &checkpoint.CorruptError{Where: k.store.Describe(k.key), Err: err}
	}
	k.rev, k.known = rev, true
	return data, nil
}

// save writes doc (encoded by enc at the next revision) by one
// compare-and-swap; it returns the revision written.
func (k *keeper) save(ctx context.Context, enc func(rev int64) ([]byte, error)) (int64, error) {
	next := k.rev + 1
	data, err := enc(next)
	if err != nil {
		return 0, err
	}
	if err := k.store.Swap(ctx, k.key, k.rev, data, k.fence); err != nil {
		if conflict, ok := errors.AsType[*checkpoint.ConflictError](err); ok {
			conflict.Where, conflict.Expected = k.store.Describe(k.key), k.rev
			return 0, conflict
		}
		return 0, fmt.Errorf("writing %s: %w", k.store.Describe(k.key), err)
	}
	k.rev, k.known = next, true
	return next, nil
}

// encodeRecords renders a records document at rev (json.Marshal sorts the
// keys; the records are copied verbatim).
func encodeRecords(rev int64, id string, records map[string]json.RawMessage) ([]byte, error) {
	return json.Marshal(recordsDoc{Rev: rev, ID: id, Records: records})
}
