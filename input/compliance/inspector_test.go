package compliance

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// hostileValues are texts made to break out of each context the page puts
// a value in: element text, a quoted attribute, an href, a style, <title>
// and SVG.
var hostileValues = []string{
	`<script>document.title='pwned'</script>`,
	`"><img src=x onerror="alert(1)">`,
	`'><svg onload=alert(1)>`,
	`javascript:alert(1)`,
	`</title><script>alert(1)</script>`,
	`</style><script>alert(1)</script>`,
	`x" style="background:url(javascript:alert(1))`,
	`]]><script>alert(1)</script><![CDATA[`,
}

// fill sets every string of v (recursively) to s, every int to 1 and every
// bool to true, and gives every slice one element and every pointer a value.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), s)
		}
	}
}

// TestInspectorTemplateEscapesEveryValue renders the page with every value
// (labels, endpoint names, error texts, request-ids, times, chart marks)
// set to a hostile text, and checks that the parsed page has no element,
// attribute or URL of the text's making, and shows the text itself where it
// is text.
func TestInspectorTemplateEscapesEveryValue(t *testing.T) {
	for i, payload := range hostileValues {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var page inspectorPage
			fill(reflect.ValueOf(&page).Elem(), payload)
			page.Refresh = 10
			var buf bytes.Buffer
			require.NoError(t, inspectorTemplate.Execute(&buf, page))
			doc, err := html.Parse(&buf)
			require.NoError(t, err)
			var texts []string
			var walk func(n *html.Node)
			walk = func(n *html.Node) {
				switch n.Type {
				case html.ElementNode:
					switch n.Data {
					case "script", "img", "iframe", "object", "embed", "base", "form":
						t.Errorf("the page has a <%s> element", n.Data)
					}
					for _, a := range n.Attr {
						if strings.HasPrefix(strings.ToLower(a.Key), "on") {
							t.Errorf("<%s> has an event handler attribute %s=%q", n.Data, a.Key, a.Val)
						}
						if (a.Key == "href" || a.Key == "src") && strings.Contains(strings.ToLower(a.Val), "javascript:") {
							t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
						}
						if a.Key == "style" && strings.Contains(strings.ToLower(a.Val), "javascript") {
							t.Errorf("<%s style=%q>", n.Data, a.Val)
						}
					}
				case html.TextNode:
					texts = append(texts, n.Data)
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
			}
			walk(doc)
			all := strings.Join(texts, "\n")
			assert.True(t, strings.Contains(all, payload), "the value is not shown as text")
			svgs := 0
			var count func(n *html.Node)
			count = func(n *html.Node) {
				if n.Type == html.ElementNode && n.Data == "svg" {
					svgs++
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					count(c)
				}
			}
			count(doc)
			assert.Equal(t, 1, svgs, "the only svg is the one chart")
		})
	}
}

// TestInspectorCleanCutsTheKeyAndLongTexts pins what clean does to texts
// from outside before they are shown.
func TestInspectorCleanCutsTheKeyAndLongTexts(t *testing.T) {
	const key = "sk-ant-api01-secret-0123456789"
	in := &input{cfg: &inputConfig{APIKey: key}}
	tests := []struct {
		name, in, want string
	}{
		{"plain text", "429 rate_limit_error", "429 rate_limit_error"},
		{"the key quoted back", "invalid key " + key + " (" + key + ")", "invalid key [api key redacted] ([api key redacted])"},
		{"hostile text is left to the template", "<script>x</script>", "<script>x</script>"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, in.clean(tt.in), tt.name)
	}
	long := in.clean(strings.Repeat("é", inspectorMaxText))
	assert.LessOrEqual(t, len(long), inspectorMaxText+len(" [… shortened]"))
	assert.True(t, strings.HasSuffix(long, " [… shortened]"))
	assert.True(t, strings.ToValidUTF8(long, "?") == long, "a cut never splits a character")
	short := &input{cfg: &inputConfig{APIKey: "k"}}
	assert.Equal(t, "a key k", short.clean("a key k"), "a key too short to be real cuts nothing")
}

func TestInspectorRefreshParameter(t *testing.T) {
	tests := []struct {
		query string
		want  int
	}{
		{"", 10}, {"0", 0}, {"30", 30}, {"1", 2}, {"86400", 3600}, {"-5", 10}, {"ten", 10}, {"<script>", 10},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, refreshSeconds(tt.query), "refresh=%q", tt.query)
	}
}

