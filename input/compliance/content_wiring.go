package compliance

// The wiring of the content endpoints (`chats`, `files`): their config
// fields, how an endpoint entry becomes a content.Chats or content.Files
// source of a collector, their metrics, and how a content record becomes a
// message. input.go and reader.go call in here at four points (fields,
// parse, collector config and source, message).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
)

// Endpoint names of the content collectors.
const (
	endpointChats = "chats"
	endpointFiles = "files"
)

// Config fields of the content endpoints (in endpoints[] and its filters).
const (
	fieldEPIncludeMessages  = "include_messages"
	fieldEPMessageMode      = "message_mode"
	fieldEPMessagesSince    = "messages_since"
	fieldEPMarksHorizon     = "marks_horizon"
	fieldEPMaxFileSize      = "max_file_size"
	fieldEPFileWorkers      = "file_workers"
	fieldEPFileRetries      = "file_retries"
	fieldEPIncludeGenerated = "include_generated"
	fieldEPEmitSkipped      = "emit_skipped"
	fieldFilterUserIDs      = "user_ids"
	fieldFilterProjectIDs   = "project_ids"

	defaultMarksHorizon = "168h"
	defaultMaxFileSize  = "100MiB"
	// defaultContentPageSize replaces page_size's default (5000, the
	// feed's) for chats and files, whose API maximum is 1000.
	defaultContentPageSize = content.MaxPageSize
)

func isContentEndpoint(name string) bool { return name == endpointChats || name == endpointFiles }

// contentEndpointFields are the endpoint fields only chats and files read.
func contentEndpointFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewBoolField(fieldEPIncludeMessages).
			Description("`chats` only: also fetch and emit the messages of every new chat version (`GET /v1/compliance/apps/chats/{id}/messages`, 1000 a request): the messages created after the newest one collected before for that chat. A chat deleted in claude.ai is emitted as a tombstone (`compliance_chat_deleted: true`) without them.").
			Default(false),
		service.NewStringEnumField(fieldEPMessageMode, content.PerMessage, content.PerChat).
			Description("`chats` with `include_messages`: `per_message` emits one message per chat message (the message record, after its chat's); `per_chat` one message per chat version, the chat record with `\"chat_messages\": [...]` (its new messages) added.").
			Default(content.PerMessage),
		service.NewStringEnumField(fieldEPMessagesSince, content.SinceNew, content.SinceAll).
			Description("`chats` with `include_messages`: `new` fetches the messages created after the newest one collected for that chat (kept in the checkpoint as the chat's mark); `all` fetches and emits every message of every new chat version (the whole conversation again on each edit).").
			Default(content.SinceNew).
			Advanced(),
		service.NewDurationField(fieldEPMarksHorizon).
			Description("`chats` and `files`: how long the checkpoint remembers a chat's mark (its newest collected message time), about 60 bytes per chat active in that time. A chat quiet for longer that gets a new message has its messages since `scanned_to - marks_horizon` fetched; only a conversation that stays active without a pause of `settle` plus the schedule interval for longer than this could lose its oldest messages.").
			Default(defaultMarksHorizon).
			Advanced(),
		service.NewStringField(fieldEPMaxFileSize).
			Description("`files`: largest file downloaded, in bytes or with a unit (`KiB`, `MiB`, `GiB`). A larger one is skipped (reason `too_large`), without a request when its reference announces the size. Memory: at most `file_workers` files of at most this size are held at once, each from the start of its download until its message is acknowledged.").
			Examples("100MiB", "1GiB").
			Default(defaultMaxFileSize),
		service.NewIntField(fieldEPFileWorkers).
			Description("`files`: downloads in parallel, 1 to 64 (see `max_file_size` for the memory it bounds).").
			Default(1),
		service.NewIntField(fieldEPFileRetries).
			Description("`files`: how many times a file whose body broke or whose MD5 did not match `Content-MD5` is downloaded again before it is skipped (reasons `transport`, `checksum`), 0 to 10. A file is never delivered unless its MD5 matched (or the API announced none: `compliance_file_md5_verified: false`).").
			Default(2),
		service.NewBoolField(fieldEPIncludeGenerated).
			Description("`files`: also download the messages' generated files (`compliance_file_kind: generated_file`); expired ones are skipped (reason `expired`).").
			Default(false),
		service.NewBoolField(fieldEPEmitSkipped).
			Description("`files`: emit a zero-length message with the file's metadata and `compliance_file_skipped: <reason>` for every skipped file, so that an archive records the gap. Off: a skip is only logged (WARN, with the file id) and counted (`compliance_files_skipped`).").
			Default(false),
	}
}

// contentFilterFields are the filters only chats and files read.
func contentFilterFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringListField(fieldFilterUserIDs).Description("`chats`, `files`: keep only chats created by these users (`user_…` ids). Applied to the listing by the input: the API refuses `user_ids[]` with `order_by=updated_at`.").Default([]any{}),
		service.NewStringListField(fieldFilterProjectIDs).Description("`chats`, `files`: keep only chats of these projects (`claude_proj_…` ids), applied like `user_ids`.").Default([]any{}),
	}
}

