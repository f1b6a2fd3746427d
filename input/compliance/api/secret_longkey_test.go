package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// longKey is as long as a real key (about 108 bytes): longer than the 64-byte
// snippets a decode error quotes.
const longKey = "sk-ant-api03-LONGCANARY" + "Zq8xV3mN7pR2tW5yB9cF4hJ6kL1sD0gA3eU8iO5nM2bX7vC4zQ9wE6rT1yU3iPlKjHgFdSaQXy" + "-AA"

// TestEchoedLongKeyLeaksNoPieceWhenAnErrorQuotesACutOfTheBody: error texts
// cut what they quote (64 bytes of a malformed value, 1 KiB of an error
// message); a key echoed by a gateway must be scrubbed before the cut, or the
// cut leaves a piece of it that no longer matches the whole key.
func TestEchoedLongKeyLeaksNoPieceWhenAnErrorQuotesACutOfTheBody(t *testing.T) {
	for name, respond := range map[string]step{
		"created_at is the key": func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, `{"data":[{"id":"a","type":"t","created_at":%q}],"has_more":false}`, r.Header.Get("x-api-key"))
		},
		"created_at ends with the key past the 64-byte quote": func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, `{"data":[{"id":"a","type":"t","created_at":"%s%s"}],"has_more":false}`,
				strings.Repeat("x", 40), r.Header.Get("x-api-key"))
		},
		"error message with the key across the 1 KiB cut": func(w http.ResponseWriter, r *http.Request) {
			fail(http.StatusNotFound, "not_found_error", strings.Repeat("y", 1000)+" key "+r.Header.Get("x-api-key"))(w, r)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newScript(t, respond)
			c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) { c.APIKey = longKey })
			_, err := c.ListActivities(t.Context(), api.ListParams{Limit: 10})
			require.Error(t, err)
			text := err.Error() + fmt.Sprintf(" %#v", err)
			if merr, ok := errors.AsType[*api.MalformedError](err); ok {
				text += " " + merr.Reason
				assert.Contains(t, merr.Reason, "[redacted]", "the value is still described, with the key replaced")
			}
			for i := 0; i+12 <= len(longKey); i++ {
				require.NotContains(t, text, longKey[i:i+12], "bytes %d..%d of the key leak", i, i+12)
			}
		})
	}
}
