package ocsf_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/enginetest"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
	"github.com/compliance-connect/compliance-connect/processors/ocsf"
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
        "type": if $n % 2 == 0 { "hologram_portal_beamed" } else { "claude_chat_created" },
        "actor": {"type": "user_actor", "user_id": "user_1", "email_address": "alice@example.com", "ip_address": "192.0.2.1"},
        "claude_chat_id": "chat_%d".format($n)
      }
    }
`

// TestStreamMapsActivitiesFlagsBadOnesAndCountsUnknownTypes runs the
// processor in a real Benthos stream: generate → anthropic_compliance_ocsf →
// consumer.
func TestStreamMapsActivitiesFlagsBadOnesAndCountsUnknownTypes(t *testing.T) {
	outs, counters := enginetest.Run(t, sixMessages, `anthropic_compliance_ocsf: {}`)
	require.Len(t, outs, 6, "nothing is dropped")
	sort.Slice(outs, func(i, j int) bool {
		return fmt.Sprint(outs[i].Meta["activity_id"]) < fmt.Sprint(outs[j].Meta["activity_id"])
	})

	for i, out := range outs {
		n := i + 1
		assert.Equal(t, fmt.Sprintf("activity_%d", n), out.Meta["activity_id"], "metadata is kept")
		if n == 3 {
			require.Error(t, out.Err)
			assert.Contains(t, out.Err.Error(), "anthropic_compliance_ocsf: activity is not a JSON object")
			assert.Equal(t, "not an activity", string(out.Content), "a failed message passes on unchanged")
			continue
		}
		require.NoError(t, out.Err)
		ev := goldentest.Decode(t, out.Content)
		uid, _ := goldentest.Path(ev, "metadata.uid")
		assert.Equal(t, fmt.Sprintf("activity_%d", n), uid)
		wantClass := "6001"
		if n%2 == 0 {
			wantClass = "6003"
		}
		assert.Equal(t, wantClass, fmt.Sprint(ev["class_uid"]), "message %d", n)
	}
	assert.Equal(t, int64(3), counters["anthropic_compliance_ocsf_unknown_type"])
}

func TestProcessorFromConfigAppliesOptions(t *testing.T) {
	p, err := enginetest.Processor(t, `anthropic_compliance_ocsf: {keep_raw: true, redact: [emails, ips]}`)
	require.NoError(t, err)
	in := activityJSON("claude_chat_created", `"claude_chat_id":"c1"`)
	msg := service.NewMessage([]byte(in))
	msg.MetaSetMut("cursor", "abc")
	batch, err := p.Process(t.Context(), msg)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	require.NoError(t, batch[0].GetError())
	out, err := batch[0].AsBytes()
	require.NoError(t, err)
	assert.NotContains(t, string(out), "alice@example.com")
	assert.NotContains(t, string(out), "192.0.2.1")
	ev := goldentest.Decode(t, out)
	raw, _ := ev["raw_data"].(string)
	assert.Contains(t, raw, `"claude_chat_id":"c1"`, "raw_data is the redacted activity")
	cursor, _ := batch[0].MetaGetMut("cursor")
	assert.Equal(t, "abc", cursor)
	require.NoError(t, p.Close(t.Context()))
}

func TestProcessorFlagsMessagesThatAreNotActivities(t *testing.T) {
	p, err := enginetest.Processor(t, `anthropic_compliance_ocsf: {}`)
	require.NoError(t, err)
	for _, in := range []string{`[]`, `{"type":"x"}`, `{"created_at":"2026-04-10T08:09:10Z"}`, `{"type":`} {
		batch, err := p.Process(t.Context(), service.NewMessage([]byte(in)))
		require.NoError(t, err, "errors are per message")
		require.Len(t, batch, 1)
		require.Error(t, batch[0].GetError(), in)
		got, _ := batch[0].AsBytes()
		assert.Equal(t, in, string(got))
	}
}

func TestProcessorRejectsBadConfigNamingTheField(t *testing.T) {
	tests := map[string]string{
		`anthropic_compliance_ocsf: {redact: [phones]}`:                            `redact: unknown token "phones"`,
		`anthropic_compliance_ocsf: {redact: [emails], redact_mode: hash}`:         "hash_key: required when redact_mode is hash",
		`anthropic_compliance_ocsf: {redact_mode: shred}`:                          `redact_mode: unknown value "shred"`,
		`anthropic_compliance_ocsf: {redact: [request_body], redact_strict: true}`: "redact_strict: needs emails or ips in redact",
	}
	for yaml, want := range tests {
		_, err := enginetest.Processor(t, yaml)
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), want)
	}
}

func TestLintRulesCatchBadConfigBeforeRunning(t *testing.T) {
	tests := map[string]string{
		`anthropic_compliance_ocsf: {redact: [phones]}`:    `unknown token "phones"`,
		`anthropic_compliance_ocsf: {redact_strict: true}`: "redact_strict: needs emails or ips",
	}
	for yaml, want := range tests {
		err := service.NewStreamBuilder().AddProcessorYAML(yaml)
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), want)
	}
	require.NoError(t, service.NewStreamBuilder().AddProcessorYAML(
		`anthropic_compliance_ocsf: {redact: [ips], redact_mode: hash, hash_key: "${HASH_KEY:k}"}`))
	// hash_key is a secret: `lint --skip-env-var-check` sees an unset one as
	// empty, so its emptiness is refused at start-up (ParseConfig), not here.
	require.NoError(t, service.NewStreamBuilder().AddProcessorYAML(
		`anthropic_compliance_ocsf: {redact: [ips], redact_mode: hash, hash_key: ""}`))
	require.NoError(t, service.NewStreamBuilder().AddProcessorYAML(
		`anthropic_compliance_ocsf: {redact: [emails], redact_strict: true}`))
}

func TestHashKeyIsASecret(t *testing.T) {
	var secret bool
	service.GlobalEnvironment().WalkProcessors(func(name string, cv *service.ConfigView) {
		if name != ocsf.ProcessorName {
			return
		}
		data, err := cv.FormatJSON()
		require.NoError(t, err)
		secret = strings.Contains(string(data), `"name":"hash_key"`) && strings.Contains(string(data), `"is_secret":true`)
	})
	assert.True(t, secret)
}
