package api_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// list fetches one page whose body is body.
func list(t *testing.T, body string) (*api.Page, error, *script) {
	t.Helper()
	s := newScript(t, page(body), page(emptyPage))
	c := newClient(t, s.srv.URL, newClock())
	pg, err := c.ListActivities(t.Context(), api.ListParams{Limit: 100})
	return pg, err, s
}

func TestDecodeEnvelopeAndActivities(t *testing.T) {
	body := `{"data":[
  {"id":"activity_2","type":"claude_chat_created","created_at":"2026-04-10T08:09:11Z","actor":{"type":"user_actor","user_id":"user_1"}},
  {"id":"activity_1","type":"compliance_api_accessed","created_at":"2026-04-10T08:09:10.117Z","status_code":200}
],"has_more":true,"first_id":"activity_2","last_id":"activity_1"}`
	pg, err, _ := list(t, body)
	require.NoError(t, err)
	assert.True(t, pg.HasMore)
	assert.Equal(t, "activity_2", pg.FirstID)
	assert.Equal(t, "activity_1", pg.LastID)
	require.Len(t, pg.Activities, 2)
	assert.Equal(t, "activity_2", pg.Activities[0].ID)
	assert.Equal(t, "claude_chat_created", pg.Activities[0].Type)
	assert.Equal(t, time.Date(2026, 4, 10, 8, 9, 11, 0, time.UTC), pg.Activities[0].CreatedAt)
	assert.Equal(t, "activity_1", pg.Activities[1].ID)
	assert.Equal(t, "compliance_api_accessed", pg.Activities[1].Type)
	assert.Equal(t, time.Date(2026, 4, 10, 8, 9, 10, 117e6, time.UTC), pg.Activities[1].CreatedAt)
}