// TestInspectorIsReadOnlyAndLoadsNothing checks the answer's method
// handling and headers: only GET and HEAD, never cached, and a policy that
// forbids scripts and any load from elsewhere.
func TestInspectorIsReadOnlyAndLoadsNothing(t *testing.T) {
	reg := &inspectorRegistry{}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		rec := httptest.NewRecorder()
		reg.serveHTTP(rec, httptest.NewRequest(method, inspectorPath, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
	}
	rec := httptest.NewRecorder()
	reg.serveHTTP(rec, httptest.NewRequest(http.MethodGet, inspectorPath, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "No anthropic_compliance input is running")
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	csp := rec.Header().Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.NotContains(t, csp, "script-src", "no script may run")
	head := httptest.NewRecorder()
	reg.serveHTTP(head, httptest.NewRequest(http.MethodHead, inspectorPath, nil))
	assert.Equal(t, http.StatusOK, head.Code)
	assert.Empty(t, head.Body.String())
}

// TestInspectorChartScalesBarsAndLag checks the chart's marks: oldest job on
// the left, bar heights proportional to activities (an empty job still a
// 1-unit tick), the lag line through each job's end - scanned_to, standby
// ticks without a lag point, and only the newest jobs when there are many.
func TestInspectorChartScalesBarsAndLag(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	job := func(i, emitted int, outcome string, lag time.Duration) collector.Report {
		end := t0.Add(time.Duration(i) * time.Minute)
		rep := collector.Report{JobID: "job-" + strconv.Itoa(i), Start: end, End: end, Emitted: emitted, Outcome: outcome}
		if lag > 0 {
			rep.ScannedToTime = end.Add(-lag)
		}
		return rep
	}
	newestFirst := []collector.Report{
		job(3, 0, collector.OutcomeStandby, 0),
		job(2, 50, collector.OutcomeSuccess, 4*time.Minute),
		job(1, 100, collector.OutcomeSuccess, 2*time.Minute),
	}
	c := newChart(newestFirst)
	require.NotNil(t, c)
	require.Len(t, c.Bars, 3)
	plotH := float64(chartHeight) - chartTop - chartBottom
	h := func(b chartBar) float64 { f, err := strconv.ParseFloat(b.H, 64); require.NoError(t, err); return f }
	x := func(s string) float64 { f, err := strconv.ParseFloat(s, 64); require.NoError(t, err); return f }
	assert.Equal(t, []string{"job-1", "job-2", "job-3"}, []string{c.Bars[0].JobID, c.Bars[1].JobID, c.Bars[2].JobID}, "oldest first")
	assert.InDelta(t, plotH, h(c.Bars[0]), 0.1)
	assert.InDelta(t, plotH/2, h(c.Bars[1]), 0.1)
	assert.InDelta(t, 1, h(c.Bars[2]), 0.1, "an empty job is a tick")
	assert.Less(t, x(c.Bars[0].X), x(c.Bars[1].X))
	assert.Equal(t, []string{"ok", "ok", "idle"}, []string{c.Bars[0].Class, c.Bars[1].Class, c.Bars[2].Class})
	require.Len(t, c.Dots, 2, "a standby tick has no lag")
	assert.Equal(t, "120", c.Dots[0].LagSeconds)
	assert.Equal(t, "240", c.Dots[1].LagSeconds)
	assert.InDelta(t, chartTop, x(c.Dots[1].Y), 0.1, "the largest lag is at the top")
	assert.Equal(t, "4m0s", c.MaxLag)
	assert.Equal(t, 100, c.MaxActivities)

	var many []collector.Report
	for i := inspectorChartJobs + 10; i > 0; i-- {
		many = append(many, job(i, i, collector.OutcomeSuccess, time.Minute))
	}
	c = newChart(many)
	require.Len(t, c.Bars, inspectorChartJobs)
	assert.Equal(t, "job-11", c.Bars[0].JobID, "the oldest shown")
	assert.Equal(t, "job-"+strconv.Itoa(inspectorChartJobs+10), c.Bars[len(c.Bars)-1].JobID)
	assert.Nil(t, newChart(nil))
}
