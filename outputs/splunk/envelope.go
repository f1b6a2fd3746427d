package splunk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// envelope holds the rendered fields of one HEC event.
type envelope struct {
	time, host, source, sourcetype, index string // "" = left out
	event                                 []byte // the message
}

// appendEnvelope appends e as one HEC JSON event envelope plus a newline.
// A valid JSON event is embedded unchanged; anything else becomes a JSON
// string.
func appendEnvelope(buf []byte, e envelope) []byte {
	buf = append(buf, '{')
	sep := false
	field := func(name string) {
		if sep {
			buf = append(buf, ',')
		}
		sep = true
		buf = append(buf, '"')
		buf = append(buf, name...)
		buf = append(buf, `":`...)
	}
	if e.time != "" {
		field("time")
		buf = append(buf, e.time...) // a JSON number, from hecTime
	}
	for _, f := range [...]struct{ name, value string }{
		{"host", e.host}, {"source", e.source}, {"sourcetype", e.sourcetype}, {"index", e.index},
	} {
		if f.value != "" {
			field(f.name)
			buf = appendJSONString(buf, f.value)
		}
	}
	field("event")
	if json.Valid(e.event) {
		buf = append(buf, e.event...)
	} else {
		buf = appendJSONString(buf, string(e.event))
	}
	return append(buf, "}\n"...)
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return append(buf, b...)
}

// hecTime converts an RFC 3339 timestamp or epoch seconds into HEC's epoch
// seconds with millisecond precision, e.g. "1775808550.250".
func hecTime(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty time")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e11 { // beyond year 5138: milliseconds or nonsense
			return "", fmt.Errorf("epoch seconds %q out of range", s)
		}
		return strconv.FormatFloat(f, 'f', 3, 64), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("time %q is neither RFC 3339 nor epoch seconds", s)
	}
	ms := t.UnixMilli()
	if ms < 0 {
		return "", fmt.Errorf("time %q is before 1970", s)
	}
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000), nil
}
