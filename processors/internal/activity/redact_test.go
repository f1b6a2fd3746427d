package activity_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
)

func redactRaw(t *testing.T, in string, r activity.Redaction) (*activity.Activity, string) {
	t.Helper()
	a, err := activity.Decode([]byte(in))
	require.NoError(t, err)
	a.Redact(r)
	raw := string(a.AppendRaw(nil))
	require.True(t, json.Valid([]byte(raw)), "AppendRaw must give valid JSON: %s", raw)
	return a, raw
}

func withMembers(members string) string {
	return `{"id":"a1","type":"claude_chat_created","created_at":"2026-04-10T08:09:10Z","organization_id":"org_1",` +
		`"actor":{"type":"user_actor","user_id":"u1","user_agent":"sdk/1.0"},` + members + `}`
}

// TestRedactionRemovesEachLeakTheIssueLists covers issue 12 item 4: member
// names in any case and style, and addresses inside free text, each shown
// redacted, in drop mode (names remove the member, text keeps the rest).
func TestRedactionRemovesEachLeakTheIssueLists(t *testing.T) {
	both := activity.Redaction{Emails: true, IPs: true}
	tests := []struct {
		name, members string
		secrets       []string
		want          []string // what the redacted activity still holds
	}{
		{"Email", `"Email":"carol@example.com"`, []string{"carol@"}, nil},
		{"emailAddress, nested", `"details":{"emailAddress":"carol@example.com","kind":"x"}`, []string{"carol@", "emailAddress"}, []string{`"details":{"kind":"x"}`}},
		{"ipAddress, nested", `"client":{"ipAddress":"203.0.113.9","os":"linux"}`, []string{"203.0.113.9"}, []string{`"client":{"os":"linux"}`}},
		{"recipient", `"recipient":"dave@example.com"`, []string{"dave@"}, nil},
		{"shared_with[]", `"shared_with":["erin@example.com","user_02"]`, []string{"erin@", "user_02"}, nil},
		{"remote_addr", `"connection":{"remote_addr":"198.51.100.4:51512"}`, []string{"198.51.100.4"}, nil},
		{"x_forwarded_for", `"headers":{"x_forwarded_for":"203.0.113.9, 10.0.0.2","X-Forwarded-For":"203.0.113.9"}`, []string{"203.0.113.9", "10.0.0.2"}, nil},
		{"details.message", `"details":{"message":"invited frank@example.com from 192.0.2.77 ok"}`, []string{"frank@", "192.0.2.77"},
			[]string{`"message":"invited [email redacted] from [ip redacted] ok"`}},
		{"chat name", `"claude_chat_id":"c1","title":"Notes for grace@example.com"`, []string{"grace@"}, []string{`"title":"Notes for [email redacted]"`}},
		{"whole value in free-named member", `"owner":"heidi@example.com","peer":"2001:db8::9"`, []string{"heidi@", "2001:db8::9", "owner", "peer"}, nil},
		{"map keyed by address", `"permissions":{"ivan@example.com":"viewer","team":"editor"}`, []string{"ivan@"}, []string{`"permissions":{"team":"editor"}`}},
		{"list of texts", `"notes":["call judy@example.com","10.1.2.3","fine"]`, []string{"judy@", "10.1.2.3"}, []string{`"notes":["call [email redacted]","fine"]`}},
		{"URL query and path", `"url":"https://x.example/hosts/10.1.2.3?email=ken%40example.com"`, []string{"10.1.2.3", "ken%40"},
			[]string{`"url":"https://x.example/hosts/[ip redacted]?email=[email redacted]"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, raw := redactRaw(t, withMembers(tt.members), both)
			for _, s := range tt.secrets {
				assert.NotContains(t, raw, s)
			}
			for _, w := range tt.want {
				assert.Contains(t, raw, w)
			}
			assert.Contains(t, raw, `"claude_chat_created"`, "common members stay")
		})
	}
}

func TestRedactionFindsAddressesInTheUserAgentButNotProductVersions(t *testing.T) {
	in := `{"type":"x","created_at":"2026-04-10T08:09:10Z","actor":{"type":"user_actor","ip_address":"192.0.2.1",` +
		`"user_agent":"Mozilla/5.0 (client 10.20.30.40; owner lee@example.com) Chrome/120.0.0.0 Safari/537.36"}}`
	a, raw := redactRaw(t, in, activity.Redaction{Emails: true, IPs: true})
	assert.NotContains(t, raw, "10.20.30.40")
	assert.NotContains(t, raw, "lee@")
	assert.NotContains(t, raw, "192.0.2.1")
	ua, _ := a.Actor.Fields.String("user_agent")
	assert.Equal(t, "Mozilla/5.0 (client [ip redacted]; owner [email redacted]) Chrome/120.0.0.0 Safari/537.36", ua,
		"the typed user agent is the redacted one")
}

func TestRedactionHashesAddressesInTextByTheirCanonicalForm(t *testing.T) {
	r := activity.Redaction{Emails: true, IPs: true, Hash: true, Key: []byte("k")}
	a, raw := redactRaw(t, withMembers(`"details":{"message":"from MAX@Example.com at ::ffff:192.0.2.7"},"owner":"max@example.com","ip":"192.0.2.7"`), r)
	assert.NotContains(t, strings.ToLower(raw), "max@")
	assert.NotContains(t, raw, "192.0.2.7")
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &doc))
	msg := doc["details"].(map[string]any)["message"].(string)
	owner, ip := doc["owner"].(string), doc["ip"].(string)
	assert.True(t, strings.HasPrefix(owner, activity.HashPrefix))
	assert.Equal(t, "from "+owner+" at "+ip, msg, "the same address hashes alike in text and as a member")
	_, ok := a.Fields.String("owner")
	assert.False(t, ok, "a value hashed as a whole is not handed to typed attributes")
}

// TestStrictRedactionDropsWhatItCannotVouchFor: strict keeps identifiers,
// enums, times and numbers, and drops free text and anything that may hide
// an address in a form the scanners do not find.
func TestStrictRedactionDropsWhatItCannotVouchFor(t *testing.T) {
	in := withMembers(`"claude_chat_id":"claude_chat_01Xy","status":"active","at":"2026-04-10T08:09:10Z","count":3,"ok":true,` +
		`"title":"Q3 Roadmap","label":"Roadmap","obfuscated":"mike at example dot com","legacy_ip":"10.1","hex_ip":"0x0a000001","int_ip":"167772161",` +
		`"note":"see nancy@example","nested":{"id":"n_01","text":"free text","list":["ok_1","has space"]},"url":"https://x.example/a"`)
	a, raw := redactRaw(t, in, activity.Redaction{Emails: true, IPs: true, Strict: true})
	for _, gone := range []string{"Q3 Roadmap", "mike at", "10.1", "0x0a000001", "167772161", "nancy", "free text", "has space", "https://", "sdk/1.0"} {
		assert.NotContains(t, raw, gone)
	}
	for _, kept := range []string{`"claude_chat_id":"claude_chat_01Xy"`, `"status":"active"`, `"at":"2026-04-10T08:09:10Z"`,
		`"count":3`, `"ok":true`, `"label":"Roadmap"`, `"nested":{"id":"n_01","list":["ok_1"]}`, `"user_id":"u1"`, `"type":"user_actor"`} {
		assert.Contains(t, raw, kept)
	}
	assert.Equal(t, activity.UserActor, a.Actor.Type)
}

func TestStrictRedactionKeepsHashesOfSelectedMembers(t *testing.T) {
	r := activity.Redaction{Emails: true, Strict: true, Hash: true, Key: []byte("k")}
	_, raw := redactRaw(t, withMembers(`"alert_emails":["a@example.com"],"invited_email":"b@example.com","email_meta":{"x":"y"}`), r)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &doc))
	assert.True(t, strings.HasPrefix(doc["invited_email"].(string), activity.HashPrefix))
	assert.True(t, strings.HasPrefix(doc["alert_emails"].([]any)[0].(string), activity.HashPrefix))
}

func TestRedactionValidateNeedsAScanForStrict(t *testing.T) {
	require.ErrorIs(t, activity.Redaction{RequestBody: true, Strict: true}.Validate(), activity.ErrStrictNeedsScans)
	require.NoError(t, activity.Redaction{IPs: true, Strict: true}.Validate())
}

// FuzzRedactKeepsActivitiesValidAndAddressFree: whatever the members, the
// redacted activity is valid JSON and, in drop mode, holds no address the
// scanners find.
func FuzzRedactKeepsActivitiesValidAndAddressFree(f *testing.F) {
	f.Add(`"details":{"message":"invited frank@example.com from 192.0.2.77"}`)
	f.Add(`"list":["a@b.co",{"x":"10.0.0.1:80"},[["::1"]]],"k\u0040ey":"v"`)
	f.Add(`"Email":"x@y.zz","q":"\"q\"@x.org","u":"ua (1.2.3.4) Chrome/1.2.3.4"`)
	f.Add(`"m":{"a@b.cd":{"c@d.ef":"1"}},"n":null,"t":true,"num":-1.5e3`)
	f.Fuzz(func(t *testing.T, members string) {
		in := withMembers(members)
		if !json.Valid([]byte(in)) {
			return
		}
		for _, r := range []activity.Redaction{{Emails: true, IPs: true}, {Emails: true, IPs: true, Strict: true},
			{Emails: true, IPs: true, Hash: true, Key: []byte("k")}} {
			a, err := activity.Decode([]byte(in))
			if err != nil {
				return
			}
			a.Redact(r)
			raw := a.AppendRaw(nil)
			if !json.Valid(raw) {
				t.Fatalf("%+v: invalid JSON %s from %s", r, raw, in)
			}
			if r.Hash {
				continue
			}
			var doc any
			require.NoError(t, json.Unmarshal(raw, &doc))
			var check func(v any)
			check = func(v any) {
				switch x := v.(type) {
				case string:
					if sp := activity.FindAddresses(x); len(sp) > 0 {
						t.Fatalf("%+v: %q still holds %v (from %s)", r, x, sp, in)
					}
				case map[string]any:
					for k, c := range x {
						check(k)
						check(c)
					}
				case []any:
					for _, c := range x {
						check(c)
					}
				}
			}
			check(doc)
		}
	})
}
