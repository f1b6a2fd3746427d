package compliance

import (
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/snapshot"
)

// buildSnapshot makes the runner of a directory or projects endpoint: the
// snapshot collector, with the input's client, its record channel and, with
// state tracking, the checkpoint store (fenced by the lease).
func buildSnapshot(in *input, ep endpointConfig, env runnerEnv) (jobRunner, error) {
	cfg := in.cfg
	r := env.runner
	m := in.metrics
	name := ep.Name
	deps := snapshot.Deps{
		API:     env.client,
		Key:     r.key,
		Clock:   in.opts.clock,
		Log:     env.log,
		Out:     in.records,
		ScopeOf: requestScope,
		Hooks: snapshot.Hooks{
			OnRequest: func() { m.pages.Incr(1, name) },
			OnCommit: func(c snapshot.CommitInfo) {
				if c.Err != nil {
					m.writeErrors.Incr(1, name)
					env.log.Errorf("checkpoint write failed: %v", c.Err)
					return
				}
				r.committed(in.opts.now(), time.Time{}) // a snapshot has no scanned_to
				env.log.Debugf("checkpoint written: rev %d, %d changes recorded, complete %v", c.Rev, c.Changes, c.Complete)
			},
			OnRun: func(outcome string, records int) {
				m.snapshots.Incr(1, name, outcome)
				if outcome == "complete" {
					m.snapshotRecords.Set(int64(records), name)
				}
			},
			OnChanges: func(change string, n int) { m.changes.Incr(int64(n), name, change) },
		},
	}
	if env.store != nil {
		deps.Store = env.store
		if r.lease != nil {
			deps.Fence = r.lease.Fence()
			deps.CheckFence = r.lease.fence
		}
	}
	return snapshot.New(snapshot.Config{
		Endpoint:         ep.Name,
		BaseURL:          cfg.BaseURL,
		Emit:             ep.Snapshot.Emit,
		IncludePrevious:  ep.Snapshot.IncludePrevious,
		SilentBaseline:   ep.Snapshot.Baseline == baselineSilent,
		MaxRecords:       ep.Snapshot.MaxRecords,
		PageSize:         ep.Raw.PageSize,
		OrganizationIDs:  ep.Raw.Filters.OrganizationIDs,
		IncludeDocuments: ep.Snapshot.IncludeDocuments,
		BatchSize:        cfg.BatchSize,
		JobTimeout:       ep.Settings.JobTimeout,
		DrainGrace:       cfg.DrainGrace,
		AckWarnAfter:     cfg.AckWarnAfter,
		Once:             ep.Settings.Schedule.Once(),
		Adopt:            cfg.Adopt,
	}, deps)
}
