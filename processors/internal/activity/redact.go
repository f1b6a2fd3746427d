package activity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// KeyRequestBody is the compliance_api_accessed member holding the request body.
const KeyRequestBody = "request_body"

// HashPrefix starts every hashed value.
const HashPrefix = "hmac-sha256:"

// Markers that replace an address found inside a longer text when
// redaction drops (rather than hashes) it.
const (
	EmailMarker = "[email redacted]"
	IPMarker    = "[ip redacted]"
)

// Errors returned by Redaction.Validate.
var (
	ErrNoHashKey        = errors.New("hashing redacted values needs a non-empty key")
	ErrStrictNeedsScans = errors.New("strict redaction needs emails or ips")
)

// Redaction selects the sensitive members and values to remove or hash.
type Redaction struct {
	// RequestBody selects the top-level request_body member.
	RequestBody bool
	// Emails selects every member, at any depth and in the actor, whose
	// name denotes email addresses in any case or style (IsEmailKey:
	// email, Email, emailAddress, alert_emails, recipient, shared_with, ...),
	// and every email address inside any other string value or object key.
	Emails bool
	// IPs selects every member whose name denotes IP addresses (IsIPKey:
	// ip, ipAddress, client_ip, remote_addr, x_forwarded_for, ...), and
	// every IP address inside any other string value or object key.
	IPs bool
	// Strict also removes every string value and object key, at any depth
	// and in the actor, that redaction cannot vouch for (see Vouchable):
	// free text, URLs, user agents, names. Needs Emails or IPs.
	Strict bool
	// Hash replaces a selected value by HMAC-SHA256(Key, value) in hex,
	// prefixed with HashPrefix, instead of removing it; an address inside a
	// longer text is replaced by the hash of the address. Emails are
	// lower-cased and IPs put in canonical form first, so equal values hash
	// alike. A string list hashes element by element; any other non-string
	// value hashes its compact JSON text. Strict removes what it cannot
	// vouch for either way.
	Hash bool
	// Key is the HMAC key; required when Hash is set.
	Key []byte
}

// Active reports whether anything is selected.
func (r Redaction) Active() bool { return r.RequestBody || r.Emails || r.IPs }

// scans reports whether string values are scanned for addresses.
func (r Redaction) scans() bool { return r.Emails || r.IPs }

// Validate reports an unusable combination.
func (r Redaction) Validate() error {
	if r.Strict && !r.scans() {
		return ErrStrictNeedsScans
	}
	if r.Hash && r.Active() && len(r.Key) == 0 {
		return ErrNoHashKey
	}
	return nil
}

// Redact applies r to the activity's members and actor. The common members
// (id, type, created_at, organization_id, organization_uuid) are kept as
// they are. Afterwards AppendRaw re-encodes the redacted activity instead of
// returning the input bytes.
func (a *Activity) Redact(r Redaction) {
	if !r.Active() {
		return
	}
	actorChanged := r.apply(&a.Actor.Fields, false)
	if actorChanged {
		if i := a.Fields.index(KeyActor); i >= 0 {
			a.Fields.setValue(i, a.Actor.Fields.appendObject(nil))
		}
		// A type the actor no longer has is not its type either.
		a.Actor.Type, _ = a.Actor.Fields.String(KeyType)
	}
	changed := r.apply(&a.Fields, true)
	a.redacted = a.redacted || changed || actorChanged
}

