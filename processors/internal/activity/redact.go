package activity

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// KeyRequestBody is the compliance_api_accessed member holding the request body.
const KeyRequestBody = "request_body"

// HashPrefix starts every hashed value.
const HashPrefix = "hmac-sha256:"

// ErrNoHashKey is returned by Redaction.Validate for hashing without a key.
var ErrNoHashKey = errors.New("hashing redacted values needs a non-empty key")

// Redaction selects the sensitive members to remove or hash.
type Redaction struct {
	// RequestBody selects the top-level request_body member.
	RequestBody bool
	// Emails selects every member, at any depth, named email, emails,
	// email_address, email_addresses or ending in _email, _emails,
	// _email_address or _email_addresses.
	Emails bool
	// IPs selects every member, at any depth, named ip, ips, ip_address,
	// ip_addresses or ending in _ip, _ips, _ip_address or _ip_addresses.
	IPs bool
	// Hash replaces a selected value by HMAC-SHA256(Key, value) in hex,
	// prefixed with HashPrefix, instead of removing the member. Emails are
	// lower-cased and IPs put in canonical form first, so equal values hash
	// alike. A string list hashes element by element; any other non-string
	// value hashes its compact JSON text.
	Hash bool
	// Key is the HMAC key; required when Hash is set.
	Key []byte
}

// Active reports whether anything is selected.
func (r Redaction) Active() bool { return r.RequestBody || r.Emails || r.IPs }

// Validate reports an unusable combination.
func (r Redaction) Validate() error {
	if r.Hash && r.Active() && len(r.Key) == 0 {
		return ErrNoHashKey
	}
	return nil
}

// Redact applies r to the activity's members and actor. Afterwards AppendRaw
// re-encodes the redacted activity instead of returning the input bytes.
func (a *Activity) Redact(r Redaction) {
	if !r.Active() {
		return
	}
	actorChanged := r.apply(&a.Actor.Fields, false)
	if actorChanged {
		if i := a.Fields.index(KeyActor); i >= 0 {
			a.Fields.setValue(i, a.Actor.Fields.appendObject(nil))
		}
	}
	changed := r.apply(&a.Fields, true)
	a.redacted = a.redacted || changed || actorChanged
}

// apply redacts one object's members in place. Common members are never
// touched.
func (r Redaction) apply(fs *Fields, top bool) bool {
	changed := false
	kept := fs.list[:0]
	for i := range fs.list {
		key := fs.key(i)
		if top && (fs.list[i].used || key == KeyActor) {
			kept = append(kept, fs.list[i])
			continue
		}
		if r.selects(key, top) {
			changed = true
			if !r.Hash {
				continue
			}
			fs.setValue(i, r.hashValue(key, fs.value(i)))
			fs.list[i].hashed = true
			kept = append(kept, fs.list[i])
			continue
		}
		if v := fs.value(i); (r.Emails || r.IPs) && len(v) > 0 && (v[0] == '{' || v[0] == '[') {
			if v, ok := r.nested(v); ok {
				fs.setValue(i, v)
				changed = true
			}
		}
		kept = append(kept, fs.list[i])
	}
	fs.list = kept
	return changed
}

func (r Redaction) selects(key string, top bool) bool {
	return (r.RequestBody && top && key == KeyRequestBody) ||
		(r.Emails && IsEmailKey(key)) ||
		(r.IPs && IsIPKey(key))
}

// nested redacts inside an object or array value; it reports false when
// nothing matched, leaving the value untouched.
func (r Redaction) nested(raw json.RawMessage) (json.RawMessage, bool) {
	lower := bytes.ToLower(raw)
	if !(r.Emails && bytes.Contains(lower, []byte("email"))) && !(r.IPs && bytes.Contains(lower, []byte("ip"))) {
		return raw, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw, false
	}
	if !r.walk(v) {
		return raw, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw, false
	}
	return out, true
}

func (r Redaction) walk(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if r.selects(k, false) {
				changed = true
				if r.Hash {
					b, _ := json.Marshal(child)
					var hashed any
					_ = json.Unmarshal(r.hashValue(k, b), &hashed)
					t[k] = hashed
				} else {
					delete(t, k)
				}
				continue
			}
			changed = r.walk(child) || changed
		}
	case []any:
		for _, child := range t {
			changed = r.walk(child) || changed
		}
	}
	return changed
}

// hashValue hashes a selected value (see Redaction.Hash).
func (r Redaction) hashValue(key string, raw json.RawMessage) json.RawMessage {
	email := IsEmailKey(key)
	if s, ok := unquote(raw); ok {
		return jsonobj.AppendString(nil, r.hashString(s, email))
	}
	if len(raw) > 0 && raw[0] == '[' {
		var list []any
		if err := json.Unmarshal(raw, &list); err == nil {
			out := []byte{'['}
			for i, el := range list {
				if i > 0 {
					out = append(out, ',')
				}
				s, ok := el.(string)
				if !ok {
					b, _ := json.Marshal(el)
					s = string(b)
				}
				out = jsonobj.AppendString(out, r.hashString(s, email))
			}
			return append(out, ']')
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	return jsonobj.AppendString(nil, r.hashString(buf.String(), false))
}

func (r Redaction) hashString(s string, email bool) string {
	if email {
		s = strings.ToLower(strings.TrimSpace(s))
	} else if addr, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		s = addr.Unmap().String()
	}
	mac := hmac.New(sha256.New, r.Key)
	mac.Write([]byte(s))
	return HashPrefix + hex.EncodeToString(mac.Sum(nil))
}

// IsEmailKey reports whether a member name denotes an email address.
func IsEmailKey(k string) bool {
	switch k {
	case "email", "emails", "email_address", "email_addresses":
		return true
	}
	return hasAnySuffix(k, "_email", "_emails", "_email_address", "_email_addresses")
}

// IsIPKey reports whether a member name denotes an IP address.
func IsIPKey(k string) bool {
	switch k {
	case "ip", "ips", "ip_address", "ip_addresses":
		return true
	}
	return hasAnySuffix(k, "_ip", "_ips", "_ip_address", "_ip_addresses")
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}
