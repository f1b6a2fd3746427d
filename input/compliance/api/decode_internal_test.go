package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The hand-written decoder is checked against encoding/json: on any input,
// it succeeds exactly when a reference built on encoding/json's tokenizer
// accepts the page, and then yields the same ids, types, timestamps and raw
// bytes.

type refActivity struct {
	id, typ string
	created time.Time
	raw     []byte
}

type refPage struct {
	acts            []refActivity
	hasMore         bool
	firstID, lastID string
}

// referenceDecode applies the page rules with encoding/json.
func referenceDecode(body []byte) (refPage, bool) {
	var pg refPage
	if !json.Valid(body) {
		return pg, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return pg, false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return pg, false
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return pg, false
		}
		switch key {
		case "data", "has_more", "first_id", "last_id":
			if seen[key] {
				return pg, false
			}
			seen[key] = true
		}
		switch key {
		case "data":
			if raw[0] != '[' {
				return pg, false
			}
			idec := json.NewDecoder(bytes.NewReader(raw))
			_, _ = idec.Token()
			for idec.More() {
				var item json.RawMessage
				if err := idec.Decode(&item); err != nil {
					return pg, false
				}
				a, ok := referenceActivity(item)
				if !ok {
					return pg, false
				}
				pg.acts = append(pg.acts, a)
			}
		case "has_more":
			if err := json.Unmarshal(raw, &pg.hasMore); err != nil || raw[0] == 'n' {
				return pg, false
			}
		case "first_id", "last_id":
			var v *string
			if err := json.Unmarshal(raw, &v); err != nil {
				return pg, false
			}
			if v != nil && key == "first_id" {
				pg.firstID = *v
			} else if v != nil {
				pg.lastID = *v
			}
		}
	}
	return pg, seen["data"] && seen["has_more"]
}

func referenceActivity(item json.RawMessage) (refActivity, bool) {
	a := refActivity{raw: item}
	if item[0] != '{' {
		return a, false
	}
	dec := json.NewDecoder(bytes.NewReader(item))
	_, _ = dec.Token()
	seen := map[string]bool{}
	var created string
	for dec.More() {
		tok, _ := dec.Token()
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return a, false
		}
		switch key {
		case "id", "type", "created_at":
			if seen[key] || raw[0] != '"' {
				return a, false
			}
			seen[key] = true
			var s string
			_ = json.Unmarshal(raw, &s)
			switch key {
			case "id":
				a.id = s
			case "type":
				a.typ = s
			default:
				created = s
			}
		}
	}
	if !seen["id"] || a.id == "" || !seen["type"] || !seen["created_at"] {
		return a, false
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	a.created = t
	return a, err == nil
}

func checkAgainstReference(t *testing.T, body []byte) {
	t.Helper()
	var pg Page
	err := decodePage(body, &pg, 0)
	ref, refOK := referenceDecode(body)
	if (err == nil) != refOK {
		t.Fatalf("decoder ok=%v (err %v), reference ok=%v, body %q", err == nil, err, refOK, body)
	}
	if err != nil {
		if err.Offset < 0 || err.Offset > len(body) || err.Reason == "" {
			t.Fatalf("bad error %+v for %q", err, body)
		}
		return
	}
	if pg.HasMore != ref.hasMore || len(pg.Activities) != len(ref.acts) {
		t.Fatalf("page mismatch: %+v vs %+v for %q", pg, ref, body)
	}
	if utf8.Valid(body) && (pg.FirstID != ref.firstID || pg.LastID != ref.lastID) {
		t.Fatalf("cursor mismatch: %q/%q vs %q/%q", pg.FirstID, pg.LastID, ref.firstID, ref.lastID)
	}
	for i, a := range pg.Activities {
		r := ref.acts[i]
		if !bytes.Equal(a.Raw, r.raw) {
			t.Fatalf("activity %d raw %q vs %q", i, a.Raw, r.raw)
		}
		if utf8.Valid(a.Raw) && (a.ID != r.id || a.Type != r.typ) {
			t.Fatalf("activity %d id/type %q/%q vs %q/%q", i, a.ID, a.Type, r.id, r.typ)
		}
		if !a.CreatedAt.Equal(r.created) {
			t.Fatalf("activity %d created_at %s vs %s", i, a.CreatedAt, r.created)
		}
	}
}

var decodeSeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `{"data":[],"has_more":false}`,
	`{"data":[],"has_more":true,"first_id":null,"last_id":"x"}`,
	`{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`,
	`{"data":[{"id":"a\u0041","type":"t\n","created_at":"2026-04-10T08:09:10.999999999+14:00","x":{"y":[1,-2.5E+3,true]}}],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10,5Z"}],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10.1234567891Z"}],"has_more":false}`,
	`{"data":[{"id":"a","id":"b","type":"t","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`,
	`{"d\u0061ta":[],"has_more":false}`, `{"DATA":[],"has_more":false,"data":[]}`,
	`{"data":[{"id":"\ud800","type":"t","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`,
	"{\"data\":[{\"id\":\"\xff\",\"type\":\"t\",\"created_at\":\"2026-04-10T08:09:10Z\"}],\"has_more\":false}",
	`{"data":[],"has_more":false,"n":[1e5,0.1,-0,1E-2,"\/\b\f\r\t\\\""]}`,
	`{"data":[],"has_more":false,"n":-}`, `{"data":[],"has_more":false,"n":1.}`, `{"data":[],"has_more":false,"n":1e}`,
	`{"data":[],"has_more":fals}`, `{"data":[],"has_more":false,}`, `{"data":[,],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10Z"},],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"0000-01-01T00:00:00Z"}],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2024-02-29T23:59:59Z"}],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2100-02-29T23:59:59Z"}],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10.Z"}],"has_more":false}`,
	`{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10+24:00"}],"has_more":false}`,
	strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	`{"data":[],"has_more":false,"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkAgainstReference(t, []byte(s))
	}
	// Every prefix of a realistic page is truncated JSON or, at the very
	// end, the page itself.
	body := makePageBody(3, 1)
	for i := range body {
		checkAgainstReference(t, body[:i])
	}
	// Random single-byte corruptions.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		b := bytes.Clone(body)
		b[rng.IntN(len(b))] = byte(rng.IntN(256))
		checkAgainstReference(t, b)
	}
}

func FuzzDecodePage(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Add(makePageBody(4, 7))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstReference(t, body)
	})
}

func TestParseUTCFastMatchesTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var s string
		switch rng.IntN(3) {
		case 0: // valid instants with 0-9 fraction digits
			ts := time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)).UTC()
			s = ts.Format("2006-01-02T15:04:05."+strings.Repeat("0", rng.IntN(10))) + "Z"
			s = strings.Replace(s, ".Z", "Z", 1)
		default: // random digits in the fixed shape
			s = fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", rng.IntN(10000), rng.IntN(14), rng.IntN(33), rng.IntN(26), rng.IntN(62), rng.IntN(62))
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseTimestamp([]byte(s), false)
		if ok != (err == nil) || (ok && !got.Equal(want)) {
			t.Fatalf("%q: fast %v %v, time.Parse %v %v", s, got, ok, want, err)
		}
	}
}

// makePageBody builds a page of n realistic activities (about 450 bytes
// each) shaped like the API's.
func makePageBody(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	base := time.Date(2026, 4, 10, 8, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ts := base.Add(-time.Duration(i) * 1117 * time.Millisecond).Format(time.RFC3339Nano)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `{"id":"activity_01%024d","created_at":%q,"organization_id":"org_01HZ8A","organization_uuid":"8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b","actor":{"type":"user_actor","email_address":"user%d@example.com","user_id":"user_01%020d","ip_address":"10.%d.%d.%d","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"},"type":"claude_chat_created","claude_chat_id":"claude_chat_01%020d","claude_project_id":null}`,
				i, ts, i%97, rng.IntN(1e9), rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(1e9))
		case 1:
			fmt.Fprintf(&b, `{"id":"activity_01%024d","created_at":%q,"organization_id":null,"organization_uuid":null,"actor":{"type":"api_actor","api_key_id":"apikey_01%018d","ip_address":"192.0.2.%d","user_agent":"compliance-connect/0.1"},"type":"compliance_api_accessed","request_id":"req_%024d","request_method":"GET","status_code":200,"url":"/v1/compliance/activities?limit=5000&after_id=activity_01X"}`,
				i, ts, rng.IntN(1e9), rng.IntN(256), rng.IntN(1e9))
		default:
			fmt.Fprintf(&b, `{"id":"activity_01%024d","created_at":%q,"organization_id":"org_01HZ8A","organization_uuid":"8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b","actor":{"type":"user_actor","email_address":"u\u00e9%d@example.com","user_id":"user_01%020d","ip_address":"2001:db8::%x","user_agent":"Claude/1.0"},"type":"claude_file_uploaded","claude_file_id":"claude_file_%d","filename":"report Q%d.pdf","scopes":["read:compliance_activities"],"size":%d.5}`,
				i, ts, i, rng.IntN(1e9), rng.IntN(65536), rng.IntN(1e9), i%4, rng.IntN(1e7))
		}
	}
	fmt.Fprintf(&b, `],"has_more":true,"first_id":"activity_01%024d","last_id":"activity_01%024d"}`, 0, n-1)
	return b.Bytes()
}

// BenchmarkDecodePage5000 compares the decoder with encoding/json on a
// 5000-activity page: "strict" is decodePage; "naive_map" is json.Unmarshal
// into []map[string]any (no validation of the activity fields, no raw
// bytes); "typed_raw" is json.Unmarshal into []json.RawMessage plus a second
// Unmarshal per activity for id/type/created_at, the usual careful way.
func BenchmarkDecodePage5000(b *testing.B) {
	body := makePageBody(5000, 42)
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var pg Page
			if err := decodePage(body, &pg, 5000); err != nil || len(pg.Activities) != 5000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive_map", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				Data    []map[string]any `json:"data"`
				HasMore bool             `json:"has_more"`
				FirstID *string          `json:"first_id"`
				LastID  *string          `json:"last_id"`
			}
			if err := json.Unmarshal(body, &v); err != nil || len(v.Data) != 5000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed_raw", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				Data    []json.RawMessage `json:"data"`
				HasMore *bool             `json:"has_more"`
				FirstID *string           `json:"first_id"`
				LastID  *string           `json:"last_id"`
			}
			if err := json.Unmarshal(body, &v); err != nil || len(v.Data) != 5000 {
				b.Fatal(err)
			}
			for _, raw := range v.Data {
				var a struct {
					ID        string    `json:"id"`
					Type      string    `json:"type"`
					CreatedAt time.Time `json:"created_at"`
				}
				if err := json.Unmarshal(raw, &a); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// Guard the benchmark body itself: it must be a valid page.
func TestBenchmarkPageIsValid(t *testing.T) {
	body := makePageBody(50, 42)
	checkAgainstReference(t, body)
	var pg Page
	if err := decodePage(body, &pg, 0); err != nil || len(pg.Activities) != 50 {
		t.Fatalf("%v", err)
	}
}
