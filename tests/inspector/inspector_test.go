package inspector_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/schedule"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestInspectorInChromiumShowsTheRunningJobThenEachJobAsItsReportSays runs
// the real input on the Benthos HTTP server against the fake API on one fake
// clock. Its first job is held on a slice's second page: Chromium must show
// that job in progress with the pages, activities, request-id and rate
// budget the API answered, and no outstanding acks (the drop output acks at
// once). Two more jobs follow (new activities and a late one, then nothing
// new); Chromium must show each job as GET /compliance/<label>/jobs reports
// it (table and chart), the checkpoint as stored, the late catch, and the key
// nowhere. A screenshot of the final page is saved.
func TestInspectorInChromiumShowsTheRunningJobThenEachJobAsItsReportSays(t *testing.T) {
	t.Parallel()
	chromium(t)
	const label = "inspected"
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	manual := fakeapi.NewManualClock(t0)
	clock := schedule.NewFakeClock(t0)
	api, g, apiURL := newAPI(t, manual.Now, 21, 300, t0.Add(-time.Hour), t0.Add(-3*time.Minute))
	g.holdNextCursorPage()

	env := service.NewEnvironment()
	require.NoError(t, compliance.Register(env, compliance.WithTimers(clock)))
	stateDir := t.TempDir()
	pipeline := inputConfig(label, apiURL, stateDir, "@every 5m", t0.Add(-time.Hour))
	s := startServer(t, env, pipeline, "")

	// Job 1 is held on its first slice's second page.
	select {
	case <-g.blocked:
	case <-time.After(60 * time.Second):
		t.Fatal("the first job never asked for a second page")
	}
	done := g.answered()
	require.NotEmpty(t, done)
	want := 0
	for _, p := range done {
		want += p.activities
	}
	held := g.heldQuery()
	// Wait until the input has applied the acks of what it handed out.
	require.Eventually(t, func() bool {
		_, body := s.get(t, "/compliance")
		doc, err := html.Parse(strings.NewReader(body))
		if err != nil {
			return false
		}
		out := findAll(doc, hasAttr("data-field", "outstanding"))
		pages := findAll(doc, hasAttr("data-field", "run-pages"))
		return len(out) == 1 && text(out[0]) == "0" && len(pages) == 1 && text(pages[0]) == strconv.Itoa(len(done))
	}, 30*time.Second, 10*time.Millisecond, "the page never showed the held job with every batch acknowledged")

	doc := parseDOM(t, loadDOM(t, s.pageURL("")))
	_, ep := section(t, doc, label, "activities")
	assert.Equal(t, "ready", field(t, doc, "ready"))
	assert.Truef(t, strings.HasPrefix(field(t, ep, "run-job"), "activities-"), "run-job %q", field(t, ep, "run-job"))
	assert.Equal(t, "["+held.Get("created_at.gte")+", "+held.Get("created_at.lt")+")", field(t, ep, "run-slice"), "the slice of the held page")
	assert.Equal(t, "1", field(t, ep, "run-slice-page"))
	assert.Equal(t, strconv.Itoa(len(done)), field(t, ep, "run-pages"))
	assert.Equal(t, strconv.Itoa(want), field(t, ep, "run-activities"))
	assert.Equal(t, "0", field(t, ep, "run-duplicates"))
	assert.Equal(t, done[len(done)-1].requestID, field(t, ep, "run-request-id"))
	assert.Equal(t, "0", field(t, ep, "outstanding"))
	// The job is stuck in a request: it writes nothing until released. Its
	// open slices are those it asked pages of and has not committed.
	ckpt := storedCheckpoint(t, pipeline)
	open := map[string]bool{held.Get("created_at.gte"): true}
	for _, p := range done {
		if p.query.Get("created_at.lt") > ckpt.ScannedTo {
			open[p.query.Get("created_at.gte")] = true
		}
	}
	assert.Equal(t, strconv.Itoa(len(open)), field(t, ep, "open-slices"))
	assert.Equal(t, g.lastHeader("anthropic-ratelimit-requests-remaining"), field(t, doc, "budget-remaining"))
	assert.Equal(t, "600", field(t, doc, "budget-limit"))
	assert.Equal(t, ckpt.ScannedTo, field(t, ep, "scanned-to"))
	assert.Equal(t, strconv.Itoa(ckpt.Seen), field(t, ep, "seen"))
	assert.Equal(t, strconv.FormatInt(ckpt.Rev, 10), field(t, ep, "rev"))
	assert.Equal(t, "No job has ended yet.", text(one(t, ep, "empty history", func(n *html.Node) bool {
		c, _ := attr(n, "class")
		return n.Data == "p" && c == "muted" && strings.Contains(text(n), "No job has ended")
	})))

	// Job 1 ends; job 2 finds new activities and one indexed late below
	// job 1's scanned_to; job 3 finds nothing new.
	close(g.release)
	s.waitJobs(t, label, 1)
	require.NoError(t, api.Add(fakeapi.Generate(fakeapi.GenOptions{Seed: 22, Count: 40, From: t0, To: t0.Add(3 * time.Minute)})...))
	require.NoError(t, api.Add(lateActivity("activity_01inspectorLateArrival000001", t0.Add(-3*time.Minute-30*time.Second), t0.Add(time.Minute))))
	nextTick(t, clock, manual)
	s.waitJobs(t, label, 2)
	nextTick(t, clock, manual)
	jobs := s.waitJobs(t, label, 3)
	require.Len(t, jobs, 3)
	require.Equal(t, 1, jobs[1].LateCatches, "job 2 caught the late activity")

	url := s.pageURL("?refresh=0")
	dom := loadDOM(t, url)
	noKey(t, dom, "the page")
	doc = parseDOM(t, dom)
	_, ep = section(t, doc, label, "activities")
	assert.Equal(t, clock.Now().Format(time.RFC3339), field(t, doc, "now"))
	assert.Equal(t, "No job running.", field(t, ep, "running"))
	assert.Equal(t, "3", field(t, ep, "jobs-total"))
	rows := findAll(ep, isElement("tr"))
	require.Len(t, rows, 4, "a header row and one row per job")
	for i, rep := range jobs {
		row := rows[i+1]
		id, _ := attr(row, "data-job")
		require.Equal(t, rep.JobID, id, "row %d is job %d, newest first", i+1, i)
		t.Run(rep.JobID, func(t *testing.T) { checkJobRow(t, ep, row, rep) })
	}
	ckpt = storedCheckpoint(t, pipeline)
	assert.Equal(t, jobs[0].ScannedTo, field(t, ep, "scanned-to"))
	assert.Equal(t, ckpt.ScannedTo, field(t, ep, "scanned-to"))
	assert.Equal(t, strconv.Itoa(ckpt.Seen), field(t, ep, "seen"))
	assert.Equal(t, strconv.Itoa(ckpt.Pending), field(t, ep, "pending"))
	assert.Equal(t, strconv.FormatInt(ckpt.Rev, 10), field(t, ep, "rev"))
	scanned, err := time.Parse(time.RFC3339, ckpt.ScannedTo)
	require.NoError(t, err)
	lag, _ := attr(one(t, ep, "lag", hasAttr("data-field", "lag")), "data-seconds")
	assert.Equal(t, strconv.FormatFloat(clock.Now().Sub(scanned).Seconds(), 'f', -1, 64), lag)
	assert.Equal(t, "1", field(t, ep, "late-count"))
	assert.Equal(t, "1", field(t, ep, "late-in-jobs"))
	assert.Equal(t, "1m30s", field(t, ep, "late-deepest"), "the late activity was 90s below scanned_to")
	assert.Equal(t, g.lastHeader("anthropic-ratelimit-requests-remaining"), field(t, doc, "budget-remaining"))

	screenshot(t, url, "inspector.png", 1400)
}

