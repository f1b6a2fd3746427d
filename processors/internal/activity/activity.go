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
	"time"
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
)

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
// their input order; a repeated key keeps its last value. The Activity refers
// to b, which must not change while the Activity is in use.
func Decode(b []byte) (*Activity, error) {
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
	fields, err := splitObject(trimmed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	a := &Activity{Fields: fields, raw: b}
	a.ID, _ = fields.take(KeyID)
	var ok bool
	if a.Type, ok = fields.take(KeyType); !ok || a.Type == "" {
		return nil, fmt.Errorf("%w%s", ErrNoType, a.describe())
	}
	if a.CreatedAt, ok = fields.take(KeyCreatedAt); !ok {
		return nil, fmt.Errorf("%w%s", ErrBadTime, a.describe())
	}
	if a.Time, err = time.Parse(time.RFC3339Nano, a.CreatedAt); err != nil {
		return nil, fmt.Errorf("%w%s: %q: %w", ErrBadTime, a.describe(), a.CreatedAt, err)
	}
	a.OrganizationID = fields.takeNullable(KeyOrganizationID)
	a.OrganizationUUID = fields.takeNullable(KeyOrganizationUUID)
	if i := fields.index(KeyActor); i >= 0 && isObject(fields[i].Value) {
		actorFields, err := splitObject(fields[i].Value)
		if err != nil {
			return nil, fmt.Errorf("%w%s: actor: %w", ErrNotObject, a.describe(), err)
		}
		fields[i].used = true
		a.Actor.Fields = actorFields
		a.Actor.Type, _ = actorFields.String(KeyType)
	}
	return a, nil
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
