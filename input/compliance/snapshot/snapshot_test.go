package snapshot_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/emit"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// small is a world of a few dozen records per endpoint.
func small(seed uint64) fakeapi.WorldOptions {
	return fakeapi.WorldOptions{Seed: seed, Orgs: 2, Users: 40, Groups: 4, Projects: 5, Chats: 10, Growth: growth}
}

// TestSnapshotEmitsEveryRecordThenOneMarker: with emit: snapshot, a run of
// each endpoint emits every record the fake holds (keys as the design note
// names them), each with the run's snapshot id, then one marker counting
// them, and records the run in the checkpoint.
func TestSnapshotEmitsEveryRecordThenOneMarker(t *testing.T) {
	r := newRig(t, small(1), nil)
	snap := r.api.Snapshot()
	want := map[string]func([]string) bool{
		snapshot.Organizations: func(ks []string) bool {
			var orgs []string
			for _, o := range snap.Orgs {
				orgs = append(orgs, "org:"+o)
			}
			slices.Sort(orgs)
			return slices.Equal(orgs, ks)
		},
		snapshot.Users: func(ks []string) bool { return slices.Equal(userKeys(snap), ks) },
		snapshot.Groups: func(ks []string) bool {
			var groups []string
			for _, g := range snap.GroupIDs() {
				groups = append(groups, "group:"+g)
			}
			return slices.Equal(groups, ofType(ks, "group")) && slices.Equal(memberKeys(snap), ofType(ks, "member"))
		},
		snapshot.Roles: func(ks []string) bool {
			return len(ofType(ks, "role")) > 0 && len(ofType(ks, "permission")) > 0 && len(ofType(ks, "role"))+len(ofType(ks, "permission")) == len(ks)
		},
		snapshot.OrganizationSettings: func(ks []string) bool { return len(ks) == len(snap.Orgs) },
		snapshot.Projects: func(ks []string) bool {
			var projects []string
			for _, p := range snap.Projects {
				projects = append(projects, "project:"+p)
			}
			slices.Sort(projects)
			return slices.Equal(projects, ofType(ks, "project")) && len(ofType(ks, "collaborator")) >= len(projects)
		},
	}
	for _, endpoint := range snapshot.Endpoints() {
		t.Run(endpoint, func(t *testing.T) {
			r.sink.reset()
			rep := mustRun(t, r.collector(config(endpoint, snapshot.EmitSnapshot)))
			got := r.sink.received()
			require.NotEmpty(t, got)
			marker := got[len(got)-1]
			records := got[:len(got)-1]
			ks := keys(records)
			slices.Sort(ks)
			assert.True(t, want[endpoint](ks), "the records are the fake's: %v", ks)
			assert.Len(t, slices.Compact(slices.Clone(ks)), len(ks), "each record once")
			for _, m := range records {
				assert.Equal(t, rep.JobID, m.Meta[snapshot.MetaSnapshotID])
				assert.Equal(t, endpoint, m.Meta[snapshot.MetaEndpoint])
				assert.True(t, strings.HasPrefix(m.Meta[snapshot.MetaRecordKey], m.Meta[snapshot.MetaRecordType]+":"))
				assert.True(t, json.Valid(m.Body))
			}
			assert.Equal(t, "true", marker.Meta[snapshot.MetaSnapshotComplete])
			assert.Equal(t, snapshot.MarkerType, marker.Meta[snapshot.MetaRecordType])
			var body struct {
				SnapshotID string         `json:"snapshot_id"`
				Endpoint   string         `json:"endpoint"`
				Records    int            `json:"records"`
				ByType     map[string]int `json:"by_type"`
			}
			require.NoError(t, json.Unmarshal(marker.Body, &body))
			assert.Equal(t, rep.JobID, body.SnapshotID)
			assert.Equal(t, endpoint, body.Endpoint)
			assert.Equal(t, len(records), body.Records)
			assert.Greater(t, marker.Batch, records[len(records)-1].Batch, "the marker comes in its own batch, after every record was acked")
			cp := r.stored(endpoint)
			require.NotNil(t, cp)
			assert.Equal(t, rep.JobID, cp.SnapshotID)
			assert.Equal(t, len(records), cp.Records)
			assert.Nil(t, cp.Hashes, "emit: snapshot keeps no hashes")
			assert.Equal(t, len(records), rep.Counts["records"])
		})
	}
}

