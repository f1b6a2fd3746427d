// Package catalog is the one list of Compliance API activity types that the
// ocsf and ecs processors share: each type's family, verb, target kind and
// the fields it carries (types.tsv), the families an unknown type is matched
// against (families.tsv), and what each verb does (verbs.tsv). It is data and
// the code that reads it; the mappings built from it live in the processors.
//
// The data files say where the list comes from; see README.md next to them.
package catalog

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

// Target is the kind of thing an activity acts on; it picks the OCSF class
// and the ECS categories.
type Target string

// Targets.
const (
	Session    Target = "session"    // a sign-in, sign-out or session of a person or workload
	User       Target = "user"       // a member account or an invitation to one
	Key        Target = "key"        // an API key, service key or service account: credentials that act as accounts
	Factor     Target = "factor"     // a second factor of a user: trusted devices, passkeys
	Role       Target = "role"       // privileges assigned to or revoked from a principal
	RoleConfig Target = "rolecfg"    // the definition of a role or a capability grant
	Consent    Target = "consent"    // a consent a user granted or revoked
	Group      Target = "group"      // a group and its members
	Membership Target = "membership" // members of a workspace
	Content    Target = "content"    // chats, artifacts, projects, skills, commands, plugins, sessions
	File       Target = "file"       // uploaded files and project documents
	Share      Target = "share"      // sharing of content: links, invitations, publication, access of members
	Export     Target = "export"     // data exports and reports
	API        Target = "api"        // a Compliance API request
	Credential Target = "credential" // tokens, secrets and keys that are not accounts
	Detection  Target = "detection"  // a check or scan that produced a verdict
	Config     Target = "config"     // settings, integrations, billing and other configuration
)

var targets = []Target{Session, User, Key, Factor, Role, RoleConfig, Consent, Group, Membership, Content, File, Share, Export, API, Credential, Detection, Config}

// Targets lists every target.
func Targets() []Target { return append([]Target(nil), targets...) }

// Outcome is what a verb says about the result of the activity.
type Outcome string

// Outcomes.
const (
	Success Outcome = "success"
	Failure Outcome = "failure"
	Unknown Outcome = "unknown" // not decided yet (initiated, requested) or carried by a field
)

// Kind is the JSON shape of a field.
type Kind string

// Kinds of fields (the letters of types.tsv).
const (
	String     Kind = "s"
	Email      Kind = "e"
	Bool       Kind = "b"
	Number     Kind = "n"
	List       Kind = "l"  // list of strings
	EmailList  Kind = "el" // list of email addresses
	Object     Kind = "o"
	ObjectList Kind = "ol"
	Time       Kind = "t" // RFC 3339 string
)

var kinds = map[Kind]bool{String: true, Email: true, Bool: true, Number: true, List: true, EmailList: true, Object: true, ObjectList: true, Time: true}

// Field is one type-specific member of an activity.
type Field struct {
	Name     string
	Kind     Kind
	Optional bool // may be absent or null
	// ID marks the member holding the id of what the activity acts on, Label
	// the one holding its name.
	ID, Label bool
}

// Entry describes one activity type.
type Entry struct {
	Type    string
	Family  string // a prefix of Type; Type is Family + "_" + Verb
	Verb    string
	Target  Target
	Action  string // what the verb does (create, read, update, delete, ...), "" when the verb is unknown
	Outcome Outcome
	Caption string // what the family's objects are called, e.g. "MCP Server"
	Fields  []Field
	// Catalogued is false for an entry Classify inferred for a type the
	// catalogue does not list.
	Catalogued bool
}

// IDField returns the member holding the id of what the activity acts on.
func (e *Entry) IDField() string {
	for _, f := range e.Fields {
		if f.ID {
			return f.Name
		}
	}
	return ""
}

// LabelField returns the member holding the name of what the activity acts on.
func (e *Entry) LabelField() string {
	for _, f := range e.Fields {
		if f.Label {
			return f.Name
		}
	}
	return ""
}

//go:embed types.tsv
var typesTSV string

//go:embed families.tsv
var familiesTSV string

//go:embed verbs.tsv
var verbsTSV string

type verbInfo struct {
	action  string
	outcome Outcome
}

type family struct {
	name    string
	target  Target
	caption string
	// object holds the @ and = members the family's catalogued types share
	// (the first type that has them), given to types inferred into it.
	object []Field
}

// data is the parsed catalogue.
type data struct {
	entries    map[string]*Entry
	sorted     []*Entry
	families   map[string]family
	byLength   []family // longest first, for prefix matching
	verbs      map[string]verbInfo
	verbsByLen []string // longest first, for suffix matching
	actions    map[string]bool
}

// cat is the embedded catalogue, parsed once; the files are tested, so a
// parse error is a build defect.
var cat = mustParse(typesTSV, familiesTSV, verbsTSV)

func mustParse(types, families, verbs string) *data {
	d, err := parse(types, families, verbs)
	if err != nil {
		panic("catalog: " + err.Error())
	}
	return d
}

// Lookup returns the catalogued entry of a type.
func Lookup(activityType string) (*Entry, bool) {
	e, ok := cat.entries[activityType]
	return e, ok
}

// Entries returns every catalogued entry, sorted by type.
func Entries() []*Entry { return append([]*Entry(nil), cat.sorted...) }

// Actions returns every action a verb of the catalogue can have, sorted.
func Actions() []string {
	out := make([]string, 0, len(cat.actions))
	for a := range cat.actions {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Classify returns the catalogued entry of a type or, for a type the
// catalogue does not list, one inferred from it: the longest known family
// the type starts with gives the target, caption and the members naming
// the object, and the rest of the type, or its longest known verb suffix,
// the action and outcome. A type of no known family but with a known verb
// is configuration (most new types are); one with neither has Target "".
func Classify(activityType string) Entry { return cat.classify(activityType) }

func (d *data) classify(activityType string) Entry {
	if e, ok := d.entries[activityType]; ok {
		return *e
	}
	e := Entry{Type: activityType, Outcome: Unknown}
	rest := activityType
	for _, f := range d.byLength {
		if len(activityType) > len(f.name)+1 && activityType[len(f.name)] == '_' && strings.HasPrefix(activityType, f.name) {
			e.Family, e.Target, e.Caption, e.Fields = f.name, f.target, f.caption, f.object
			rest = activityType[len(f.name)+1:]
			break
		}
	}
	e.Verb = rest
	if v, ok := d.verbs[rest]; ok {
		e.Action, e.Outcome = v.action, v.outcome
		if e.Family == "" {
			e.Target = Config
		}
		return e
	}
	for _, name := range d.verbsByLen {
		if len(rest) > len(name) && rest[len(rest)-len(name)-1] == '_' && strings.HasSuffix(rest, name) {
			v := d.verbs[name]
			e.Action, e.Outcome = v.action, v.outcome
			break
		}
	}
	if e.Family == "" && e.Action != "" {
		e.Target = Config
	}
	return e
}

func parse(typesText, familiesText, verbsText string) (*data, error) {
	d := &data{verbs: map[string]verbInfo{}, families: map[string]family{}, entries: map[string]*Entry{}, actions: map[string]bool{}}
	for n, cols := range rows(verbsText) {
		if len(cols) != 3 {
			return nil, fmt.Errorf("verbs.tsv line %d: want verb, action, outcome", n)
		}
		o := Outcome(cols[2])
		if o != Success && o != Failure && o != Unknown {
			return nil, fmt.Errorf("verbs.tsv line %d: outcome %q", n, o)
		}
		if _, dup := d.verbs[cols[0]]; dup {
			return nil, fmt.Errorf("verbs.tsv line %d: verb %q twice", n, cols[0])
		}
		d.verbs[cols[0]] = verbInfo{action: cols[1], outcome: o}
		d.actions[cols[1]] = true
		d.verbsByLen = append(d.verbsByLen, cols[0])
	}
	sort.Slice(d.verbsByLen, func(i, j int) bool {
		a, b := d.verbsByLen[i], d.verbsByLen[j]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})

	known := map[Target]bool{}
	for _, t := range targets {
		known[t] = true
	}
	for n, cols := range rows(familiesText) {
		if len(cols) != 3 {
			return nil, fmt.Errorf("families.tsv line %d: want family, target, caption", n)
		}
		f := family{name: cols[0], target: Target(cols[1]), caption: cols[2]}
		if !known[f.target] {
			return nil, fmt.Errorf("families.tsv line %d: unknown target %q", n, f.target)
		}
		if _, dup := d.families[f.name]; dup {
			return nil, fmt.Errorf("families.tsv line %d: family %q twice", n, f.name)
		}
		d.families[f.name] = f
		d.byLength = append(d.byLength, f)
	}
	sort.Slice(d.byLength, func(i, j int) bool {
		a, b := d.byLength[i].name, d.byLength[j].name
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})

	for n, cols := range rows(typesText) {
		if len(cols) < 4 || len(cols) > 5 {
			return nil, fmt.Errorf("types.tsv line %d: want type, family, verb, target[, fields]", n)
		}
		e := &Entry{Type: cols[0], Family: cols[1], Verb: cols[2], Target: Target(cols[3]), Catalogued: true}
		if e.Type != e.Family+"_"+e.Verb {
			return nil, fmt.Errorf("types.tsv line %d: %s is not family %s + verb %s", n, e.Type, e.Family, e.Verb)
		}
		f, ok := d.families[e.Family]
		if !ok {
			return nil, fmt.Errorf("types.tsv line %d: family %q not in families.tsv", n, e.Family)
		}
		e.Caption = f.caption
		if !known[e.Target] {
			return nil, fmt.Errorf("types.tsv line %d: unknown target %q", n, e.Target)
		}
		v, ok := d.verbs[e.Verb]
		if !ok {
			return nil, fmt.Errorf("types.tsv line %d: verb %q not in verbs.tsv", n, e.Verb)
		}
		e.Action, e.Outcome = v.action, v.outcome
		if len(cols) == 5 {
			var err error
			if e.Fields, err = parseFields(cols[4]); err != nil {
				return nil, fmt.Errorf("types.tsv line %d (%s): %w", n, e.Type, err)
			}
		}
		if _, dup := d.entries[e.Type]; dup {
			return nil, fmt.Errorf("types.tsv line %d: type %q twice", n, e.Type)
		}
		d.entries[e.Type] = e
		d.sorted = append(d.sorted, e)
	}
	sort.Slice(d.sorted, func(i, j int) bool { return d.sorted[i].Type < d.sorted[j].Type })
	for _, e := range d.sorted {
		f := d.families[e.Family]
		if f.object != nil {
			continue
		}
		for _, field := range e.Fields {
			if field.ID || field.Label {
				f.object = append(f.object, Field{Name: field.Name, Kind: field.Kind, Optional: true, ID: field.ID, Label: field.Label})
			}
		}
		d.families[e.Family] = f
	}
	for i := range d.byLength {
		d.byLength[i] = d.families[d.byLength[i].name]
	}
	return d, nil
}

// parseFields reads "@id_field =name_field other:kind optional? ...".
func parseFields(s string) ([]Field, error) {
	var out []Field
	seen := map[string]bool{}
	for _, spec := range strings.Fields(s) {
		f := Field{Kind: String}
		switch spec[0] {
		case '@':
			f.ID, spec = true, spec[1:]
		case '=':
			f.Label, spec = true, spec[1:]
		}
		if strings.HasSuffix(spec, "?") {
			f.Optional, spec = true, spec[:len(spec)-1]
		}
		name, kind, hasKind := strings.Cut(spec, ":")
		if hasKind {
			f.Kind = Kind(kind)
		}
		f.Name = name
		if !kinds[f.Kind] || name == "" || strings.ContainsAny(name, "@=:?") {
			return nil, fmt.Errorf("bad field %q", spec)
		}
		if seen[name] {
			return nil, fmt.Errorf("field %q twice", name)
		}
		seen[name] = true
		out = append(out, f)
	}
	return out, nil
}

// rows yields the tab-separated columns of each line that is not blank or a
// # comment, with its line number.
func rows(text string) func(yield func(int, []string) bool) {
	return func(yield func(int, []string) bool) {
		for n, line := range strings.Split(text, "\n") {
			line = strings.TrimRight(line, "\r")
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !yield(n+1, strings.Split(line, "\t")) {
				return
			}
		}
	}
}
