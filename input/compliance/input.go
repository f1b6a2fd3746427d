package compliance

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

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

	fieldEPFilters         = "filters"
	fieldFilterTypes       = "activity_types"
	fieldFilterExcludeType = "exclude_activity_types"
	fieldFilterActorIDs    = "actor_ids"
	fieldFilterOrgIDs      = "organization_ids"

	fieldEPStateTracking = "state_tracking"
	fieldSTEnabled       = "enabled"
	fieldSTUpdate        = "update"
	fieldSTMerge         = "merge"
)

// Defaults shared by the spec, the lint method and parseConfig.
const (
	defaultBaseURL     = "https://api.anthropic.com"
	defaultVersion     = "2023-06-01"
	defaultStatePath   = "./compliance-state"
	defaultSchedule    = "*/5 * * * *"
	defaultEarliest    = "-7d@d"
	defaultLatest      = "now"
	defaultTimezone    = "UTC"
	defaultJobTimeout  = "300s"
	defaultPageSize    = 5000
	endpointActivities = "activities"

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
		Summary("Collects the Activity Feed of Anthropic's Compliance API (`GET /v1/compliance/activities`) with no gaps and no silent loss, one message per activity.").
		Description(`
Each scheduled job reads the window `+"`[scanned_to - overlap, now - settle)`"+` of `+"`created_at`"+` in slices, oldest slice
first, walking every slice with cursor pagination (`+"`after_id`"+`) until `+"`has_more`"+` is false. Activities already
delivered (the checkpoint's `+"`seen`"+` ids, or earlier in the same job) are dropped. The checkpoint moves only when a slice
has been walked to its end **and** every message of it was acknowledged by the outputs, strictly in slice order.

== Delivery guarantees

At least once. A crash or a hard stop re-delivers at most the open slices (`+"`max_open_slices × target_per_slice`"+`
activities). Activities indexed by the API later than `+"`settle + overlap`"+` (7 minutes by default) after they happened
cannot be collected by this model; the input counts the late ones it still catches (metric
`+"`compliance_late_catch_seconds`"+`) so you can see how much of that margin is used. Latency is at least `+"`settle`"+`
plus the schedule interval.

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
and `+"`compliance_state`"+` (the saved user state as JSON).`).
		Fields(
			service.NewStringField(fieldAPIKey).
				Description("Compliance Access Key (`sk-ant-api01-…`, scope `read:compliance_activities`) or Admin API key (`sk-ant-admin01-…`). Sent as `x-api-key`; never logged. Use an environment variable: `${ANTHROPIC_COMPLIANCE_API_KEY}`.").
				Secret(),
			service.NewStringField(fieldBaseURL).
				Description("Base URL of the API.").
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
					Advanced().
					LintRule(`root = if this.type() == "number" && this < 0 { ["max_seen_ids: must be 0 (no cap) or more, got " + this.string()] }`),
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
				Default("2m").
				LintRule(apiLintDuration(`$d < 60000000000 || $d % 1000000000 != 0`, "settle: must be whole seconds and at least 60s (the documented indexing lag), got ")),
			service.NewDurationField(fieldOverlap).
				Description("Each job re-reads this much below the last scanned edge, deduplicating by id, to catch activities indexed late. Whole seconds; 0 disables the re-read (not recommended).").
				Default("5m").
				LintRule(apiLintDuration(`$d < 0 || $d % 1000000000 != 0`, "overlap: must be whole, non-negative seconds, got ")),
			service.NewDurationField(fieldMinSlice).
				Description("Shortest slice. Slice length adapts to density so that a slice holds about `target_per_slice` activities.").
				Default("1m").
				Advanced().
				LintRule(apiLintDuration(`$d < 1000000000 || $d % 1000000000 != 0`, "min_slice: must be whole seconds and at least 1s, got ")),
			service.NewDurationField(fieldMaxSlice).
				Description("Longest slice, and the length of a job's first slice. Raise it (to days) for sparse history.").
				Default("1h").
				Advanced().
				LintRule(apiLintDuration(`$d < 1000000000 || $d % 1000000000 != 0`, "max_slice: must be whole seconds and at least 1s, got ")),
			service.NewIntField(fieldTargetPerSlice).
				Description("Activities a slice should hold. Bounds what a crash can re-deliver.").
				Default(20000).
				Advanced().
				LintRule(`root = if this.type() == "number" && this < 1 { ["target_per_slice: must be at least 1, got " + this.string()] }`),
			service.NewIntField(fieldMaxOpenSlices).
				Description("Slices fetched but not yet committed at any time (bounded look-ahead).").
				Default(2).
				Advanced().
				LintRule(`root = if this.type() == "number" && this < 1 { ["max_open_slices: must be at least 1, got " + this.string()] }`),
			service.NewIntField(fieldBatchSize).
				Description("Activities per message batch handed to the pipeline (a batch never spans pages).").
				Default(500).
				Advanced().
				LintRule(`root = if this.type() == "number" && this < 1 { ["batch_size: must be at least 1, got " + this.string()] }`),
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
				Description("The Compliance API endpoints to collect, each on its own schedule with its own checkpoint. Only `activities` exists for now.").
				Default([]any{defaultEndpoint()}).
				LintRule(`root = if this.type() == "array" { this.`+lintMethod+`() }`),
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
		fieldEPJobTimeout: defaultJobTimeout, fieldEPPageSize: defaultPageSize,
		fieldEPFilters: map[string]any{
			fieldFilterTypes: []any{}, fieldFilterExcludeType: []any{}, fieldFilterActorIDs: []any{}, fieldFilterOrgIDs: []any{},
		},
		fieldEPStateTracking: map[string]any{fieldSTEnabled: true, fieldSTUpdate: DefaultStateUpdate, fieldSTMerge: DefaultStateMerge},
	}
}

func endpointFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringEnumField(fieldEPName, endpointActivities).
			Description("The endpoint: `activities` is Compliance Activities (`GET /v1/compliance/activities`)."),
		service.NewStringField(fieldEPDescription).
			Description("Free text for operators.").
			Default(""),
		service.NewBoolField(fieldEPEnabled).
			Description("Collect this endpoint.").
			Default(true),
		service.NewStringField(fieldEPSchedule).
			Description("When jobs start: a 5-field cron expression in `timezone`, `@every <duration>` (values under 30s spend the shared API budget fast), or `once` for one batch job over exactly `[earliest, latest)` under its own checkpoint key, after which the input ends (the process exits non-zero if the job failed). A tick that arrives while a job runs is skipped and logged.").
			Examples("*/5 * * * *", "@every 1m", "0 * * * *", "once").
			Default(defaultSchedule),
		service.NewBoolField(fieldEPRunOnStart).
			Description("Also run a job at start-up, not only on the schedule's ticks.").
			Default(true),
		service.NewStringField(fieldEPEarliest).
			Description("Start of collection, resolved **once** by the first job and saved in the checkpoint before any request; later jobs resume from the checkpoint. Syntax: `[+|-]<int><unit>[@<snap>]` with units `s m h d w mon q y` (long forms such as `min`, `hour`, `day`, `month`, `quarter`, `year` too) and snaps `@s @m @h @d @w @w0`…`@w6 @mon @q @y` (round down); `now`; a signed bare integer is seconds (`-1` = `-1s`); an RFC 3339 time or epoch seconds (9+ digits) is absolute.").
			Examples("-7d@d", "-24h", "@d", "-1q@q", "2026-01-01T00:00:00Z").
			Default(defaultEarliest),
		service.NewStringField(fieldEPLatest).
			Description("End of collection, same syntax as `earliest`, resolved on every job (`now` follows the present). Collection never reads newer than `now - settle`.").
			Examples("now", "@d", "+128m@h").
			Default(defaultLatest),
		service.NewStringField(fieldEPTimezone).
			Description("IANA time zone for snaps and cron (e.g. `Europe/Berlin`).").
			Default(defaultTimezone),
		service.NewStringField(fieldEPJobTimeout).
			Description("Longest a job may fetch: when it passes the job stops fetching, lets delivered messages drain for `drain_grace`, commits what completed and ends. `0` = unlimited; a bare number is seconds (`30`); durations such as `45s` or `15m`. A job that commits nothing halves the next slice so it fits next time.").
			Examples("300s", "0", "30", "15m").
			Default(defaultJobTimeout),
		service.NewIntField(fieldEPPageSize).
			Description("Activities per request, 1 to 5000. The largest pages spend the fewest requests of the shared budget.").
			Default(defaultPageSize),
		service.NewObjectField(fieldEPFilters,
			service.NewStringListField(fieldFilterTypes).Description("Keep only these activity types.").Default([]any{}),
			service.NewStringListField(fieldFilterExcludeType).Description("Drop these activity types (e.g. `compliance_api_accessed`, this input's own footprint). Not together with `activity_types`.").Default([]any{}),
			service.NewStringListField(fieldFilterActorIDs).Description("Keep only activities of these actors (`user_…` ids).").Default([]any{}),
			service.NewStringListField(fieldFilterOrgIDs).Description("Keep only activities of these organisations (`org_…` ids or organisation UUIDs).").Default([]any{}),
		).Description("Filters sent with every request. They are part of the checkpoint's identity: changing them is refused unless `state.adopt` is set."),
		service.NewObjectField(fieldEPStateTracking,
			service.NewBoolField(fieldSTEnabled).
				Description("Keep a checkpoint between jobs. Off: every job collects `[earliest - settle, latest - settle)` on its own and nothing is saved (shifting by `settle` makes tiling windows such as `-5m@m`..`@m` every 5 minutes leave no gap).").
				Default(true),
			service.NewBloblangField(fieldSTUpdate).
				Description("State update mapping (Cribl's state update expression), run once per delivered activity. `this` is the activity; `@state` is the slice's state so far (each slice starts from `{}`). A result that is not an object leaves the state unchanged. The saved state never moves the collection window.").
				Default(DefaultStateUpdate),
			service.NewBloblangField(fieldSTMerge).
				Description("State merge mapping, run when a slice that delivered activities commits, on `{\"prev\": <saved state>, \"new\": <slice state>}`; its result is saved.").
				Default(DefaultStateMerge),
		).Description("User state folded over delivered activities, kept in the checkpoint and exposed as metadata `compliance_state`."),
	}
}

