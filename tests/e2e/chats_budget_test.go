package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestFeedChatsAndFilesShareOneBudget: the activities, chats (with
// messages) and files endpoints of one input share one client, hence one
// rate budget and headroom. With 60 requests a minute and headroom 0.1 the
// three together never get a 429 and never spend more than the budget in a
// minute window of the fake. Their requests race for the last units of a
// window (each checks the headroom against the latest answer), so a window
// may hold up to one request per concurrent requester above 54; the test
// reports the fullest window. Time is played as in
// TestRequestsStayWithinTheBudgetMinusHeadroom: a pause ends the fake's
// minute at once.
func TestFeedChatsAndFilesShareOneBudget(t *testing.T) {
	const limit = 60
	now := at("2026-11-25T12:00:00Z")
	world := chatsWorld(t, now, 40)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 3, Count: 1500, From: now.Add(-4 * time.Hour), To: now.Add(-3 * time.Minute), World: world})
	r := newRig(t, now, fakeapi.Options{World: world, Dataset: data, RateLimit: limit}, rigOptions{})
	chats, messages, files := worldTotals(r.api.Snapshot())
	var pauses int
	r.logs.setOnEntry(func(e logEntry) {
		if strings.HasPrefix(e.Msg, "pausing ") && strings.Contains(e.Msg, "for the shared rate budget (headroom:") {
			pauses++
			r.clock.Set(r.clock.Now().Truncate(time.Minute).Add(time.Minute))
		}
	})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T07:00:00Z"
      page_size: 50
    - name: chats
      schedule: "@every 20ms"
      earliest: "2026-11-25T05:00:00Z"
      include_messages: true
    - name: files
      schedule: "@every 20ms"
      earliest: "2026-11-25T05:00:00Z"
      file_workers: 2
  rate_limit:
    headroom: 0.1
    max_wait: 50ms
`), streamOptions{maxInFlight: 8})
	require.Eventually(t, func() bool {
		counts, _ := byType(r.sink.metas())
		return counts["activity"] >= len(data) && counts["chat"] >= chats && counts["chat_message"] >= messages && counts["file"] >= files
	}, 120*time.Second, 10*time.Millisecond, "waiting for %d activities, %d chats, %d messages and %d files", len(data), chats, messages, files)
	require.NoError(t, st.stop())

	perWindow := map[time.Time]int{}
	paths := map[string]int{}
	for _, rec := range r.api.Requests() {
		assert.NotEqual(t, 429, rec.Status, "request %d (%s) was rate limited", rec.Seq, rec.Path)
		perWindow[rec.Time.Truncate(time.Minute)]++
		switch {
		case strings.HasSuffix(rec.Path, "/content"):
			paths["content"]++
		case strings.HasSuffix(rec.Path, "/messages"):
			paths["messages"]++
		case strings.HasSuffix(rec.Path, "/chats"):
			paths["chats"]++
		default:
			paths["activities"]++
		}
	}
	fullest := 0
	for w, n := range perWindow {
		assert.LessOrEqual(t, n, limit, "window %s", w.Format(time.TimeOnly))
		fullest = max(fullest, n)
	}
	require.GreaterOrEqual(t, len(perWindow), 3, "the backfill needed several windows")
	for _, p := range []string{"activities", "chats", "messages", "content"} {
		assert.Positive(t, paths[p], "%s requests", p)
	}
	counts, _ := byType(r.sink.metas())
	assert.Equal(t, map[string]int{"activity": len(data), "chat": chats, "chat_message": messages, "file": files}, counts, "each once")
	t.Logf("%v requests over %d windows (fullest %d of %d, headroom leaves 54), %d pauses, no 429", paths, len(perWindow), fullest, limit, pauses)
}
