package compliance

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
	"github.com/compliance-connect/compliance-connect/input/compliance/window"
)

// Name is the input's name in configs.
const Name = "anthropic_compliance"

// Config field names: the only way code names a field.
const (
	fieldAPIKey           = "api_key"
	fieldBaseURL          = "base_url"
	fieldAnthropicVersion = "anthropic_version"

	fieldState              = "state"
	fieldStateCache         = "cache"
	fieldStatePath          = "path"
	fieldStateKey           = "key"
	fieldStateAllowVolatile = "allow_volatile"
	fieldStateAdopt         = "adopt"
	fieldStateLease         = "lease"
	fieldLeaseEnabled       = "enabled"
	fieldLeaseTTL           = "ttl"
	fieldLeaseRenew         = "renew_interval"

	fieldSettle         = "settle"
	fieldOverlap        = "overlap"
	fieldMinSlice       = "min_slice"
	fieldMaxSlice       = "max_slice"
	fieldTargetPerSlice = "target_per_slice"
	fieldMaxOpenSlices  = "max_open_slices"
	fieldBatchSize      = "batch_size"
	fieldDrainGrace     = "drain_grace"
	fieldStaleAfter     = "stale_after"
	fieldJobHistoryTTL  = "job_history_ttl"
	fieldLogLevel       = "log_level"
	fieldAckWarnAfter   = "ack_warn_after"

	fieldEndpoints     = "endpoints"
	fieldEPName        = "name"
	fieldEPDescription = "description"
	fieldEPEnabled     = "enabled"
	fieldEPSchedule    = "schedule"
	fieldEPRunOnStart  = "run_on_start"
	fieldEPEarliest    = "earliest"
	fieldEPLatest      = "latest"
	fieldEPTimezone    = "timezone"
	fieldEPJobTimeout  = "job_timeout"
	fieldEPPageSize    = "page_size"
	fieldEPOnlyIDsFile = "only_ids_file"

	fieldEPFilters         = "filters"
	fieldFilterTypes       = "activity_types"
	fieldFilterExcludeType = "exclude_activity_types"
	fieldFilterActorIDs    = "actor_ids"
	fieldFilterOrgIDs      = "organization_ids"

	fieldEPStateTracking = "state_tracking"
	fieldSTEnabled       = "enabled"
	fieldSTUpdate        = "update"
	fieldSTMerge         = "merge"

	// Directory snapshots and projects.
	fieldEPEmit            = "emit"
	fieldEPIncludePrevious = "include_previous"
	fieldEPBaseline        = "baseline"
	fieldEPMaxRecords      = "max_records"
	// Projects only.
	fieldEPIncludeDocuments = "include_documents"

	// Chats and files (the content collector).
	fieldFilterUserIDs      = "user_ids"
	fieldFilterProjectIDs   = "project_ids"
	fieldEPIncludeMessages  = "include_messages"
	fieldEPMessageMode      = "message_mode"
	fieldEPMessagesSince    = "messages_since"
	fieldEPMaxFileSize      = "max_file_size"
	fieldEPFileWorkers      = "file_workers"
	fieldEPFileRetries      = "file_retries"
	fieldEPIncludeGenerated = "include_generated"
	fieldEPEmitSkipped      = "emit_skipped"
	fieldEPMarksHorizon     = "marks_horizon"
)

// Defaults shared by the spec, the lint method and parseConfig.
const (
	defaultBaseURL    = "https://api.anthropic.com"
	defaultVersion    = "2023-06-01"
	defaultStatePath  = "./compliance-state"
	defaultSchedule   = "*/5 * * * *"
	defaultEarliest   = "-7d@d"
	defaultLatest     = "now"
	defaultTimezone   = "UTC"
	defaultJobTimeout = "300s"
	defaultPageSize   = 5000

	defaultSnapshotSchedule   = "0 * * * *"
	defaultSnapshotJobTimeout = "1h"
	defaultMaxRecords         = 1_000_000
	defaultMaxFileSize        = "100MiB"
	defaultFileWorkers        = 1
	defaultFileRetries        = 2
	defaultMarksHorizon       = "168h"

	emitSnapshot   = "snapshot"
	emitChanges    = "changes"
	baselineEmit   = "emit"
	baselineSilent = "silent"

	// DefaultStateUpdate is the Bloblang equivalent of the built-in state
	// update: latestTime is the largest created_at, in epoch milliseconds.
	DefaultStateUpdate = `root = @state
root.latestTime = [@state.latestTime.or(0), this.created_at.ts_unix_milli()].max()`
	// DefaultStateMerge is the Bloblang equivalent of the built-in merge:
	// keep whichever side has the larger latestTime.
	DefaultStateMerge = `root = if this.prev.latestTime.or(0) > this.new.latestTime.or(0) { this.prev } else { this.new }`
)

func inputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Collects Anthropic's Compliance API with no gaps and no silent loss: the Activity Feed (`GET /v1/compliance/activities`), one message per activity, and the directory (organizations, users, roles, groups, settings) and projects, as snapshots or changes.").
		Description(`
Each scheduled job reads the window `+"`[scanned_to - overlap, now - settle)`"+` of `+"`created_at`"+` in slices, oldest slice
first, walking every slice with cursor pagination (`+"`after_id`"+`) until `+"`has_more`"+` is false. Activities already
delivered (the checkpoint's `+"`seen`"+` ids, or earlier in the same job) are dropped. The checkpoint moves only when a slice
has been walked to its end **and** every message of it was acknowledged by the outputs, strictly in slice order.

== Delivery guarantees

At least once. A crash or a hard stop re-delivers at most the open slices (`+"`max_open_slices × target_per_slice`"+`
activities). Activities indexed by the API later than `+"`settle + overlap`"+` (7 minutes by default) after they happened
are missed by the regular jobs; the input counts the late ones it still catches (metric
`+"`compliance_late_catch_seconds`"+`) so you can see how much of that margin is used. An endpoint's `+"`reconcile`"+` collects them
on a slower schedule (see that field). Latency is at least `+"`settle`"+` plus the schedule interval.

== Order

Slices run oldest first, but inside a slice activities arrive newest first (the API's order), so time runs backwards
within a slice and jumps at slice boundaries.

== Footprint

Every request adds a `+"`compliance_api_accessed`"+` activity to the feed this input reads; exclude it with
`+"`exclude_activity_types`"+` if unwanted. The API budget (600 requests a minute by default) is shared by every tool of the
organisation: a job costs about `+"`(1 + overlap / interval) × activities / page_size`"+` requests plus one per slice.

== Outputs

Outputs that batch by count must also flush on a timer (`+"`period`"+`), or the last slice of a job never commits. Route
messages that fail permanently to a dead-letter output (`+"`fallback`"+`), or with `+"`auto_replay_nacks: true`"+` a
poison message is replayed forever and the checkpoint stops moving.

== Metadata

Each message is the activity's raw JSON, unchanged, with this metadata:
`+"`activity_id`, `activity_type`, `activity_created_at`, `compliance_endpoint`, `compliance_job_id`, `compliance_slice_from`, `compliance_slice_to`, `compliance_page`, `compliance_request_id`"+`
and `+"`compliance_state`"+` (the saved user state as JSON).

== Directory snapshots and projects

The endpoints `+"`organizations`, `users`, `roles`, `groups`, `organization_settings` and `projects`"+` walk their whole
list on every run (page by page, children included: permissions, members, attachments, collaborators). Each record is
one message, its body the record as the API returned it, with metadata `+"`compliance_endpoint`, `compliance_job_id`, `compliance_record_type` (`user`, `member`, ...), `compliance_record_key` (`user:<org>/<user id>`, ...), `compliance_snapshot_id`"+`
and `+"`compliance_request_id`"+`.

With `+"`emit: snapshot`"+` (the default) a run emits every record, then, once the outputs acknowledged all of them, one
marker message (`+"`compliance_snapshot_complete: true`"+`); the checkpoint records the run when the marker is
acknowledged. A run that fails emits no marker: drop records whose snapshot id never completes. Delivery is at least
once; a restart emits a whole new snapshot.

With `+"`emit: changes`"+` a run walks the whole list first, then emits only the records `+"`added`, `changed` or `removed`"+`
since the last complete run (metadata `+"`compliance_change`"+`, body `+"`{change, key, current, previous}`"+`), compared by an
8-byte hash per record kept in the checkpoint. A run that fails while walking emits nothing, no `+"`removed`"+` above all.
The run is complete when every change was acknowledged; the changes of acknowledged batches of a run that did not
complete (a refused batch, a timeout, a stop) are recorded too, so the next run emits exactly the others: each change
is delivered exactly once across restarts, and at least once across a crash (what was delivered but not recorded is
emitted again). A walk is not an atomic read: a record that changes during it shows in the next run.`).
		Fields(
			service.NewStringField(fieldAPIKey).
				Description("Compliance Access Key (`sk-ant-api01-…`, scope `read:compliance_activities`) or Admin API key (`sk-ant-admin01-…`). Sent as `x-api-key`; never logged. Use an environment variable: `${ANTHROPIC_COMPLIANCE_API_KEY}`. Checked at start-up, not by `lint` (which CI runs with `--skip-env-var-check`, without secrets): empty is refused then.").
				Secret(),
			service.NewStringField(fieldBaseURL).
				Description("Base URL of the API. `http://` is refused unless the host is loopback or `allow_insecure_http` is set: the key would cross the network in clear text.").
				Default(defaultBaseURL).
				Advanced(),
			service.NewStringField(fieldAnthropicVersion).
				Description("Value of the `anthropic-version` header; empty to omit it.").
				Default(defaultVersion).
				Advanced(),
			service.NewObjectField(fieldState,
				service.NewStringField(fieldStateCache).
					Description("Name of a cache resource holding the checkpoint (e.g. `redis` for state shared by several instances). Empty: a crash-safe local directory, `path`. The cache must be durable and must not expire keys; `memory`, `lru`, `ttlru` and `noop` are refused unless `allow_volatile` is set, and the core `file` cache and caches with a default TTL are refused. This module's `redis` and `atomic_file` caches are written by compare-and-swap; other caches by a locked read-compare-write (see the README).").
					Default(""),
				service.NewStringField(fieldStatePath).
					Description("Directory of the embedded checkpoint store, used when `cache` is empty. Every write is atomic (temp file, fsync, rename, fsync of the directory).").
					Default(defaultStatePath),
				service.NewStringField(fieldStateKey).
					Description("Checkpoint key. Empty: derived from the input's label and the endpoint name (`anthropic_compliance/<label>/<endpoint>`, plus `/once/…` for `schedule: once`). The base URL and filters are recorded inside the checkpoint and checked on every job; the API key is never part of the key, so rotating the key keeps the checkpoint.").
					Default("").
					Advanced(),
				service.NewBoolField(fieldStateAllowVolatile).
					Description("Allow a cache that forgets (`memory`, `lru`, `ttlru`, `noop`). A forgotten checkpoint restarts collection from `earliest`: duplicates, or a gap if the checkpoint was older.").
					Default(false).
					Advanced(),
				service.NewIntField(fieldStateMaxSeen).
					Description("Most ids the checkpoint remembers in `seen` (the ids of the last `overlap`, about `overlap × activities per second`; each costs ~36 bytes of checkpoint and ~80 of memory). Above it the oldest seconds are dropped at each commit, with a warning and the metric `compliance_checkpoint_seen_dropped`: activities of those seconds that a later job re-reads are delivered again (duplicates, never a gap) instead of the commit failing. `compliance_checkpoint_seen_ids` shows the size. 0: no cap.").
					Default(defaultMaxSeenIDs).
					Advanced(),
				service.NewBoolField(fieldStateAdopt).
					Description("Adopt a checkpoint written for another base URL or filter set instead of refusing it. Resuming another filter set's position can skip or repeat data: set it only on purpose, for one run.").
					Default(false).
					Advanced(),
				service.NewObjectField(fieldStateLease,
					service.NewBoolField(fieldLeaseEnabled).
						Description("Hold a lease in `cache` so that, of several instances sharing the checkpoint, one collects and the others stand by; a standby takes over within `ttl` after the holder dies, and a commit from an instance that lost the lease is refused. Needs a shared cache with TTLs and atomic add (`redis`).").
						Default(false),
					service.NewDurationField(fieldLeaseTTL).
						Description("How long a lease lasts without renewal. A standby takes over at most `ttl + renew_interval` after the holder dies, at its next schedule tick.").
						Default("30s"),
					service.NewDurationField(fieldLeaseRenew).
						Description("How often the holder renews (and a standby tries to acquire) the lease; well below `ttl`.").
						Default("10s"),
				).Description("High availability: one active instance per endpoint.").Advanced(),
			).Description("Where the checkpoint lives."),
			service.NewDurationField(fieldSettle).
				Description("Never query activities newer than `now - settle`: the API indexes activities up to about a minute after they happen. At least 60s, whole seconds.").
				Default("2m"),
			service.NewDurationField(fieldOverlap).
				Description("Each job re-reads this much below the last scanned edge, deduplicating by id, to catch activities indexed late. Whole seconds; 0 disables the re-read (not recommended).").
				Default("5m"),
			service.NewDurationField(fieldMinSlice).
				Description("Shortest slice. Slice length adapts to density so that a slice holds about `target_per_slice` activities.").
				Default("1m").
				Advanced(),
			service.NewDurationField(fieldMaxSlice).
				Description("Longest slice, and the length of a job's first slice. Raise it (to days) for sparse history.").
				Default("1h").
				Advanced(),
			service.NewIntField(fieldTargetPerSlice).
				Description("Activities a slice should hold. Bounds what a crash can re-deliver.").
				Default(20000).
				Advanced(),
			service.NewIntField(fieldMaxOpenSlices).
				Description("Slices fetched but not yet committed at any time (bounded look-ahead).").
				Default(2).
				Advanced(),
			service.NewIntField(fieldBatchSize).
				Description("Activities per message batch handed to the pipeline (a batch never spans pages).").
				Default(500).
				Advanced(),
			service.NewDurationField(fieldDrainGrace).
				Description("How long a failed or timed-out job waits for messages already delivered to be acknowledged before it ends.").
				Default("30s").
				Advanced(),
			service.NewDurationField(fieldAckWarnAfter).
				Description("A job that has fetched its whole window but still waits for acknowledgements this long logs a warning with the outstanding count and the likely causes (an output batching by count with no `period`, or a poison message replayed forever), and repeats it every period.").
				Default("1m").
				Advanced(),
			service.NewStringField(fieldStaleAfter).
				Description("The input reports not ready (`/ready` answers 503 with the reason) when no job of an endpoint succeeded for this long. Empty: three schedule intervals. `0`: never.").
				Examples("", "30m", "0").
				Default(""),
			service.NewDurationField(fieldJobHistoryTTL).
				Description("How long job reports are kept for `GET /compliance/<label>/jobs` on the HTTP server (Cribl's time to live of job artifacts).").
				Default("4h").
				Advanced(),
			service.NewStringEnumField(fieldLogLevel, "", "TRACE", "DEBUG", "INFO", "WARN", "ERROR").
				Description("This input's own log level. Empty: `logger.level` applies. Messages below it are dropped; with `DEBUG` or `TRACE` this input's debug messages (request tracing with the key redacted, commits, retries) are written at INFO, so one input can be made verbose while `logger.level` stays INFO.").
				Default("").
				Advanced(),
			service.NewObjectListField(fieldEndpoints, endpointFields()...).
				Description("The Compliance API endpoints to collect, each on its own schedule with its own checkpoint (`anthropic_compliance/<label>/<name>`), job reports and metrics (label `endpoint`). Every endpoint of one input shares one API client: one rate budget, headroom and retry policy.").
				Default([]any{defaultEndpoint()}),
		).
		Field(adminField()).
		Fields(apiClientFields()...).
		Field(service.NewAutoRetryNacksToggleField()).
		LintRule(`root = this.`+lintMethod+`()`).
		Example("Collect into stdout", "Every five minutes, with the checkpoint in ./compliance-state.", `
input:
  label: compliance
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
output:
  stdout: {}
`).
		Example("Backfill a quarter once", "A batch job with its own checkpoint; the process exits non-zero if it fails.", `
input:
  label: backfill
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: once
        earliest: -1q@q
        latest: "@q"
        job_timeout: 0
`)
}