// TestSnapshotMarkerWaitsForEveryRecordToBeAcknowledged: while a batch of
// records is unacknowledged the marker is not emitted and nothing is
// recorded; a nacked batch fails the run without a marker.
func TestSnapshotMarkerWaitsForEveryRecordToBeAcknowledged(t *testing.T) {
	r := newRig(t, small(2), nil)
	r.sink.setPolicy(func(n int, _ emit.Batch) verdict {
		if n == 2 {
			return holdIt
		}
		return ackIt
	})
	c := r.collector(config(snapshot.Users, snapshot.EmitSnapshot))
	done := make(chan collector.Report, 1)
	go func() { rep, _ := run(t, c); done <- rep }()
	require.Eventually(t, func() bool { return r.sink.heldCount() == 1 && len(r.sink.received()) == 40 }, 10*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("the run ended with a batch unacknowledged")
	case <-time.After(50 * time.Millisecond): // a run that does not end: nothing to wait for but a margin
	}
	assert.Empty(t, r.sink.received()[39].Meta[snapshot.MetaSnapshotComplete], "no marker yet")
	assert.Nil(t, r.stored(snapshot.Users), "nothing recorded yet")
	r.sink.release()
	rep := <-done
	require.Equal(t, collector.OutcomeSuccess, rep.Outcome, rep.Error)
	got := r.sink.received()
	assert.Equal(t, "true", got[len(got)-1].Meta[snapshot.MetaSnapshotComplete])

	r.sink.reset()
	r.sink.setPolicy(func(n int, _ emit.Batch) verdict {
		if n == 12 {
			return nackIt
		}
		return ackIt
	})
	rep, err := run(t, c)
	require.Error(t, err)
	assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
	assert.Contains(t, rep.Error, "the output refused a batch")
	for _, m := range r.sink.received() {
		assert.Empty(t, m.Meta[snapshot.MetaSnapshotComplete], "a failed run emits no marker")
	}
	assert.NotEqual(t, rep.JobID, r.stored(snapshot.Users).SnapshotID, "a failed run is not recorded")
}

