package ocsf

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/catalog"
	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
	"github.com/compliance-connect/compliance-connect/processors/internal/scratch"
)

// Options configure a Mapper.
type Options struct {
	// KeepRaw adds the received activity as a JSON string in raw_data.
	KeepRaw bool
	// Redaction is applied before mapping (and to raw_data).
	Redaction activity.Redaction
	// Now gives metadata.logged_time; nil means time.Now.
	Now func() time.Time
	// UnknownType, if set, is called with each activity type no rule
	// matches (mapped to API Activity, activity_id 99).
	UnknownType func(activityType string)
}

// Mapper maps Compliance API activities to OCSF 1.6.0 events. It is safe
// for concurrent use.
type Mapper struct {
	opts    Options
	scratch *scratch.Pool
}

// NewMapper checks the options and returns a Mapper.
func NewMapper(opts Options) (*Mapper, error) {
	if err := opts.Redaction.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Mapper{opts: opts}
	m.scratch = scratch.NewPool(jsonobj.Options{})
	return m, nil
}

// Map turns one activity (a JSON object) into one OCSF event (a JSON object).
// It fails when in is not a JSON object, lacks a string type or an RFC 3339
// created_at, or is larger than activity.MaxSize.
func (m *Mapper) Map(in []byte) ([]byte, error) {
	s := m.scratch.Get()
	defer m.scratch.Put(s)
	a, err := s.Dec.Decode(in)
	if err != nil {
		return nil, err
	}
	a.Redact(m.opts.Redaction)
	r, known := lookup(a.Type)
	if !known && m.opts.UnknownType != nil {
		m.opts.UnknownType(strings.Clone(a.Type)) // a.Type shares the input's memory
	}

	act := r.activity
	method, _ := a.Fields.String("request_method")
	if act == activityFromMethod {
		act = activityForMethod(method)
	}
	if r.class == classUserAccess && principalKind(a) == "group" {
		// Privileges granted to a group: Group Management has Assign and
		// Revoke Privileges with the same activity_ids.
		r.class = classGroupManagement
	}
	var code int64
	var hasCode bool
	if r.class == classAPIActivity {
		code, hasCode = a.Fields.TakeInt("status_code")
	}
	status := statusFromMember(a, r, code, hasCode)

	ev := s.B.Root()
	if h, ok := headers[headerKey{r.class, act, status}]; ok {
		ev.Encoded(h)
	} else {
		writeHeader(ev, r.class, act, status)
	}
	ev.Int("time", a.Time.UnixMilli())
	_, offset := a.Time.Zone()
	ev.Int("timezone_offset", int64(offset/60))

	md := ev.Object("metadata")
	md.String("uid", a.ID)
	md.String("event_code", a.Type)
	md.String("original_time", a.CreatedAt)
	md.Int("logged_time", m.opts.Now().UnixMilli())
	md.String("tenant_uid", a.OrganizationUUID)
	md.Encoded(metadataTail)

	actorUser, ip := mapActor(ev, a)
	if ip == "" && r.class == classAPIActivity {
		// API Activity requires src_endpoint; without an IP (anthropic,
		// SCIM and system actors) name the kind of actor it came from.
		origin := actorUser.typeName
		if origin == "" {
			origin = "Unknown"
		}
		ev.Object("src_endpoint").String("name", origin)
	}

	switch r.class {
	case classAuthentication:
		mapAuthentication(ev, a, r, actorUser)
	case classAccountChange:
		mapAccountChange(ev, a, r, actorUser)
	case classUserAccess:
		mapUserAccess(ev, a, r, actorUser)
	case classGroupManagement:
		mapGroupManagement(ev, a, r)
	case classWebResources:
		ev.Objects("web_resources", objectOf(ev, a, r.object))
	case classAPIActivity:
		mapAPIActivity(ev, a, r, method, code, hasCode)
	}

	if m.opts.KeepRaw {
		ev.String("raw_data", a.RawString())
	}
	unmapped := ev.Object("unmapped")
	unmapped.String("organization_id", a.OrganizationID)
	a.Fields.Unused(unmapped.Raw)
	if a.Actor.Fields.Present() {
		a.Actor.Fields.Unused(unmapped.Object("actor").Raw)
	}
	return s.Encode(ev), nil
}

