package ecs_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/enginetest"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
)

// sixMessages: odd ones are known activities, even ones of an unknown type,
// the third is not JSON at all.
const sixMessages = `
generate:
  count: 6
  interval: ""
  mapping: |
    let n = counter()
    meta activity_id = "activity_%d".format($n)
    root = if $n == 3 { "not an activity" } else {
      {
        "id": "activity_%d".format($n),
        "created_at": "2026-04-10T08:09:10Z",
        "type": if $n % 2 == 0 { "hologram_portal_beamed" } else { "claude_chat_viewed" },
        "actor": {"type": "user_actor", "user_id": "user_1", "email_address": "alice@example.com", "ip_address": "192.0.2.1"},
        "claude_chat_id": "chat_%d".format($n)
      }
    }
`

// TestStreamMapsActivitiesFlagsBadOnesAndCountsUnknownTypes runs the
// processor in a real Benthos stream: generate → anthropic_compliance_ecs →
// consumer.
func TestStreamMapsActivitiesFlagsBadOnesAndCountsUnknownTypes(t *testing.T) {
	outs, counters := enginetest.Run(t, sixMessages, `anthropic_compliance_ecs: {keep_raw: true}`)
	require.Len(t, outs, 6, "nothing is dropped")
	sort.Slice(outs, func(i, j int) bool {
		return fmt.Sprint(outs[i].Meta["activity_id"]) < fmt.Sprint(outs[j].Meta["activity_id"])
	})

	for i, out := range outs {
		n := i + 1
		assert.Equal(t, fmt.Sprintf("activity_%d", n), out.Meta["activity_id"], "metadata is kept")
		if n == 3 {
			require.Error(t, out.Err)
			assert.Contains(t, out.Err.Error(), "anthropic_compliance_ecs: activity is not a JSON object")
			assert.Equal(t, "not an activity", string(out.Content))
			continue
		}
		require.NoError(t, out.Err)
		doc := goldentest.Decode(t, out.Content)
		assert.Equal(t, fmt.Sprintf("activity_%d", n), field(doc, "event.id"))
		assert.Contains(t, field(doc, "event.original"), fmt.Sprintf(`"chat_%d"`, n))
		if n%2 == 0 {
			assert.Empty(t, list(doc, "event.category"), "message %d", n)
		} else {
			assert.Equal(t, []string{"web"}, list(doc, "event.category"), "message %d", n)
		}
	}
	assert.Equal(t, int64(3), counters["anthropic_compliance_ecs_unknown_type"])
}

func TestProcessorFlagsMessagesThatAreNotActivities(t *testing.T) {
	p, err := enginetest.Processor(t, `anthropic_compliance_ecs: {}`)
	require.NoError(t, err)
	for _, in := range []string{`42`, `{"type":"x"}`, `{}`} {
		batch, err := p.Process(t.Context(), service.NewMessage([]byte(in)))
		require.NoError(t, err)
		require.Len(t, batch, 1)
		require.Error(t, batch[0].GetError(), in)
		got, _ := batch[0].AsBytes()
		assert.Equal(t, in, string(got))
	}
}

func TestProcessorRejectsBadConfigNamingTheField(t *testing.T) {
	for yaml, want := range map[string]string{
		`anthropic_compliance_ecs: {redact: [request_body, passwords]}`:   `redact: unknown token "passwords"`,
		`anthropic_compliance_ecs: {redact: [emails], redact_mode: hash}`: "hash_key: required when redact_mode is hash",
	} {
		_, err := enginetest.Processor(t, yaml)
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), want)
	}
	_, err := enginetest.Processor(t, `anthropic_compliance_ecs: {redact: [emails], redact_mode: hash, hash_key: k}`)
	require.NoError(t, err)
}
