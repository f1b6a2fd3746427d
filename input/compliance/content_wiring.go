package compliance

// The wiring of the content endpoints (`chats`, `files`): their config
// fields, how an endpoint entry becomes a collector with a content.Chats or
// content.Files source (buildContent, their kind's build in endpointKinds),
// their metrics, and how a content record becomes a message (reader.go).

import (
	"errors"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
)

// contentEndpointFields are the endpoint fields only chats and files read
// (refused on the other endpoints: endpointKinds lists who takes what).
func contentEndpointFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewBoolField(fieldEPIncludeMessages).
			Description("`chats` only: also fetch and emit the messages of every new chat version (`GET /v1/compliance/apps/chats/{id}/messages`, 1000 a request): the messages created after the newest one collected before for that chat. A chat deleted in claude.ai is emitted as a tombstone (`compliance_chat_deleted: true`) without them. Default false.").
			Optional(),
		service.NewStringEnumField(fieldEPMessageMode, content.PerMessage, content.PerChat).
			Description("`chats` with `include_messages`: `per_message` (default) emits one message per chat message (the message record, after its chat's); `per_chat` one message per chat version, the chat record with `\"chat_messages\": [...]` (its new messages) added.").
			Optional(),
		service.NewStringEnumField(fieldEPMessagesSince, content.SinceNew, content.SinceAll).
			Description("`chats` with `include_messages`: `new` (default) fetches the messages created after the newest one collected for that chat (kept in the checkpoint as the chat's mark); `all` fetches and emits every message of every new chat version (the whole conversation again on each edit).").
			Optional().
			Advanced(),
		service.NewDurationField(fieldEPMarksHorizon).
			Description("`chats` and `files`: how long the checkpoint remembers a chat's mark (its newest collected message time), about 60 bytes per chat active in that time (default `" + defaultMarksHorizon + "`). A chat quiet for longer that gets a new message has its messages since `scanned_to - marks_horizon` fetched; only a conversation that stays active without a pause of `settle` plus the schedule interval for longer than this could lose its oldest messages.").
			Optional().
			Advanced(),
		service.NewStringField(fieldEPMaxFileSize).
			Description("`files`: largest file downloaded, in bytes or with a unit (`KiB`, `MiB`, `GiB`; default `"+defaultMaxFileSize+"`). A larger one is skipped (reason `too_large`), without a request when its reference announces the size. Memory: at most `file_workers` files of at most this size are held at once, each from the start of its download until its message is acknowledged.").
			Examples("100MiB", "1GiB").
			Optional(),
		service.NewIntField(fieldEPFileWorkers).
			Description("`files`: downloads in parallel, 1 to 64 (default 1; see `max_file_size` for the memory it bounds).").
			Optional(),
		service.NewIntField(fieldEPFileRetries).
			Description("`files`: how many times a file whose body broke or whose MD5 did not match `Content-MD5` is downloaded again before it is skipped (reasons `transport`, `checksum`), 0 to 10 (default 2). A file is never delivered unless its MD5 matched (or the API announced none: `compliance_file_md5_verified: false`).").
			Optional(),
		service.NewBoolField(fieldEPIncludeGenerated).
			Description("`files`: also download the messages' generated files (`compliance_file_kind: generated_file`); expired ones are skipped (reason `expired`). Default false.").
			Optional(),
		service.NewBoolField(fieldEPEmitSkipped).
			Description("`files`: emit a zero-length message with the file's metadata and `compliance_file_skipped: <reason>` for every skipped file, so that an archive records the gap. Off (default): a skip is only logged (WARN, with the file id) and counted (`compliance_files_skipped`).").
			Optional(),
	}
}

// contentEndpoint is the parsed content part of a chats or files endpoint.
type contentEndpoint struct {
	Filters      content.Filters
	Chats        content.ChatsConfig
	Files        content.FilesConfig
	MarksHorizon time.Duration
}

// contentEndpoint reads the fields of a chats or files endpoint (the kind
// table has refused the fields of other endpoints already, and checked
// page_size's range). Problems are recorded in r.
func (r fieldReader) contentEndpoint(k endpointKind, raw *endpointRaw) *contentEndpoint {
	ce := &contentEndpoint{Filters: content.Filters{OrganizationIDs: raw.Filters.OrganizationIDs, UserIDs: raw.UserIDs, ProjectIDs: raw.ProjectIDs}}
	ce.MarksHorizon, _ = time.ParseDuration(defaultMarksHorizon)
	if r.conf.Contains(fieldEPMarksHorizon) {
		ce.MarksHorizon = r.duration(positive, fieldEPMarksHorizon)
	}
	includeMessages := r.optBool(false, fieldEPIncludeMessages)
	ce.Chats = content.ChatsConfig{PageSize: raw.PageSize, Filters: ce.Filters, IncludeMessages: includeMessages,
		MessageMode: r.optStr(content.PerMessage, fieldEPMessageMode), MessagesSince: r.optStr(content.SinceNew, fieldEPMessagesSince)}
	if !includeMessages {
		for _, f := range []string{fieldEPMessageMode, fieldEPMessagesSince} {
			if r.conf.Contains(f) {
				r.add(f, "applies only with %s: true", fieldEPIncludeMessages)
			}
		}
	}
	ce.Files = content.FilesConfig{PageSize: raw.PageSize, Filters: ce.Filters,
		Workers: r.optInt(defaultFileWorkers, fieldEPFileWorkers), Retries: r.optInt(defaultFileRetries, fieldEPFileRetries),
		IncludeGenerated: r.optBool(false, fieldEPIncludeGenerated), EmitSkipped: r.optBool(false, fieldEPEmitSkipped)}
	size, err := parseByteSize(r.optStr(defaultMaxFileSize, fieldEPMaxFileSize))
	if err == nil && size < 1 {
		err = fmt.Errorf("must be at least 1 byte, got %d", size)
	}
	r.check(err, fieldEPMaxFileSize)
	ce.Files.MaxFileSize = size
	if ce.Files.Workers < 1 || ce.Files.Workers > 64 {
		r.add(fieldEPFileWorkers, "must be between 1 and 64, got %d", ce.Files.Workers)
	}
	if ce.Files.Retries < 0 || ce.Files.Retries > 10 {
		r.add(fieldEPFileRetries, "must be between 0 and 10, got %d", ce.Files.Retries)
	}
	return ce
}

