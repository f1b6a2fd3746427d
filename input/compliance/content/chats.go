package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// Message modes and the messages fetched for a chat version.
const (
	PerMessage = "per_message" // one message per chat message, after its chat's
	PerChat    = "per_chat"    // one message per chat version, with "chat_messages" added
	// SinceNew: the messages created after the newest one the chat's
	// committed versions covered (see newMessages).
	SinceNew = "new"
	SinceAll = "all" // every message of every new chat version
)

// ChatsConfig configures the chats endpoint.
type ChatsConfig struct {
	PageSize  int // chats per listing page, 1 to 1000
	BatchSize int // records per batch handed out (a batch never spans chats)
	Filters   Filters
	// IncludeMessages fetches and emits the messages of every new chat
	// version (not of duplicates or chats deleted in claude.ai).
	IncludeMessages bool
	MessageMode     string // PerMessage or PerChat
	MessagesSince   string // SinceNew or SinceAll
}

// Validate names the first setting out of range.
func (c ChatsConfig) Validate() error {
	switch {
	case c.PageSize < 1 || c.PageSize > MaxPageSize:
		return fmt.Errorf("page_size must be between 1 and %d for chats, got %d", MaxPageSize, c.PageSize)
	case c.BatchSize < 1:
		return fmt.Errorf("batch size must be at least 1, got %d", c.BatchSize)
	case c.MessageMode != PerMessage && c.MessageMode != PerChat:
		return fmt.Errorf("message_mode must be %s or %s, got %q", PerMessage, PerChat, c.MessageMode)
	case c.MessagesSince != SinceNew && c.MessagesSince != SinceAll:
		return fmt.Errorf("messages_since must be %s or %s, got %q", SinceNew, SinceAll, c.MessagesSince)
	}
	return nil
}

// Hooks report what the content collectors do, for metrics. Every field is
// optional; they must not block. The files collector calls
// OnFileDownloaded, OnFileSkipped and OnChecksumFailure from its download
// workers, the others run on the job goroutine.
type Hooks struct {
	OnRecords             func(recordType string, n int)
	OnVersionDuplicate    func()
	OnMessagesUnavailable func(reason string)
	OnFileDownloaded      func(bytes int64, took time.Duration)
	OnFileSkipped         func(reason string)
	OnChecksumFailure     func()
}

func (h Hooks) records(t string, n int) {
	if h.OnRecords != nil && n > 0 {
		h.OnRecords(t, n)
	}
}

func (h Hooks) duplicate() {
	if h.OnVersionDuplicate != nil {
		h.OnVersionDuplicate()
	}
}

func (h Hooks) unavailable(reason string) {
	if h.OnMessagesUnavailable != nil {
		h.OnMessagesUnavailable(reason)
	}
}

// Chats is the chats endpoint's collector.Source.
type Chats struct {
	cfg   ChatsConfig
	api   ChatsAPI
	hooks Hooks
}

// NewChats checks cfg and returns the chats source.
func NewChats(cfg ChatsConfig, a ChatsAPI, h Hooks) (*Chats, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errors.New("chats: no API client")
	}
	return &Chats{cfg: cfg, api: a, hooks: h}, nil
}

// Probe implements collector.Source.
func (c *Chats) Probe(ctx context.Context) (time.Time, error) {
	return probe(ctx, c.api, c.cfg.Filters)
}

// errStop ends a messages walk whose job stopped.
var errStop = errors.New("stopped")

// Walk implements collector.Source: every new chat version of the slice is
// emitted, with its messages when IncludeMessages is set.
func (c *Chats) Walk(w *collector.SliceWalk) (bool, time.Duration, error) {
	return walkChats(w, c.api, c.cfg.PageSize, c.cfg.Filters, func(origin *collector.Origin, chat api.Chat) (bool, error) {
		u := w.Version(versionKey(chat), chat.Raw)
		if u == nil {
			c.hooks.duplicate()
			return true, nil
		}
		ok, err := c.emit(w, u, origin, chat)
		if ok && err == nil {
			u.Close()
		}
		return ok, err
	})
}

