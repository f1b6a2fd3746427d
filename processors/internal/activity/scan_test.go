package activity

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitAgreesWithEncodingJSON pins the one-pass scanner to
// encoding/json: it accepts exactly the valid JSON objects, and the members it
// splits out are the ones json.Unmarshal sees. Plain `go test` runs the seeds.
func FuzzSplitAgreesWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+3,"b":[1,{"c":null}],"d":"\u00e9\"\\"}`, `{"a":1,"a":2}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":"` + "\x01" + `"}`, `{"a" 1}`, `{"a":1,}`, `{,}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":1}}`, `[1]`,
		`{"a":{"b":{"c":[[]]}}}`, `{"a":"é\u2028"}`, "{\"a\":\"\xff\"}", `{"a":1} x`, `{"a":-}`, `{"a":[}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fields := Fields{text: string(b), src: b}
		err := fields.split(0, len(b))
		trimmed := bytes.TrimSpace(b)
		wantOK := json.Valid(b) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != wantOK {
			t.Fatalf("splitObject(%q) err=%v, json.Valid and object=%v", b, err, wantOK)
		}
		if err != nil {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", b, err)
		}
		if len(fields.list) != len(want) {
			t.Fatalf("%q: %d members, encoding/json sees %d", b, len(fields.list), len(want))
		}
		for i := range fields.list {
			key, value := fields.key(i), fields.value(i)
			w, ok := want[key]
			if !ok || !bytes.Equal(bytes.TrimSpace(w), value) {
				t.Fatalf("%q: member %q = %s, encoding/json has %s", b, key, value, w)
			}
		}
	})
}
