package ops_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPromtoolChecksAndUnitTestsTheAlerts runs `promtool check rules` on
// alerts.yaml and `promtool test rules` on alerts_test.yaml, whose cases show
// each alert firing and, in a near miss, not firing.
func TestPromtoolChecksAndUnitTestsTheAlerts(t *testing.T) {
	t.Parallel()
	dir := repoPath("config", "prometheus")
	out := runPromtool(t, dir, "check", "rules", "alerts.yaml")
	assert.Contains(t, out, "SUCCESS")
	out = runPromtool(t, dir, "test", "rules", "alerts_test.yaml")
	assert.Contains(t, out, "SUCCESS")
}

// TestEveryAlertIsUnitTestedFiringAndHasARunbook: every alert has a
// severity, a summary, a description and runbook text, and the promtool
// tests show each one firing at least once.
func TestEveryAlertIsUnitTestedFiringAndHasARunbook(t *testing.T) {
	tests, err := os.ReadFile(repoPath("config", "prometheus", "alerts_test.yaml"))
	require.NoError(t, err)
	firing := map[string]bool{}
	// An alertname followed by a non-empty exp_alerts list.
	for _, m := range regexp.MustCompile(`alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels`).FindAllStringSubmatch(string(tests), -1) {
		firing[m[1]] = true
	}
	for _, r := range loadAlerts(t) {
		t.Run(r.Alert, func(t *testing.T) {
			assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"])
			for _, a := range []string{"summary", "description", "runbook"} {
				assert.NotEmpty(t, strings.TrimSpace(r.Annotations[a]), "annotation %s", a)
			}
			assert.GreaterOrEqual(t, strings.Count(strings.TrimSpace(r.Annotations["runbook"]), "\n"), 1,
				"a runbook says what to look at and what to do: more than one line")
			assert.True(t, firing[r.Alert], "alerts_test.yaml never shows %s firing", r.Alert)
		})
	}
}

// TestPromtoolTestsCanFail: a mutated copy of the rules (every threshold
// number on a comparison doubled) makes `promtool test rules` fail, so the
// unit tests really pin the thresholds.
func TestPromtoolTestsCanFail(t *testing.T) {
	t.Parallel()
	pt := promtool(t)
	src := repoPath("config", "prometheus")
	dir := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(src, "alerts.yaml"))
	require.NoError(t, err)
	tests, err := os.ReadFile(filepath.Join(src, "alerts_test.yaml"))
	require.NoError(t, err)
	threshold := regexp.MustCompile(`(> |>= )([0-9.]+)`)
	mutated := threshold.ReplaceAllString(string(rules), "${1}2 * $2")
	require.NotEqual(t, string(rules), mutated)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yaml"), []byte(mutated), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o600))
	cmd := execIn(dir, pt, "test", "rules", "alerts_test.yaml")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "promtool test rules passed on mutated thresholds:\n%s", out)
	failed := regexp.MustCompile(`alertname: (\w+)`).FindAllStringSubmatch(string(out), -1)
	var names []string
	for _, m := range failed {
		names = append(names, m[1])
	}
	slices.Sort(names)
	names = slices.Compact(names)
	t.Logf("alerts whose tests failed on doubled thresholds: %v", names)
	assert.GreaterOrEqual(t, len(names), 6, "most alerts' tests notice a doubled threshold:\n%s", out)
}