// apply redacts one object's members in place and reports a change.
func (r Redaction) apply(fs *Fields, top bool) bool {
	changed := false
	kept := fs.list[:0]
	for i := range fs.list {
		key := fs.key(i)
		if top && (fs.list[i].used || key == KeyActor) {
			kept = append(kept, fs.list[i])
			continue
		}
		if !top && key == KeyType {
			// The actor's variant: an enum the mapping needs.
			kept = append(kept, fs.list[i])
			continue
		}
		words := splitKey(key)
		if (r.RequestBody && top && words.endsWith(0, "request", "body") && words.n == 2) ||
			(r.Emails && isEmailWords(&words)) || (r.IPs && isIPWords(&words)) {
			changed = true
			if !r.Hash || r.Strict && !r.keepsHashOf(fs.value(i)) {
				continue
			}
			fs.setValue(i, r.hashValue(r.Emails && isEmailWords(&words), fs.value(i)))
			fs.list[i].hashed = true
			kept = append(kept, fs.list[i])
			continue
		}
		// A member named by an address (a map keyed by email at the top)
		// is redacted like a value.
		if k, keepKey, _, keyChanged := r.text(key); !keepKey {
			changed = true
			continue
		} else if keyChanged {
			fs.keys = append(fs.keys, k)
			fs.list[i].key = int32(len(fs.keys))
			changed = true
		}
		var out json.RawMessage
		var keep, hashed, valueChanged bool
		if v := fs.value(i); len(v) > 0 && v[0] == '"' {
			// Read in place (a substring of the input), not copied.
			if text, ok := fs.unquote(i); ok {
				out, keep, hashed, valueChanged = r.rewriteString(text)
			} else {
				keep = true
			}
		} else {
			out, keep, hashed, valueChanged = r.rewrite(v)
		}
		if !keep {
			changed = true
			continue
		}
		if valueChanged {
			fs.setValue(i, out)
			fs.list[i].hashed = hashed
			changed = true
		}
		kept = append(kept, fs.list[i])
	}
	fs.list = kept
	return changed
}

// keepsHashOf reports whether strict redaction keeps the hash of a value:
// hashes of strings and string lists are vouched for, of objects not.
func (r Redaction) keepsHashOf(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] != '{'
}

// rewrite redacts one member value (any JSON). keep is false when the value
// goes altogether; hashed when it was replaced by a hash as a whole.
func (r Redaction) rewrite(raw json.RawMessage) (out json.RawMessage, keep, hashed, changed bool) {
	if len(raw) == 0 {
		return raw, true, false, false
	}
	switch raw[0] {
	case '"':
		s, ok := unquote(raw)
		if !ok {
			return raw, true, false, false
		}
		out, keep, hashed, changed = r.rewriteString(s)
		if !changed {
			out = raw
		}
		return out, keep, hashed, changed
	case '{', '[':
		if !r.scans() {
			return raw, true, false, false
		}
		w := walker{r: r}
		out, keep := w.value(nil, raw)
		if w.err || !w.changed {
			return raw, true, false, false
		}
		return out, keep, false, true
	}
	return raw, true, false, false
}

// rewriteString redacts a string member value, returning its new JSON
// text when it changed.
func (r Redaction) rewriteString(s string) (out json.RawMessage, keep, hashed, changed bool) {
	ns, keep, hashed, changed := r.text(s)
	if !keep || !changed {
		return nil, keep, false, changed
	}
	return jsonobj.AppendString(nil, ns), true, hashed, true
}

// text redacts one string: an address that is the whole string is dropped
// (keep false) or hashed (hashed true); addresses inside it are replaced by
// a marker or their hash; under Strict a string that cannot be vouched for
// afterwards is dropped.
func (r Redaction) text(s string) (out string, keep, hashed, changed bool) {
	if !r.scans() {
		return s, true, false, false
	}
	spans := findSensitive(s, r.Emails, r.IPs)
	if len(spans) == 1 && strings.TrimSpace(s[:spans[0].start]) == "" && strings.TrimSpace(s[spans[0].end:]) == "" {
		if !r.Hash {
			return "", false, false, true
		}
		return r.hashOf(spans[0].value), true, true, true
	}
	if len(spans) > 0 {
		var b strings.Builder
		last := 0
		for _, sp := range spans {
			b.WriteString(s[last:sp.start])
			switch {
			case r.Hash:
				b.WriteString(r.hashOf(sp.value))
			case sp.email:
				b.WriteString(EmailMarker)
			default:
				b.WriteString(IPMarker)
			}
			last = sp.end
		}
		b.WriteString(s[last:])
		s, changed = b.String(), true
	}
	if r.Strict && !Vouchable(s) {
		return "", false, false, true
	}
	return s, true, false, changed
}