// defaultEndpoint is the endpoint collected when none is configured, with
// every field spelled out so that `create` shows them.
func defaultEndpoint() map[string]any {
	return map[string]any{
		fieldEPName: endpointActivities, fieldEPDescription: "", fieldEPEnabled: true,
		fieldEPSchedule: defaultSchedule, fieldEPRunOnStart: true,
		fieldEPEarliest: defaultEarliest, fieldEPLatest: defaultLatest, fieldEPTimezone: defaultTimezone,
		fieldEPJobTimeout: defaultJobTimeout, fieldEPPageSize: defaultPageSize, fieldEPOnlyIDsFile: "",
		fieldEPFilters: map[string]any{
			fieldFilterTypes: []any{}, fieldFilterExcludeType: []any{}, fieldFilterActorIDs: []any{}, fieldFilterOrgIDs: []any{},
		},
		fieldEPStateTracking: map[string]any{fieldSTEnabled: true, fieldSTUpdate: DefaultStateUpdate, fieldSTMerge: DefaultStateMerge},
	}
}

func endpointFields() []*service.ConfigField {
	feedOnly := "Only `activities`, `chats` and `files` (a directory or projects snapshot walks the whole list)."
	return append([]*service.ConfigField{
		service.NewStringEnumField(fieldEPName, endpointNames()...).
			Description("The endpoint. `activities`: the Activity Feed (`GET /v1/compliance/activities`, scope `read:compliance_activities`). " +
				"Directory snapshots, each run walking the whole list: `organizations`; `users` (each organization's members; scopes `read:compliance_user_data` and `read:compliance_org_data`); " +
				"`roles` (+ each role's permissions); `groups` (+ each group's members; `read:compliance_org_data` and `read:compliance_user_data`); `organization_settings` (one record per organization); " +
				"`projects` (+ each project's attachments and collaborators; `read:compliance_user_data`). Content, incrementally by `updated_at`: `chats` (and with `include_messages` their messages); `files`, the files their messages reference, as binary messages (both `read:compliance_user_data`). " +
				"Every endpoint of one input shares one API client: one rate budget, headroom and retry policy."),
		service.NewStringField(fieldEPDescription).
			Description("Free text for operators.").
			Default(""),
		service.NewBoolField(fieldEPEnabled).
			Description("Collect this endpoint.").
			Default(true),
		service.NewStringField(fieldEPSchedule).
			Description("When jobs start: a 5-field cron expression in `timezone`, `@every <duration>` (values under 30s spend the shared API budget fast), or `once` for one batch job under its own checkpoint key, after which the input ends (the process exits non-zero if the job failed): over exactly `[earliest, latest)` for `activities`, one walk for a snapshot endpoint. A tick that arrives while a job runs is skipped and logged. Default `*/5 * * * *`; `0 * * * *` (hourly) for the directory and projects snapshots.").
			Examples("*/5 * * * *", "@every 1m", "0 * * * *", "once").
			Optional(),
		service.NewBoolField(fieldEPRunOnStart).
			Description("Also run a job at start-up, not only on the schedule's ticks.").
			Default(true),
		service.NewStringField(fieldEPEarliest).
			Description("Start of collection, resolved **once** by the first job and saved in the checkpoint before any request; later jobs resume from the checkpoint. Syntax: `[+|-]<int><unit>[@<snap>]` with units `s m h d w mon q y` (long forms such as `min`, `hour`, `day`, `month`, `quarter`, `year` too) and snaps `@s @m @h @d @w @w0`…`@w6 @mon @q @y` (round down); `now`; a signed bare integer is seconds (`-1` = `-1s`); an RFC 3339 time or epoch seconds (9+ digits) is absolute. Default `"+defaultEarliest+"`. "+feedOnly).
			Examples("-7d@d", "-24h", "@d", "-1q@q", "2026-01-01T00:00:00Z").
			Optional(),
		service.NewStringField(fieldEPLatest).
			Description("End of collection, same syntax as `earliest`, resolved on every job (`now` follows the present). Collection never reads newer than `now - settle`. Default `"+defaultLatest+"`. "+feedOnly).
			Examples("now", "@d", "+128m@h").
			Optional(),
		service.NewStringField(fieldEPTimezone).
			Description("IANA time zone for snaps and cron (e.g. `Europe/Berlin`).").
			Default(defaultTimezone),
		service.NewStringField(fieldEPJobTimeout).
			Description("Longest a job may fetch: when it passes the job stops fetching, lets delivered messages drain for `drain_grace`, commits what completed and ends. `0` = unlimited; a bare number is seconds (`30`); durations such as `45s` or `15m`. A job that commits nothing halves the next slice so it fits next time. Default `"+defaultJobTimeout+"`; `"+defaultSnapshotJobTimeout+"` for the directory and projects snapshots, whose run is recorded only when its whole list was walked and acknowledged.").
			Examples("300s", "0", "30", "15m").
			Optional(),
		service.NewIntField(fieldEPPageSize).
			Description("Records per request. `activities`: 1 to 5000, default 5000; directory endpoints: 1 to 1000, default 1000; `projects`: 1 to 100, default 100; `chats`, `files`: 1 to 1000, default 1000. The largest pages spend the fewest requests of the shared budget.").
			Optional(),
		service.NewStringField(fieldEPOnlyIDsFile).
			Description("Restrict a `schedule: once` run to the activity ids listed in this file, one per line: the range is walked as usual, but only those activities are emitted (the others are counted as filtered in the job report). `compliance-connect audit --repair` uses it to re-send exactly the activities an audit found missing. The id set is part of the checkpoint key and identity, so such a run never shares or moves another checkpoint. Read at start-up, not by `lint`. Empty: no restriction. Only `activities`.").
			Optional().
			Advanced(),
		service.NewObjectField(fieldEPFilters,
			service.NewStringListField(fieldFilterTypes).Description("Keep only these activity types. Only `activities`.").Optional(),
			service.NewStringListField(fieldFilterExcludeType).Description("Drop these activity types (e.g. `compliance_api_accessed`, this input's own footprint). Not together with `activity_types`. Only `activities`.").Optional(),
			service.NewStringListField(fieldFilterActorIDs).Description("Keep only activities of these actors (`user_…` ids). Only `activities`.").Optional(),
			service.NewStringListField(fieldFilterOrgIDs).Description("Keep only these organisations. `activities`, `chats`, `files`, `projects`: `org_…` ids or organisation UUIDs, sent to the API. `users`, `roles`, `organization_settings`: organisation UUIDs, the organisations walked.").Optional(),
			service.NewStringListField(fieldFilterUserIDs).Description("Keep only chats created by these users (`user_…` ids), applied to the listing by the input (the API refuses `user_ids[]` with `order_by=updated_at`). Only `chats` and `files`.").Optional(),
			service.NewStringListField(fieldFilterProjectIDs).Description("Keep only chats of these projects (`claude_proj_…` ids), applied like `user_ids`. Only `chats` and `files`.").Optional(),
		).Description("Filters. They are part of the checkpoint's identity: changing them is refused unless `state.adopt` is set.").Optional(),
		service.NewObjectField(fieldEPStateTracking,
			service.NewBoolField(fieldSTEnabled).
				Description("Keep a checkpoint between jobs. Off: every job collects `[earliest - settle, latest - settle)` on its own and nothing is saved (shifting by `settle` makes tiling windows such as `-5m@m`..`@m` every 5 minutes leave no gap). For a snapshot endpoint off means no checkpoint at all (only with `emit: snapshot`).").
				Default(true),
			service.NewBloblangField(fieldSTUpdate).
				Description("State update mapping (Cribl's state update expression), run once per delivered activity. `this` is the activity; `@state` is the slice's state so far (each slice starts from `{}`). A result that is not an object leaves the state unchanged. The saved state never moves the collection window. Only `activities`.").
				Default(DefaultStateUpdate),
			service.NewBloblangField(fieldSTMerge).
				Description("State merge mapping, run when a slice that delivered activities commits, on `{\"prev\": <saved state>, \"new\": <slice state>}`; its result is saved. Only `activities`.").
				Default(DefaultStateMerge),
		).Description("User state folded over delivered activities, kept in the checkpoint and exposed as metadata `compliance_state`."),
		reconcileField(),

		// Directory snapshots and projects.
		service.NewStringEnumField(fieldEPEmit, emitSnapshot, emitChanges).
			Description("Directory and projects endpoints: what a run emits. `snapshot` (default): every record, each with metadata `compliance_snapshot_id`, then, once every record was acknowledged, one marker message (metadata `compliance_snapshot_complete: true`, body `{snapshot_id, endpoint, records, by_type, started_at, completed_at}`): swap a lookup table on the marker and drop records of snapshot ids that never complete. " +
				"`changes`: only what changed since the last complete run, one message per record with metadata `compliance_change` (`added`, `changed`, `removed`) and body `{change, key, current, previous}`, from a per-record hash kept in the checkpoint; nothing is emitted before the whole list was walked, so a run that fails midway emits no `removed`.").
			Optional(),
		service.NewBoolField(fieldEPIncludePrevious).
			Description("With `emit: changes`: put the previous version of each `changed` and `removed` record in `previous` (default true). The previous versions are kept in a second document next to the checkpoint (`<key>/records/a` or `/b`), as large as the records themselves.").
			Optional(),
		service.NewStringEnumField(fieldEPBaseline, baselineEmit, baselineSilent).
			Description("With `emit: changes`: what the first run (no checkpoint yet) does. `emit` (default): every record as `added`. `silent`: record the hashes and emit nothing.").
			Optional(),
		service.NewIntField(fieldEPMaxRecords).
			Description("Directory and projects endpoints: most records one run may walk (default 1,000,000); a run that walks more fails with an error naming it. With `emit: changes` the run holds every record in memory (and the previous versions with `include_previous`).").
			Optional(),
		service.NewBoolField(fieldEPIncludeDocuments).
			Description("Only `projects`: also collect the content of each project document (`project_doc` attachment), one request per document per run, as one record of type `document`, key `document:<project id>/<document id>`, body the document as the API returns it (`{id, content, created_at, filename, user}`). With `emit: changes` its hash covers the content, so an edited document is `changed` and a deleted one `removed`. A document that answers 404 between its project's listing and its fetch is skipped (job report count `documents_unavailable`, a warning naming it); with `emit: changes` it keeps its recorded hash until a run no longer lists it. Documents count toward `max_records`, and with `emit: changes` their content is held in memory for the run (and kept in the previous-versions document with `include_previous`). Turning it off forgets the documents' hashes without emitting them as `removed`. Default false.").
			Optional(),
	}, contentEndpointFields()...)
}