// withContentDefaults adds the content fields' defaults to the default
// endpoint entry (a default list is used as written, so every field is
// spelled out).
func withContentDefaults(ep map[string]any) map[string]any {
	filters := ep[fieldEPFilters].(map[string]any)
	filters[fieldFilterUserIDs], filters[fieldFilterProjectIDs] = []any{}, []any{}
	for k, v := range map[string]any{
		fieldEPIncludeMessages: false, fieldEPMessageMode: content.PerMessage, fieldEPMessagesSince: content.SinceNew,
		fieldEPMarksHorizon: defaultMarksHorizon, fieldEPMaxFileSize: defaultMaxFileSize, fieldEPFileWorkers: 1,
		fieldEPFileRetries: 2, fieldEPIncludeGenerated: false, fieldEPEmitSkipped: false,
	} {
		ep[k] = v
	}
	return ep
}

// contentEndpoint is the parsed content part of an endpoint entry.
type contentEndpoint struct {
	Filters      content.Filters
	Chats        content.ChatsConfig
	Files        content.FilesConfig
	MarksHorizon time.Duration
}

// parseContentEndpoint reads the content fields of an endpoint entry. For
// chats and files it returns their config (page_size's default becomes
// 1000); for the feed it refuses content-only settings. Problems are
// recorded in r.
func parseContentEndpoint(r fieldReader, raw *endpointRaw) *contentEndpoint {
	users := r.strList(fieldEPFilters, fieldFilterUserIDs)
	projects := r.strList(fieldEPFilters, fieldFilterProjectIDs)
	includeMessages := r.boolean(fieldEPIncludeMessages)
	if !isContentEndpoint(raw.Name) {
		if len(users) > 0 || len(projects) > 0 {
			r.add(fieldEPFilters, "user_ids and project_ids filter chats and files; for %s use actor_ids", raw.Name)
		}
		if includeMessages {
			r.add(fieldEPIncludeMessages, "only the chats endpoint has messages")
		}
		return nil
	}
	f := raw.Filters
	if len(f.ActivityTypes) > 0 || len(f.ExcludeActivityTypes) > 0 || len(f.ActorIDs) > 0 {
		r.add(fieldEPFilters, "activity_types, exclude_activity_types and actor_ids filter the activity feed; %s takes organization_ids, user_ids and project_ids", raw.Name)
	}
	if raw.PageSize == defaultPageSize {
		raw.PageSize = defaultContentPageSize
	}
	if raw.PageSize < 1 || raw.PageSize > content.MaxPageSize {
		r.add(fieldEPPageSize, "must be between 1 and %d for %s, got %d", content.MaxPageSize, raw.Name, raw.PageSize)
	}
	ce := &contentEndpoint{Filters: content.Filters{OrganizationIDs: f.OrganizationIDs, UserIDs: users, ProjectIDs: projects}}
	ce.MarksHorizon = r.duration(positive, fieldEPMarksHorizon)
	mode, _ := r.str(fieldEPMessageMode)
	since, _ := r.str(fieldEPMessagesSince)
	ce.Chats = content.ChatsConfig{PageSize: raw.PageSize, Filters: ce.Filters, IncludeMessages: includeMessages,
		MessageMode: mode, MessagesSince: since}
	ce.Files = content.FilesConfig{PageSize: raw.PageSize, Filters: ce.Filters,
		Workers: r.integer(fieldEPFileWorkers), Retries: r.integer(fieldEPFileRetries),
		IncludeGenerated: r.boolean(fieldEPIncludeGenerated), EmitSkipped: r.boolean(fieldEPEmitSkipped)}
	if s, ok := r.str(fieldEPMaxFileSize); ok {
		n, err := parseByteSize(s)
		if err == nil && n < 1 {
			err = fmt.Errorf("must be positive, got %s", s)
		}
		r.check(err, fieldEPMaxFileSize)
		ce.Files.MaxFileSize = n
	}
	if ce.Files.Workers < 1 || ce.Files.Workers > 64 {
		r.add(fieldEPFileWorkers, "must be between 1 and 64, got %d", ce.Files.Workers)
	}
	if ce.Files.Retries < 0 || ce.Files.Retries > 10 {
		r.add(fieldEPFileRetries, "must be between 0 and 10, got %d", ce.Files.Retries)
	}
	if raw.Name == endpointFiles && includeMessages {
		r.add(fieldEPIncludeMessages, "files downloads the files of messages; collect the messages with a chats endpoint")
	}
	return ce
}

// applyContentConfig gives a content endpoint's collector config its
// identity (its own filters, a window on updated_at) and marks.
func applyContentConfig(c *collector.Config, ep endpointConfig) {
	ce := ep.Content
	if ce == nil {
		return
	}
	c.PageSize = ep.Raw.PageSize
	c.FiltersHash = ce.Filters.Hash()
	c.PositionKey = "updated_at"
	c.MarkHorizon = ce.MarksHorizon
}

// contentSource returns the collector source of a content endpoint (nil
// for the feed).
func (in *input) contentSource(ep endpointConfig, client *api.Client, log inputLog) (collector.Source, error) {
	ce := ep.Content
	if ce == nil {
		return nil, nil
	}
	hooks := in.contentHooks(ep.Name)
	switch ep.Name {
	case endpointChats:
		cfg := ce.Chats
		cfg.BatchSize = in.cfg.BatchSize
		return content.NewChats(cfg, client, hooks)
	case endpointFiles:
		return content.NewFiles(ce.Files, client, hooks, log)
	}
	return nil, errors.New("no content collector for endpoint " + ep.Name)
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

// contentEndpointNames lists the endpoints for messages.
func contentEndpointNames() string {
	return strings.Join([]string{endpointActivities, endpointChats, endpointFiles}, ", ")
}