// hashValue hashes a member selected by its name (see Redaction.Hash).
func (r Redaction) hashValue(email bool, raw json.RawMessage) json.RawMessage {
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
	return jsonobj.AppendString(nil, r.hashString(string(jsonobj.AppendCompact(nil, raw)), false))
}

// hashString hashes a value selected by its name, in canonical form when it
// is an address.
func (r Redaction) hashString(s string, email bool) string {
	t := strings.TrimSpace(s)
	if email {
		return r.hashOf(strings.ToLower(t))
	}
	if spans := findIPs(t, nil); len(spans) == 1 && spans[0].start == 0 && spans[0].end == len(t) {
		return r.hashOf(spans[0].value)
	}
	return r.hashOf(s)
}

func (r Redaction) hashOf(canonical string) string {
	mac := hmac.New(sha256.New, r.Key)
	mac.Write([]byte(canonical))
	return HashPrefix + hex.EncodeToString(mac.Sum(nil))
}

// walker redacts inside an object or array value, keeping the order of
// members. It works on the JSON text: every key and string is decoded,
// checked and re-encoded; other values are copied.
type walker struct {
	r       Redaction
	changed bool
	err     bool
}

// value appends the redacted value starting at b (leading space allowed)
// and reports whether it is kept.
func (w *walker) value(dst, b []byte) ([]byte, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		w.err = true
		return dst, true
	}
	switch b[0] {
	case '{':
		return w.object(dst, b)
	case '[':
		return w.array(dst, b)
	case '"':
		s, ok := unquote(b)
		if !ok {
			w.err = true
			return dst, true
		}
		out, keep, _, changed := w.r.text(s)
		if changed {
			w.changed = true
		}
		if !keep {
			return dst, false
		}
		return jsonobj.AppendString(dst, out), true
	}
	return append(dst, b...), true
}

func (w *walker) object(dst, b []byte) ([]byte, bool) {
	dst = append(dst, '{')
	n := 0
	err := eachMember(b, func(key string, raw []byte) {
		words := splitKey(key)
		if (w.r.Emails && isEmailWords(&words)) || (w.r.IPs && isIPWords(&words)) {
			w.changed = true
			if !w.r.Hash || w.r.Strict && !w.r.keepsHashOf(raw) {
				return
			}
			raw = w.r.hashValue(w.r.Emails && isEmailWords(&words), raw)
		}
		// A key that holds an address (a map keyed by email) is redacted
		// like a value; under Strict one that cannot be vouched for goes.
		k, keepKey, _, keyChanged := w.r.text(key)
		if keyChanged {
			w.changed = true
		}
		if !keepKey {
			return
		}
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = jsonobj.AppendString(dst, k)
		dst = append(dst, ':')
		var keep bool
		if dst, keep = w.value(dst, raw); !keep {
			dst = dst[:mark]
			return
		}
		n++
	})
	if err != nil {
		w.err = true
	}
	return append(dst, '}'), true
}

func (w *walker) array(dst, b []byte) ([]byte, bool) {
	dst = append(dst, '[')
	n := 0
	err := eachElement(b, func(start, end int) {
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		var keep bool
		if dst, keep = w.value(dst, b[start:end]); !keep {
			dst = dst[:mark]
			return
		}
		n++
	})
	if err != nil {
		w.err = true
	}
	return append(dst, ']'), true
}

// eachMember calls fn with the decoded key and raw value of every member of
// the JSON object b, which must be valid.
func eachMember(b []byte, fn func(key string, raw []byte)) error {
	fs := Fields{text: string(b), src: b}
	if err := fs.split(0, len(b)); err != nil {
		return err
	}
	for i := range fs.list {
		fn(fs.key(i), fs.value(i))
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