// mapAuthentication fills class 3002: the subject is the actor's user.
func mapAuthentication(ev jsonobj.Object, a *activity.Activity, r rule, actorUser user) {
	actorUser.write(ev.Object("user"))
	protocolID, protocol := 0, "Unknown"
	if p, ok := authProtocols[r.family]; ok {
		protocolID, protocol = p.id, p.name
	}
	ev.Int("auth_protocol_id", int64(protocolID))
	ev.String("auth_protocol", protocol)
	// mfa_method stays unmapped too: is_mfa keeps only whether MFA was used.
	if mfa, ok := a.Fields.String("mfa_method"); ok && mfa != "" {
		ev.Bool("is_mfa", mfa != "not_used")
	}
	if provider, ok := a.Fields.Take("provider"); ok {
		ev.Object("actor").Object("idp").String("name", provider)
	}
	ev.Object("service").String("name", serviceName)
}

// mapAccountChange fills class 3001: the target user, else the key or
// service account acted upon, else the actor's own account.
func mapAccountChange(ev jsonobj.Object, a *activity.Activity, r rule, actorUser user) {
	target := user{}
	target.uid, target.email = a.TakeTargetUser()
	if target.isZero() && r.target == catalog.Key {
		// A key or service account acted upon: it is the account.
		id, name := take(&a.Fields, r.object.idField), take(&a.Fields, r.object.nameField)
		if id != "" || name != "" {
			target = user{uid: id, name: name, typeID: userTypeOther, typeName: r.object.kind}
		}
	}
	if target.isZero() {
		target = actorUser
	}
	target.write(ev.Object("user"))
}

// privilegeFields name the role or consent granted or revoked; the first
// present wins, else the family's caption names it (e.g. "Primary Owner").
var privilegeFields = []string{"role", "current_role", "role_name", "role_id", "consent_type", "grant_type"}

// mapUserAccess fills class 3005: the user (the target user, else a user
// principal, else the actor, who grants a consent), the role as privilege,
// and the resource the role applies to.
func mapUserAccess(ev jsonobj.Object, a *activity.Activity, r rule, actorUser user) {
	target := user{}
	target.uid, target.email = a.TakeTargetUser()
	if target.isZero() {
		// A principal that is not a user (e.g. a group): keep its id and kind.
		for _, pair := range [][2]string{{activity.KeyPrincipalID, activity.KeyPrincipalType}, {activity.KeyTargetID, activity.KeyTargetType}} {
			if id, ok := a.Fields.Take(pair[0]); ok {
				kind, _ := a.Fields.Take(pair[1])
				target = user{uid: id, typeID: userTypeOther, typeName: kind}
				break
			}
		}
	}
	if target.isZero() {
		target = actorUser
	}
	target.write(ev.Object("user"))
	p := takeFirst(&a.Fields, privilegeFields)
	if p == "" {
		p = r.object.kind
	}
	ev.Strings("privileges", []string{p})
	res := ev.NewObject()
	res.String("uid", takeFirst(&a.Fields, resourceIDFields))
	res.String("type", takeFirst(&a.Fields, resourceTypeFields))
	ev.Objects("resources", res)
}

// The resource a privilege or consent applies to.
var (
	resourceIDFields   = []string{"resource_id", "entity_id"}
	resourceTypeFields = []string{"resource_type", "entity_type"}
)

// principalKind is the principal_type, else the target_type, of an activity.
func principalKind(a *activity.Activity) string {
	if k, ok := a.Fields.String(activity.KeyPrincipalType); ok {
		return k
	}
	k, _ := a.Fields.String(activity.KeyTargetType)
	return k
}

// mapGroupManagement fills class 3006: the group (group_id, or a group
// principal), the role as privilege with its resource, and, when exactly one
// member is named, that user. member_ids always stays unmapped as well.
func mapGroupManagement(ev jsonobj.Object, a *activity.Activity, r rule) {
	g := ev.Object("group")
	if r.workspace {
		// Members of a workspace: the workspace is the group.
		g.String("uid", take(&a.Fields, "workspace_id"))
		g.String("name", take(&a.Fields, "workspace_name"))
		g.String("type", "Workspace")
		target := user{}
		target.uid, target.email = a.TakeTargetUser()
		if target.isZero() {
			if id := take(&a.Fields, "service_account_id"); id != "" {
				target = user{uid: id, typeID: userTypeOther, typeName: "Service Account"}
			}
		}
		target.write(ev.Object("user"))
		return
	}
	id := take(&a.Fields, "group_id")
	if id == "" && principalKind(a) == "group" {
		// principal_type / target_type stay unmapped.
		if id = take(&a.Fields, activity.KeyPrincipalID); id == "" {
			id = take(&a.Fields, activity.KeyTargetID)
		}
	}
	g.String("uid", id)
	g.String("name", take(&a.Fields, "group_name"))
	if p := takeFirst(&a.Fields, privilegeFields); p != "" {
		ev.Strings("privileges", []string{p})
		res := ev.Object("resource")
		res.String("uid", take(&a.Fields, "resource_id"))
		res.String("type", take(&a.Fields, "resource_type"))
	}
	if members := a.Fields.Strings("member_ids"); len(members) == 1 {
		ev.Object("user").String("uid", members[0])
		return
	}
	target := user{}
	target.uid, target.email = a.TakeTargetUser()
	target.write(ev.Object("user"))
}

