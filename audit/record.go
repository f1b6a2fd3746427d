package audit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Record is one activity id seen on either side of an audit.
type Record struct {
	// ID is the activity id.
	ID string
	// CreatedAt is the activity's created_at; zero when the destination's
	// document does not say (a Kafka key without headers).
	CreatedAt time.Time
	// Type is the activity type; known on the API side only.
	Type string
}

// size is what a buffered record costs in memory, roughly: the strings plus
// the struct and slice overhead.
func (r Record) size() int { return len(r.ID) + len(r.Type) + 64 }

// appendRecord encodes r: uvarint id length, id, varint unix nanoseconds
// (0 for unknown), uvarint type length, type.
func appendRecord(b []byte, r Record) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.ID)))
	b = append(b, r.ID...)
	var ns int64
	if !r.CreatedAt.IsZero() {
		ns = r.CreatedAt.UnixNano()
	}
	b = binary.AppendVarint(b, ns)
	b = binary.AppendUvarint(b, uint64(len(r.Type)))
	return append(b, r.Type...)
}

// maxField bounds a decoded string, so that a corrupt run file cannot make
// the reader allocate without limit.
const maxField = 1 << 20

// readRecord decodes one record; io.EOF at a clean end.
func readRecord(br *bufio.Reader) (Record, error) {
	var r Record
	id, err := readString(br)
	if err != nil {
		return r, err
	}
	ns, err := binary.ReadVarint(br)
	if err != nil {
		return r, unexpected(err)
	}
	typ, err := readString(br)
	if err != nil {
		return r, unexpected(err)
	}
	r.ID, r.Type = id, typ
	if ns != 0 {
		r.CreatedAt = time.Unix(0, ns).UTC()
	}
	return r, nil
}

func readString(br *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return "", err
	}
	if n > maxField {
		return "", fmt.Errorf("corrupt run file: a field of %d bytes", n)
	}
	var sb strings.Builder
	sb.Grow(int(n))
	if _, err := io.CopyN(&sb, br, int64(n)); err != nil {
		return "", unexpected(err)
	}
	return sb.String(), nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