// lintMethod is a Bloblang method registered by this package: the input's
// one lint rule. It parses the config as start-up does (checkConfig in lint
// mode), so `lint` and start-up report the same problems in the same words.
const lintMethod = "anthropic_compliance_lint"

func registerLintMethod() error {
	spec := bloblang.NewPluginSpec().
		Description("Lints an anthropic_compliance input config; returns a list of error strings. Internal to compliance-connect.")
	return bloblang.RegisterMethodV2(lintMethod, spec, func(*bloblang.ParsedParams) (bloblang.Method, error) {
		return func(v any) (any, error) {
			out := []any{}
			for _, msg := range lintConfig(v, time.Now()) {
				out = append(out, msg)
			}
			return out, nil
		}, nil
	})
}

// lintConfig checks a config as written (the value lint rules see) with the
// parse start-up uses, in lint mode.
func lintConfig(v any, now time.Time) []string {
	text, err := json.Marshal(v)
	if err != nil {
		return []string{err.Error()}
	}
	conf, err := inputSpec().ParseYAML(string(text), nil)
	if err != nil {
		return []string{err.Error()}
	}
	_, problems := checkConfig(conf, now, forLint)
	return problems
}

// endpointRaw is an endpoint's settings as written, with defaults applied.
type endpointRaw struct {
	Name, Schedule, Earliest, Latest, Timezone, JobTimeout string
	PageSize                                               int
	Filters                                                collector.Filters
	OnlyIDsFile                                            string
	// UserIDs and ProjectIDs filter chats and files, applied by the input.
	UserIDs, ProjectIDs []string
}

