package content

import (
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// Record types (metadata compliance_record_type and the record_type label
// of compliance_records_emitted).
const (
	RecordChat    = "chat"
	RecordMessage = "chat_message"
	RecordFile    = "file"
)

// Counter names of the job report (collector.Report.Counts).
const (
	CountChatsEmitted      = "chats_emitted"
	CountMessagesEmitted   = "messages_emitted"
	CountMessagesRequests  = "messages_requests"
	CountMessagesMissing   = "messages_unavailable"
	CountFilesDownloaded   = "files_downloaded"
	CountFileBytes         = "file_bytes"
	CountFilesSkipped      = "files_skipped"
	CountDownloadsRequests = "download_requests"
)

// stamp formats a record's time for metadata and keys: RFC 3339 in UTC,
// with fractional seconds only when it has them.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// versionKey is the dedupe key of a chat version.
func versionKey(c api.Chat) collector.Key {
	return collector.Key{ID: c.ID + "@" + stamp(c.UpdatedAt), At: c.UpdatedAt}
}

// metaList builds a record's metadata, leaving out empty values.
type metaList []collector.MetaField

func (m *metaList) add(key, value string) {
	if value != "" {
		*m = append(*m, collector.MetaField{Key: key, Value: value})
	}
}

// chatMeta is the metadata every record of a chat carries.
func chatMeta(c api.Chat) metaList {
	m := make(metaList, 0, 16)
	m.add("chat_id", c.ID)
	m.add("chat_updated_at", stamp(c.UpdatedAt))
	m.add("chat_created_at", stamp(c.CreatedAt))
	m.add("chat_user_id", c.UserID)
	m.add("chat_user_email", c.UserEmail)
	m.add("chat_organization_uuid", c.OrganizationUUID)
	m.add("chat_project_id", c.ProjectID)
	return m
}

func chatRecordMeta(c api.Chat, unavailable string) []collector.MetaField {
	m := metaList{{Key: "compliance_record_type", Value: RecordChat}}
	m = append(m, chatMeta(c)...)
	if !c.DeletedAt.IsZero() {
		m.add("compliance_chat_deleted", "true")
	}
	m.add("compliance_messages_unavailable", unavailable)
	return m
}

func messageMeta(c api.Chat, msg api.ChatMessage) []collector.MetaField {
	m := metaList{{Key: "compliance_record_type", Value: RecordMessage}}
	m = append(m, chatMeta(c)...)
	m.add("chat_message_id", msg.ID)
	m.add("chat_message_created_at", stamp(msg.CreatedAt))
	m.add("chat_message_role", msg.Role)
	ids := make([]string, 0, len(msg.Files)+len(msg.GeneratedFiles))
	for _, f := range msg.Files {
		ids = append(ids, f.ID)
	}
	for _, g := range msg.GeneratedFiles {
		ids = append(ids, g.ID)
	}
	m.add("chat_message_file_ids", strings.Join(ids, ","))
	return m
}
