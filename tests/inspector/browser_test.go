package inspector_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// The browser is Debian's chromium, driven through its command line: the
// page runs no script, so the DOM Chromium dumps once the page has loaded is
// what a user sees, and no DevTools client (a new dependency) is needed.

// chromium returns the path of the browser. ./.ci/test installs it and sets
// COMPLIANCE_TEST_CHROMIUM: then a missing or broken Chromium fails the test.
// Run by hand without it, the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("COMPLIANCE_TEST_CHROMIUM"); p != "" {
		out, err := exec.Command(p, "--version").CombinedOutput()
		require.NoError(t, err, "COMPLIANCE_TEST_CHROMIUM=%s does not run: %s", p, out)
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not found (./.ci/test installs it: apt-get install chromium); set COMPLIANCE_TEST_CHROMIUM to make this a failure")
	return ""
}

// runChromium runs headless Chromium with a fresh profile and the flags that
// keep it from reaching out to the network, plus args; it returns stdout.
func runChromium(t *testing.T, args ...string) string {
	t.Helper()
	bin := chromium(t)
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "chromium %s failed:\n%s", strings.Join(args, " "), tail(stderr.String(), 3000))
	return stdout.String()
}

// loadDOM loads url in Chromium and returns the DOM it built, serialized.
func loadDOM(t *testing.T, url string) string {
	t.Helper()
	dom := runChromium(t, "--dump-dom", url)
	require.Contains(t, dom, "<html", "chromium dumped no document for %s", url)
	return dom
}

// screenshot saves a PNG of url (1280 px wide) under the test's temp dir
// and logs its path.
func screenshot(t *testing.T, url, name string, height int) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	runChromium(t, "--screenshot="+path, "--window-size=1280,"+strconv.Itoa(height), url)
	info, err := os.Stat(path)
	require.NoError(t, err, "chromium wrote no screenshot")
	require.Greater(t, info.Size(), int64(1000), "the screenshot is empty")
	t.Logf("screenshot of %s: %s (%d bytes)", url, path, info.Size())
	if keep := os.Getenv("COMPLIANCE_TEST_SCREENSHOT_DIR"); keep != "" {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(keep, name), data, 0o644))
		t.Logf("copied to %s", filepath.Join(keep, name))
	}
	return path
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

//------------------------------------------------------------------------------
// Reading the DOM.

func parseDOM(t *testing.T, dom string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(dom))
	require.NoError(t, err)
	return doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// findAll returns the elements under n (n included) that match.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func hasAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, ok := attr(n, key); return ok && v == val }
}

func isElement(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag }
}

// one returns the single element under n that matches; the test fails
// unless there is exactly one.
func one(t *testing.T, n *html.Node, what string, match func(*html.Node) bool) *html.Node {
	t.Helper()
	found := findAll(n, match)
	require.Len(t, found, 1, "want exactly one %s", what)
	return found[0]
}

// field returns the text of the one element with data-field=name under n.
func field(t *testing.T, n *html.Node, name string) string {
	t.Helper()
	return text(one(t, n, "data-field="+name, hasAttr("data-field", name)))
}

// text is the element's text content, spaces collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// section returns the element of input label, and in it the one of endpoint.
func section(t *testing.T, doc *html.Node, label, endpoint string) (input, ep *html.Node) {
	t.Helper()
	input = one(t, doc, "section of input "+label, hasAttr("data-input", label))
	ep = one(t, input, "article of endpoint "+endpoint, hasAttr("data-endpoint", endpoint))
	return input, ep
}
