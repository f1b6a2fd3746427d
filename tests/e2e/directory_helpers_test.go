package e2e_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// copyBody is a pipeline processor that copies each message's body into the
// metadata "body", so that the sink (which keeps metadata) sees it.
const copyBody = `mutation: 'meta body = content().string()'`

// directoryWorld is a small organisation that changes on the fake's clock:
// users join and leave, group members come and go, settings flip.
func directoryWorld(t *testing.T, seed uint64, to time.Time) *fakeapi.World {
	t.Helper()
	w, err := fakeapi.NewWorld(fakeapi.WorldOptions{Seed: seed, To: to, Orgs: 2, Users: 60, Groups: 4, Projects: 4, Chats: 5,
		Growth: fakeapi.WorldGrowth{UserChangesPerHour: 40, GroupChangesPerHour: 40, SettingChangesPerHour: 20, ProjectChangesPerHour: 20}})
	require.NoError(t, err)
	return w
}

// recordMsg is one message of a directory endpoint as the sink got it.
type recordMsg struct {
	Meta map[string]string
	Body json.RawMessage
}

// recordMsgs are the sink's messages of endpoint (copyBody must run).
func recordMsgs(metas []map[string]string, endpoint string) []recordMsg {
	var out []recordMsg
	for _, m := range metas {
		if m[snapshot.MetaEndpoint] == endpoint {
			out = append(out, recordMsg{Meta: m, Body: json.RawMessage(m["body"])})
		}
	}
	return out
}

// changeKeys groups the record keys of change messages by change, sorted.
func changeKeys(msgs []recordMsg) map[string][]string {
	out := map[string][]string{}
	for _, m := range msgs {
		c := m.Meta[snapshot.MetaChange]
		out[c] = append(out[c], m.Meta[snapshot.MetaRecordKey])
	}
	for c := range out {
		slices.Sort(out[c])
	}
	return out
}

// userKeysOf are the users endpoint's record keys of a fake snapshot.
func userKeysOf(s fakeapi.Snapshot) []string {
	var out []string
	for org, ids := range s.Users {
		for _, id := range ids {
			out = append(out, "user:"+org+"/"+id)
		}
	}
	slices.Sort(out)
	return out
}

// without is a - b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
