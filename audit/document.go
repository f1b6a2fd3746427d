package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Fields says where a destination document keeps the activity id and its
// created_at, as dotted paths ("event.id"). An empty path means automatic:
// the raw activity (id, created_at), an ECS document from
// anthropic_compliance_ecs (event.id, @timestamp) or an OCSF event from
// anthropic_compliance_ocsf (metadata.uid, metadata.original_time),
// whichever the document has.
type Fields struct {
	ID   string
	Time string
}

// autoDoc holds every field the automatic shapes read.
type autoDoc struct {
	ID        *string `json:"id"`
	CreatedAt *string `json:"created_at"`
	Timestamp *string `json:"@timestamp"`
	Event     *struct {
		ID *string `json:"id"`
	} `json:"event"`
	Metadata *struct {
		UID          *string `json:"uid"`
		OriginalTime *string `json:"original_time"`
	} `json:"metadata"`
}

// ErrNoID is returned by Extract for a document without an id.
var ErrNoID = errors.New("no activity id in the document")

// Extract reads the id and created_at of one JSON document. A document
// without a time gives a record with a zero CreatedAt.
func (f Fields) Extract(doc []byte) (Record, error) {
	if f.ID == "" && f.Time == "" {
		return extractAuto(doc)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return Record{}, err
	}
	var r Record
	auto, _ := extractAuto(doc)
	if f.ID == "" {
		r.ID = auto.ID
	} else if s, ok := lookup(m, f.ID).(string); ok {
		r.ID = s
	}
	if r.ID == "" {
		return r, ErrNoID
	}
	if f.Time == "" {
		r.CreatedAt = auto.CreatedAt
		return r, nil
	}
	t, err := ParseTime(lookup(m, f.Time))
	if err != nil {
		return r, fmt.Errorf("%s: %w", f.Time, err)
	}
	r.CreatedAt = t
	return r, nil
}

func extractAuto(doc []byte) (Record, error) {
	var d autoDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return Record{}, err
	}
	var id, ts *string
	switch {
	case d.Event != nil && d.Event.ID != nil:
		id, ts = d.Event.ID, d.Timestamp
	case d.Metadata != nil && d.Metadata.UID != nil:
		id, ts = d.Metadata.UID, d.Metadata.OriginalTime
	default:
		id, ts = d.ID, d.CreatedAt
	}
	if id == nil || *id == "" {
		return Record{}, ErrNoID
	}
	r := Record{ID: *id}
	if ts != nil {
		t, err := ParseTime(*ts)
		if err != nil {
			return r, err
		}
		r.CreatedAt = t
	}
	return r, nil
}

func lookup(m map[string]any, path string) any {
	var v any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}

// ParseTime reads a created_at: an RFC 3339 string, or a number of epoch
// milliseconds (seconds when below 1e11, that is before 1973 in ms).
func ParseTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return time.Time{}, fmt.Errorf("created_at %q is not an RFC 3339 time", t)
		}
		return p.UTC(), nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q is not a number", t)
		}
		return epoch(f), nil
	case float64:
		return epoch(t), nil
	}
	return time.Time{}, fmt.Errorf("time of type %T is neither an RFC 3339 string nor epoch milliseconds", v)
}

func epoch(f float64) time.Time {
	if math.Abs(f) < 1e11 {
		return time.Unix(0, int64(f*1e9)).UTC()
	}
	return time.UnixMilli(int64(f)).UTC()
}

// maxLine bounds one NDJSON line; a longer one is counted unreadable.
const maxLine = 64 << 20

// ReadNDJSON reads newline-delimited JSON documents from r and hands each to
// sink, where names the source in messages ("file.ndjson"). It tolerates
// what a killed writer leaves behind: a document cut short, with or without
// another document appended to the same line; such a fragment is counted as
// cut short, never as an id.
func ReadNDJSON(r io.Reader, where string, fields Fields, sink *Sink) error {
	br := bufio.NewReaderSize(r, 256<<10)
	lineNo := 0
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(chunk) <= maxLine {
				long = append(long, chunk...)
			} else {
				long = long[:0:0]
				long = append(long, '!') // marks the line as too long
			}
			continue
		}
		if len(long) > 0 {
			if long[0] == '!' && len(long) == 1 {
				lineNo++
				sink.Unreadable(Loc{where, lineNo}, fmt.Errorf("line longer than %d MiB", maxLine>>20))
				long = long[:0]
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				continue
			}
			chunk = append(long, chunk...)
			long = long[:0]
		}
		if len(chunk) > 0 {
			lineNo++
			if serr := sink.line(bytes.TrimSpace(chunk), where, lineNo, fields); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", where, err)
		}
	}
}

// line splits one line into documents. A line normally holds one; a kill
// can leave a document cut short followed, on the same line, by the next
// run's document.
func (s *Sink) line(b []byte, file string, lineNo int, fields Fields) error {
	if len(b) == 0 {
		return nil
	}
	where := Loc{file, lineNo}
	if json.Valid(b) {
		return s.doc(b, where, fields)
	}
	for len(b) > 0 {
		n, ok := docEnd(b)
		if ok {
			if err := s.doc(b[:n], where, fields); err != nil {
				return err
			}
			b = bytes.TrimLeft(b[n:], " \t\r")
			continue
		}
		// b does not start with a whole document: skip to the next place
		// where one starts and count the fragment as cut short.
		next := -1
		for i := 1; i < len(b); i++ {
			if b[i] != '{' {
				continue
			}
			if _, ok := docEnd(b[i:]); ok {
				next = i
				break
			}
		}
		if next < 0 {
			if b[0] == '{' {
				s.CutShort(where)
			} else {
				s.Unreadable(where, errors.New("not a JSON document"))
			}
			return nil
		}
		if b[0] == '{' {
			s.CutShort(where)
		} else {
			s.Unreadable(where, errors.New("not a JSON document"))
		}
		b = b[next:]
	}
	return nil
}

// docEnd returns the length of the JSON object at the start of b when it is
// whole and followed by the end of the line or by the start of another
// object (a nested object of a cut document is followed by a comma).
func docEnd(b []byte) (int, bool) {
	if len(b) == 0 || b[0] != '{' {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return 0, false
	}
	n := int(dec.InputOffset())
	rest := bytes.TrimLeft(b[n:], " \t\r")
	if len(rest) == 0 || rest[0] == '{' {
		return n, true
	}
	return 0, false
}
