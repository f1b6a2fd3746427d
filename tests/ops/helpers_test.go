package ops_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// repo is the repository root, relative to this package.
const repo = "../.."

func repoPath(parts ...string) string { return filepath.Join(append([]string{repo}, parts...)...) }

// promtool returns the path of promtool. ./.ci/test installs it and sets
// COMPLIANCE_TEST_PROMTOOL: then a missing or broken promtool fails the test.
// Run by hand without it, the test is skipped.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("COMPLIANCE_TEST_PROMTOOL"); p != "" {
		out, err := exec.Command(p, "--version").CombinedOutput()
		require.NoError(t, err, "COMPLIANCE_TEST_PROMTOOL=%s does not run: %s", p, out)
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (./.ci/test installs it: apt-get install prometheus); set COMPLIANCE_TEST_PROMTOOL to make this a failure")
	}
	return p
}

// runPromtool runs promtool with args in dir and returns its output; a
// non-zero exit fails the test.
func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// ---------------------------------------------------------------------------
// The dashboard.

const dashboardFile = "config/grafana/compliance-connect.json"

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

type variable struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Query   any    `json:"query"` // a string, or {"query": "..."} for query variables
	Current struct {
		Value any `json:"value"`
	} `json:"current"`
	AllValue string `json:"allValue"`
}

// queryText is the PromQL (or label_values(...)) of a query variable.
func (v variable) queryText() string {
	switch q := v.Query.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["query"].(string)
		return s
	}
	return ""
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(repoPath(dashboardFile))
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(data, &d), dashboardFile)
	return d
}

// query is one PromQL expression of the dashboard or the alerts, named
// after where it lives.
type query struct {
	where string
	expr  string
}

// labelValuesQuery matches Grafana's label_values(selector, label).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashboardQueries returns every PromQL expression of the dashboard: panel
// targets, and the selectors of its label_values() variables (each with a
// by() clause naming the label the variable lists, so that the label is
// checked too).
func dashboardQueries(t *testing.T, d dashboard) []query {
	t.Helper()
	var out []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, query{where: "panel " + p.Title + " " + tg.RefID, expr: tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(v.queryText())
		require.NotNil(t, m, "variable %s: only label_values(selector, label) queries are supported, got %q", v.Name, v.queryText())
		out = append(out, query{where: "variable " + v.Name, expr: "count by (" + m[2] + ") (" + m[1] + ")"})
	}
	return out
}

// substituteVariables replaces the dashboard's variables in expr with their
// current values ("All" becomes the variable's allValue) and Grafana's
// built-in intervals with typical values, giving plain PromQL.
func substituteVariables(d dashboard, expr string) string {
	pairs := []string{"$__rate_interval", "5m", "${__rate_interval}", "5m", "$__interval", "1m", "$__range", "1h"}
	for _, v := range d.Templating.List {
		value := ""
		switch cur := v.Current.Value.(type) {
		case string:
			value = cur
		case []any:
			if len(cur) > 0 {
				value, _ = cur[0].(string)
			}
		}
		if value == "$__all" || value == "" {
			value = v.AllValue
		}
		pairs = append(pairs, "${"+v.Name+"}", value, "$"+v.Name, value)
	}
	return strings.NewReplacer(pairs...).Replace(expr)
}

// ---------------------------------------------------------------------------
// The alerts.

const alertsFile = "config/prometheus/alerts.yaml"

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlerts(t *testing.T) []alertRule {
	t.Helper()
	data, err := os.ReadFile(repoPath(alertsFile))
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(data, &doc), alertsFile)
	var out []alertRule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	require.NotEmpty(t, out, "no rules in %s", alertsFile)
	return out
}

func alertQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	for _, r := range loadAlerts(t) {
		out = append(out, query{where: "alert " + r.Alert, expr: r.Expr})
	}
	return out
}

// execIn is exec.Command run in dir.
func execIn(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd
}
