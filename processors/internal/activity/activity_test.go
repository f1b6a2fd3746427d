package activity_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
)

const chatCreated = `{"id":"activity_1","created_at":"2026-04-10T08:09:10Z","organization_id":"org_1",
 "organization_uuid":"uuid-1","actor":{"type":"user_actor","email_address":"alice@example.com",
 "user_id":"user_1","ip_address":"192.0.2.34","user_agent":"Mozilla/5.0"},
 "type":"claude_chat_created","claude_chat_id":"chat_1","claude_project_id":null}`

func TestDecodeRejectsWhatIsNotAnActivity(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
		wantMsg string
	}{
		{"empty message", "  ", activity.ErrNotObject, "empty message"},
		{"array", `[{"type":"x"}]`, activity.ErrNotObject, "got an array"},
		{"string", `"hello"`, activity.ErrNotObject, "got a string"},
		{"null", `null`, activity.ErrNotObject, "got null"},
		{"not JSON", `hello`, activity.ErrNotObject, "not valid JSON"},
		{"truncated object", `{"type":"x",`, activity.ErrNotObject, "unexpected end"},
		{"bad literal inside", `{"type":"x","a":tru}`, activity.ErrNotObject, "not valid JSON"},
		{"trailing garbage", `{"type":"x"} {}`, activity.ErrNotObject, "not valid JSON"},
		{"no type", `{"id":"a1","created_at":"2026-04-10T08:09:10Z"}`, activity.ErrNoType, `(id "a1")`},
		{"type not a string", `{"id":"a1","type":7,"created_at":"2026-04-10T08:09:10Z"}`, activity.ErrNoType, `(id "a1")`},
		{"empty type", `{"type":"","created_at":"2026-04-10T08:09:10Z"}`, activity.ErrNoType, "type"},
		{"no created_at", `{"id":"a1","type":"x"}`, activity.ErrBadTime, `(id "a1")`},
		{"created_at not RFC 3339", `{"id":"a1","type":"x","created_at":"10/04/2026"}`, activity.ErrBadTime, `"10/04/2026"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := activity.Decode([]byte(tt.in))
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestDecodeReadsCommonFieldsAndActor(t *testing.T) {
	a, err := activity.Decode([]byte(chatCreated))
	require.NoError(t, err)
	assert.Equal(t, "activity_1", a.ID)
	assert.Equal(t, "claude_chat_created", a.Type)
	assert.Equal(t, time.Date(2026, 4, 10, 8, 9, 10, 0, time.UTC), a.Time)
	assert.Equal(t, "org_1", a.OrganizationID)
	assert.Equal(t, "uuid-1", a.OrganizationUUID)
	assert.Equal(t, activity.UserActor, a.Actor.Type)

	var unused []string
	a.Fields.Unused(func(k string, _ json.RawMessage) { unused = append(unused, k) })
	assert.Equal(t, []string{"claude_chat_id"}, unused, "common fields are used, nulls are skipped, input order kept")
	var actorUnused []string
	a.Actor.Fields.Unused(func(k string, _ json.RawMessage) { actorUnused = append(actorUnused, k) })
	assert.Equal(t, []string{"type", "email_address", "user_id", "ip_address", "user_agent"}, actorUnused)
}

func TestDecodeParsesSecondAndSubSecondTimesWithOffsets(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-04-10T08:09:10Z":           time.Date(2026, 4, 10, 8, 9, 10, 0, time.UTC),
		"2019-12-27T18:11:19.117Z":       time.Date(2019, 12, 27, 18, 11, 19, 117e6, time.UTC),
		"2026-04-10T10:09:10.5+02:00":    time.Date(2026, 4, 10, 8, 9, 10, 5e8, time.UTC),
		"2026-04-10T08:09:10.123456789Z": time.Date(2026, 4, 10, 8, 9, 10, 123456789, time.UTC),
	} {
		a, err := activity.Decode([]byte(`{"type":"x","created_at":"` + in + `"}`))
		require.NoError(t, err, in)
		assert.True(t, want.Equal(a.Time), "%s: got %v", in, a.Time)
	}
}

func TestDecodeKeepsMembersOfUnexpectedTypesUnused(t *testing.T) {
	a, err := activity.Decode([]byte(`{"id":12,"type":"x","created_at":"2026-04-10T08:09:10Z","organization_id":false,"actor":"robot"}`))
	require.NoError(t, err)
	assert.Empty(t, a.ID)
	assert.Empty(t, a.Actor.Type)
	got := map[string]string{}
	a.Fields.Unused(func(k string, v json.RawMessage) { got[k] = string(v) })
	assert.Equal(t, map[string]string{"id": "12", "organization_id": "false", "actor": `"robot"`}, got)
}

func TestDecodeRepeatedKeyKeepsLastValueLikeEncodingJSON(t *testing.T) {
	a, err := activity.Decode([]byte(`{"type":"first","created_at":"2026-04-10T08:09:10Z","type":"second"}`))
	require.NoError(t, err)
	assert.Equal(t, "second", a.Type)
}

func TestDecodeUnescapesStrings(t *testing.T) {
	a, err := activity.Decode([]byte(`{"type":"x","created_at":"2026-04-10T08:09:10Z","title":"a \"quoted\"\n\u00e9 title"}`))
	require.NoError(t, err)
	title, ok := a.Fields.Take("title")
	require.True(t, ok)
	assert.Equal(t, "a \"quoted\"\né title", title)
}

func TestTakeTargetUserFirstMatchWins(t *testing.T) {
	tests := []struct {
		name              string
		fields            string
		wantID, wantEmail string
		wantUnused        []string
	}{
		{"invite", `"invited_email":"c@x","user_email":"d@x"`, "", "c@x", []string{"user_email"}},
		{"deleted user", `"deleted_user_id":"u2","deleted_user_email":"e@x"`, "u2", "e@x", nil},
		{"user_id before deleted_user_id", `"deleted_user_id":"u2","user_id":"u1"`, "u1", "", []string{"deleted_user_id"}},
		{"requester", `"requester_user_id":"u3"`, "u3", "", nil},
		{"principal user", `"principal_id":"u4","principal_type":"user"`, "u4", "", []string{"principal_type"}},
		{"principal group is not a user", `"principal_id":"g1","principal_type":"group"`, "", "", []string{"principal_id", "principal_type"}},
		{"target user", `"target_id":"u5","target_type":"user"`, "u5", "", []string{"target_type"}},
		{"target workspace is not a user", `"target_id":"w1","target_type":"workspace"`, "", "", []string{"target_id", "target_type"}},
		{"nothing", `"claude_chat_id":"c1"`, "", "", []string{"claude_chat_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := activity.Decode([]byte(`{"type":"x","created_at":"2026-04-10T08:09:10Z",` + tt.fields + `}`))
			require.NoError(t, err)
			id, email := a.TakeTargetUser()
			assert.Equal(t, tt.wantID, id)
			assert.Equal(t, tt.wantEmail, email)
			var unused []string
			a.Fields.Unused(func(k string, _ json.RawMessage) { unused = append(unused, k) })
			assert.Equal(t, tt.wantUnused, unused)
		})
	}
}

const sensitive = `{"id":"a1","type":"compliance_api_accessed","created_at":"2026-04-10T08:09:10Z",
 "actor":{"type":"user_actor","email_address":"Alice@Example.com ","user_id":"u1","ip_address":"192.0.2.34"},
 "request_body":{"q":"secret"},"invited_email":"carol@example.com","alert_emails":["a@x.com","b@x.com"],
 "audience":[{"type":"user","email":"dave@example.com","role":"viewer"}],"client_ip":"::ffff:198.51.100.7",
 "organization_id":"org_1","url":"https://api.anthropic.com/v1/x"}`

func decodeRedacted(t *testing.T, r activity.Redaction) (*activity.Activity, map[string]any) {
	t.Helper()
	a, err := activity.Decode([]byte(sensitive))
	require.NoError(t, err)
	a.Redact(r)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(a.AppendRaw(nil), &raw), "AppendRaw must give valid JSON")
	return a, raw
}

func TestRedactDropRemovesSelectedMembersEverywhere(t *testing.T) {
	_, raw := decodeRedacted(t, activity.Redaction{RequestBody: true, Emails: true, IPs: true})
	assert.Equal(t, map[string]any{
		"id": "a1", "type": "compliance_api_accessed", "created_at": "2026-04-10T08:09:10Z",
		"actor":           map[string]any{"type": "user_actor", "user_id": "u1"},
		"audience":        []any{map[string]any{"type": "user", "role": "viewer"}},
		"organization_id": "org_1", "url": "https://api.anthropic.com/v1/x",
	}, raw)
}

func TestRedactOnlyWhatIsSelected(t *testing.T) {
	_, raw := decodeRedacted(t, activity.Redaction{IPs: true})
	assert.NotContains(t, raw, "client_ip")
	assert.NotContains(t, raw["actor"], "ip_address")
	assert.Contains(t, raw, "request_body")
	assert.Contains(t, raw, "invited_email")
	assert.Equal(t, "Alice@Example.com ", raw["actor"].(map[string]any)["email_address"])
}

func TestRedactHashIsKeyedNormalizedAndHidesFromTypedAccessors(t *testing.T) {
	r := activity.Redaction{Emails: true, IPs: true, Hash: true, Key: []byte("k1")}
	a, raw := decodeRedacted(t, r)
	actor := raw["actor"].(map[string]any)
	email := actor["email_address"].(string)
	assert.True(t, strings.HasPrefix(email, activity.HashPrefix), email)
	assert.NotContains(t, email, "alice")

	// Same address in another case and spacing hashes alike; another key does not.
	other := activity.Redaction{Emails: true, Hash: true, Key: []byte("k1")}
	b, err := activity.Decode([]byte(`{"type":"x","created_at":"2026-04-10T08:09:10Z","actor":{"type":"user_actor","email_address":"alice@example.com"}}`))
	require.NoError(t, err)
	b.Redact(other)
	var braw map[string]any
	require.NoError(t, json.Unmarshal(b.AppendRaw(nil), &braw))
	assert.Equal(t, email, braw["actor"].(map[string]any)["email_address"])
	other.Key = []byte("k2")
	c, err := activity.Decode([]byte(`{"type":"x","created_at":"2026-04-10T08:09:10Z","actor":{"type":"user_actor","email_address":"alice@example.com"}}`))
	require.NoError(t, err)
	c.Redact(other)
	assert.NotContains(t, string(c.AppendRaw(nil)), email)

	// IPv4-mapped IPv6 is hashed in its canonical IPv4 form.
	canon := activity.Redaction{IPs: true, Hash: true, Key: []byte("k1")}
	d, err := activity.Decode([]byte(`{"type":"x","created_at":"2026-04-10T08:09:10Z","client_ip":"198.51.100.7"}`))
	require.NoError(t, err)
	d.Redact(canon)
	var draw map[string]any
	require.NoError(t, json.Unmarshal(d.AppendRaw(nil), &draw))
	assert.Equal(t, draw["client_ip"], raw["client_ip"])

	// Lists hash element by element; nested members are hashed in place.
	assert.Len(t, raw["alert_emails"], 2)
	assert.True(t, strings.HasPrefix(raw["alert_emails"].([]any)[0].(string), activity.HashPrefix))
	nested := raw["audience"].([]any)[0].(map[string]any)
	assert.True(t, strings.HasPrefix(nested["email"].(string), activity.HashPrefix))
	assert.Equal(t, "viewer", nested["role"])

	// Typed accessors do not hand out hashed values.
	_, ok := a.Actor.Fields.String("email_address")
	assert.False(t, ok)
	_, ok = a.Fields.Take("invited_email")
	assert.False(t, ok)
	assert.Nil(t, a.Fields.Strings("alert_emails"))
}

func TestRedactNeverTouchesCommonFields(t *testing.T) {
	a, err := activity.Decode([]byte(`{"id":"a1","type":"x","created_at":"2026-04-10T08:09:10Z","organization_id":"org_1"}`))
	require.NoError(t, err)
	a.Redact(activity.Redaction{RequestBody: true, Emails: true, IPs: true})
	assert.Equal(t, `{"id":"a1","type":"x","created_at":"2026-04-10T08:09:10Z","organization_id":"org_1"}`, string(a.AppendRaw(nil)))
}

func TestAppendRawIsTheInputWhenNothingWasRedacted(t *testing.T) {
	a, err := activity.Decode([]byte(chatCreated))
	require.NoError(t, err)
	a.Redact(activity.Redaction{RequestBody: true})
	assert.Equal(t, chatCreated, string(a.AppendRaw(nil)))
}

func TestRedactionValidateNeedsKeyToHash(t *testing.T) {
	require.ErrorIs(t, activity.Redaction{Emails: true, Hash: true}.Validate(), activity.ErrNoHashKey)
	require.NoError(t, activity.Redaction{Emails: true, Hash: true, Key: []byte("k")}.Validate())
	require.NoError(t, activity.Redaction{Hash: true}.Validate(), "nothing selected, nothing to hash")
}

func TestKeyClassifiers(t *testing.T) {
	for k, want := range map[string]bool{
		"email": true, "emails": true, "email_address": true, "invited_email": true, "alert_emails": true,
		"unauthenticated_email_address": true, "cc_email_count": false, "emailer": false, "primary_email_set": false,
		"Email": true, "EMAIL": true, "emailAddress": true, "EmailAddress": true, "e-mail": true, "userEmails": true,
		"recipient": true, "Recipients": true, "shared_with": true, "sharedWith": true, "mail_address": true,
		"email_verified": false, "billing_address": false, "address": false, "mailbox": false, "shared": false,
	} {
		assert.Equal(t, want, activity.IsEmailKey(k), k)
	}
	for k, want := range map[string]bool{
		"ip": true, "ip_address": true, "client_ip": true, "allowed_ips": true, "source_ip_addresses": true,
		"zip": false, "description": false, "ip_restriction_id": false, "skip": false,
		"ipAddress": true, "IPAddress": true, "IP": true, "clientIp": true, "remote_addr": true, "remoteAddress": true,
		"x_forwarded_for": true, "X-Forwarded-For": true, "forwardedFor": true, "peer_addr": true, "ipv6": true,
		"tip": false, "shipping_address_updated": false, "address": false, "ip_allowlist_enabled": false,
	} {
		assert.Equal(t, want, activity.IsIPKey(k), k)
	}
}

func TestDecoderReuseForgetsThePreviousActivity(t *testing.T) {
	var d activity.Decoder
	first := `{"type":"a","created_at":"2026-04-10T08:09:10Z","actor":{"type":"user_actor","user_id":"u1","x":1},"only_first":"f","k\u00e9y":1}`
	second := `{"type":"b","created_at":"2026-04-10T08:09:11Z","only_second":"s"}`
	a, err := d.Decode([]byte(first))
	require.NoError(t, err)
	require.True(t, a.Actor.Fields.Present())
	id, _ := a.Actor.Fields.Take("user_id")
	assert.Equal(t, "u1", id)

	b, err := d.Decode([]byte(second))
	require.NoError(t, err)
	assert.Equal(t, "b", b.Type)
	assert.Empty(t, b.Actor.Type)
	assert.False(t, b.Actor.Fields.Present(), "no actor in the second activity")
	var unused []string
	b.Fields.Unused(func(k string, _ json.RawMessage) { unused = append(unused, k) })
	assert.Equal(t, []string{"only_second"}, unused)
	_, ok := b.Fields.String("only_first")
	assert.False(t, ok)

	// The strings of an activity stay valid after the decoder moved on.
	assert.Equal(t, "u1", id)
}

func TestStringsKeepsOnlyNonEmptyStringElements(t *testing.T) {
	a, err := activity.Decode([]byte(`{"type":"x","created_at":"2026-04-10T08:09:10Z",
		"member_ids":[ "u1", "", 3, null, "\u00e9\"", ["nested"], {"a":"b"}, "u2" ],"empty":[],"scalar":"u3"}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "é\"", "u2"}, a.Fields.Strings("member_ids"))
	assert.Empty(t, a.Fields.Strings("empty"))
	assert.Empty(t, a.Fields.Strings("scalar"))
	assert.Empty(t, a.Fields.Strings("missing"))
	assert.Equal(t, []string{"x", "u1"}, a.Fields.AppendStrings([]string{"x"}, "member_ids")[:2])
}

