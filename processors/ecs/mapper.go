package ecs

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
	"github.com/compliance-connect/compliance-connect/processors/internal/scratch"
)

// Options configure a Mapper.
type Options struct {
	// KeepRaw adds the received activity as a JSON string in event.original.
	KeepRaw bool
	// Redaction is applied before mapping (and to event.original).
	Redaction activity.Redaction
	// UnknownType, if set, is called with each activity type no rule
	// matches (mapped with the default categorization).
	UnknownType func(activityType string)
}

// Mapper maps Compliance API activities to ECS documents. It is safe for
// concurrent use.
type Mapper struct {
	opts    Options
	scratch *scratch.Pool
}

// NewMapper checks the options and returns a Mapper.
func NewMapper(opts Options) (*Mapper, error) {
	if err := opts.Redaction.Validate(); err != nil {
		return nil, err
	}
	m := &Mapper{opts: opts}
	m.scratch = scratch.NewPool(jsonobj.Options{StripNested: true})
	return m, nil
}

// Map turns one activity (a JSON object) into one ECS document (a JSON
// object without null or empty values). It fails when in is not a JSON
// object, lacks a string type or an RFC 3339 created_at, or is larger than
// activity.MaxSize.
func (m *Mapper) Map(in []byte) ([]byte, error) {
	s := m.scratch.Get()
	defer m.scratch.Put(s)
	a, err := s.Dec.Decode(in)
	if err != nil {
		return nil, err
	}
	a.Redact(m.opts.Redaction)
	cat, known := lookup(a.Type)
	if !known && m.opts.UnknownType != nil {
		m.opts.UnknownType(strings.Clone(a.Type)) // a.Type shares the input's memory
	}

	doc := s.B.Root()
	doc.Time("@timestamp", a.Time)
	doc.Object("ecs").String("version", ecsVersion)
	event := doc.Object("event")
	event.String("id", a.ID)
	event.String("action", a.Type)
	event.String("kind", "event")
	event.Strings("category", cat.category)
	event.Strings("type", cat.types)
	if m.opts.KeepRaw {
		event.String("original", a.RawString())
	}
	reason, _ := a.Fields.Take("reason")
	event.String("reason", reason)
	org := doc.Object("organization")
	org.String("id", a.OrganizationID)
	org.String("name", takeFirst(&a.Fields, organizationNameFields))

	// The actor: user.id for user_actor; user.email for user_actor and
	// anthropic_actor, or the unauthenticated address; the rest stays
	// under anthropic.audit.actor.
	f := &a.Actor.Fields
	user := doc.Object("user")
	var userID, userEmail string
	switch a.Actor.Type {
	case activity.UserActor:
		userID, _ = f.Take("user_id")
		userEmail, _ = f.Take("email_address")
	case activity.AnthropicActor:
		userEmail, _ = f.Take("email_address")
	}
	if userEmail == "" {
		userEmail, _ = f.Take("unauthenticated_email_address")
	}
	user.String("id", userID)
	user.String("email", userEmail)
	user.String("name", localPart(userEmail))
	targetID, targetEmail := a.TakeTargetUser()
	target := user.Object("target")
	target.String("id", targetID)
	target.String("email", targetEmail)
	target.String("name", localPart(targetEmail))
	if field, ok := targetRoleFields[a.Type]; ok {
		if role, ok := a.Fields.Take(field); ok {
			target.Strings("roles", []string{role})
		}
	}
	filename, _ := a.Fields.Take("filename")
	doc.Object("file").String("name", filename)
	sourceIP, _ := f.Take("ip_address")
	doc.Object("source").String("ip", sourceIP)
	userAgent, _ := f.Take("user_agent")
	doc.Object("user_agent").String("original", userAgent)

	// HTTP request of compliance_api_accessed (mapped for any type carrying it).
	http := doc.Object("http")
	method, _ := a.Fields.Take("request_method")
	http.Object("request").String("method", method)
	requestID, _ := a.Fields.Take("request_id")
	http.Object("request").String("id", requestID)
	if code, ok := a.Fields.TakeInt("status_code"); ok {
		http.Object("response").Int("status_code", code)
		if a.Type == "compliance_api_accessed" {
			cat.outcome = outcomeForHTTP(code)
		}
	}
	rawURL, _ := a.Fields.Take("url")
	domain := writeURL(doc.Object("url"), rawURL)
	switch a.Type {
	case "org_join_proposal_decided":
		if approved, ok := a.Fields.Bool("approved"); ok {
			cat.outcome = outcomeFailure
			if approved {
				cat.outcome = outcomeSuccess
			}
		}
	case "abuse_decision_received":
		if d, _ := a.Fields.String("decision"); d == "blocked" {
			cat.outcome = outcomeFailure
		}
	case "github_token_import":
		switch r, _ := a.Fields.String("result"); r {
		case "imported":
			cat.outcome = outcomeSuccess
		case "rejected", "failed":
			cat.outcome = outcomeFailure
		}
	}
	event.String("outcome", cat.outcome)

	related := doc.Object("related")
	related.Strings("ip", []string{sourceIP})
	var usersBuf [16]string
	users := append(usersBuf[:0], userEmail, userID, targetEmail, targetID)
	if kind, _ := a.Fields.String(activity.KeyPrincipalType); kind == "user" {
		principal, _ := a.Fields.String(activity.KeyPrincipalID)
		users = append(users, principal)
	}
	users = a.Fields.AppendStrings(users, "member_ids")
	users = a.Fields.AppendStrings(users, "alert_emails")
	related.Strings("user", dedupe(users))
	related.Strings("hosts", []string{domain})

	audit := doc.Object("anthropic").Object("audit")
	audit.String("organization_uuid", a.OrganizationUUID)
	a.Fields.Unused(audit.Raw)
	if f.Present() {
		f.Unused(audit.Object("actor").Raw)
	}
	return s.Encode(doc), nil
}

// organizationNameFields hold the organization's name; the first present wins.
var organizationNameFields = []string{"org_name", "organization_name"}

// targetRoleFields name, per type, the member holding the role the target
// user has after the activity (user.target.roles).
var targetRoleFields = map[string]string{
	"role_assignment_granted":  "role",
	"role_assignment_revoked":  "role",
	"claude_user_role_updated": "current_role",
}

// localPart returns the part of an email address before its last @ (ECS
// user.name), "" when there is none.
func localPart(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i <= 0 {
		return ""
	}
	return email[:i]
}

func takeFirst(f *activity.Fields, keys []string) string {
	for _, k := range keys {
		if v, ok := f.Take(k); ok && v != "" {
			return v
		}
	}
	return ""
}

// writeURL sets url.original and, when it parses, its parts; it returns the
// domain.
func writeURL(o jsonobj.Object, raw string) string {
	o.String("original", raw)
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	o.String("scheme", u.Scheme)
	o.String("domain", u.Hostname())
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			o.Int("port", int64(n))
		}
	}
	o.String("path", u.Path)
	o.String("query", u.RawQuery)
	return u.Hostname()
}

// outcomeForHTTP: 2xx success, 4xx failure, anything else unknown.
func outcomeForHTTP(code int64) string {
	switch {
	case code >= 200 && code < 300:
		return outcomeSuccess
	case code >= 400 && code < 500:
		return outcomeFailure
	}
	return outcomeUnknown
}

// dedupe drops empty and repeated values in place, keeping the first
// occurrence.
func dedupe(values []string) []string {
	out := values[:0]
	for _, v := range values {
		if v == "" {
			continue
		}
		seen := false
		for _, o := range out {
			if o == v {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, v)
		}
	}
	return out
}
