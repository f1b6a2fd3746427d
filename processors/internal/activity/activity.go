// Package activity decodes one Compliance API activity (the JSON object the
// anthropic_compliance input emits per message) into its common fields, its
// actor and its type-specific fields, tracks which fields a normalizer has
// mapped so the rest can be kept verbatim, and applies the redaction options.
// It is shared by the ocsf and ecs processors and knows nothing of Benthos.
package activity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Keys of the common top-level fields (compliance-api.md §4.1).
const (
	KeyID               = "id"
	KeyType             = "type"
	KeyCreatedAt        = "created_at"
	KeyOrganizationID   = "organization_id"
	KeyOrganizationUUID = "organization_uuid"
	KeyActor            = "actor"
)

// Actor variants, the values of actor.type (compliance-api.md §4.2).
const (
	UserActor                = "user_actor"
	APIActor                 = "api_actor"
	AdminAPIKeyActor         = "admin_api_key_actor"
	UnauthenticatedUserActor = "unauthenticated_user_actor"
	AnthropicActor           = "anthropic_actor"
	SCIMDirectorySyncActor   = "scim_directory_sync_actor"
	SystemActor              = "system_actor"
	ServiceAccountActor      = "service_account_actor"
	FederatedIdentityActor   = "federated_identity_actor"
	FederatedActor           = "federated_actor"
	AttestedDeviceActor      = "attested_device_actor"
)

// Errors returned by Decode; each is wrapped with the detail that failed.
var (
	ErrNotObject = errors.New("activity is not a JSON object")
	ErrNoType    = errors.New(`activity has no "type" string`)
	ErrBadTime   = errors.New(`activity has no RFC 3339 "created_at"`)
	ErrTooLarge  = fmt.Errorf("activity larger than %d MiB", MaxSize>>20)
)

// MaxSize is the largest activity Decode accepts, far above any the API
// sends: offsets into an activity, and into the document mapped from it,
// are 32-bit.
const MaxSize = 128 << 20

// Activity is one decoded activity. Fields holds every top-level member,
// including the common ones copied into the typed fields above it, which
// Decode marks as used.
type Activity struct {
	ID               string
	Type             string
	CreatedAt        string
	Time             time.Time
	OrganizationID   string
	OrganizationUUID string
	Actor            Actor
	Fields           Fields

	raw      []byte
	text     string // the trimmed input, copied once; typed fields share it
	redacted bool
}

// Actor is the decoded actor object. Fields holds every member of it, type
// included (and not marked used, so it is kept with the unmapped members).
type Actor struct {
	Type   string
	Fields Fields
}

// Decode parses one activity. It fails when b is not a JSON object, has no
// non-empty string "type", or has no "created_at" in RFC 3339 form. Other
// members of unexpected types are kept in Fields, not rejected. Members keep
// their input order; a repeated key keeps its last value.
//
// The Activity and the strings read from it (ID, Type, Take results, ...)
// share b's memory: b must not change while any of them is in use; clone a
// string to keep it longer (strings.Clone).
func Decode(b []byte) (*Activity, error) {
	var d Decoder
	return d.Decode(b)
}

// Decoder decodes activities reusing its storage, so a warm Decoder
// allocates nothing on the common path. The zero value is ready to use; it
// is not safe for concurrent use.
type Decoder struct {
	a          Activity
	top, actor []field
}

// Decode is the package-level Decode, returning an Activity that is valid
// until the next Decode or Reset of d.
func (d *Decoder) Decode(b []byte) (*Activity, error) {
	d.Reset()
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrNotObject)
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, fmt.Errorf("%w: not valid JSON", ErrNotObject)
		}
		return nil, fmt.Errorf("%w: got %s", ErrNotObject, jsonKind(trimmed[0]))
	}
	if len(trimmed) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(trimmed))
	}
	a := &d.a
	a.raw = b
	// Every string read from the activity (keys, ids, names) is a substring
	// of the input viewed as a string, not an allocation.
	a.text = inputText(trimmed)
	a.Fields = Fields{text: a.text, src: trimmed, list: d.top[:0], present: true}
	err := a.Fields.split(0, len(trimmed))
	d.top = a.Fields.list
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	fields := &a.Fields
	a.ID, _ = fields.take(KeyID)
	var ok bool
	if a.Type, ok = fields.take(KeyType); !ok || a.Type == "" {
		return nil, fmt.Errorf("%w%s", ErrNoType, a.describe())
	}
	if a.CreatedAt, ok = fields.take(KeyCreatedAt); !ok {
		return nil, fmt.Errorf("%w%s", ErrBadTime, a.describe())
	}
	if a.Time, err = time.Parse(time.RFC3339Nano, a.CreatedAt); err != nil {
		// Parsed again from a copy: the error keeps the value it failed on.
		_, err = time.Parse(time.RFC3339Nano, strings.Clone(a.CreatedAt))
		return nil, fmt.Errorf("%w%s: %q: %w", ErrBadTime, a.describe(), a.CreatedAt, err)
	}
	a.OrganizationID = fields.takeNullable(KeyOrganizationID)
	a.OrganizationUUID = fields.takeNullable(KeyOrganizationUUID)
	if i := fields.index(KeyActor); i >= 0 && isObject(fields.value(i)) {
		f := fields.list[i]
		a.Actor.Fields = Fields{text: a.text, src: trimmed, list: d.actor[:0], present: true}
		err := a.Actor.Fields.split(int(f.start), int(f.end))
		d.actor = a.Actor.Fields.list
		if err != nil {
			return nil, fmt.Errorf("%w%s: actor: %w", ErrNotObject, a.describe(), err)
		}
		fields.list[i].used = true
		a.Actor.Type, _ = a.Actor.Fields.String(KeyType)
	}
	return a, nil
}

// inputText views the input as a string without copying it, which would be
// a third of the bytes a mapping allocates. It is sound because the bytes do
// not change while the string or its substrings are in use: Decode requires
// it of its caller, Benthos forbids mutating a message's bytes, and the
// mappers keep nothing from an Activity past Map (they copy what they write
// and clone what they hand out). Errors carry only copies.
func inputText(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Reset drops the last Activity and its references to the input, keeping
// the storage.
func (d *Decoder) Reset() {
	d.a = Activity{}
}

func (a *Activity) describe() string {
	if a.ID == "" {
		return ""
	}
	return " (id " + strconv.Quote(a.ID) + ")"
}

// AppendRaw appends the activity as it was received or, when a redaction
// changed it, re-encoded (compact) from its redacted members.
func (a *Activity) AppendRaw(dst []byte) []byte {
	if !a.redacted {
		return append(dst, a.raw...)
	}
	return a.Fields.appendObject(dst)
}

// RawString is AppendRaw as a string; without redaction and surrounding
// whitespace it is the input itself, sharing its memory (see Decode).
func (a *Activity) RawString() string {
	if !a.redacted && len(a.text) == len(a.raw) {
		return a.text
	}
	return string(a.AppendRaw(nil))
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }
