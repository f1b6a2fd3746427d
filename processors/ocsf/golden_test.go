package ocsf_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
	"github.com/compliance-connect/compliance-connect/processors/internal/goldentest"
	"github.com/compliance-connect/compliance-connect/processors/ocsf"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.ocsf.json from the current mapping (review the diff!)")

const goldenDir = "../testdata/golden"

// loggedAt is the fixed processing time of the golden outputs.
var loggedAt = time.Date(2026, 4, 10, 9, 0, 0, 0, time.UTC)

func goldenMapper(t testing.TB) *ocsf.Mapper {
	t.Helper()
	m, err := ocsf.NewMapper(ocsf.Options{Now: func() time.Time { return loggedAt }})
	require.NoError(t, err)
	return m
}

// TestGoldenOCSF pins the OCSF event of every golden activity.
func TestGoldenOCSF(t *testing.T) {
	m := goldenMapper(t)
	for _, c := range goldentest.Load(t, goldenDir) {
		t.Run(c.Name, func(t *testing.T) {
			out, err := m.Map(c.Input)
			require.NoError(t, err)
			goldentest.Check(t, c.Golden(".ocsf.json"), out, *update)
		})
	}
}

// TestGoldenInputsCoverFortyTypesAndEveryActorVariant keeps the golden set
// as wide as promised: at least 40 activity types and all 11 actor variants
// of compliance-api.md §4.2.
func TestGoldenInputsCoverFortyTypesAndEveryActorVariant(t *testing.T) {
	types := map[string]bool{}
	actors := map[string]bool{}
	for _, c := range goldentest.Load(t, goldenDir) {
		a, err := activity.Decode(c.Input)
		require.NoError(t, err, c.Name)
		types[a.Type] = true
		actors[a.Actor.Type] = true
	}
	assert.GreaterOrEqual(t, len(types), 40, "distinct activity types in the golden inputs")
	for _, v := range []string{
		activity.UserActor, activity.APIActor, activity.AdminAPIKeyActor, activity.UnauthenticatedUserActor,
		activity.AnthropicActor, activity.SCIMDirectorySyncActor, activity.SystemActor, activity.ServiceAccountActor,
		activity.FederatedIdentityActor, activity.FederatedActor, activity.AttestedDeviceActor,
	} {
		assert.True(t, actors[v], "no golden input with actor %s", v)
	}
}

// TestGoldenOCSFKeepsEveryInputValue: whatever is not mapped is under
// unmapped, so no scalar value of the activity is lost.
func TestGoldenOCSFKeepsEveryInputValue(t *testing.T) {
	m := goldenMapper(t)
	for _, c := range goldentest.Load(t, goldenDir) {
		out, err := m.Map(c.Input)
		require.NoError(t, err)
		a, err := activity.Decode(c.Input)
		require.NoError(t, err)
		// created_at is kept as metadata.original_time; time is its epoch form.
		assert.Empty(t, goldentest.MissingLeaves(t, c.Input, out, a.CreatedAt), c.Name)
	}
}

type requirements struct {
	BaseRequired   []string            `json:"base_required"`
	ObjectRequired map[string][]string `json:"object_required"`
	StatusIDs      []int               `json:"status_ids"`
	SeverityIDs    []int               `json:"severity_ids"`
	UserTypeIDs    []int               `json:"user_type_ids"`
	Classes        map[string]struct {
		Name        string     `json:"name"`
		CategoryUID int        `json:"category_uid"`
		Required    []string   `json:"required"`
		ActivityIDs []int      `json:"activity_ids"`
		AtLeastOne  [][]string `json:"at_least_one"`
	} `json:"classes"`
	ClassAttributes map[string][]string `json:"class_attributes"`
}

// TestGoldenOCSFMeetsClassRequirements validates every golden output
// against OCSF 1.6.0 requirements kept as data in testdata (written from the
// schema, not from the mapper's tables): required attributes of the base
// event, the class and the objects we fill, enum ranges, type_uid and
// category arithmetic, and no top-level attribute the class lacks.
func TestGoldenOCSFMeetsClassRequirements(t *testing.T) {
	raw, err := os.ReadFile("testdata/ocsf-1.6.0-requirements.json")
	require.NoError(t, err)
	var req requirements
	require.NoError(t, json.Unmarshal(raw, &req))

	m := goldenMapper(t)
	classesSeen := map[string]int{}
	for _, c := range goldentest.Load(t, goldenDir) {
		out, err := m.Map(c.Input)
		require.NoError(t, err)
		ev := goldentest.Decode(t, out)
		for _, problem := range validate(ev, req) {
			t.Errorf("%s: %s", c.Name, problem)
		}
		classesSeen[fmt.Sprint(ev["class_uid"])]++
	}
	for uid := range req.Classes {
		assert.Positive(t, classesSeen[uid], "no golden output of class %s", uid)
	}
}

