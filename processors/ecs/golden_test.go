package ecs_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/ecs"
	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.ecs.json from the current mapping (review the diff!)")

const goldenDir = "../testdata/golden"

func goldenMapper(t testing.TB) *ecs.Mapper {
	t.Helper()
	m, err := ecs.NewMapper(ecs.Options{})
	require.NoError(t, err)
	return m
}

// TestGoldenECS pins the ECS document of every golden activity.
func TestGoldenECS(t *testing.T) {
	m := goldenMapper(t)
	for _, c := range goldentest.Load(t, goldenDir) {
		t.Run(c.Name, func(t *testing.T) {
			out, err := m.Map(c.Input)
			require.NoError(t, err)
			goldentest.Check(t, c.Golden(".ecs.json"), out, *update)
		})
	}
}

// TestGoldenECSKeepsEveryInputValue: whatever is not mapped is under
// anthropic.audit, so no scalar value of the activity is lost.
func TestGoldenECSKeepsEveryInputValue(t *testing.T) {
	m := goldenMapper(t)
	for _, c := range goldentest.Load(t, goldenDir) {
		out, err := m.Map(c.Input)
		require.NoError(t, err)
		a, err := activity.Decode(c.Input)
		require.NoError(t, err)
		// created_at becomes @timestamp in UTC; empty strings are stripped.
		assert.Empty(t, goldentest.MissingLeaves(t, c.Input, out, a.CreatedAt, ""), c.Name)
	}
}

type basics struct {
	Kinds         []string            `json:"kinds"`
	Outcomes      []string            `json:"outcomes"`
	CategoryTypes map[string][]string `json:"category_types"`
	Types         []string            `json:"types"`
	TopLevel      []string            `json:"top_level"`
	IPFields      []string            `json:"ip_fields"`
	IPLists       []string            `json:"ip_lists"`
	KeywordLists  []string            `json:"keyword_lists"`
}

// TestGoldenECSMeetsECSBasics validates every golden document against ECS 9
// facts kept as data in testdata (not the mapper's table): @timestamp,
// ecs.version, event.kind/category/type/outcome allowed values and
// category-type pairs, IP fields, unique related values, no null or empty
// value anywhere, only known top-level fields.
func TestGoldenECSMeetsECSBasics(t *testing.T) {
	raw, err := os.ReadFile("testdata/ecs-9-basics.json")
	require.NoError(t, err)
	var want basics
	require.NoError(t, json.Unmarshal(raw, &want))

	m := goldenMapper(t)
	categorized := 0
	for _, c := range goldentest.Load(t, goldenDir) {
		out, err := m.Map(c.Input)
		require.NoError(t, err)
		doc := goldentest.Decode(t, out)
		for _, problem := range validate(doc, want) {
			t.Errorf("%s: %s", c.Name, problem)
		}
		if _, ok := goldentest.Path(doc, "event.category"); ok {
			categorized++
		}
	}
	assert.Greater(t, categorized, 40, "golden documents with an event.category")
}