// TestChangesFollowTheGrowingWorld: with emit: changes, the first run emits
// every record as added; after the fake's world changed for an hour, a run
// emits exactly the users that joined (added) and left (removed, with their
// last version), the group members added and removed, and the groups and
// settings that changed (with their previous version), and nothing else.
func TestChangesFollowTheGrowingWorld(t *testing.T) {
	r := newRig(t, small(3), nil)
	// Each endpoint is walked at the same two states of the world.
	colls := map[string]*snapshot.Collector{}
	first := map[string][]msg{}
	before := r.api.Snapshot()
	for _, endpoint := range []string{snapshot.Users, snapshot.Groups, snapshot.OrganizationSettings} {
		r.sink.reset()
		colls[endpoint] = r.collector(config(endpoint, snapshot.EmitChanges))
		rep := mustRun(t, colls[endpoint])
		first[endpoint] = r.sink.received()
		assert.Equal(t, rep.Counts["records"], rep.Counts[snapshot.Added], "%s: the first run adds everything", endpoint)
		assert.Zero(t, rep.Counts[snapshot.Changed]+rep.Counts[snapshot.Removed])
	}
	assert.Equal(t, userKeys(before), byChange(first[snapshot.Users])[snapshot.Added])

	r.clock.Advance(time.Hour)
	after := r.api.Snapshot()
	require.NotEmpty(t, minus(userKeys(after), userKeys(before)), "the world gained users")
	require.NotEmpty(t, minus(userKeys(before), userKeys(after)), "the world lost users")

	// users
	r.sink.reset()
	rep := mustRun(t, colls[snapshot.Users])
	got := byChange(r.sink.received())
	assert.Equal(t, minus(userKeys(after), userKeys(before)), got[snapshot.Added])
	assert.Equal(t, minus(userKeys(before), userKeys(after)), got[snapshot.Removed])
	assert.Empty(t, got[snapshot.Changed], "the fake never edits a user")
	prevByKey := map[string]json.RawMessage{}
	for _, m := range first[snapshot.Users] {
		var body struct{ Current json.RawMessage }
		require.NoError(t, json.Unmarshal(m.Body, &body))
		prevByKey[m.Meta[snapshot.MetaRecordKey]] = body.Current
	}
	for _, m := range r.sink.received() {
		var body struct {
			Change, Key       string
			Current, Previous json.RawMessage
		}
		require.NoError(t, json.Unmarshal(m.Body, &body))
		assert.Equal(t, m.Meta[snapshot.MetaChange], body.Change)
		assert.Equal(t, m.Meta[snapshot.MetaRecordKey], body.Key)
		assert.Equal(t, rep.JobID, m.Meta[snapshot.MetaSnapshotID])
		if body.Change == snapshot.Removed {
			assert.Equal(t, "null", string(body.Current))
			assert.JSONEq(t, string(prevByKey[body.Key]), string(body.Previous), "removed carries the last version")
		} else {
			assert.Equal(t, "null", string(body.Previous))
		}
	}
	assert.Equal(t, len(userKeys(after)), r.stored(snapshot.Users).Records)

	// groups: members added and removed, groups changed (updated_at moves)
	r.sink.reset()
	mustRun(t, colls[snapshot.Groups])
	msgs := r.sink.received()
	got = byChange(msgs)
	assert.Equal(t, minus(memberKeys(after), memberKeys(before)), ofType(got[snapshot.Added], "member"))
	assert.Equal(t, minus(memberKeys(before), memberKeys(after)), ofType(got[snapshot.Removed], "member"))
	assert.Empty(t, ofType(got[snapshot.Added], "group"))
	assert.Empty(t, ofType(got[snapshot.Removed], "group"))
	for _, m := range msgs {
		if m.Meta[snapshot.MetaChange] == snapshot.Changed {
			var body struct{ Current, Previous map[string]any }
			require.NoError(t, json.Unmarshal(m.Body, &body))
			assert.NotEqual(t, body.Current, body.Previous, "changed carries both versions, and they differ")
			assert.Equal(t, body.Current["id"], body.Previous["id"])
		}
	}

	// settings: a flipped boolean changes its organisation's record
	r.sink.reset()
	mustRun(t, colls[snapshot.OrganizationSettings])
	got = byChange(r.sink.received())
	assert.NotEmpty(t, got[snapshot.Changed], "settings flipped in an hour at 20 an hour")
	assert.Empty(t, got[snapshot.Added])
	assert.Empty(t, got[snapshot.Removed])

	// A run over an unchanged world emits nothing and still records the run.
	// The records document is not written again for it.
	for endpoint, c := range colls {
		r.sink.reset()
		doc := r.stored(endpoint).RecordsID
		rep := mustRun(t, c)
		assert.Empty(t, r.sink.received(), endpoint)
		assert.Equal(t, rep.JobID, r.stored(endpoint).SnapshotID, endpoint)
		assert.Equal(t, doc, r.stored(endpoint).RecordsID, "%s: the same records document", endpoint)
	}
}

