package ocsf

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// TestEncodedHeadersAreWhatWriteHeaderWrites pins the pre-encoded headers to
// the member-by-member path Map falls back to.
func TestEncodedHeadersAreWhatWriteHeaderWrites(t *testing.T) {
	for key, encoded := range headers {
		b := jsonobj.NewBuilder(jsonobj.Options{})
		writeHeader(b.Root(), key.class, key.activity, key.status)
		direct := string(b.Root().AppendJSON(nil))
		b.Reset()
		b.Root().Encoded(encoded)
		assert.Equal(t, direct, string(b.Root().AppendJSON(nil)), "%+v", key)
	}
	want := 0
	for _, c := range classes {
		want += len(c.activities) * len(statusNames)
	}
	assert.Equal(t, want, len(headers), "every class × its activity_ids × every status_id")
}