// emit hands out a new chat version and, when configured, its messages.
func (c *Chats) emit(w *collector.SliceWalk, u *collector.Unit, origin *collector.Origin, chat api.Chat) (bool, error) {
	record := func(unavailable string) collector.Item {
		return collector.Item{Origin: origin, Record: &collector.Record{Body: chat.Raw, Meta: chatRecordMeta(chat, unavailable)}}
	}
	if !c.cfg.IncludeMessages || !chat.DeletedAt.IsZero() {
		// A chat deleted in claude.ai is a tombstone: its messages have no
		// content any more and its files are gone.
		return c.send(w, u, []collector.Item{record("")}, nil, 0)
	}
	var since api.TimeRange
	if c.cfg.MessagesSince == SinceNew {
		since = newMessages(w, chat.ID)
	}
	var (
		pending  []collector.Item // per_message: what waits for a full batch
		keys     []collector.Key
		raws     [][]byte // per_chat: the new messages
		sentChat bool
		stopped  bool
	)
	flush := func(final bool) bool {
		for len(pending) > 0 && (final || len(pending) >= c.cfg.BatchSize) {
			n := min(len(pending), c.cfg.BatchSize)
			msgs := n
			if !sentChat {
				msgs-- // the chat's record leads the first batch
			}
			if ok, _ := c.send(w, u, pending[:n], keys[:msgs], msgs); !ok {
				return false
			}
			sentChat = true
			pending, keys = pending[n:], keys[msgs:]
		}
		return true
	}
	requests, newest, err := walkMessages(w.Context(), c.api, chat.ID, since, func(page *api.ChatMessages) error {
		w.Observe(page.Meta)
		if c.cfg.MessageMode == PerMessage && !sentChat && pending == nil {
			pending = append(pending, record(""))
		}
		for _, m := range page.Items {
			k := collector.Key{ID: "msg:" + m.ID, At: m.CreatedAt}
			if !w.Child(k) {
				continue
			}
			keys = append(keys, k)
			if c.cfg.MessageMode == PerChat {
				raws = append(raws, m.Raw)
				continue
			}
			pending = append(pending, collector.Item{Origin: origin, Record: &collector.Record{Body: m.Raw, Meta: messageMeta(chat, m)}})
		}
		if !flush(false) {
			stopped = true
			return errStop
		}
		return nil
	})
	w.Count(CountMessagesRequests, requests)
	if c.cfg.MessagesSince == SinceNew && err == nil {
		w.Mark(chat.ID, later(chat.UpdatedAt, newest))
	}
	switch {
	case stopped:
		return false, nil
	case api.IsNotFound(err):
		// Deleted for good between the listing and its messages: emitted
		// without them, never failing the job.
		// Whatever was read before it vanished goes out.
		w.Count(CountMessagesMissing, 1)
		c.hooks.unavailable("not_found")
		if c.cfg.MessageMode == PerChat {
			item := collector.Item{Origin: origin, Record: &collector.Record{Body: withMessages(chat.Raw, raws), Meta: chatRecordMeta(chat, "not_found")}}
			return c.send(w, u, []collector.Item{item}, keys, len(keys))
		}
		if !sentChat {
			if len(pending) == 0 {
				pending = []collector.Item{record("not_found")}
			} else {
				pending[0] = record("not_found")
			}
		}
		return flush(true), nil
	case err != nil:
		return false, err
	}
	if c.cfg.MessageMode == PerChat {
		item := collector.Item{Origin: origin, Record: &collector.Record{Body: withMessages(chat.Raw, raws), Meta: chatRecordMeta(chat, "")}}
		return c.send(w, u, []collector.Item{item}, keys, len(keys))
	}
	return flush(true), nil
}

// send emits one batch of a chat version: items, of which msgs are messages
// whose keys are children, and counts it.
func (c *Chats) send(w *collector.SliceWalk, u *collector.Unit, items []collector.Item, children []collector.Key, msgs int) (bool, error) {
	if !u.Emit(items, children, nil) {
		return false, nil
	}
	chats := len(items)
	if c.cfg.MessageMode == PerMessage {
		chats -= msgs
	}
	w.Count(CountChatsEmitted, chats)
	w.Count(CountMessagesEmitted, msgs)
	c.hooks.records(RecordChat, chats)
	c.hooks.records(RecordMessage, msgs)
	return true, nil
}

// withMessages returns the chat's JSON object with "chat_messages": [...]
// added (a new buffer: chat aliases the page it came from).
func withMessages(chat []byte, msgs [][]byte) []byte {
	obj := bytes.TrimSpace(chat)
	size := len(obj) + len(`,"chat_messages":[]`)
	for _, m := range msgs {
		size += len(m) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, obj[:len(obj)-1]...) // without its closing brace
	if len(bytes.TrimSpace(obj[1:len(obj)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"chat_messages":[`...)
	for i, m := range msgs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, m...)
	}
	return append(out, "]}"...)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