// checkJobRow checks that the job's table row and chart marks show rep.
func checkJobRow(t *testing.T, ep, row *html.Node, rep jobReport) {
	assert.Equal(t, rep.JobID, field(t, row, "job-id"))
	assert.Equal(t, rep.Outcome, field(t, row, "outcome"))
	assert.Equal(t, rep.From, field(t, row, "window-from"))
	assert.Equal(t, rep.To, field(t, row, "window-to"))
	assert.Equal(t, strconv.Itoa(rep.Slices), field(t, row, "slices"))
	assert.Equal(t, strconv.Itoa(rep.SlicesCommitted), field(t, row, "slices-committed"))
	assert.Equal(t, strconv.Itoa(rep.Pages), field(t, row, "pages"))
	assert.Equal(t, strconv.Itoa(rep.Emitted), field(t, row, "emitted"))
	assert.Equal(t, strconv.Itoa(rep.Duplicates), field(t, row, "duplicates"))
	assert.Equal(t, strconv.Itoa(rep.LateCatches), field(t, row, "late"))
	assert.Equal(t, rep.FinalRequestID, field(t, row, "request-id"))
	assert.Equal(t, rep.Error, field(t, row, "error"))
	d, _ := attr(one(t, row, "duration", hasAttr("data-field", "duration")), "data-seconds")
	assert.Equal(t, strconv.FormatFloat(rep.DurationSeconds, 'f', -1, 64), d)
	end, err := time.Parse(time.RFC3339Nano, rep.End)
	require.NoError(t, err)
	scanned, err := time.Parse(time.RFC3339Nano, rep.ScannedTo)
	require.NoError(t, err)
	wantLag := strconv.FormatFloat(end.Sub(scanned).Seconds(), 'f', -1, 64)
	lag, _ := attr(one(t, row, "job-lag", hasAttr("data-field", "job-lag")), "data-seconds")
	assert.Equal(t, wantLag, lag)

	chart := one(t, ep, "chart", hasAttr("data-field", "chart"))
	bar := one(t, chart, "bar of "+rep.JobID, func(n *html.Node) bool { return n.Data == "rect" && hasAttr("data-job", rep.JobID)(n) })
	acts, _ := attr(bar, "data-activities")
	assert.Equal(t, strconv.Itoa(rep.Emitted), acts)
	dot := one(t, chart, "lag dot of "+rep.JobID, func(n *html.Node) bool { return n.Data == "circle" && hasAttr("data-job", rep.JobID)(n) })
	dotLag, _ := attr(dot, "data-lag-seconds")
	assert.Equal(t, wantLag, dotLag)
}

