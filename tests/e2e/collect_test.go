package e2e_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

func TestBackfillThroughTheEngineDeliversEveryActivityOnceAndCommits(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 1, Count: 3000, From: now.Add(-6 * time.Hour), To: now.Add(-3 * time.Minute)})
	r := newRig(t, now, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T05:00:00Z"
      page_size: 500
`), streamOptions{maxInFlight: 1})
	r.sink.waitDelivered(t, len(data))
	require.NoError(t, st.stop())
	assert.ElementsMatch(t, ids(data), r.sink.delivered())
	rec := r.mustCheckpoint(stateKey)
	assert.Equal(t, "2026-11-25T11:58:00Z", ts(rec.ScannedTo))
	metas := r.sink.metas()
	require.NotEmpty(t, metas)
	m := metas[0]
	for _, k := range []string{"activity_id", "activity_type", "activity_created_at", "compliance_endpoint", "compliance_job_id", "compliance_slice_from", "compliance_slice_to", "compliance_page", "compliance_request_id", "compliance_state"} {
		assert.NotEmpty(t, m[k], k)
	}
}