// buildContent makes the runner of a chats or files endpoint: the
// collector, windowed on updated_at, walking with a content Source, its
// identity its own filters and its checkpoint keeping the chats' marks.
func buildContent(in *input, ep endpointConfig, env runnerEnv) (jobRunner, error) {
	ce := ep.Content
	var src collector.Source
	var err error
	hooks := in.contentHooks(ep.Name)
	switch ep.Name {
	case endpointChats:
		cfg := ce.Chats
		cfg.BatchSize = in.cfg.BatchSize
		src, err = content.NewChats(cfg, env.client, hooks)
	case endpointFiles:
		src, err = content.NewFiles(ce.Files, env.client, hooks, env.log)
	default:
		err = errors.New("no content collector for endpoint " + ep.Name)
	}
	if err != nil {
		return nil, err
	}
	deps := collector.Deps{
		Lister: env.client,
		Source: src,
		State:  newStateFuncs(ep.Update, ep.Merge),
		Clock:  in.opts.clock,
		Log:    env.log,
		Hooks:  in.collectorHooks(env.runner, env.log),
		Out:    in.out,
	}
	if env.store != nil {
		in.attachState(env.runner, ep, env.store, &deps)
	}
	return collector.New(contentCollectorConfig(in.cfg, ep), deps)
}

// contentCollectorConfig is the collector's view of a chats or files
// endpoint: its identity is its own filters and a window on updated_at, and
// its checkpoint keeps the chats' marks for marks_horizon.
func contentCollectorConfig(cfg *inputConfig, ep endpointConfig) collector.Config {
	c := collectorConfig(cfg, ep)
	c.FiltersHash = ep.Content.Filters.Hash()
	c.PositionKey = "updated_at"
	c.MarkHorizon = ep.Content.MarksHorizon
	return c
}

// contentHooks feed the content metrics of one endpoint (each labelled by
// it): compliance_records_emitted{record_type},
// compliance_chat_versions_deduplicated, compliance_messages_emitted,
// compliance_messages_unavailable{reason}, compliance_files_downloaded,
// compliance_file_bytes, compliance_files_skipped{reason},
// compliance_file_checksum_failures and compliance_file_download_seconds.
func (in *input) contentHooks(endpoint string) content.Hooks {
	m := in.mgr.Metrics()
	records := m.NewCounter("compliance_records_emitted", "endpoint", "record_type")
	dups := m.NewCounter("compliance_chat_versions_deduplicated", "endpoint")
	messages := m.NewCounter("compliance_messages_emitted", "endpoint")
	unavailable := m.NewCounter("compliance_messages_unavailable", "endpoint", "reason")
	downloaded := m.NewCounter("compliance_files_downloaded", "endpoint")
	bytes := m.NewCounter("compliance_file_bytes", "endpoint")
	skipped := m.NewCounter("compliance_files_skipped", "endpoint", "reason")
	checksum := m.NewCounter("compliance_file_checksum_failures", "endpoint")
	seconds := m.NewTimer("compliance_file_download_seconds", "endpoint")
	return content.Hooks{
		OnRecords: func(typ string, n int) {
			records.Incr(int64(n), endpoint, typ)
			if typ == content.RecordMessage {
				messages.Incr(int64(n), endpoint)
			}
		},
		OnVersionDuplicate:    func() { dups.Incr(1, endpoint) },
		OnMessagesUnavailable: func(reason string) { unavailable.Incr(1, endpoint, reason) },
		OnFileDownloaded: func(n int64, took time.Duration) {
			downloaded.Incr(1, endpoint)
			bytes.Incr(n, endpoint)
			seconds.Timing(took.Nanoseconds(), endpoint)
		},
		OnFileSkipped:     func(reason string) { skipped.Incr(1, endpoint, reason) },
		OnChecksumFailure: func() { checksum.Incr(1, endpoint) },
	}
}

// recordMessage makes the message of a content record: its body and
// metadata on a copy of the page's template.
func recordMessage(tmpl *service.Message, r *collector.Record) *service.Message {
	m := tmpl.Copy()
	m.SetBytes(r.Body)
	for _, f := range r.Meta {
		m.MetaSetMut(f.Key, f.Value)
	}
	return m
}