// TestChangesOfAFailedWalkAreNeverEmitted: a walk that fails midway (a page
// of the second organisation's users answers 500) emits nothing, no
// removed above all, and records nothing; the next run emits the whole
// difference.
func TestChangesOfAFailedWalkAreNeverEmitted(t *testing.T) {
	r := newRig(t, small(4), nil)
	c := r.collector(config(snapshot.Users, snapshot.EmitChanges))
	mustRun(t, c)
	before := r.api.Snapshot()
	stored := r.stored(snapshot.Users)
	r.clock.Advance(time.Hour)
	after := r.api.Snapshot()
	r.sink.reset()
	r.api.Script(fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry, Path: fakeapi.UsersPath,
		Match: func(v url.Values) bool { return v.Get("page") != "" }})
	rep, err := run(t, c)
	require.Error(t, err)
	assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
	assert.Contains(t, rep.Error, "listing the users of organization")
	assert.Empty(t, r.sink.received(), "nothing is emitted before the walk completed")
	assert.Equal(t, stored.Rev, r.stored(snapshot.Users).Rev, "nothing is recorded")

	rep = mustRun(t, c)
	got := byChange(r.sink.received())
	assert.Equal(t, minus(userKeys(after), userKeys(before)), got[snapshot.Added])
	assert.Equal(t, minus(userKeys(before), userKeys(after)), got[snapshot.Removed])
	assert.Equal(t, rep.JobID, r.stored(snapshot.Users).SnapshotID)
}

// TestRestartWithUnacknowledgedChangesDeliversEachChangeExactlyOnce: a run
// is stopped (the input closes) while some of its batches are acknowledged
// and others are not; it records the acknowledged changes only. After a
// restart the next run emits exactly the others, plus what changed since:
// every change is acknowledged exactly once, and no removed is emitted for
// a record that still exists.
func TestRestartWithUnacknowledgedChangesDeliversEachChangeExactlyOnce(t *testing.T) {
	r := newRig(t, small(5), nil)
	mustRun(t, r.collector(config(snapshot.Users, snapshot.EmitChanges)))
	before := r.api.Snapshot()
	r.clock.Advance(2 * time.Hour)
	mid := r.api.Snapshot()
	wantAdded, wantRemoved := minus(userKeys(mid), userKeys(before)), minus(userKeys(before), userKeys(mid))
	require.Greater(t, len(wantAdded)+len(wantRemoved), 6, "enough changes for several batches of 5")

	r.sink.reset()
	r.sink.setPolicy(func(n int, _ emit.Batch) verdict {
		if n%2 == 0 {
			return holdIt // every other batch never comes back before the stop
		}
		return ackIt
	})
	soft := make(chan struct{})
	done := make(chan collector.Report, 1)
	c := r.collector(config(snapshot.Users, snapshot.EmitChanges))
	go func() {
		rep, _ := c.RunJob(context.Background(), time.Time{}, soft)
		done <- rep
	}()
	require.Eventually(t, func() bool {
		return len(r.sink.received()) == len(wantAdded)+len(wantRemoved) && r.sink.heldCount() > 0
	}, 10*time.Second, time.Millisecond)
	close(soft)
	rep := <-done
	assert.Equal(t, collector.OutcomeStopped, rep.Outcome)
	firstAcked := r.sink.ackedMsgs()
	assert.Equal(t, len(firstAcked), rep.Counts["changes_recorded"], "the acknowledged changes are recorded")
	assert.NotEqual(t, rep.JobID, r.stored(snapshot.Users).SnapshotID, "the run itself is not complete")

	// Restart: a new collector on the same store; the held batches are lost
	// with the old process (never acknowledged).
	r.sink.setPolicy(nil)
	r.sink.reset()
	r.clock.Advance(30 * time.Minute)
	after := r.api.Snapshot()
	mustRun(t, r.collector(config(snapshot.Users, snapshot.EmitChanges)))
	all := append(firstAcked, r.sink.ackedMsgs()...)
	got := byChange(all)
	assert.Equal(t, minus(userKeys(after), userKeys(before)), minus(got[snapshot.Added], got[snapshot.Removed]), "every user that joined")
	for _, change := range []string{snapshot.Added, snapshot.Removed} {
		assert.Len(t, slices.Compact(slices.Clone(got[change])), len(got[change]), "%s: each change once", change)
	}
	for _, k := range got[snapshot.Removed] {
		assert.NotContains(t, userKeys(after), k, "only users that left are removed")
	}
	for _, k := range minus(userKeys(before), userKeys(after)) {
		assert.Contains(t, got[snapshot.Removed], k, "every user that left is removed")
	}
	cp := r.stored(snapshot.Users)
	var recorded []string
	for k := range cp.Hashes {
		recorded = append(recorded, k)
	}
	slices.Sort(recorded)
	assert.Equal(t, userKeys(after), recorded, "the checkpoint describes the world")
}

