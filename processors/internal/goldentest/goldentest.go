// Package goldentest holds the golden-file helpers the ocsf and ecs tests
// share: loading the activity inputs under processors/testdata/golden,
// comparing (or, with -update, rewriting) expected outputs, and listing input
// values an output lost. Test-only; nothing else imports it.
package goldentest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// InputSuffix ends the name of every golden input file.
const InputSuffix = ".input.json"

// Case is one golden input.
type Case struct {
	Name  string // file name without InputSuffix
	Path  string // input path; outputs sit next to it
	Input []byte
}

// Golden returns the path of the expected output with the given suffix.
func (c Case) Golden(suffix string) string {
	return strings.TrimSuffix(c.Path, InputSuffix) + suffix
}

// Load reads every *.input.json in dir, sorted by name.
func Load(t testing.TB, dir string) []Case {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+InputSuffix))
	require.NoError(t, err)
	sort.Strings(paths)
	cases := make([]Case, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		cases = append(cases, Case{Name: strings.TrimSuffix(filepath.Base(p), InputSuffix), Path: p, Input: b})
	}
	return cases
}

// Check compares got, indented, with the file at path; with update it writes
// the file instead.
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, got, "", "  "), "output is not valid JSON: %s", got)
	buf.WriteByte('\n')
	if update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run the test with -update and review the diff")
	require.Equal(t, string(want), buf.String(), "output differs from %s (run with -update and review the diff)", path)
}

// CheckText compares got with the file at path; with update it writes the
// file instead.
func CheckText(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run the test with -update and review the diff")
	if string(want) == got {
		return
	}
	wantLines, gotLines := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	var diff []string
	for i := 0; i < max(len(wantLines), len(gotLines)) && len(diff) < 20; i++ {
		var w, g string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if w != g {
			diff = append(diff, fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, w, g))
		}
	}
	t.Fatalf("output differs from %s (run with -update and review the diff):\n%s", path, strings.Join(diff, "\n"))
}

// MissingLeaves lists the scalar values (strings, numbers, booleans) of in
// that appear nowhere in out, each as "path=value". Nulls are not values.
// skip holds values allowed to disappear, e.g. redacted ones.
func MissingLeaves(t testing.TB, in, out []byte, skip ...string) []string {
	t.Helper()
	have := map[string]bool{}
	for _, l := range leaves(t, out) {
		have[l.value] = true
	}
	for _, s := range skip {
		have[s] = true
	}
	var missing []string
	for _, l := range leaves(t, in) {
		if !have[l.value] {
			missing = append(missing, l.path+"="+l.value)
		}
	}
	return missing
}

type leaf struct{ path, value string }

func leaves(t testing.TB, doc []byte) []leaf {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	var out []leaf
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		case nil:
		default:
			out = append(out, leaf{path: path, value: fmt.Sprint(x)})
		}
	}
	walk("", v)
	return out
}

// Decode parses a JSON object into a map, numbers as json.Number.
func Decode(t testing.TB, doc []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m), "not a JSON object: %s", doc)
	return m
}

// Path walks dotted keys into a decoded object; ok is false if one is missing.
func Path(m map[string]any, dotted string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(dotted, ".") {
		obj, isObj := cur.(map[string]any)
		if !isObj {
			return nil, false
		}
		if cur, isObj = obj[k]; !isObj {
			return nil, false
		}
	}
	return cur, true
}