func TestRawStringIsTheInputUnlessRedacted(t *testing.T) {
	in := `{"type":"x","created_at":"2026-04-10T08:09:10Z","client_ip":"192.0.2.1"}`
	a, err := activity.Decode([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, in, a.RawString())
	a.Redact(activity.Redaction{IPs: true})
	assert.Equal(t, `{"type":"x","created_at":"2026-04-10T08:09:10Z"}`, a.RawString())

	spaced, err := activity.Decode([]byte(" " + in + "\n"))
	require.NoError(t, err)
	assert.Equal(t, " "+in+"\n", spaced.RawString(), "as received, surrounding whitespace included")
}

func TestBadTimeErrorHoldsACopyOfTheValue(t *testing.T) {
	buf := []byte(`{"type":"x","created_at":"10/04/2026"}`)
	_, err := activity.Decode(buf)
	require.ErrorIs(t, err, activity.ErrBadTime)
	for i := range buf {
		buf[i] = '_'
	}
	var perr *time.ParseError
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "10/04/2026", perr.Value)
	assert.Contains(t, err.Error(), `"10/04/2026"`)
}

func TestDecodeRejectsActivitiesOverMaxSize(t *testing.T) {
	padded := func(n int) []byte {
		b := bytes.Repeat([]byte("x"), n)
		copy(b, `{"type":"x","created_at":"2026-04-10T08:09:10Z","pad":"`)
		copy(b[n-2:], `"}`)
		return b
	}
	_, err := activity.Decode(padded(activity.MaxSize + 1))
	require.ErrorIs(t, err, activity.ErrTooLarge)
	assert.Contains(t, err.Error(), "128 MiB")

	a, err := activity.Decode(padded(activity.MaxSize))
	require.NoError(t, err, "MaxSize itself is accepted")
	assert.Equal(t, "x", a.Type)
}
