// Package content collects the content endpoints of the Compliance API
// through the collector's engine (collector.Source): chats, incrementally by
// updated_at, with their messages, and the files those messages reference,
// downloaded and checked against their MD5. The model is the Activity
// Feed's (windows, slices, settle, overlap, ack-gated commits), with the
// listing's order reversed: chats come oldest first, so a slice's walk
// goes toward newer chats, and a chat edited after it was collected comes
// back as a new version (its dedupe key is <chat id>@<updated_at>). See
// collector/DESIGN-content.md §2 and §3. It knows nothing of Benthos.
package content