// TestCrashBeforeTheCommitRedeliversWithoutLoss: the process dies (no
// graceful stop: the store is what it was before the run's commit) while
// the run's changes are delivered but not acknowledged. The next process
// emits every change again: nothing is lost, duplicates are bounded by the
// run's changes, and the checkpoint then describes the world.
func TestCrashBeforeTheCommitRedeliversWithoutLoss(t *testing.T) {
	r := newRig(t, small(6), nil)
	mustRun(t, r.collector(config(snapshot.Users, snapshot.EmitChanges)))
	before := r.api.Snapshot()
	r.clock.Advance(time.Hour)
	after := r.api.Snapshot()
	want := len(minus(userKeys(after), userKeys(before))) + len(minus(userKeys(before), userKeys(after)))
	require.NotZero(t, want)

	r.sink.reset()
	r.sink.setPolicy(func(int, emit.Batch) verdict { return holdIt })
	ctx, kill := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = r.collector(config(snapshot.Users, snapshot.EmitChanges)).RunJob(ctx, time.Time{}, make(chan struct{}))
	}()
	require.Eventually(t, func() bool { return len(r.sink.received()) == want }, 10*time.Second, time.Millisecond)
	crashed := copyStore(t, r.store, "anthropic_compliance/test/users")
	kill() // the hard stop writes nothing: the store is as a SIGKILL leaves it
	<-done

	r.store = crashed
	r.sink.setPolicy(nil)
	r.sink.reset()
	mustRun(t, r.collector(config(snapshot.Users, snapshot.EmitChanges)))
	got := byChange(r.sink.received())
	assert.Equal(t, minus(userKeys(after), userKeys(before)), got[snapshot.Added])
	assert.Equal(t, minus(userKeys(before), userKeys(after)), got[snapshot.Removed])
	assert.Len(t, r.stored(snapshot.Users).Hashes, len(userKeys(after)))
}

// copyStore copies the documents of key (and its records documents) into
// a new store.
func copyStore(t *testing.T, from *checkpoint.MemoryStore, key string) *checkpoint.MemoryStore {
	t.Helper()
	to := checkpoint.NewMemoryStore()
	for _, k := range []string{key, key + "/records/a", key + "/records/b"} {
		if v, err := from.Load(context.Background(), k); err == nil {
			to.Put(k, v)
		}
	}
	return to
}

// TestLateAcknowledgementsAreRecordedByTheNextJob: a run whose batches are
// still held when job_timeout and the drain grace have passed ends
// (timeout); the next job is skipped while they are held (awaiting_acks);
// once they are acknowledged the next job records them before comparing,
// so they are not emitted again.
func TestLateAcknowledgementsAreRecordedByTheNextJob(t *testing.T) {
	r := newRig(t, small(7), nil)
	clock := schedule.NewFakeClock(t0)
	cfg := config(snapshot.Users, snapshot.EmitChanges)
	cfg.JobTimeout, cfg.DrainGrace = time.Minute, 10*time.Second
	c := r.collector(cfg, func(d *snapshot.Deps) { d.Clock = clock })
	mustRunOn(t, clock, c)
	r.clock.Advance(time.Hour)
	r.sink.reset()
	r.sink.setPolicy(func(int, emit.Batch) verdict { return holdIt })
	rep := runOn(t, clock, c, func() { clock.Advance(time.Minute) }, func() { clock.Advance(10 * time.Second) })
	assert.Equal(t, collector.OutcomeTimeout, rep.Outcome, rep.Error)
	changes := len(r.sink.received())
	require.NotZero(t, changes)

	rep = mustRunOn(t, clock, c)
	assert.Equal(t, collector.OutcomeAwaitingAcks, rep.Outcome)
	assert.Positive(t, c.HeldBatches())

	r.sink.setPolicy(nil)
	r.sink.release()
	r.sink.reset()
	rep = mustRunOn(t, clock, c)
	assert.Equal(t, collector.OutcomeSuccess, rep.Outcome)
	assert.Equal(t, changes, rep.Counts["late_changes_recorded"])
	assert.Empty(t, r.sink.received(), "the late-acknowledged changes are not emitted again")
}