func TestDecodeNullAndAbsentCursorsAreEmpty(t *testing.T) {
	for name, body := range map[string]string{
		"null":   `{"data":[],"has_more":false,"first_id":null,"last_id":null}`,
		"absent": `{"has_more":false,"data":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			pg, err, _ := list(t, body)
			require.NoError(t, err)
			assert.Empty(t, pg.FirstID)
			assert.Empty(t, pg.LastID)
			assert.Empty(t, pg.Activities)
			assert.False(t, pg.HasMore)
		})
	}
}

func TestDecodeParsesSecondAndSubsecondTimestamps(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-04-10T08:09:10Z", time.Date(2026, 4, 10, 8, 9, 10, 0, time.UTC)},
		{"2019-12-27T18:11:19.117Z", time.Date(2019, 12, 27, 18, 11, 19, 117e6, time.UTC)},
		{"2026-04-10T08:09:10.123456789Z", time.Date(2026, 4, 10, 8, 9, 10, 123456789, time.UTC)},
		{"2024-02-29T23:59:59.5Z", time.Date(2024, 2, 29, 23, 59, 59, 5e8, time.UTC)},
		{"2026-04-10T10:09:10+02:00", time.Date(2026, 4, 10, 8, 9, 10, 0, time.UTC)},
		{"2026-04-10T08:09:10.25-00:30", time.Date(2026, 4, 10, 8, 39, 10, 25e7, time.UTC)},
		{`2026-04-10T08:09:10\u005a`, time.Date(2026, 4, 10, 8, 9, 10, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			pg, err, _ := list(t, `{"data":[{"id":"a","type":"t","created_at":"`+tt.in+`"}],"has_more":false}`)
			require.NoError(t, err)
			got := pg.Activities[0].CreatedAt
			assert.True(t, got.Equal(tt.want), "got %s want %s", got, tt.want)
		})
	}
}

// Raw is the activity's bytes exactly as sent: whitespace, key order,
// escapes, unknown and nested fields included.
func TestDecodeRawIsByteIdenticalToTheBody(t *testing.T) {
	acts := []string{
		`{ "id" : "activity_\u00e9" , "type":"claude_chat_created","created_at":"2026-04-10T08:09:10Z",` +
			`"actor":{"type":"user_actor","email_address":"a\"b@example.com","ip_address":"10.0.0.1"},"future_field":[1,2.5e3,-0,true,false,null,{}],"note":"üñí 😀 \/"}`,
		`{"created_at":"2026-04-10T08:09:09.000001Z","type":"", "id":"activity_x","nested":{"a":{"b":{"c":[[[]]]}}}}`,
	}
	body := "  {\n\"has_more\" : false, \"extra\": {\"k\": [1]},\n \"data\" : [ " + acts[0] + " ,\n\t" + acts[1] + " ] }\n"
	pg, err, _ := list(t, body)
	require.NoError(t, err)
	require.Len(t, pg.Activities, 2)
	for i, a := range pg.Activities {
		assert.Equal(t, acts[i], string(a.Raw), "activity %d", i)
		assert.Equal(t, len(a.Raw), cap(a.Raw), "Raw's capacity is capped so appends cannot overwrite the next activity")
	}
	assert.Equal(t, "activity_é", pg.Activities[0].ID, "escaped id is unescaped")
	assert.Equal(t, "", pg.Activities[1].Type, "an empty type is a string")
	assert.True(t, bytes.Contains([]byte(body), pg.Activities[0].Raw))
}

// Every malformed body ends the call with a *MalformedError (wrapping
// ErrMalformed) that names the field, the activity index and the request
// id; none is retried.
func TestDecodeRejectsMalformedBodies(t *testing.T) {
	const ok = `{"id":"a","type":"t","created_at":"2026-04-10T08:09:10Z"}`
	tests := []struct {
		name, body, field string
		index             int
		reason            string
	}{
		{"non-JSON html", `<html>502 Bad Gateway</html>`, "", -1, "invalid character '<'"},
		{"empty body", ``, "", -1, "empty body"},
		{"truncated JSON", `{"data":[` + ok + `,{"id":"b","ty`, "data[1]", 1, "unexpected end of JSON input"},
		{"truncated after envelope key", `{"data":[],"has_more":`, "has_more", -1, "unexpected end of JSON input"},
		{"envelope is an array", `[` + ok + `]`, "", -1, "the body is an array, expected a JSON object"},
		{"envelope is a string", `"data"`, "", -1, "the body is a string"},
		{"missing data", `{"has_more":false}`, "data", -1, "missing"},
		{"missing has_more", `{"data":[]}`, "has_more", -1, "missing"},
		{"data not an array", `{"data":{"id":"a"},"has_more":false}`, "data", -1, "must be an array, found an object"},
		{"data null", `{"data":null,"has_more":false}`, "data", -1, "must be an array, found null"},
		{"has_more a string", `{"data":[],"has_more":"false"}`, "has_more", -1, "must be a boolean, found a string"},
		{"first_id a number", `{"data":[],"has_more":false,"first_id":12}`, "first_id", -1, "must be a string or null, found a number"},
		{"duplicate data", `{"data":[],"data":[],"has_more":false}`, "data", -1, "duplicate field"},
		{"activity not an object", `{"data":[` + ok + `,"activity_2"],"has_more":false}`, "data[1]", 1, "must be an object, found a string"},
		{"activity without id", `{"data":[` + ok + `,{"type":"t","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`, "data[1].id", 1, "missing"},
		{"activity with empty id", `{"data":[{"id":"","type":"t","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`, "data[0].id", 0, "must not be empty"},
		{"activity with numeric id", `{"data":[{"id":7,"type":"t","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`, "data[0].id", 0, "must be a string, found a number"},
		{"activity without type", `{"data":[{"id":"a","created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`, "data[0].type", 0, "missing"},
		{"activity with null type", `{"data":[{"id":"a","type":null,"created_at":"2026-04-10T08:09:10Z"}],"has_more":false}`, "data[0].type", 0, "must be a string, found null"},
		{"activity without created_at", `{"data":[{"id":"a","type":"t"}],"has_more":false}`, "data[0].created_at", 0, "missing"},
		{"date-only created_at", `{"data":[` + ok + `,` + ok + `,{"id":"c","type":"t","created_at":"2024-01-01"}],"has_more":false}`, "data[2].created_at", 2, `not an RFC 3339 timestamp: "2024-01-01"`},
		{"created_at without zone", `{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10"}],"has_more":false}`, "data[0].created_at", 0, "not an RFC 3339 timestamp"},
		{"created_at day out of range", `{"data":[{"id":"a","type":"t","created_at":"2026-02-29T08:09:10Z"}],"has_more":false}`, "data[0].created_at", 0, "not an RFC 3339 timestamp"},
		{"created_at epoch number", `{"data":[{"id":"a","type":"t","created_at":1712736550}],"has_more":false}`, "data[0].created_at", 0, "must be a string, found a number"},
		{"invalid JSON inside an unknown field", `{"data":[{"id":"a","type":"t","created_at":"2026-04-10T08:09:10Z","x":[1,]}],"has_more":false}`, "data[0]", 0, "invalid character ']'"},
		{"control character in string", "{\"data\":[],\"has_more\":false,\"x\":\"a\tb\"}", "", -1, "in string literal"},
		{"trailing data", `{"data":[],"has_more":false} {}`, "", -1, "after the top-level object"},
		{"leading zero number", `{"data":[],"has_more":false,"n":01}`, "", -1, "invalid character '1'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err, s := list(t, tt.body)
			require.Error(t, err)
			assert.True(t, errors.Is(err, api.ErrMalformed))
			me, ok := errors.AsType[*api.MalformedError](err)
			require.True(t, ok, "got %T: %v", err, err)
			assert.Equal(t, tt.field, me.Field)
			assert.Equal(t, tt.index, me.Index)
			assert.Contains(t, me.Reason, tt.reason)
			assert.Equal(t, "req_ok", me.RequestID)
			assert.Contains(t, err.Error(), "request-id req_ok")
			if tt.field != "" {
				assert.Contains(t, err.Error(), tt.field+": ")
			}
			assert.False(t, api.IsRetryable(err))
			assert.Len(t, s.Requests(), 1, "a malformed 200 is not retried")
		})
	}
}
