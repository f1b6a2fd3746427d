package fakeapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Wire names of the query parameters (compliance-api.md §3.1).
const (
	paramLimit        = "limit"
	paramAfterID      = "after_id"
	paramBeforeID     = "before_id"
	paramOrder        = "order"
	paramGTE          = "created_at.gte"
	paramGT           = "created_at.gt"
	paramLTE          = "created_at.lte"
	paramLT           = "created_at.lt"
	paramTypes        = "activity_types[]"
	paramExcludeTypes = "exclude_activity_types[]"
	paramActorIDs     = "actor_ids[]"
	paramUserIDs      = "user_ids[]"
	paramOrgIDs       = "organization_ids[]"

	defaultLimit = 100
	maxLimit     = 5000
)

// timeBound is one side of the created_at range.
type timeBound struct {
	set       bool
	t         time.Time
	inclusive bool
}

// query is a parsed, validated activities request.
type query struct {
	limit       int
	asc         bool
	cursorParam string // paramAfterID, paramBeforeID or ""
	cursor      string // the raw cursor value
	lower       timeBound
	upper       timeBound
	include     map[string]struct{}
	exclude     map[string]struct{}
	actors      map[string]struct{}
	orgs        map[string]struct{}
}

// apiError is an error answer in the platform's error shape.
type apiError struct {
	status  int
	typ     string
	message string
}

func invalidRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request_error", fmt.Sprintf(format, args...)}
}

// parseQuery validates the request parameters. Unknown parameters are ignored;
// a parameter given twice uses its first value. Activity type names are checked
// later (strict mode needs the server's type set).
func parseQuery(v url.Values) (query, *apiError) {
	q := query{limit: defaultLimit}
	if raw, ok := first(v, paramLimit); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxLimit {
			return q, invalidRequest("The limit parameter must be between 1 and %d, inclusive. Got %s.", maxLimit, raw)
		}
		q.limit = n
	}
	if raw, ok := first(v, paramOrder); ok {
		switch raw {
		case "asc":
			q.asc = true
		case "desc":
		default:
			return q, invalidRequest("The order parameter must be one of 'asc' or 'desc'. Got %q.", raw)
		}
	}
	after, hasAfter := first(v, paramAfterID)
	before, hasBefore := first(v, paramBeforeID)
	switch {
	case hasAfter && hasBefore:
		return q, invalidRequest("Only one of `after_id` and `before_id` may be provided.")
	case hasAfter:
		q.cursorParam, q.cursor = paramAfterID, after
	case hasBefore:
		q.cursorParam, q.cursor = paramBeforeID, before
	}
	for _, b := range []struct {
		param     string
		lower     bool
		inclusive bool
	}{{paramGTE, true, true}, {paramGT, true, false}, {paramLTE, false, true}, {paramLT, false, false}} {
		raw, ok := first(v, b.param)
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return q, invalidRequest("The `%s` parameter contains an invalid timestamp format. Timestamps must be provided in RFC 3339 format e.g., \"2024-03-01T00:00:00Z\". Got %q.", b.param, raw)
		}
		nb := timeBound{set: true, t: t, inclusive: b.inclusive}
		if b.lower {
			q.lower = tighterLower(q.lower, nb)
		} else {
			q.upper = tighterUpper(q.upper, nb)
		}
	}
	q.include, q.exclude = setOf(v[paramTypes]), setOf(v[paramExcludeTypes])
	if q.include != nil && q.exclude != nil {
		return q, invalidRequest("`activity_types[]` and `exclude_activity_types[]` cannot be combined.")
	}
	q.actors = setOf(slices.Concat(v[paramActorIDs], v[paramUserIDs]))
	q.orgs = setOf(v[paramOrgIDs])
	return q, nil
}

func first(v url.Values, key string) (string, bool) {
	vs, ok := v[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func setOf(vals []string) map[string]struct{} {
	if len(vals) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(vals))
	for _, s := range vals {
		m[s] = struct{}{}
	}
	return m
}

func tighterLower(a, b timeBound) timeBound {
	if !a.set {
		return b
	}
	if c := b.t.Compare(a.t); c > 0 || (c == 0 && !b.inclusive) {
		return b
	}
	return a
}

func tighterUpper(a, b timeBound) timeBound {
	if !a.set {
		return b
	}
	if c := b.t.Compare(a.t); c < 0 || (c == 0 && !b.inclusive) {
		return b
	}
	return a
}

// match reports whether a passes q's filters. Visibility and time bounds are
// applied by the index.
func (q *query) match(a *Activity) bool {
	if q.include != nil {
		if _, ok := q.include[a.Type]; !ok {
			return false
		}
	}
	if q.exclude != nil {
		if _, ok := q.exclude[a.Type]; ok {
			return false
		}
	}
	if q.actors != nil {
		if _, ok := q.actors[a.ActorID]; !ok || a.ActorID == "" {
			return false
		}
	}
	if q.orgs != nil {
		_, byID := q.orgs[a.OrgID]
		_, byUUID := q.orgs[a.OrgUUID]
		if a.OrgID == "" || !(byID || byUUID) {
			return false
		}
	}
	return true
}

// hasCursor reports whether v carries after_id or before_id.
func hasCursor(v url.Values) bool {
	return v.Has(paramAfterID) || v.Has(paramBeforeID)
}