// endpointSettings is an endpoint's settings, checked and parsed.
type endpointSettings struct {
	Schedule   schedule.Spec
	Earliest   timeexpr.Expr // zero for a snapshot endpoint
	Latest     timeexpr.Expr
	Location   *time.Location
	JobTimeout time.Duration
}

// parse checks every setting of an endpoint of kind k; each problem names
// its field path.
func (e endpointRaw) parse(k endpointKind, now time.Time, index int) (endpointSettings, []string) {
	var s endpointSettings
	var problems []string
	path := fmt.Sprintf("%s[%d].", fieldEndpoints, index)
	add := func(field string, err error) { problems = append(problems, path+field+": "+err.Error()) }

	loc, err := time.LoadLocation(e.Timezone)
	if err != nil {
		add(fieldEPTimezone, fmt.Errorf("unknown time zone %q", e.Timezone))
		loc = time.UTC
	}
	s.Location = loc
	scheduleOK := true
	if s.Schedule, err = schedule.Parse(e.Schedule, loc); err != nil {
		add(fieldEPSchedule, err)
		scheduleOK = false
	}
	if k.family != familySnapshot {
		earliestOK, latestOK := true, true
		if s.Earliest, err = timeexpr.Parse(e.Earliest); err != nil {
			add(fieldEPEarliest, err)
			earliestOK = false
		}
		if s.Latest, err = timeexpr.Parse(e.Latest); err != nil {
			add(fieldEPLatest, err)
			latestOK = false
		}
		if earliestOK && latestOK {
			if from, to := s.Earliest.Resolve(now, loc), s.Latest.Resolve(now, loc); from.After(to) {
				add(fieldEPEarliest, fmt.Errorf("%q (%s) is later than latest %q (%s)", e.Earliest, from.UTC().Format(time.RFC3339), e.Latest, to.UTC().Format(time.RFC3339)))
			}
		}
	}
	if s.JobTimeout, err = timeexpr.ParseDurationSeconds(e.JobTimeout); err != nil {
		add(fieldEPJobTimeout, err)
	}
	if e.PageSize < 1 || e.PageSize > k.maxPageSize {
		add(fieldEPPageSize, fmt.Errorf("must be between 1 and %d, got %d", k.maxPageSize, e.PageSize))
	}
	if err := e.Filters.Validate(); err != nil {
		add(fieldEPFilters, errors.New(strings.TrimPrefix(err.Error(), "filters: ")))
	}
	if e.OnlyIDsFile != "" && scheduleOK && !s.Schedule.Once() {
		add(fieldEPOnlyIDsFile, errors.New("only valid with schedule: once"))
	}
	return s, problems
}

// snapshotSettings are the settings of a directory or projects endpoint.
type snapshotSettings struct {
	Emit            string // emitSnapshot or emitChanges
	IncludePrevious bool
	Baseline        string // baselineEmit or baselineSilent
	MaxRecords      int
	// IncludeDocuments: projects also collect their documents' content.
	IncludeDocuments bool
}

// endpointConfig is one enabled endpoint, ready to build a runner.
type endpointConfig struct {
	Name        string
	Kind        endpointKind
	Description string
	RunOnStart  bool
	Settings    endpointSettings
	Raw         endpointRaw
	Tracking    bool
	Update      *bloblang.Executor // nil: the built-in default
	Merge       *bloblang.Executor
	Snapshot    snapshotSettings // directory and projects endpoints
	Content     *contentEndpoint // chats and files; nil for every other endpoint
	// OnlyIDs is the id set of only_ids_file, read at start-up (nil: no
	// restriction, or a lint parse).
	OnlyIDs   *collector.IDSet
	Reconcile *reconcileConfig // nil: no reconciliation (reconcile.go)
}