// mapAPIActivity fills class 6003; compliance_api_accessed also gets the
// HTTP request and response.
func mapAPIActivity(ev jsonobj.Object, a *activity.Activity, r rule, method string, code int64, hasCode bool) {
	api := ev.Object("api")
	operation := a.Type
	if a.Type == "compliance_api_accessed" {
		a.Fields.MarkUsed("request_method")
		rawURL, _ := a.Fields.Take("url")
		u, err := url.Parse(rawURL)
		if err != nil {
			u = nil
		}
		req := ev.Object("http_request")
		req.String("http_method", method)
		writeURL(req.Object("url"), rawURL, u)
		if method != "" {
			operation = method
			if u != nil && u.Path != "" {
				operation = method + " " + u.Path
			}
		}
		api.String("operation", operation)
		api.Object("service").String("name", productName)
	} else {
		api.String("operation", operation)
	}
	api.Object("request").String("uid", take(&a.Fields, "request_id"))
	if hasCode {
		ev.Object("http_response").Int("code", code)
	}
	if a.Type != "compliance_api_accessed" && r.object.kind != "" {
		ev.Objects("resources", objectOf(ev, a, r.object))
	}
}

// objectOf builds a web resource or resource from the rule's object.
func objectOf(ev jsonobj.Object, a *activity.Activity, obj object) jsonobj.Object {
	o := ev.NewObject()
	o.String("uid", take(&a.Fields, obj.idField))
	o.String("name", take(&a.Fields, obj.nameField))
	o.String("type", obj.kind)
	return o
}

// writeURL fills an OCSF url from raw and its parse u (nil if it did not
// parse).
func writeURL(o jsonobj.Object, raw string, u *url.URL) {
	o.String("url_string", raw)
	if u == nil || raw == "" {
		return
	}
	o.String("scheme", u.Scheme)
	o.String("hostname", u.Hostname())
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			o.Int("port", int64(n))
		}
	}
	o.String("path", u.Path)
	o.String("query_string", u.RawQuery)
}

func activityForMethod(method string) int {
	switch strings.ToUpper(method) {
	case "POST":
		return 1
	case "GET", "HEAD", "OPTIONS":
		return 2
	case "PUT", "PATCH":
		return 3
	case "DELETE":
		return 4
	}
	return activityOther
}

// statusFromMember returns the status_id: from the member the rule names,
// else from the verb.
func statusFromMember(a *activity.Activity, r rule, code int64, hasCode bool) int {
	switch r.from {
	case statusFromHTTP:
		return statusForHTTP(code, hasCode)
	case statusFromDecision:
		if d, ok := a.Fields.String("decision"); ok && d == "blocked" {
			return statusFailure
		}
		return statusUnknown
	case statusFromApproved:
		if v, ok := a.Fields.Bool("approved"); ok {
			if v {
				return statusSuccess
			}
			return statusFailure
		}
		return statusUnknown
	case statusFromResult:
		switch v, _ := a.Fields.String("result"); v {
		case "imported":
			return statusSuccess
		case "rejected", "failed":
			return statusFailure
		}
		return statusUnknown
	}
	return r.status
}

// statusForHTTP: 1xx/absent unknown, 2xx and 3xx success, 4xx and 5xx failure.
func statusForHTTP(code int64, ok bool) int {
	switch {
	case !ok || code < 200:
		return statusUnknown
	case code < 400:
		return statusSuccess
	}
	return statusFailure
}

func takeFirst(f *activity.Fields, keys []string) string {
	for _, k := range keys {
		if v, ok := f.Take(k); ok && v != "" {
			return v
		}
	}
	return ""
}
