// Package tests holds repository-wide checks; the end-to-end tests live in
// tests/e2e and the fake Compliance API in tests/fakeapi.
package tests

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/compliance-connect/compliance-connect"

// deps returns the non-standard packages pkg depends on (transitively).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	var list []string
	for _, l := range strings.Fields(string(out)) {
		if l != pkg {
			list = append(list, l)
		}
	}
	return list
}

// TestImportDirection pins the layout's import rules: leaf packages of the
// input know nothing of Benthos or of each other, the fake API and the
// plugins outside input/ are independent, and nothing imports cmd/.
func TestImportDirection(t *testing.T) {
	leaf := func(extra ...string) []string {
		return append([]string{"github.com/redpanda-data/benthos", "github.com/Jeffail/shutdown", module + "/"}, extra...)
	}
	tests := []struct {
		pkg       string
		forbidden []string // prefixes no dependency may have
		allowed   []string // exceptions to forbidden (exact package paths)
	}{
		{pkg: module + "/input/compliance/api", forbidden: leaf()},
		{pkg: module + "/input/compliance/timeexpr", forbidden: leaf()},
		{pkg: module + "/input/compliance/window", forbidden: leaf()},
		{pkg: module + "/input/compliance/checkpoint", forbidden: leaf()},
		{pkg: module + "/input/compliance/schedule", forbidden: leaf()},
		{pkg: module + "/input/compliance/pager", forbidden: leaf(), allowed: []string{module + "/input/compliance/api"}},
		{pkg: module + "/input/compliance/collector", forbidden: []string{"github.com/redpanda-data/benthos", "github.com/Jeffail/shutdown", module + "/cmd", module + "/tests", module + "/input/compliance/collector/"}},
		{pkg: module + "/input/compliance/emit", forbidden: leaf()},
		// The collectors of the other endpoints know the engine's leaves, not
		// Benthos, nor each other.
		{pkg: module + "/input/compliance/snapshot", forbidden: []string{"github.com/redpanda-data/benthos", "github.com/Jeffail/shutdown", module + "/cmd", module + "/tests", module + "/input/compliance/content"}},
		{pkg: module + "/input/compliance/content", forbidden: []string{"github.com/redpanda-data/benthos", "github.com/Jeffail/shutdown", module + "/cmd", module + "/tests", module + "/input/compliance/snapshot", module + "/input/compliance/emit"}},
		{pkg: module + "/input/compliance", forbidden: []string{module + "/cmd", module + "/tests", module + "/outputs", module + "/processors", module + "/metrics"}},
		{pkg: module + "/tests/fakeapi", forbidden: []string{""}},
		{pkg: module + "/outputs/...", forbidden: []string{module + "/input", module + "/cmd", module + "/tests"}},
		{pkg: module + "/processors/...", forbidden: []string{module + "/input", module + "/cmd", module + "/tests"}},
		{pkg: module + "/caches/...", forbidden: []string{module + "/input", module + "/cmd", module + "/tests"}},
		{pkg: module + "/metrics/...", forbidden: []string{module + "/input", module + "/cmd", module + "/tests"}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.pkg, module+"/"), func(t *testing.T) {
			own := strings.TrimSuffix(tt.pkg, "/...")
			for _, d := range deps(t, tt.pkg) {
				if strings.HasPrefix(d, own) || contains(tt.allowed, d) {
					continue
				}
				for _, f := range tt.forbidden {
					if strings.HasPrefix(d, f) {
						t.Errorf("%s must not depend on %s", tt.pkg, d)
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