// inputConfig is the whole parsed spec.
type inputConfig struct {
	APIKey, BaseURL, AnthropicVersion string

	StateCache, StatePath, StateKey string
	AllowVolatile, Adopt            bool
	MaxSeenIDs                      int
	Admin                           adminConfig
	Lease                           bool
	LeaseTTL, LeaseRenew            time.Duration
	StaleAfter                      time.Duration // -1: three schedule intervals; 0: never
	JobHistoryTTL                   time.Duration
	LogLevel                        string

	Settle, Overlap time.Duration
	Slices          window.SliceConfig
	MaxOpenSlices   int
	BatchSize       int
	DrainGrace      time.Duration
	AckWarnAfter    time.Duration
	Endpoints       []endpointConfig
	API             apiClientConfig
	AutoReplayNacks bool
	warnings        []string
}

// parseMode says which checks a parse makes.
type parseMode int

const (
	// atStartup checks everything, including that secrets are set.
	atStartup parseMode = iota
	// forLint checks what the config text decides. `lint
	// --skip-env-var-check`, how CI lints configs without their secrets,
	// turns unset environment variables into empty strings: secrets are not
	// checked, and nothing is read from disk (TLS files).
	forLint
)

// msgEmptyAPIKey is the start-up error for an empty api_key.
const msgEmptyAPIKey = "must not be empty (set it from an environment variable, e.g. ${ANTHROPIC_COMPLIANCE_API_KEY})"