// lintMethod is a Bloblang method registered by this package so that `lint`
// reports the checks that Bloblang cannot express or that span fields (bad
// cron, bad time expression, earliest later than latest, page_size out of
// range, both type filters, duplicate endpoints, min_slice above max_slice,
// lease without a cache, ...) with the same wording as start-up.
const lintMethod = "anthropic_compliance_lint"

func registerLintMethod() error {
	spec := bloblang.NewPluginSpec().
		Description("Lints an anthropic_compliance input config; returns a list of error strings. Internal to compliance-connect.")
	return bloblang.RegisterMethodV2(lintMethod, spec, func(*bloblang.ParsedParams) (bloblang.Method, error) {
		return func(v any) (any, error) {
			conf, _ := v.(map[string]any)
			out := []any{}
			for _, msg := range lintConfig(conf, time.Now()) {
				out = append(out, msg)
			}
			return out, nil
		}, nil
	})
}

// lintConfig checks a config as written (defaults applied where a field is
// absent). parseConfig performs the same checks at start-up.
func lintConfig(conf map[string]any, now time.Time) []string {
	var problems []string
	str := func(m map[string]any, key, def string) string {
		if s, ok := m[key].(string); ok {
			return s
		}
		return def
	}
	dur := func(key, def string) (time.Duration, bool) {
		d, err := time.ParseDuration(str(conf, key, def))
		return d, err == nil
	}
	if k, ok := conf[fieldAPIKey].(string); ok && strings.TrimSpace(k) == "" {
		problems = append(problems, "api_key: must not be empty (set it from an environment variable, e.g. ${ANTHROPIC_COMPLIANCE_API_KEY})")
	}
	state, _ := conf[fieldState].(map[string]any)
	cache := str(state, fieldStateCache, "")
	if cache == "" && strings.TrimSpace(str(state, fieldStatePath, defaultStatePath)) == "" {
		problems = append(problems, "state.path: must not be empty when state.cache is not set")
	}
	if lease, _ := state[fieldStateLease].(map[string]any); lease != nil {
		if on, _ := lease[fieldLeaseEnabled].(bool); on && cache == "" {
			problems = append(problems, "state.lease: needs state.cache, a cache shared by the instances with TTLs and atomic add (redis)")
		}
	}
	if minS, ok := dur(fieldMinSlice, "1m"); ok {
		if maxS, ok := dur(fieldMaxSlice, "1h"); ok && maxS < minS {
			problems = append(problems, fmt.Sprintf("max_slice: must be at least min_slice (%v), got %v", minS, maxS))
		}
	}
	if d, ok := dur(fieldDrainGrace, "30s"); ok && d <= 0 {
		problems = append(problems, fmt.Sprintf("drain_grace: must be positive, got %v", d))
	}
	if d, ok := dur(fieldAckWarnAfter, "1m"); ok && d <= 0 {
		problems = append(problems, fmt.Sprintf("ack_warn_after: must be positive, got %v", d))
	}
	if st := strings.TrimSpace(str(conf, fieldStaleAfter, "")); st != "" {
		if _, err := timeexpr.ParseDurationSeconds(st); err != nil {
			problems = append(problems, "stale_after: "+err.Error())
		}
	}
	eps, present := conf[fieldEndpoints].([]any)
	if !present {
		return problems
	}
	names := map[string]bool{}
	enabled := 0
	for i, item := range eps {
		raw, _ := item.(map[string]any)
		if on, ok := raw[fieldEPEnabled].(bool); ok && !on {
			continue
		}
		enabled++
		e := endpointFromRaw(raw)
		problems = append(problems, e.problems(now, i)...)
		if names[e.Name] {
			problems = append(problems, fmt.Sprintf("%s[%d].name: endpoint %q is listed twice", fieldEndpoints, i, e.Name))
		}
		names[e.Name] = true
	}
	if enabled == 0 {
		problems = append(problems, "endpoints: no endpoint is enabled")
	}
	return problems
}

