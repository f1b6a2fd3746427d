package ops_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestDashboardHasThePanelsOperatorsNeed pins the panels issue 14 asks for
// (by title) and the dashboard's structure: unique ids, a 24-column grid
// without overlaps, every query panel on the datasource variable, every
// target with a refId and an expression, every variable it uses defined.
func TestDashboardHasThePanelsOperatorsNeed(t *testing.T) {
	d := loadDashboard(t)
	assert.Equal(t, "compliance-connect", d.UID)

	var titles []string
	for _, p := range d.Panels {
		titles = append(titles, strings.ToLower(p.Title))
	}
	for _, want := range []string{
		"collection lag", "checkpoint age", "jobs by outcome", "activities per second",
		"requests per minute by status", "retries by reason", "rate-limit waits",
		"rate budget remaining", "late catches vs margin", "open slices", "oldest unacknowledged batch",
	} {
		assert.Contains(t, titles, want)
	}

	vars := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	used := regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)`)

	ids := map[int]string{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		t.Run(fmt.Sprintf("%d %s", p.ID, p.Title), func(t *testing.T) {
			require.NotZero(t, p.ID)
			if other, dup := ids[p.ID]; dup {
				t.Errorf("id %d is also panel %q", p.ID, other)
			}
			ids[p.ID] = p.Title
			g := p.GridPos
			assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24 && g.Y >= 0, "gridPos %+v outside the 24-column grid", g)
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[cell{x, y}]; ok {
						t.Fatalf("overlaps panel %q at column %d row %d", other, x, y)
					}
					taken[cell{x, y}] = p.Title
				}
			}
			if p.Type == "row" {
				return
			}
			require.NotNil(t, p.Datasource)
			assert.Equal(t, "${datasource}", p.Datasource.UID)
			assert.NotEmpty(t, p.Description, "a panel says what it shows and what is normal")
			require.NotEmpty(t, p.Targets)
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				assert.NotEmpty(t, tg.RefID)
				assert.False(t, refs[tg.RefID], "refId %s twice", tg.RefID)
				refs[tg.RefID] = true
				assert.NotEmpty(t, strings.TrimSpace(tg.Expr))
				for _, m := range used.FindAllStringSubmatch(tg.Expr, -1) {
					assert.True(t, vars[m[1]], "target %s uses undefined variable $%s", tg.RefID, m[1])
				}
			}
		})
	}
}

// TestDashboardQueriesParse gives every dashboard query, its variables
// replaced by their defaults, to promtool as a recording rule: Prometheus'
// own parser checks the syntax.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	promtool(t)
	d := loadDashboard(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, q := range dashboardQueries(t, d) {
		expr := substituteVariables(d, q.expr)
		require.NotContains(t, expr, "$", "%s: a variable is left in %q", q.where, expr)
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: expr})
	}
	doc := map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}
	data, err := yaml.Marshal(doc)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard-rules.yaml"), data, 0o600))
	out := runPromtool(t, dir, "check", "rules", "dashboard-rules.yaml")
	assert.Contains(t, out, fmt.Sprintf("SUCCESS: %d rules found", len(rules)))
}