func validate(ev map[string]any, req requirements) []string {
	var problems []string
	missing := func(obj map[string]any, where string, keys []string) {
		for _, k := range keys {
			if v, ok := goldentest.Path(obj, k); !ok || isEmpty(v) {
				problems = append(problems, fmt.Sprintf("required %s%s missing or empty", where, k))
			}
		}
	}
	missing(ev, "", req.BaseRequired)
	for path, keys := range req.ObjectRequired {
		if obj, ok := goldentest.Path(ev, path); ok {
			missing(obj.(map[string]any), path+".", keys)
		}
	}
	classUID := num(ev["class_uid"])
	cls, ok := req.Classes[strconv.Itoa(classUID)]
	if !ok {
		return append(problems, fmt.Sprintf("class_uid %d is not one of ours", classUID))
	}
	missing(ev, "", cls.Required)
	for _, group := range cls.AtLeastOne {
		if !slices.ContainsFunc(group, func(k string) bool { _, ok := ev[k]; return ok }) {
			problems = append(problems, fmt.Sprintf("none of %v present", group))
		}
	}
	activityID := num(ev["activity_id"])
	if !slices.Contains(cls.ActivityIDs, activityID) {
		problems = append(problems, fmt.Sprintf("activity_id %d not in class %d", activityID, classUID))
	}
	if got, want := num(ev["type_uid"]), classUID*100+activityID; got != want {
		problems = append(problems, fmt.Sprintf("type_uid %d, want %d", got, want))
	}
	if got := num(ev["category_uid"]); got != cls.CategoryUID || classUID/1000 != got {
		problems = append(problems, fmt.Sprintf("category_uid %d for class %d", got, classUID))
	}
	if ev["class_name"] != cls.Name {
		problems = append(problems, fmt.Sprintf("class_name %v, want %s", ev["class_name"], cls.Name))
	}
	if !slices.Contains(req.StatusIDs, num(ev["status_id"])) {
		problems = append(problems, fmt.Sprintf("status_id %v", ev["status_id"]))
	}
	if !slices.Contains(req.SeverityIDs, num(ev["severity_id"])) {
		problems = append(problems, fmt.Sprintf("severity_id %v", ev["severity_id"]))
	}
	for _, p := range []string{"actor.user", "user"} {
		if u, ok := goldentest.Path(ev, p); ok {
			if tid, ok := u.(map[string]any)["type_id"]; ok && !slices.Contains(req.UserTypeIDs, num(tid)) {
				problems = append(problems, fmt.Sprintf("%s.type_id %v", p, tid))
			}
		}
	}
	if md, ok := ev["metadata"].(map[string]any); ok && md["version"] != "1.6.0" {
		problems = append(problems, fmt.Sprintf("metadata.version %v", md["version"]))
	}
	if _, err := strconv.ParseInt(fmt.Sprint(ev["time"]), 10, 64); err != nil {
		problems = append(problems, fmt.Sprintf("time %v is not epoch ms", ev["time"]))
	}
	allowed := append(slices.Clone(req.ClassAttributes["common"]), req.ClassAttributes[strconv.Itoa(classUID)]...)
	for k := range ev {
		if !slices.Contains(allowed, k) {
			problems = append(problems, fmt.Sprintf("attribute %s is not defined for class %d", k, classUID))
		}
	}
	return problems
}

func num(v any) int {
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		return -1
	}
	return n
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// TestEveryCataloguedTypeMapsToAValidOCSFEvent maps one synthetic activity
// of every catalogued type (generated from the catalogue's fields, see
// goldentest.Synthetic) and validates the event against OCSF 1.6.0's
// requirements per class, loses no input value, and pins each type's class,
// activity and status in testdata/catalog.golden.tsv (-update rewrites it).
func TestEveryCataloguedTypeMapsToAValidOCSFEvent(t *testing.T) {
	raw, err := os.ReadFile("testdata/ocsf-1.6.0-requirements.json")
	require.NoError(t, err)
	var req requirements
	require.NoError(t, json.Unmarshal(raw, &req))

	var unknown []string
	m, err := ocsf.NewMapper(ocsf.Options{Now: func() time.Time { return loggedAt }, UnknownType: func(typ string) { unknown = append(unknown, typ) }})
	require.NoError(t, err)
	var table strings.Builder
	table.WriteString("# type\tclass_uid\tactivity_id\tstatus_id (generated by TestEveryCataloguedTypeMapsToAValidOCSFEvent; -update rewrites)\n")
	for n, e := range catalog.Entries() {
		in := goldentest.Synthetic(e, n)
		out, err := m.Map(in)
		require.NoError(t, err, e.Type)
		ev := goldentest.Decode(t, out)
		for _, problem := range validate(ev, req) {
			t.Errorf("%s: %s", e.Type, problem)
		}
		assert.Empty(t, goldentest.MissingLeaves(t, in, out, "2026-04-10T08:09:10.123Z"), e.Type)
		fmt.Fprintf(&table, "%s\t%v\t%v\t%v\n", e.Type, ev["class_uid"], ev["activity_id"], ev["status_id"])
	}
	assert.Empty(t, unknown, "catalogued types are not reported as unknown")
	goldentest.CheckText(t, "testdata/catalog.golden.tsv", table.String(), *update)
}