// runOn runs a job on a fake clock; steps move the clock, each once the
// job waits on it.
func runOn(t *testing.T, clock *schedule.FakeClock, c *snapshot.Collector, steps ...func()) collector.Report {
	t.Helper()
	done := make(chan collector.Report, 1)
	go func() {
		rep, _ := c.RunJob(context.Background(), time.Time{}, make(chan struct{}))
		done <- rep
	}()
	for _, step := range steps {
		waitForTimers(t, clock, done)
		step()
	}
	select {
	case rep := <-done:
		return rep
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not end")
		return collector.Report{}
	}
}

// waitForTimers waits until the job waits on a timer beyond the job's own
// deadline timers (the ack warning, job timeout, drain grace).
func waitForTimers(t *testing.T, clock *schedule.FakeClock, done chan collector.Report) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, ok := clock.NextDeadline()
		return ok && clock.Waiters() >= 2
	}, 10*time.Second, time.Millisecond)
}

func mustRunOn(t *testing.T, clock *schedule.FakeClock, c *snapshot.Collector) collector.Report {
	t.Helper()
	rep := runOn(t, clock, c)
	require.Contains(t, []string{collector.OutcomeSuccess, collector.OutcomeAwaitingAcks}, rep.Outcome, rep.Error)
	return rep
}

// TestARefusedScopeIsNamed: a key without read:compliance_user_data lists
// the organisations but not their users: the job fails naming the scope and
// the collector is unhealthy with that reason.
func TestARefusedScopeIsNamed(t *testing.T) {
	r := newRig(t, small(8), func(o *fakeapi.Options) {
		o.APIKeys = nil
		o.Scopes = map[string][]string{testKey: {fakeapi.ScopeOrgData}}
	})
	for _, tc := range []struct{ endpoint, scope string }{
		{snapshot.Users, fakeapi.ScopeUserData},
		{snapshot.Groups, fakeapi.ScopeUserData}, // groups are org data, their members user data
		{snapshot.Projects, fakeapi.ScopeUserData},
	} {
		c := r.collector(config(tc.endpoint, snapshot.EmitSnapshot))
		rep, err := run(t, c)
		require.Error(t, err, tc.endpoint)
		assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
		assert.Contains(t, err.Error(), "403")
		assert.Contains(t, err.Error(), "endpoint "+tc.endpoint+" needs a Compliance Access Key with the scope "+tc.scope)
		require.Error(t, c.Health())
		assert.Contains(t, c.Health().Error(), "the Compliance API refused the key")
		assert.Contains(t, c.Health().Error(), tc.scope)
	}
	mustRun(t, r.collector(config(snapshot.Roles, snapshot.EmitSnapshot))) // org data only
}

// TestBaselineSilentRecordsWithoutEmitting: the first run of baseline:
// silent emits nothing; the next emits only what changed.
func TestBaselineSilentRecordsWithoutEmitting(t *testing.T) {
	r := newRig(t, small(9), nil)
	cfg := config(snapshot.Users, snapshot.EmitChanges)
	cfg.SilentBaseline = true
	c := r.collector(cfg)
	mustRun(t, c)
	assert.Empty(t, r.sink.received())
	before := r.api.Snapshot()
	assert.Len(t, r.stored(snapshot.Users).Hashes, len(userKeys(before)))
	r.clock.Advance(time.Hour)
	mustRun(t, c)
	assert.Equal(t, minus(userKeys(r.api.Snapshot()), userKeys(before)), byChange(r.sink.received())[snapshot.Added])
}