// endpointRaw is an endpoint's settings as written, with defaults applied.
type endpointRaw struct {
	Name, Schedule, Earliest, Latest, Timezone, JobTimeout string
	PageSize                                               int
	Filters                                                collector.Filters
}

func endpointFromRaw(m map[string]any) endpointRaw {
	str := func(key, def string) string {
		if s, ok := m[key].(string); ok {
			return s
		}
		return def
	}
	list := func(obj map[string]any, key string) []string {
		var out []string
		items, _ := obj[key].([]any)
		for _, it := range items {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	e := endpointRaw{
		Name: str(fieldEPName, ""), Schedule: str(fieldEPSchedule, defaultSchedule),
		Earliest: str(fieldEPEarliest, defaultEarliest), Latest: str(fieldEPLatest, defaultLatest),
		Timezone: str(fieldEPTimezone, defaultTimezone), JobTimeout: str(fieldEPJobTimeout, defaultJobTimeout),
		PageSize: defaultPageSize,
	}
	switch n := m[fieldEPPageSize].(type) {
	case int:
		e.PageSize = n
	case int64:
		e.PageSize = int(n)
	case float64:
		e.PageSize = int(n)
	}
	if f, ok := m[fieldEPFilters].(map[string]any); ok {
		e.Filters = collector.Filters{
			ActivityTypes: list(f, fieldFilterTypes), ExcludeActivityTypes: list(f, fieldFilterExcludeType),
			ActorIDs: list(f, fieldFilterActorIDs), OrganizationIDs: list(f, fieldFilterOrgIDs),
		}
	}
	return e
}

// endpointSettings is an endpoint's settings, checked and parsed.
type endpointSettings struct {
	Schedule   schedule.Spec
	Earliest   timeexpr.Expr
	Latest     timeexpr.Expr
	Location   *time.Location
	JobTimeout time.Duration
}

// parse checks every setting; each problem names its field path.
func (e endpointRaw) parse(now time.Time, index int) (endpointSettings, []string) {
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
	if s.Schedule, err = schedule.Parse(e.Schedule, loc); err != nil {
		add(fieldEPSchedule, err)
	}
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
	if s.JobTimeout, err = timeexpr.ParseDurationSeconds(e.JobTimeout); err != nil {
		add(fieldEPJobTimeout, err)
	}
	if e.PageSize < 1 || e.PageSize > 5000 {
		add(fieldEPPageSize, fmt.Errorf("must be between 1 and 5000, got %d", e.PageSize))
	}
	if err := e.Filters.Validate(); err != nil {
		add(fieldEPFilters, errors.New(strings.TrimPrefix(err.Error(), "filters: ")))
	}
	if e.Name != endpointActivities {
		add(fieldEPName, fmt.Errorf("unknown endpoint %q (supported: %s)", e.Name, endpointActivities))
	}
	return s, problems
}

func (e endpointRaw) problems(now time.Time, index int) []string {
	_, p := e.parse(now, index)
	return p
}

// endpointConfig is one enabled endpoint, ready to build a collector.
type endpointConfig struct {
	Name        string
	Description string
	RunOnStart  bool
	Settings    endpointSettings
	Raw         endpointRaw
	Tracking    bool
	Update      *bloblang.Executor // nil: the built-in default
	Merge       *bloblang.Executor
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

// parseConfig reads and checks every field. It starts nothing, so each
// validation error can be tested on its own.
func parseConfig(conf *service.ParsedConfig, now time.Time) (*inputConfig, error) {
	c := &inputConfig{}
	var err error
	get := func(dst *string, path ...string) {
		if err == nil {
			*dst, err = conf.FieldString(path...)
		}
	}
	get(&c.APIKey, fieldAPIKey)
	get(&c.BaseURL, fieldBaseURL)
	get(&c.AnthropicVersion, fieldAnthropicVersion)
	get(&c.StateCache, fieldState, fieldStateCache)
	get(&c.StatePath, fieldState, fieldStatePath)
	get(&c.StateKey, fieldState, fieldStateKey)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.APIKey) == "" {
		return nil, errors.New("api_key: must not be empty (set it from an environment variable, e.g. ${ANTHROPIC_COMPLIANCE_API_KEY})")
	}
	if c.AllowVolatile, err = conf.FieldBool(fieldState, fieldStateAllowVolatile); err != nil {
		return nil, err
	}
	if c.Adopt, err = conf.FieldBool(fieldState, fieldStateAdopt); err != nil {
		return nil, err
	}
	if c.MaxSeenIDs, err = conf.FieldInt(fieldState, fieldStateMaxSeen); err != nil {
		return nil, err
	}
	if c.MaxSeenIDs < 0 {
		return nil, fmt.Errorf("state.max_seen_ids: must be 0 (no cap) or more, got %d", c.MaxSeenIDs)
	}
	if c.Admin, err = parseAdminConfig(conf); err != nil {
		return nil, err
	}
	if c.StateCache == "" && strings.TrimSpace(c.StatePath) == "" {
		return nil, errors.New("state.path: must not be empty when state.cache is not set")
	}
	if c.Lease, err = conf.FieldBool(fieldState, fieldStateLease, fieldLeaseEnabled); err != nil {
		return nil, err
	}
	if c.LeaseTTL, err = conf.FieldDuration(fieldState, fieldStateLease, fieldLeaseTTL); err != nil {
		return nil, err
	}
	if c.LeaseRenew, err = conf.FieldDuration(fieldState, fieldStateLease, fieldLeaseRenew); err != nil {
		return nil, err
	}
	if c.Lease {
		if c.StateCache == "" {
			return nil, errors.New("state.lease: needs state.cache, a cache shared by the instances with TTLs and atomic add (redis)")
		}
		if c.LeaseTTL < time.Second || c.LeaseRenew <= 0 || c.LeaseRenew*2 > c.LeaseTTL {
			return nil, fmt.Errorf("state.lease: ttl must be at least 1s and renew_interval at most half of it, got ttl %v and renew_interval %v", c.LeaseTTL, c.LeaseRenew)
		}
	}
	stale, err := conf.FieldString(fieldStaleAfter)
	if err != nil {
		return nil, err
	}
	switch strings.TrimSpace(stale) {
	case "":
		c.StaleAfter = -1
	default:
		if c.StaleAfter, err = timeexpr.ParseDurationSeconds(stale); err != nil {
			return nil, fmt.Errorf("stale_after: %w", err)
		}
	}
	if c.JobHistoryTTL, err = conf.FieldDuration(fieldJobHistoryTTL); err != nil {
		return nil, err
	}
	if c.LogLevel, err = conf.FieldString(fieldLogLevel); err != nil {
		return nil, err
	}

	durations := []struct {
		dst   *time.Duration
		field string
		check func(time.Duration) bool
		msg   string
	}{
		{&c.Settle, fieldSettle, func(d time.Duration) bool { return d >= time.Minute && d%time.Second == 0 }, "must be whole seconds and at least 60s (the documented indexing lag)"},
		{&c.Overlap, fieldOverlap, func(d time.Duration) bool { return d >= 0 && d%time.Second == 0 }, "must be whole, non-negative seconds"},
		{&c.Slices.MinSlice, fieldMinSlice, func(d time.Duration) bool { return d >= time.Second && d%time.Second == 0 }, "must be whole seconds and at least 1s"},
		{&c.Slices.MaxSlice, fieldMaxSlice, func(d time.Duration) bool { return d >= time.Second && d%time.Second == 0 }, "must be whole seconds and at least 1s"},
		{&c.DrainGrace, fieldDrainGrace, func(d time.Duration) bool { return d > 0 }, "must be positive"},
		{&c.AckWarnAfter, fieldAckWarnAfter, func(d time.Duration) bool { return d > 0 }, "must be positive"},
	}
	for _, d := range durations {
		if *d.dst, err = conf.FieldDuration(d.field); err != nil {
			return nil, fmt.Errorf("%s: %w", d.field, err)
		}
		if !d.check(*d.dst) {
			return nil, fmt.Errorf("%s: %s, got %v", d.field, d.msg, *d.dst)
		}
	}
	if c.Slices.MaxSlice < c.Slices.MinSlice {
		return nil, fmt.Errorf("max_slice: must be at least min_slice (%v), got %v", c.Slices.MinSlice, c.Slices.MaxSlice)
	}
	ints := []struct {
		dst   *int
		field string
	}{{&c.Slices.Target, fieldTargetPerSlice}, {&c.MaxOpenSlices, fieldMaxOpenSlices}, {&c.BatchSize, fieldBatchSize}}
	for _, n := range ints {
		if *n.dst, err = conf.FieldInt(n.field); err != nil {
			return nil, err
		}
		if *n.dst < 1 {
			return nil, fmt.Errorf("%s: must be at least 1, got %d", n.field, *n.dst)
		}
	}
	if c.Overlap == 0 {
		c.warnings = append(c.warnings, "overlap is 0: activities indexed after their window was scanned will be missed")
	}

	eps, err := conf.FieldObjectList(fieldEndpoints)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var problems []string
	for i, ep := range eps {
		e, p := parseEndpoint(ep, now, i)
		problems = append(problems, p...)
		if len(p) > 0 || e == nil {
			continue
		}
		if seen[e.Name] {
			problems = append(problems, fmt.Sprintf("%s[%d].name: endpoint %q is listed twice", fieldEndpoints, i, e.Name))
			continue
		}
		seen[e.Name] = true
		c.Endpoints = append(c.Endpoints, *e)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	if len(c.Endpoints) == 0 {
		return nil, errors.New("endpoints: no endpoint is enabled")
	}
	if c.API, err = parseAPIClientConfig(conf); err != nil {
		return nil, err
	}
	if c.AutoReplayNacks, err = conf.FieldBool(service.AutoRetryNacksToggleFieldName); err != nil {
		return nil, err
	}
	return c, nil
}

// parseEndpoint returns nil for a disabled endpoint.
func parseEndpoint(ep *service.ParsedConfig, now time.Time, i int) (*endpointConfig, []string) {
	enabled, err := ep.FieldBool(fieldEPEnabled)
	if err != nil {
		return nil, []string{err.Error()}
	}
	if !enabled {
		return nil, nil
	}
	var e endpointConfig
	raw := endpointRaw{}
	var errs []error
	str := func(dst *string, path ...string) {
		v, err := ep.FieldString(path...)
		errs = append(errs, err)
		*dst = v
	}
	str(&raw.Name, fieldEPName)
	str(&e.Description, fieldEPDescription)
	str(&raw.Schedule, fieldEPSchedule)
	str(&raw.Earliest, fieldEPEarliest)
	str(&raw.Latest, fieldEPLatest)
	str(&raw.Timezone, fieldEPTimezone)
	str(&raw.JobTimeout, fieldEPJobTimeout)
	raw.PageSize, err = ep.FieldInt(fieldEPPageSize)
	errs = append(errs, err)
	list := func(dst *[]string, field string) {
		v, err := ep.FieldStringList(fieldEPFilters, field)
		errs = append(errs, err)
		*dst = v
	}
	list(&raw.Filters.ActivityTypes, fieldFilterTypes)
	list(&raw.Filters.ExcludeActivityTypes, fieldFilterExcludeType)
	list(&raw.Filters.ActorIDs, fieldFilterActorIDs)
	list(&raw.Filters.OrganizationIDs, fieldFilterOrgIDs)
	e.RunOnStart, err = ep.FieldBool(fieldEPRunOnStart)
	errs = append(errs, err)
	e.Tracking, err = ep.FieldBool(fieldEPStateTracking, fieldSTEnabled)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, []string{fmt.Sprintf("%s[%d]: %v", fieldEndpoints, i, err)}
	}
	settings, problems := raw.parse(now, i)
	if len(problems) > 0 {
		return nil, problems
	}
	e.Name, e.Raw, e.Settings = raw.Name, raw, settings

	mapping := func(field, def string) (*bloblang.Executor, []string) {
		text, _ := ep.FieldString(fieldEPStateTracking, field)
		if strings.TrimSpace(text) == strings.TrimSpace(def) {
			return nil, nil // the built-in, native equivalent
		}
		exe, err := ep.FieldBloblang(fieldEPStateTracking, field)
		if err != nil {
			return nil, []string{fmt.Sprintf("%s[%d].%s.%s: %v", fieldEndpoints, i, fieldEPStateTracking, field, err)}
		}
		return exe, nil
	}
	var p1, p2 []string
	e.Update, p1 = mapping(fieldSTUpdate, DefaultStateUpdate)
	e.Merge, p2 = mapping(fieldSTMerge, DefaultStateMerge)
	if p := append(p1, p2...); len(p) > 0 {
		return nil, p
	}
	return &e, nil
}