func validate(doc map[string]any, want basics) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	ts, _ := doc["@timestamp"].(string)
	if parsed, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || parsed.IsZero() {
		add("@timestamp %q is not RFC 3339 UTC", ts)
	}
	if v, _ := goldentest.Path(doc, "ecs.version"); !strings.HasPrefix(fmt.Sprint(v), "9.") {
		add("ecs.version %v", v)
	}
	for _, k := range []string{"event.action", "event.kind", "event.outcome"} {
		if _, ok := goldentest.Path(doc, k); !ok {
			add("%s missing", k)
		}
	}
	if v, _ := goldentest.Path(doc, "event.kind"); !slices.Contains(want.Kinds, fmt.Sprint(v)) {
		add("event.kind %v", v)
	}
	if v, _ := goldentest.Path(doc, "event.outcome"); !slices.Contains(want.Outcomes, fmt.Sprint(v)) {
		add("event.outcome %v", v)
	}
	categories := stringList(doc, "event.category")
	types := stringList(doc, "event.type")
	for _, c := range categories {
		if _, ok := want.CategoryTypes[c]; !ok {
			add("event.category %q is not an ECS category", c)
		}
	}
	for _, typ := range types {
		if !slices.Contains(want.Types, typ) {
			add("event.type %q is not an ECS type", typ)
			continue
		}
		if len(categories) > 0 && !slices.ContainsFunc(categories, func(c string) bool { return slices.Contains(want.CategoryTypes[c], typ) }) {
			add("event.type %q is expected by none of %v", typ, categories)
		}
	}
	for _, k := range want.IPFields {
		if v, ok := goldentest.Path(doc, k); ok {
			if _, err := netip.ParseAddr(fmt.Sprint(v)); err != nil {
				add("%s %v is not an IP", k, v)
			}
		}
	}
	for _, k := range want.IPLists {
		for _, v := range stringList(doc, k) {
			if _, err := netip.ParseAddr(v); err != nil {
				add("%s value %q is not an IP", k, v)
			}
		}
	}
	for _, k := range want.KeywordLists {
		list := stringList(doc, k)
		if len(slices.Compact(slices.Sorted(slices.Values(list)))) != len(list) {
			add("%s has repeated values %v", k, list)
		}
	}
	if v, ok := goldentest.Path(doc, "http.response.status_code"); ok {
		if _, err := strconv.Atoi(fmt.Sprint(v)); err != nil {
			add("http.response.status_code %v is not an integer", v)
		}
	}
	for k := range doc {
		if !slices.Contains(want.TopLevel, k) {
			add("unexpected top-level field %s", k)
		}
	}
	walkEmpty("", doc, func(path string) { add("null or empty value at %s", path) })
	return problems
}

func stringList(doc map[string]any, path string) []string {
	v, ok := goldentest.Path(doc, path)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range v.([]any) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func walkEmpty(path string, v any, report func(string)) {
	switch x := v.(type) {
	case nil:
		report(path)
	case string:
		if x == "" {
			report(path)
		}
	case map[string]any:
		if len(x) == 0 {
			report(path)
		}
		for k, c := range x {
			walkEmpty(path+"."+k, c, report)
		}
	case []any:
		if len(x) == 0 {
			report(path)
		}
		for i, c := range x {
			walkEmpty(fmt.Sprintf("%s[%d]", path, i), c, report)
		}
	}
}

// TestEveryCataloguedTypeMapsToAValidECSDocument maps one synthetic activity
// of every catalogued type (generated from the catalogue's fields, see
// goldentest.Synthetic), validates the document against ECS 9's allowed
// values, checks that no input value is lost, and pins each type's
// categorization in testdata/catalog.golden.tsv (-update rewrites it).
func TestEveryCataloguedTypeMapsToAValidECSDocument(t *testing.T) {
	raw, err := os.ReadFile("testdata/ecs-9-basics.json")
	require.NoError(t, err)
	var want basics
	require.NoError(t, json.Unmarshal(raw, &want))

	var unknown []string
	m, err := ecs.NewMapper(ecs.Options{UnknownType: func(typ string) { unknown = append(unknown, typ) }})
	require.NoError(t, err)
	var table strings.Builder
	table.WriteString("# type\tevent.category\tevent.type\tevent.outcome (generated by TestEveryCataloguedTypeMapsToAValidECSDocument; -update rewrites)\n")
	for n, e := range catalog.Entries() {
		in := goldentest.Synthetic(e, n)
		out, err := m.Map(in)
		require.NoError(t, err, e.Type)
		doc := goldentest.Decode(t, out)
		for _, problem := range validate(doc, want) {
			t.Errorf("%s: %s", e.Type, problem)
		}
		if _, ok := goldentest.Path(doc, "event.category"); !ok {
			t.Errorf("%s: no event.category", e.Type)
		}
		assert.Empty(t, goldentest.MissingLeaves(t, in, out, "2026-04-10T08:09:10.123Z"), e.Type)
		fmt.Fprintf(&table, "%s\t%s\t%s\t%s\n", e.Type, strings.Join(stringList(doc, "event.category"), ","),
			strings.Join(stringList(doc, "event.type"), ","), field(doc, "event.outcome"))
	}
	assert.Empty(t, unknown, "catalogued types are not reported as unknown")
	goldentest.CheckText(t, "testdata/catalog.golden.tsv", table.String(), *update)
}