// TestMaxRecordsFailsTheRun: a walk past max_records fails, naming it.
func TestMaxRecordsFailsTheRun(t *testing.T) {
	r := newRig(t, small(10), nil)
	for _, mode := range []string{snapshot.EmitSnapshot, snapshot.EmitChanges} {
		cfg := config(snapshot.Users, mode)
		cfg.MaxRecords = 10
		_, err := run(t, r.collector(cfg))
		require.Error(t, err, mode)
		assert.Contains(t, err.Error(), "more than max_records (10)")
	}
}

// TestCheckpointOfAnotherIdentityIsRefused: a checkpoint written with other
// organisation filters (or emit) is refused unless adopted.
func TestCheckpointOfAnotherIdentityIsRefused(t *testing.T) {
	r := newRig(t, small(11), nil)
	mustRun(t, r.collector(config(snapshot.Users, snapshot.EmitChanges)))
	cfg := config(snapshot.Users, snapshot.EmitChanges)
	cfg.OrganizationIDs = []string{r.api.Snapshot().Orgs[0]}
	_, err := run(t, r.collector(cfg))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to reuse it")
	cfg.Adopt = true
	r.sink.reset()
	mustRun(t, r.collector(cfg))
	for _, k := range byChange(r.sink.received())[snapshot.Removed] {
		assert.False(t, strings.HasPrefix(k, "user:"+cfg.OrganizationIDs[0]+"/"), "the adopted hashes of the kept organisation stay")
	}
}

// TestARefusedBatchFailsTheRunAndTheDeliveredChangesAreRecorded: the output
// refuses the second batch of a changes run while the first is still in
// flight; the run stops emitting, waits (drain_grace) for the first, records
// its changes, and fails. The next run emits exactly the other changes.
func TestARefusedBatchFailsTheRunAndTheDeliveredChangesAreRecorded(t *testing.T) {
	r := newRig(t, small(13), nil)
	c := r.collector(config(snapshot.Users, snapshot.EmitChanges))
	mustRun(t, c)
	before := r.api.Snapshot()
	r.clock.Advance(2 * time.Hour)
	after := r.api.Snapshot()
	want := len(minus(userKeys(after), userKeys(before))) + len(minus(userKeys(before), userKeys(after)))
	require.Greater(t, want, 10, "more than two batches of 5")

	r.sink.reset()
	k := 0 // batches of this run (the policy runs on the sink's goroutine)
	r.sink.setPolicy(func(int, emit.Batch) verdict {
		switch k++; k {
		case 1:
			return holdIt
		case 2:
			return nackIt
		}
		return ackIt
	})
	done := make(chan collector.Report, 1)
	go func() { rep, _ := run(t, c); done <- rep }()
	// The run may hand out another batch before it sees the refusal.
	require.Eventually(t, func() bool { return len(r.sink.received()) >= 10 && r.sink.heldCount() == 1 }, 10*time.Second, time.Millisecond)
	r.sink.release() // acknowledged after the refusal
	rep := <-done
	assert.Equal(t, collector.OutcomeFailed, rep.Outcome)
	assert.Contains(t, rep.Error, "the output refused a batch")
	first := r.sink.ackedMsgs()
	assert.GreaterOrEqual(t, len(first), 5)
	assert.Equal(t, len(first), rep.Counts["changes_recorded"], "the first batch, acknowledged late, is recorded")

	r.sink.setPolicy(nil)
	r.sink.reset()
	mustRun(t, c)
	second := keys(r.sink.received())
	assert.Len(t, second, want-len(first), "everything but the recorded changes is emitted again")
	for _, k := range keys(first) {
		assert.NotContains(t, second, k, "a recorded change is not emitted again")
	}
}