// nextTick moves both clocks to the input's next timer (its schedule's
// next tick, once the last job has ended and the runner waits for it).
func nextTick(t *testing.T, clock *schedule.FakeClock, manual *fakeapi.ManualClock) {
	t.Helper()
	var at time.Time
	require.Eventually(t, func() bool {
		next, ok := clock.NextDeadline()
		at = next
		return ok && next.After(clock.Now())
	}, 30*time.Second, 5*time.Millisecond, "the input never waited for its next tick")
	manual.Set(at)
	clock.Set(at)
}

// storedCheckpoint reads the pipeline's checkpoint the way `compliance-connect
// state show` does.
func storedCheckpoint(t *testing.T, pipeline string) checkpointView {
	t.Helper()
	ctx := context.Background()
	targets, _, closeRes, err := compliance.OpenStateTargets(ctx, []byte(pipeline))
	require.NoError(t, err)
	defer func() { _ = closeRes(ctx) }()
	require.Len(t, targets, 1)
	rec, err := targets[0].Show(ctx)
	require.NoError(t, err)
	return checkpointView{ScannedTo: rec.ScannedTo.UTC().Format(time.RFC3339), Seen: rec.Seen.Len(), Pending: len(rec.Pending), Rev: rec.Rev}
}

type checkpointView struct {
	ScannedTo     string
	Seen, Pending int
	Rev           int64
}

