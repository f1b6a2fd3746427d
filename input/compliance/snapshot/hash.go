package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Hash is the hash of a record: the first 8 bytes of the SHA-256 of its
// canonical JSON (decoded, numbers kept as written, and re-encoded with
// sorted keys and no spaces), so that key order and whitespace, which an
// API may change between answers, never count as a change.
func Hash(raw []byte) (uint64, error) {
	canon, err := Canonical(raw)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(canon)
	return binary.BigEndian.Uint64(sum[:8]), nil
}

// Canonical re-encodes a JSON value with sorted object keys.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("record is not JSON: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
