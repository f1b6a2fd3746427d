package activity

import (
	"encoding/json"
	"errors"
	"fmt"
)

// knownKeys interns frequent member names so splitting an activity does not
// allocate a string per key; the lookup with string(bytes) does not allocate.
var knownKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		KeyID, KeyType, KeyCreatedAt, KeyOrganizationID, KeyOrganizationUUID, KeyActor,
		"email_address", "user_id", "ip_address", "user_agent", "api_key_id", "admin_api_key_id",
		"unauthenticated_email_address", "workos_event_id", "directory_id", "idp_connection_type", "service",
		"service_account_id", "issuer", "subject", "audience", "provider", "external_client_id", "kid_hash",
		"claude_chat_id", "claude_project_id", "claude_file_id", "claude_artifact_id", "filename", "title",
		"request_id", "request_method", "status_code", "url", KeyRequestBody, "scopes", "auth_method",
		"mfa_method", "invited_email", "invited_role", "user_email", "deleted_user_id", "deleted_user_email",
		"group_id", "member_ids", "role", "role_id", "resource_id", "resource_type", KeyTargetID, KeyTargetType,
		KeyPrincipalID, KeyPrincipalType, "workspace_id", "updates", "previous_value", "current_value",
		"skill_id", "skill_name", "mcp_server_id", "mcp_server_name", "file_id", "session_id",
	} {
		m[k] = k
	}
	return m
}()

func internedKey(quoted []byte) (string, bool) {
	if len(quoted) >= 2 {
		if k, ok := knownKeys[string(quoted[1:len(quoted)-1])]; ok {
			return k, true
		}
	}
	return unquote(quoted)
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

var errNotJSON = errors.New("not valid JSON")

// splitObject validates b as one JSON object and splits it into its members,
// in input order, in a single pass. Values are sub-slices of b (not copies).
// A repeated key keeps the last value, as encoding/json does.
func splitObject(b []byte) (Fields, error) {
	s := scanner{b: b}
	i := s.space(0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotJSON
	}
	fields := make(Fields, 0, 16)
	i = s.space(i + 1)
	if i < len(b) && b[i] == '}' {
		return fields, s.end(i + 1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, s.fail(i)
		}
		end := s.str(i)
		if end < 0 {
			return nil, s.err
		}
		key, ok := internedKey(b[i:end])
		if !ok {
			return nil, s.fail(i)
		}
		i = s.space(end)
		if i >= len(b) || b[i] != ':' {
			return nil, s.fail(i)
		}
		i = s.space(i + 1)
		vend := s.value(i, 1)
		if vend < 0 {
			return nil, s.err
		}
		value := json.RawMessage(b[i:vend:vend])
		if j := fields.index(key); j >= 0 {
			fields[j].Value = value
		} else {
			fields = append(fields, Field{Key: key, Value: value})
		}
		i = s.space(vend)
		if i >= len(b) {
			return nil, s.fail(i)
		}
		if b[i] == '}' {
			return fields, s.end(i + 1)
		}
		if b[i] != ',' {
			return nil, s.fail(i)
		}
		i = s.space(i + 1)
	}
}

// scanner validates JSON (RFC 8259 grammar, as encoding/json accepts it).
// Each method returns the index just past what it read, or -1 with err set.
type scanner struct {
	b   []byte
	err error
}

func (s *scanner) fail(i int) error {
	if i >= len(s.b) {
		s.err = fmt.Errorf("%w: unexpected end", errNotJSON)
	} else {
		s.err = fmt.Errorf("%w: unexpected %q at offset %d", errNotJSON, s.b[i], i)
	}
	return s.err
}

func (s *scanner) end(i int) error {
	if i = s.space(i); i != len(s.b) {
		return s.fail(i)
	}
	return nil
}

func (s *scanner) space(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value(i, depth int) int {
	if i >= len(s.b) {
		s.fail(i)
		return -1
	}
	switch c := s.b[i]; {
	case c == '"':
		return s.str(i)
	case c == '{' || c == '[':
		if depth > maxDepth {
			s.err = fmt.Errorf("%w: nested too deeply", errNotJSON)
			return -1
		}
		return s.container(i, depth)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	}
	s.fail(i)
	return -1
}

func (s *scanner) container(i, depth int) int {
	closer := byte('}')
	isObject := s.b[i] == '{'
	if !isObject {
		closer = ']'
	}
	i = s.space(i + 1)
	if i < len(s.b) && s.b[i] == closer {
		return i + 1
	}
	for {
		if isObject {
			if i >= len(s.b) || s.b[i] != '"' {
				s.fail(i)
				return -1
			}
			if i = s.str(i); i < 0 {
				return -1
			}
			i = s.space(i)
			if i >= len(s.b) || s.b[i] != ':' {
				s.fail(i)
				return -1
			}
			i = s.space(i + 1)
		}
		if i = s.value(i, depth+1); i < 0 {
			return -1
		}
		i = s.space(i)
		if i >= len(s.b) {
			s.fail(i)
			return -1
		}
		if s.b[i] == closer {
			return i + 1
		}
		if s.b[i] != ',' {
			s.fail(i)
			return -1
		}
		i = s.space(i + 1)
	}
}

// plainInString marks the bytes a string can hold without a closer look.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string starting at s.b[i] == '"'.
func (s *scanner) str(i int) int {
	for j := i + 1; j < len(s.b); j++ {
		if plainInString[s.b[j]] {
			continue
		}
		switch c := s.b[j]; {
		case c == '"':
			return j + 1
		case c < 0x20:
			s.fail(j)
			return -1
		case c == '\\':
			j++
			if j >= len(s.b) {
				s.fail(j)
				return -1
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) || !isHex(s.b[j+1]) || !isHex(s.b[j+2]) || !isHex(s.b[j+3]) || !isHex(s.b[j+4]) {
					s.fail(j)
					return -1
				}
				j += 4
			default:
				s.fail(j)
				return -1
			}
		}
	}
	s.fail(len(s.b))
	return -1
}

func (s *scanner) literal(i int, lit string) int {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		s.fail(i)
		return -1
	}
	return i + len(lit)
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number(i int) int {
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		s.fail(i)
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			s.fail(j)
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			s.fail(j)
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