// TestInspectorEscapesAHostileErrorAndNeverShowsTheKey points the input at
// an API that refuses the key with a message made to run script in the page
// (and that quotes the key back) and a request-id made to break out of an
// attribute. Chromium must show the texts as text: no element or attribute
// of theirs in the DOM, nothing they would have set, the key cut out.
func TestInspectorEscapesAHostileErrorAndNeverShowsTheKey(t *testing.T) {
	t.Parallel()
	chromium(t)
	const label = "hostile"
	const script = `<script>document.documentElement.setAttribute('data-pwned','script')</script>`
	const img = `<img src=x onerror="document.documentElement.setAttribute('data-pwned','img')">`
	const requestID = `req_"><svg onload="document.documentElement.setAttribute('data-pwned','svg')">`
	message := "Invalid API key " + apiKey + " " + script + img
	hostile := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("request-id", requestID)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":` + strconv.Quote(message) + `}}`))
	})
	hs := newServer(t, hostile)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	env := service.NewEnvironment()
	require.NoError(t, compliance.Register(env, compliance.WithClock(func() time.Time { return t0 })))
	s := startServer(t, env, inputConfig(label, hs, t.TempDir(), "@every 1h", t0.Add(-time.Hour)), "")
	jobs := s.waitJobs(t, label, 1)
	require.Equal(t, "failed", jobs[0].Outcome)
	require.Contains(t, jobs[0].Error, "<script>", "the job report carries the API's message")

	_, raw := s.get(t, "/compliance")
	noKey(t, raw, "the page's HTML")
	assert.True(t, strings.Contains(raw, "&lt;script&gt;"), "the HTML escapes the message")
	dom := loadDOM(t, s.pageURL("?refresh=0"))
	noKey(t, dom, "the page")
	doc := parseDOM(t, dom)
	root := one(t, doc, "html", isElement("html"))
	_, pwned := attr(root, "data-pwned")
	assert.False(t, pwned, "a hostile text ran script")
	for _, tag := range []string{"script", "img", "iframe", "object", "embed"} {
		assert.Empty(t, findAll(doc, isElement(tag)), "the DOM has a %s element", tag)
	}
	assert.Len(t, findAll(doc, isElement("svg")), 1, "the one svg is the chart")
	for _, n := range findAll(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			assert.Falsef(t, strings.HasPrefix(strings.ToLower(a.Key), "on"), "<%s> has an event handler attribute %s", n.Data, a.Key)
		}
	}
	_, ep := section(t, doc, label, "activities")
	row := one(t, ep, "the failed job's row", jobRowOf(jobs[0].JobID))
	shown := field(t, row, "error")
	assert.Contains(t, shown, script, "the error is shown as text")
	assert.Contains(t, shown, img)
	assert.Contains(t, shown, "[redacted]", "the key is cut out (by the API client; the page cuts it too)")
	assert.Equal(t, "not ready", field(t, doc, "ready"), "a refused key makes the input not ready")
	assert.Contains(t, field(t, ep, "endpoint-reason"), "authentication_error")
	assert.Contains(t, field(t, ep, "endpoint-reason"), script, "the readiness reason is shown as text")
}

// TestInspectorWithBasicAuth serves the page behind http.basic_auth: without
// credentials or with a wrong password it answers 401, and Chromium given the
// credentials shows the input and its job.
func TestInspectorWithBasicAuth(t *testing.T) {
	t.Parallel()
	chromium(t)
	const label = "guarded"
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	manual := fakeapi.NewManualClock(t0)
	_, _, apiURL := newAPI(t, manual.Now, 23, 120, t0.Add(-time.Hour), t0.Add(-3*time.Minute))
	env := service.NewEnvironment()
	require.NoError(t, compliance.Register(env, compliance.WithClock(manual.Now)))
	const user, pass = "ops", "correct horse battery staple"
	auth := "basic_auth:\n  enabled: true\n  username: " + user + "\n  algorithm: sha256\n  password_hash: " + sha256Base64(pass)
	s := startServer(t, env, inputConfig(label, apiURL, t.TempDir(), "@every 1h", t0.Add(-time.Hour)), auth)

	for name, creds := range map[string][2]string{"no credentials": {}, "wrong password": {user, "wrong"}} {
		req, err := http.NewRequest(http.MethodGet, s.base+"/compliance", nil)
		require.NoError(t, err)
		if creds[0] != "" {
			req.SetBasicAuth(creds[0], creds[1])
		}
		code, body := s.do(t, req)
		assert.Equal(t, http.StatusUnauthorized, code, name)
		assert.NotContains(t, body, label, name)
	}
	s.user, s.pass = user, pass
	jobs := s.waitJobs(t, label, 1)
	require.Equal(t, "success", jobs[0].Outcome, jobs[0].Error)
	doc := parseDOM(t, loadDOM(t, s.pageURL("?refresh=0")))
	_, ep := section(t, doc, label, "activities")
	row := one(t, ep, "the job's row", jobRowOf(jobs[0].JobID))
	assert.Equal(t, strconv.Itoa(jobs[0].Emitted), field(t, row, "emitted"))
	assert.Equal(t, "ready", field(t, doc, "ready"))
}

// jobRowOf matches the table row of a job.
func jobRowOf(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == "tr" && hasAttr("data-job", id)(n) }
}