// parseConfig reads and checks every field for start-up. It starts nothing,
// so each validation error can be tested on its own.
func parseConfig(conf *service.ParsedConfig, now time.Time) (*inputConfig, error) {
	c, problems := checkConfig(conf, now, atStartup)
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// Rules of the duration fields with a range: each is written here once and
// judges lint and start-up alike.
var (
	positive    = durationRule{func(d time.Duration) bool { return d > 0 }, "must be positive"}
	settleRule  = durationRule{func(d time.Duration) bool { return d >= time.Minute && d%time.Second == 0 }, "must be whole seconds and at least 60s (the documented indexing lag)"}
	overlapRule = durationRule{func(d time.Duration) bool { return d >= 0 && d%time.Second == 0 }, "must be whole, non-negative seconds"}
	sliceRule   = durationRule{func(d time.Duration) bool { return d >= time.Second && d%time.Second == 0 }, "must be whole seconds and at least 1s"}
	anyDuration = durationRule{func(time.Duration) bool { return true }, ""}
)

// checkConfig reads every field and returns the config with every problem
// found, each naming its field path. A field is read in one place; adding
// one is a line here and its spec entry.
func checkConfig(conf *service.ParsedConfig, now time.Time, mode parseMode) (*inputConfig, []string) {
	c := &inputConfig{}
	var p problems
	r := fieldReader{conf: conf, p: &p}

	if mode == atStartup {
		// A secret: empty is refused at start-up only (see forLint).
		if key, ok := r.str(fieldAPIKey); ok {
			if strings.TrimSpace(key) == "" {
				r.add(fieldAPIKey, msgEmptyAPIKey)
			} else {
				r.check(api.CheckAPIKey(key), fieldAPIKey)
			}
			c.APIKey = key
		}
	}
	c.BaseURL, _ = r.str(fieldBaseURL)
	c.AnthropicVersion, _ = r.str(fieldAnthropicVersion)

	st := r.at(fieldState)
	c.StateCache, _ = st.str(fieldStateCache)
	c.StatePath, _ = st.str(fieldStatePath)
	c.StateKey, _ = st.str(fieldStateKey)
	c.AllowVolatile = st.boolean(fieldStateAllowVolatile)
	c.Adopt = st.boolean(fieldStateAdopt)
	if c.MaxSeenIDs = st.integer(fieldStateMaxSeen); c.MaxSeenIDs < 0 {
		st.add(fieldStateMaxSeen, "must be 0 (no cap) or more, got %d", c.MaxSeenIDs)
	}
	admin, err := parseAdminConfig(conf)
	r.check(err, fieldAdmin)
	c.Admin = admin
	if c.StateCache == "" && strings.TrimSpace(c.StatePath) == "" {
		st.add(fieldStatePath, "must not be empty when state.cache is not set")
	}
	lease := st.at(fieldStateLease)
	c.Lease = lease.boolean(fieldLeaseEnabled)
	c.LeaseTTL = lease.duration(anyDuration, fieldLeaseTTL)
	c.LeaseRenew = lease.duration(anyDuration, fieldLeaseRenew)
	if c.Lease {
		if c.StateCache == "" {
			st.add(fieldStateLease, "needs state.cache, a cache shared by the instances with TTLs and atomic add (redis)")
		} else if c.LeaseTTL < time.Second || c.LeaseRenew <= 0 || c.LeaseRenew*2 > c.LeaseTTL {
			st.add(fieldStateLease, "ttl must be at least 1s and renew_interval at most half of it, got ttl %v and renew_interval %v", c.LeaseTTL, c.LeaseRenew)
		}
	}

	c.StaleAfter = -1
	if stale, ok := r.str(fieldStaleAfter); ok && strings.TrimSpace(stale) != "" {
		d, err := timeexpr.ParseDurationSeconds(stale)
		r.check(err, fieldStaleAfter)
		c.StaleAfter = d
	}
	c.JobHistoryTTL = r.duration(anyDuration, fieldJobHistoryTTL)
	c.LogLevel, _ = r.str(fieldLogLevel)

	c.Settle = r.duration(settleRule, fieldSettle)
	c.Overlap = r.duration(overlapRule, fieldOverlap)
	c.Slices.MinSlice = r.duration(sliceRule, fieldMinSlice)
	c.Slices.MaxSlice = r.duration(sliceRule, fieldMaxSlice)
	if c.Slices.MaxSlice < c.Slices.MinSlice {
		r.add(fieldMaxSlice, "must be at least min_slice (%v), got %v", c.Slices.MinSlice, c.Slices.MaxSlice)
	}
	c.DrainGrace = r.duration(positive, fieldDrainGrace)
	c.AckWarnAfter = r.duration(positive, fieldAckWarnAfter)
	c.Slices.Target = r.atLeastOne(fieldTargetPerSlice)
	c.MaxOpenSlices = r.atLeastOne(fieldMaxOpenSlices)
	c.BatchSize = r.atLeastOne(fieldBatchSize)
	if c.Overlap == 0 {
		c.warnings = append(c.warnings, "overlap is 0: activities indexed after their window was scanned will be missed")
	}

	if eps, err := conf.FieldObjectList(fieldEndpoints); err != nil {
		r.check(err, fieldEndpoints)
	} else {
		seen := map[string]bool{}
		enabled := 0
		for i, ep := range eps {
			e, on := parseEndpoint(r.item(fieldEndpoints, i, ep), now, i, mode)
			if on {
				enabled++
			}
			if e == nil {
				continue
			}
			if seen[e.Name] {
				p.add(fmt.Sprintf("%s[%d].%s", fieldEndpoints, i, fieldEPName), "endpoint %q is listed twice", e.Name)
				continue
			}
			seen[e.Name] = true
			c.Endpoints = append(c.Endpoints, *e)
		}
		if enabled == 0 {
			r.add(fieldEndpoints, "no endpoint is enabled")
		}
	}

	c.API = parseAPIClientConfig(r, mode)
	r.check(api.CheckBaseURL(c.BaseURL, c.API.AllowInsecureHTTP), fieldBaseURL)
	c.AutoReplayNacks = r.boolean(service.AutoRetryNacksToggleFieldName)
	return c, p
}

// parseEndpoint reads one endpoint; it returns nil for a disabled endpoint
// or one with problems, which it records in r.
func parseEndpoint(r fieldReader, now time.Time, i int, mode parseMode) (_ *endpointConfig, enabled bool) {
	if !r.boolean(fieldEPEnabled) {
		return nil, false
	}
	before := len(*r.p)
	var e endpointConfig
	var raw endpointRaw
	raw.Name, _ = r.str(fieldEPName)
	k, known := kindOf(raw.Name)
	switch {
	case !known:
		r.add(fieldEPName, "unknown endpoint %q (supported: %s)", raw.Name, strings.Join(endpointNames(), ", "))
		return nil, true
	case k.build == nil:
		r.add(fieldEPName, "endpoint %q is not built yet in this version; remove it or disable it", raw.Name)
		return nil, true
	}
	r.refuseFieldsOf(k)
	e.Kind = k
	e.Description, _ = r.str(fieldEPDescription)
	raw.Schedule = r.optStr(k.schedule, fieldEPSchedule)
	raw.Earliest = r.optStr(defaultEarliest, fieldEPEarliest)
	raw.Latest = r.optStr(defaultLatest, fieldEPLatest)
	if k.family == familySnapshot {
		raw.Earliest, raw.Latest = "", ""
	}
	raw.Timezone, _ = r.str(fieldEPTimezone)
	raw.JobTimeout = r.optStr(k.jobTimeout, fieldEPJobTimeout)
	raw.PageSize = r.optInt(k.pageSize, fieldEPPageSize)
	raw.OnlyIDsFile = r.optStr("", fieldEPOnlyIDsFile)
	raw.Filters.ActivityTypes = r.optStrList(fieldEPFilters, fieldFilterTypes)
	raw.Filters.ExcludeActivityTypes = r.optStrList(fieldEPFilters, fieldFilterExcludeType)
	raw.Filters.ActorIDs = r.optStrList(fieldEPFilters, fieldFilterActorIDs)
	raw.Filters.OrganizationIDs = r.optStrList(fieldEPFilters, fieldFilterOrgIDs)
	raw.UserIDs = r.optStrList(fieldEPFilters, fieldFilterUserIDs)
	raw.ProjectIDs = r.optStrList(fieldEPFilters, fieldFilterProjectIDs)
	e.RunOnStart = r.boolean(fieldEPRunOnStart)
	e.Tracking = r.boolean(fieldEPStateTracking, fieldSTEnabled)
	switch k.family {
	case familySnapshot:
		e.Snapshot = r.snapshotSettings(k, e.Tracking, raw.Filters.OrganizationIDs)
	case familyIncremental:
		e.Content = r.contentEndpoint(k, &raw)
	}
	if len(*r.p) > before {
		return nil, true
	}
	settings, problems := raw.parse(k, now, i)
	*r.p = append(*r.p, problems...)
	e.Name, e.Raw, e.Settings = raw.Name, raw, settings

	mapping := func(field, def string) *bloblang.Executor {
		text, _ := r.str(fieldEPStateTracking, field)
		if strings.TrimSpace(text) == strings.TrimSpace(def) {
			return nil // the built-in, native equivalent
		}
		if k.family != familyFeed {
			r.add(fieldEPStateTracking+"."+field, "applies only to %s, not to %s", endpointActivities, k.name)
			return nil
		}
		exe, err := r.conf.FieldBloblang(fieldEPStateTracking, field)
		r.check(err, fieldEPStateTracking, field)
		return exe
	}
	e.Update = mapping(fieldSTUpdate, DefaultStateUpdate)
	e.Merge = mapping(fieldSTMerge, DefaultStateMerge)
	if raw.OnlyIDsFile != "" && mode == atStartup && len(*r.p) == before {
		set, err := readIDsFile(raw.OnlyIDsFile)
		r.check(err, fieldEPOnlyIDsFile)
		e.OnlyIDs = set
	}
	if slices.Contains(k.fields, fieldEPReconcile) {
		e.Reconcile = parseReconcile(r, &e, now) // elsewhere refused by refuseFieldsOf
	}
	if len(*r.p) > before {
		return nil, true
	}
	return &e, true
}

// readIDsFile reads an only_ids_file: one activity id per line, blank lines
// ignored.
func readIDsFile(path string) (*collector.IDSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		id := strings.TrimSpace(sc.Text())
		if strings.ContainsAny(id, " \t,;\"'{}[]") {
			return nil, fmt.Errorf("%s line %d: %q is not an activity id (the file holds one id per line)", path, n, truncate(id, 80))
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	set := collector.NewIDSet(ids)
	if set.Len() == 0 {
		return nil, fmt.Errorf("%s holds no activity ids", path)
	}
	return set, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// kindFields are the endpoint fields that only some kinds accept.
var kindFields = slices.Concat(feedWindowFields, snapshotFields, []string{fieldEPIncludeDocuments}, feedOnlyFields,
	[]string{fieldEPFilters + "." + fieldFilterTypes, fieldEPFilters + "." + fieldFilterExcludeType, fieldEPFilters + "." + fieldFilterActorIDs},
	contentFilters,
	[]string{fieldEPIncludeMessages, fieldEPMessageMode, fieldEPMessagesSince, fieldEPMaxFileSize, fieldEPFileWorkers,
		fieldEPFileRetries, fieldEPIncludeGenerated, fieldEPEmitSkipped, fieldEPMarksHorizon})

// refuseFieldsOf records a problem for each field written on this endpoint
// that its kind does not take, naming the endpoints that do.
func (r fieldReader) refuseFieldsOf(k endpointKind) {
	for _, f := range kindFields {
		if r.written(strings.Split(f, ".")...) && !slices.Contains(k.fields, f) {
			r.p.add(r.name(f), "applies only to %s, not to %s", kindsTaking(f), k.name)
		}
	}
}

// snapshotSettings reads the fields of a directory or projects endpoint.
func (r fieldReader) snapshotSettings(k endpointKind, tracking bool, orgIDs []string) snapshotSettings {
	s := snapshotSettings{
		Emit:            r.optStr(emitSnapshot, fieldEPEmit),
		IncludePrevious: r.optBool(true, fieldEPIncludePrevious),
		Baseline:        r.optStr(baselineEmit, fieldEPBaseline),
		MaxRecords:      r.optInt(defaultMaxRecords, fieldEPMaxRecords),
	}
	if slices.Contains(k.fields, fieldEPIncludeDocuments) {
		s.IncludeDocuments = r.optBool(false, fieldEPIncludeDocuments) // elsewhere refused by refuseFieldsOf
	}
	if s.MaxRecords < 1 {
		r.add(fieldEPMaxRecords, "must be at least 1, got %d", s.MaxRecords)
	}
	if s.Emit != emitChanges {
		for _, f := range []string{fieldEPIncludePrevious, fieldEPBaseline} {
			if r.conf.Contains(f) {
				r.add(f, "applies only with %s: %s", fieldEPEmit, emitChanges)
			}
		}
	} else if !tracking {
		r.add(fieldEPEmit, "%s needs %s.%s (the per-record hashes live in the checkpoint)", emitChanges, fieldEPStateTracking, fieldSTEnabled)
	}
	if k.name != endpointProjects {
		for _, id := range orgIDs {
			if strings.HasPrefix(id, "org_") {
				r.add(fieldEPFilters+"."+fieldFilterOrgIDs, "%q: %s filters the organisations it walks by their UUID (organization records carry no org_ id); use the UUID", id, k.name)
			}
		}
	}
	return s
}

// problems collects what is wrong with a config, each entry naming its
// field path, so that lint lists every one and start-up reports them all.
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// durationRule is the range of a duration field.
type durationRule struct {
	ok  func(time.Duration) bool
	msg string
}

// fieldReader reads the fields of one object of a config, recording a problem
// for each value that does not read or is out of range, named by the field's
// path from the input's root.
type fieldReader struct {
	conf *service.ParsedConfig
	path string // path of conf from the root, with a trailing dot; "" at the root
	p    *problems
}

// name is the path of a field below r, for messages.
func (r fieldReader) name(field ...string) string { return r.path + strings.Join(field, ".") }

func (r fieldReader) add(field, format string, args ...any) { r.p.add(r.name(field), format, args...) }

// check records err, if any, against field.
func (r fieldReader) check(err error, field ...string) {
	if err != nil {
		r.p.add(r.name(field...), "%s", strings.TrimPrefix(err.Error(), r.name(field...)+": "))
	}
}

// at is the reader of the object at field.
func (r fieldReader) at(field string) fieldReader {
	return fieldReader{conf: r.conf.Namespace(field), path: r.name(field) + ".", p: r.p}
}

// item is the reader of element i of the object list at field.
func (r fieldReader) item(field string, i int, conf *service.ParsedConfig) fieldReader {
	return fieldReader{conf: conf, path: fmt.Sprintf("%s[%d].", r.name(field), i), p: r.p}
}

func (r fieldReader) str(field ...string) (string, bool) {
	v, err := r.conf.FieldString(field...)
	r.check(err, field...)
	return v, err == nil
}

func (r fieldReader) strList(field ...string) []string {
	v, err := r.conf.FieldStringList(field...)
	r.check(err, field...)
	return v
}

// written reports whether an optional field is written in the config. An
// empty list counts as not written: Benthos fills optional list fields with
// [].
func (r fieldReader) written(field ...string) bool {
	if !r.conf.Contains(field...) {
		return false
	}
	if v, err := r.conf.FieldAny(field...); err == nil {
		if list, ok := v.([]any); ok {
			return len(list) > 0
		}
	}
	return true
}

// optStr reads an optional string field, def when it is not written.
func (r fieldReader) optStr(def string, field ...string) string {
	if !r.conf.Contains(field...) {
		return def
	}
	v, _ := r.str(field...)
	return v
}

// optInt reads an optional int field, def when it is not written.
func (r fieldReader) optInt(def int, field ...string) int {
	if !r.conf.Contains(field...) {
		return def
	}
	return r.integer(field...)
}

// optBool reads an optional bool field, def when it is not written.
func (r fieldReader) optBool(def bool, field ...string) bool {
	if !r.conf.Contains(field...) {
		return def
	}
	return r.boolean(field...)
}

// optStrList reads an optional string list field, empty when it is not
// written.
func (r fieldReader) optStrList(field ...string) []string {
	if !r.conf.Contains(field...) {
		return []string{}
	}
	return r.strList(field...)
}

func (r fieldReader) boolean(field ...string) bool {
	v, err := r.conf.FieldBool(field...)
	r.check(err, field...)
	return v
}

func (r fieldReader) integer(field ...string) int {
	v, err := r.conf.FieldInt(field...)
	r.check(err, field...)
	return v
}

func (r fieldReader) intList(field ...string) []int {
	v, err := r.conf.FieldIntList(field...)
	r.check(err, field...)
	return v
}

func (r fieldReader) float(field ...string) float64 {
	v, err := r.conf.FieldFloat(field...)
	r.check(err, field...)
	return v
}

// atLeastOne reads an int field that must be at least 1.
func (r fieldReader) atLeastOne(field string) int {
	n := r.integer(field)
	if n < 1 {
		r.add(field, "must be at least 1, got %d", n)
	}
	return n
}

// duration reads a duration field (Go syntax such as 90s or 1m30s) and checks
// it against rule; a problem quotes the value as written.
func (r fieldReader) duration(rule durationRule, field string) time.Duration {
	raw, ok := r.str(field)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		r.add(field, "must be a duration such as 90s or 1m30s, got %q", raw)
		return 0
	}
	if !rule.ok(d) {
		r.add(field, "%s, got %s", rule.msg, raw)
	}
	return d
}
