package fakeapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// ActivitiesPath is the Activity Feed endpoint.
	ActivitiesPath = "/v1/compliance/activities"
	// RequiredScope is the scope a key needs for the Activity Feed.
	RequiredScope = ScopeActivities
	// APIVersion is the only anthropic-version value accepted (the header is optional).
	APIVersion = "2023-06-01"
	// DefaultAPIKey is the key accepted when Options names none.
	DefaultAPIKey = "test-key"

	headerAPIKey       = "x-api-key"
	headerVersion      = "anthropic-version"
	headerRequestID    = "request-id"
	headerRetryAfter   = "retry-after"
	headerRateLimit    = "anthropic-ratelimit-requests-limit"
	headerRateRemain   = "anthropic-ratelimit-requests-remaining"
	headerRateReset    = "anthropic-ratelimit-requests-reset"
	opaqueCursorPrefix = "cur1_"
	defaultMaxRecords  = 10000
	defaultFaultDelay  = 2 * time.Second
)

// Options configures a Server. The zero value serves an empty feed and an
// empty organization to the key "test-key" with no lag, no rate limit, no
// growth and no faults.
type Options struct {
	// APIKeys are the accepted x-api-key values, each with the scopes of
	// ReadScopes (activities, org data, user data). Empty (and no Scopes)
	// means {"test-key"}.
	APIKeys []string
	// Scopes gives keys explicit scopes; a key listed here is accepted and
	// gets 403 permission_error on an endpoint whose scope (or
	// read:org_audit) its scopes lack.
	Scopes map[string][]string
	// World is the organization the directory and content endpoints serve;
	// pass the same World to GenOptions.World so that the dataset names it.
	// The server serves its own copy and changes it per World's Growth. Nil
	// serves an organization with no orgs, users, groups, chats or projects.
	World *World
	// AuthErrors selects the forms of the answers to a missing, unknown or
	// under-scoped key; the zero value answers the Activity Feed in the
	// older forms and every other endpoint in the newest ones.
	AuthErrors AuthErrors
	// AllowUnknownParams ignores query parameters an endpoint does not
	// document, the older behaviour, instead of answering 400 "Unknown query
	// parameter: 'x'. Did you mean 'y'?".
	AllowUnknownParams bool
	// ContentLength sends Content-Length on /content downloads. By default
	// they are chunked without it, as the reference infers the API does.
	ContentLength bool
	// Clock is the fake's notion of now (visibility, growth, rate windows, the
	// Date header, self events). Nil means time.Now.
	Clock func() time.Time
	// Lag is the indexing lag: an activity with a zero VisibleAt becomes
	// visible at CreatedAt + Lag. Zero means immediately.
	Lag time.Duration
	// Dataset is the initial content. The server keeps pointers into it (no
	// copy), so do not modify it afterwards. It need not be sorted.
	Dataset []Activity
	// RateLimit is requests per minute, counted in fixed windows aligned to
	// the clock's minutes. 0 means unlimited (and no rate-limit headers).
	RateLimit int
	// StrictTypes answers 400 to an activity_types[] or
	// exclude_activity_types[] value that is neither in ActivityTypes() nor
	// the type of a stored activity. False accepts any value.
	StrictTypes bool
	// OpaqueCursors returns first_id/last_id as opaque "cur1_..." tokens
	// instead of activity ids. Both forms are always accepted.
	OpaqueCursors bool
	// Growth makes the feed grow with the clock; the zero value adds nothing.
	Growth Growth
	// SelfEvents appends one compliance_api_accessed activity per request that
	// the API handled for an accepted key (not for 401s or for injected
	// faults that replace the answer).
	SelfEvents bool
	// FaultRate is the fraction (0..1) of requests that get a random fault
	// drawn from FaultKinds (empty means DefaultFaultKinds()). Scripted faults
	// take precedence.
	FaultRate float64
	// FaultKinds are the kinds random faults draw from.
	FaultKinds []FaultKind
	// FaultSeed seeds the random fault sequence (per request arrival order).
	FaultSeed uint64
	// FaultDelay is the wait of random FaultSlow faults. Zero means 2s.
	FaultDelay time.Duration
	// Seed seeds request ids and self-event ids.
	Seed uint64
	// MaxRecords bounds the request records Requests returns (oldest dropped).
	// Zero means 10000; negative means unlimited.
	MaxRecords int
}

// Server is the fake Activity Feed: an http.Handler for GET
// /v1/compliance/activities. All methods are safe for concurrent use; one
// mutex guards all of its state.
//
// A request is handled in this order: unknown path 404 not_found_error,
// non-GET 405; x-api-key missing, empty or unknown 401 authentication_error
// (costs no quota); the rate limit (every later answer costs one unit, 429
// rate_limit_error with retry-after past it); a key without
// read:compliance_activities 403 permission_error; an anthropic-version other
// than 2023-06-01 400; then a scripted or random fault; then the query (400
// invalid_request_error on a bad limit, order, cursor or timestamp). Every
// answer carries a unique request-id and a Date from the fake clock; errors
// use {"type":"error","error":{"type","message"},"request_id"}.
//
// Pages follow compliance-api.md §3.4: L is the visible activities (clock >=
// VisibleAt) that pass the filters and created_at bounds, sorted by
// (created_at, id) descending (ascending with order=asc), so same-instant ties
// are ordered by id in the same direction as time. after_id=X gives the limit
// activities after X in L, before_id=X the limit activities just before X
// (still in L order). Cursors are activity ids (or opaque tokens with
// OpaqueCursors). A cursor that the filters or time bounds exclude is located
// by its position in the unfiltered order, so a walk continues from where it
// was (filter-independent cursors); an id that is not stored at all is a 400.
type Server struct {
	mu            sync.Mutex
	clock         func() time.Time
	keys          map[string][]string // key -> scopes
	world         *worldState         // nil without Options.World
	worldArena    arena
	authErrors    AuthErrors
	lenient       bool
	contentLength bool
	strictTypes   bool
	opaqueCursors bool
	selfEvents    bool
	idx           *index
	limiter       fixedWindow
	growth        *grower
	script        []Fault
	faultRate     float64
	faultKinds    []FaultKind
	faultRng      *rand.Rand
	faultDelay    time.Duration
	rng           *rand.Rand
	seq           uint64
	records       []RequestRecord
	maxRecords    int
	stats         Stats
	selfArena     arena
	selfBuf       []byte
}

// RequestRecord describes one request the server answered. It never holds the
// API key.
type RequestRecord struct {
	// Seq is the 1-based arrival number.
	Seq int
	// Time is the fake clock at arrival.
	Time time.Time
	// Arrived is the wall clock (time.Now, whatever Options.Clock says) at
	// arrival, for measuring how long a client really waited between
	// requests.
	Arrived time.Time
	// Method and Path are the request's.
	Method, Path string
	// Query is the decoded query string.
	Query url.Values
	// Status is the answer's status; 0 when the connection was reset or the
	// client went away during a slow fault.
	Status int
	// ErrorType is error.type of an error answer, else "".
	ErrorType string
	// Fault is the injected fault, else "".
	Fault FaultKind
	// RequestID is the request-id header sent.
	RequestID string
	// KeyID is the api_key_id derived from the key's hash ("" when the key
	// was not accepted).
	KeyID string
	// Returned is the number of activities in data.
	Returned int
}

// Stats are the server's counters.
type Stats struct {
	// Requests counts every request.
	Requests int
	// ByStatus counts requests per answered status (0 = reset/abandoned).
	ByStatus map[int]int
	// Faults counts injected faults per kind.
	Faults map[FaultKind]int
	// FaultsPending is the number of scripted faults not yet applied.
	FaultsPending int
	// Activities is the number of stored activities (visible or not).
	Activities int
}

// New validates opts and builds a server.
func New(opts Options) (*Server, error) {
	if opts.Lag < 0 {
		return nil, fmt.Errorf("fakeapi: Lag must not be negative, got %v", opts.Lag)
	}
	if opts.RateLimit < 0 {
		return nil, fmt.Errorf("fakeapi: RateLimit must not be negative, got %d", opts.RateLimit)
	}
	if opts.FaultRate < 0 || opts.FaultRate > 1 {
		return nil, fmt.Errorf("fakeapi: FaultRate must be within [0, 1], got %v", opts.FaultRate)
	}
	if opts.FaultDelay < 0 {
		return nil, fmt.Errorf("fakeapi: FaultDelay must not be negative, got %v", opts.FaultDelay)
	}
	if !opts.AuthErrors.valid() {
		return nil, fmt.Errorf("fakeapi: unknown AuthErrors %d", opts.AuthErrors)
	}
	for _, k := range opts.FaultKinds {
		if !k.valid() {
			return nil, fmt.Errorf("fakeapi: unknown fault kind %q (known: %s)", k, kindList())
		}
	}
	g := opts.Growth
	if g.PerSecond < 0 || g.LateFraction < 0 || g.LateFraction > 1 || g.MaxLateness < 0 {
		return nil, fmt.Errorf("fakeapi: Growth needs PerSecond >= 0, LateFraction within [0, 1] and MaxLateness >= 0, got %+v", g)
	}
	var err error
	s := &Server{
		clock:         opts.Clock,
		strictTypes:   opts.StrictTypes,
		opaqueCursors: opts.OpaqueCursors,
		selfEvents:    opts.SelfEvents,
		idx:           newIndex(opts.Lag),
		limiter:       fixedWindow{limit: opts.RateLimit},
		faultRate:     opts.FaultRate,
		faultKinds:    slices.Clone(opts.FaultKinds),
		faultRng:      rand.New(rand.NewPCG(opts.FaultSeed, saltServer)),
		faultDelay:    opts.FaultDelay,
		rng:           rand.New(rand.NewPCG(opts.Seed, saltServer+1)),
		maxRecords:    opts.MaxRecords,
		stats:         Stats{ByStatus: map[int]int{}, Faults: map[FaultKind]int{}},
		authErrors:    opts.AuthErrors,
		lenient:       opts.AllowUnknownParams,
		contentLength: opts.ContentLength,
	}
	if opts.World != nil {
		s.world = opts.World.build()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if len(s.faultKinds) == 0 {
		s.faultKinds = DefaultFaultKinds()
	}
	if s.faultDelay == 0 {
		s.faultDelay = defaultFaultDelay
	}
	if s.maxRecords == 0 {
		s.maxRecords = defaultMaxRecords
	}
	if s.keys, err = buildKeys(opts.APIKeys, opts.Scopes); err != nil {
		return nil, err
	}
	ptrs := make([]*Activity, len(opts.Dataset))
	for i := range opts.Dataset {
		ptrs[i] = &opts.Dataset[i]
	}
	if err := s.idx.add(ptrs); err != nil {
		return nil, fmt.Errorf("fakeapi: Dataset: %w", err)
	}
	s.growth = newGrower(g, opts.Lag, s.clock(), s.world)
	return s, nil
}

// buildKeys maps each accepted key to its scopes, as Options.APIKeys and
// Options.Scopes describe.
func buildKeys(apiKeys []string, scopes map[string][]string) (map[string][]string, error) {
	keys := map[string][]string{}
	for _, k := range apiKeys {
		if k == "" {
			return nil, errors.New("fakeapi: APIKeys contains an empty key")
		}
		keys[k] = ReadScopes()
	}
	for k, sc := range scopes {
		if k == "" {
			return nil, errors.New("fakeapi: Scopes contains an empty key")
		}
		keys[k] = slices.Clone(sc)
	}
	if len(keys) == 0 {
		keys[DefaultAPIKey] = ReadScopes()
	}
	return keys, nil
}

// ---------------------------------------------------------------------------
// Serving.

// admission is what the server decided about a request before serving it.
type admission struct {
	seq       int
	now       time.Time
	arrived   time.Time
	requestID string
	keyID     string
	rate      rateDecision
	err       *apiError
	fault     *Fault
	values    url.Values
	q         query
	qerr      *apiError
	path      string
	route     *routeSpec
	args      []string // path parameters
	// for the self event
	method, url, ip, userAgent string
}

// ServeHTTP answers one request (see the package documentation for the rules).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ad := s.admit(r)
	h := w.Header()
	h.Set(headerRequestID, ad.requestID)
	h.Set("Date", ad.now.UTC().Format(http.TimeFormat))
	if ad.rate.limited {
		h.Set(headerRateLimit, strconv.Itoa(ad.rate.limit))
		h.Set(headerRateRemain, strconv.Itoa(ad.rate.remaining))
		h.Set(headerRateReset, ad.rate.reset.UTC().Format(time.RFC3339))
	}
	if ad.err != nil {
		if ad.err.status == http.StatusTooManyRequests {
			h.Set(headerRetryAfter, strconv.Itoa(ad.rate.retryAfter))
		}
		if ad.err.status == http.StatusMethodNotAllowed {
			h.Set("Allow", http.MethodGet)
		}
		s.finish(ad, ad.err.status, ad.err.typ, 0, false)
		writeError(w, ad.err, ad.requestID)
		return
	}

	var kind FaultKind
	if ad.fault != nil {
		kind = ad.fault.Kind
		if e, hdrs, ok := ad.fault.errorAnswer(); ok {
			for k, v := range hdrs {
				h.Set(k, v)
			}
			if e.status == http.StatusTooManyRequests && ad.rate.limited {
				h.Set(headerRateRemain, "0")
			}
			s.finish(ad, e.status, e.typ, 0, true)
			writeError(w, e, ad.requestID)
			return
		}
		switch kind {
		case FaultConnectionReset:
			s.finish(ad, 0, "", 0, true)
			resetConnection(w)
			return
		case FaultHTMLBody:
			s.finish(ad, http.StatusOK, "", 0, true)
			writeBody(w, http.StatusOK, "text/html; charset=utf-8", []byte(htmlFaultBody))
			return
		case FaultBadEnvelope:
			s.finish(ad, http.StatusOK, "", 0, true)
			writeBody(w, http.StatusOK, "application/json", []byte(envelopeFaultBody))
			return
		case FaultSlow:
			delay := ad.fault.Delay
			if delay <= 0 {
				delay = defaultFaultDelay
			}
			if !sleepCtx(r.Context(), delay) {
				s.finish(ad, 0, "", 0, false)
				return
			}
		}
	}

	if ad.qerr != nil {
		s.finish(ad, ad.qerr.status, ad.qerr.typ, 0, false)
		writeError(w, ad.qerr, ad.requestID)
		return
	}
	if ad.route.id != rActivities {
		s.serveWorld(w, ad, kind)
		return
	}
	items, hasMore, perr := s.page(&ad.q)
	if perr != nil {
		s.finish(ad, perr.status, perr.typ, 0, false)
		writeError(w, perr, ad.requestID)
		return
	}
	var firstID, lastID string
	if len(items) > 0 {
		firstID, lastID = s.cursorFor(items[0].ID), s.cursorFor(items[len(items)-1].ID)
	}
	switch kind {
	case FaultNullCursor:
		hasMore, firstID, lastID = true, "", ""
	case FaultRepeatedCursor:
		hasMore, lastID = true, ad.q.cursor
	}
	bufp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bufp)
	*bufp = appendEnvelope((*bufp)[:0], items, hasMore, firstID, lastID)
	s.finish(ad, http.StatusOK, "", len(items), kind == FaultTruncatedBody)
	if kind == FaultTruncatedBody {
		writeTruncated(w, *bufp)
		return
	}
	writeBody(w, http.StatusOK, "application/json", *bufp)
}

// admit decides everything about r that needs the server's state: request id,
// routing, authentication, rate limit, scope, version, fault, query parsing.
func (s *Server) admit(r *http.Request) *admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	ad := &admission{seq: int(s.seq), now: s.clock(), arrived: time.Now(), method: r.Method, path: r.URL.Path}
	ad.requestID = s.newRequestIDLocked()
	ad.values, ad.qerr = parseValues(r.URL.RawQuery)
	s.materialiseLocked(ad.now)

	ad.route, ad.args = match(r.URL.Path)
	if ad.route == nil {
		ad.route = &routeSpec{id: rNone}
		ad.err = notFound("Not found")
		return ad
	}
	if r.Method != http.MethodGet || ad.route.onlyDel {
		ad.err = &apiError{http.StatusMethodNotAllowed, "invalid_request_error",
			fmt.Sprintf("Method %s is not allowed on %s; the fake serves GET only (a collector never deletes).", sanitize(r.Method), ad.route.pattern)}
		return ad
	}
	key := r.Header.Get(headerAPIKey)
	scopes, ok := s.keys[key]
	if !ok || key == "" {
		ad.err = s.authErrors.keyError(ad.route.id, key)
		return ad
	}
	ad.keyID = keyID(key)
	ad.url = requestURL(r)
	ad.ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	ad.userAgent = sanitize(r.UserAgent())

	ad.rate = s.limiter.take(ad.now)
	if !ad.rate.allowed {
		ad.err = &apiError{http.StatusTooManyRequests, "rate_limit_error", fmt.Sprintf(
			"Compliance API rate limit of %d requests per minute per parent organization has been exceeded. "+
				"Retry after the time indicated by the retry-after header. "+
				"Quote the request-id response header when contacting Anthropic support.", s.limiter.limit)}
		return ad
	}
	if !allowed(scopes, ad.route.scope) {
		ad.err = s.authErrors.scopeError(ad.route.id, ad.route.scope, scopes)
		return ad
	}
	if vs, present := r.Header[http.CanonicalHeaderKey(headerVersion)]; present && (len(vs) != 1 || vs[0] != APIVersion) {
		ad.err = invalidRequest("anthropic-version: %q is not a valid version. Use %q.", sanitize(strings.Join(vs, ",")), APIVersion)
		return ad
	}
	ad.fault = s.takeFaultLocked(ad.route, ad.values)
	if ad.qerr == nil && !s.lenient {
		ad.qerr = unknownParam(ad.route, ad.values)
	}
	if ad.qerr == nil && ad.route.id == rActivities {
		ad.q, ad.qerr = parseQuery(ad.values)
	}
	return ad
}

// serveWorld answers a directory or content endpoint.
func (s *Server) serveWorld(w http.ResponseWriter, ad *admission, kind FaultKind) {
	s.mu.Lock()
	now := s.clock()
	s.materialiseLocked(now)
	rep, perr := s.answerWorld(ad, now)
	if perr == nil && rep.dl != nil {
		d := rep.dl
		if d.file != nil {
			copy(d.sum[:], d.file.md5())
		} else {
			copy(d.sum[:], d.gen.md5())
		}
	}
	s.mu.Unlock()
	if perr != nil {
		s.finish(ad, perr.status, perr.typ, 0, false)
		writeError(w, perr, ad.requestID)
		return
	}
	if rep.dl != nil {
		s.finish(ad, http.StatusOK, "", 0, kind == FaultTruncatedBody || kind == FaultCorruptContent)
		writeDownload(w, rep.dl, s.contentLength, kind)
		return
	}
	s.finish(ad, http.StatusOK, "", 0, kind == FaultTruncatedBody)
	if kind == FaultTruncatedBody {
		writeTruncated(w, rep.body)
		return
	}
	writeBody(w, http.StatusOK, "application/json", rep.body)
}

// takeFaultLocked returns the fault for a request to rs with query v: the
// head of the script if it applies, else a random fault at FaultRate, else
// nil.
func (s *Server) takeFaultLocked(rs *routeSpec, v url.Values) *Fault {
	if len(s.script) > 0 {
		if f := s.script[0]; f.applies(rs, v) {
			s.script = s.script[1:]
			return &f
		}
		return nil
	}
	if s.faultRate <= 0 || s.faultRng.Float64() >= s.faultRate {
		return nil
	}
	f := &Fault{Kind: s.faultKinds[s.faultRng.IntN(len(s.faultKinds))], Delay: s.faultDelay}
	if !f.applies(rs, v) {
		return nil
	}
	return f
}

// page computes the activities of a valid query at the current clock.
func (s *Server) page(q *query) ([]*Activity, bool, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	s.materialiseLocked(now)
	if s.strictTypes {
		for _, set := range []struct {
			param string
			m     map[string]struct{}
		}{{paramTypes, q.include}, {paramExcludeTypes, q.exclude}} {
			for t := range set.m {
				_, inCatalog := catalogIndex[t]
				_, stored := s.idx.types[t]
				if !inCatalog && !stored {
					return nil, false, invalidRequest("Invalid `%s` value \"%s\": not a known activity type.", set.param, t)
				}
			}
		}
	}
	var cursor *Activity
	if q.cursorParam != "" {
		cursor = s.idx.byID[decodeCursor(q.cursor)]
		if cursor == nil {
			return nil, false, invalidRequest("Invalid `%s`. No activity found for `%s` \"%s\"", q.cursorParam, q.cursorParam, q.cursor)
		}
	}
	items, hasMore := s.idx.page(q, cursor, now)
	return items, hasMore, nil
}

// finish records the request, counts it and appends its self event.
func (s *Server) finish(ad *admission, status int, errType string, returned int, faultReplaces bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := RequestRecord{
		Seq: ad.seq, Time: ad.now, Arrived: ad.arrived, Method: ad.method, Path: ad.path, Query: ad.values, Status: status,
		ErrorType: errType, RequestID: ad.requestID, KeyID: ad.keyID, Returned: returned,
	}
	if ad.fault != nil {
		rec.Fault = ad.fault.Kind
		s.stats.Faults[ad.fault.Kind]++
	}
	s.stats.Requests++
	s.stats.ByStatus[status]++
	s.records = append(s.records, rec)
	if s.maxRecords > 0 && len(s.records) > s.maxRecords {
		// Drop the oldest half at once so appends stay amortised O(1).
		s.records = slices.Delete(s.records, 0, len(s.records)-max(1, s.maxRecords/2))
	}
	if s.selfEvents && ad.keyID != "" && !faultReplaces && status != 0 {
		s.addSelfEventLocked(ad, status)
	}
}

// addSelfEventLocked stores the compliance_api_accessed activity of one request.
func (s *Server) addSelfEventLocked(ad *admission, status int) {
	a := &Activity{
		Type:      typeComplianceAPIAccessed,
		CreatedAt: ad.now.UTC().Truncate(time.Second),
		ActorType: actorTypeNames[actorAPI],
		ActorID:   ad.keyID,
	}
	a.VisibleAt = a.CreatedAt.Add(s.idx.lag)
	for a.ID == "" || s.idx.byID[a.ID] != nil {
		a.ID = string(appendBase62([]byte(idPrefix), s.rng, idLen-len(idPrefix)))
	}
	b := s.selfBuf[:0]
	b = append(b, '{')
	b = appendStrField(b, "id", a.ID)
	b = appendKey(b, "created_at")
	b = appendTime(b, a.CreatedAt)
	b = appendRawField(b, "organization_id", "null")
	b = appendRawField(b, "organization_uuid", "null")
	b = appendKey(b, "actor")
	b = append(b, '{')
	b = appendStrField(b, "type", a.ActorType)
	b = appendStrField(b, "api_key_id", ad.keyID)
	b = appendNullableField(b, "ip_address", ad.ip)
	b = appendNullableField(b, "user_agent", ad.userAgent)
	b = append(b, '}')
	b = appendStrField(b, "type", a.Type)
	b = appendStrField(b, "request_id", ad.requestID)
	b = appendStrField(b, "url", ad.url)
	b = appendStrField(b, "request_method", ad.method)
	b = appendRawField(b, "request_body", "null")
	b = appendRawField(b, "status_code", strconv.Itoa(status))
	b = append(b, '}')
	s.selfBuf = b
	a.JSON = s.selfArena.copy(b)
	// The id is fresh and the activity valid, so add cannot fail.
	_ = s.idx.add([]*Activity{a})
}

// materialiseLocked applies the world's changes and the feed's growth of
// every elapsed second up to now, second by second (the world's first), so
// that what growth picks from the world does not depend on when requests
// arrive.
func (s *Server) materialiseLocked(now time.Time) {
	var acts []*Activity
	if s.world != nil && s.world.growing() {
		end := now.Unix()
		for s.world.growthNext <= end {
			sec := s.world.growthNext
			acts = s.world.second(sec, &s.worldArena, acts)
			s.world.growthNext++
			acts = s.growth.upTo(time.Unix(sec, 0), acts)
		}
	}
	if acts = s.growth.upTo(now, acts); len(acts) > 0 {
		// Growth ids are fresh random ids; a clash (practically impossible)
		// drops that second's batch rather than the server.
		_ = s.idx.add(acts)
	}
}

func (s *Server) newRequestIDLocked() string {
	b := make([]byte, 0, 28)
	b = append(b, "req_"...)
	var n [8]byte
	v := s.seq
	for i := len(n) - 1; i >= 0; i-- {
		n[i] = base62[v%62]
		v /= 62
	}
	b = append(b, n[:]...)
	return string(appendBase62(b, s.rng, 16))
}

func (s *Server) cursorFor(id string) string {
	if s.opaqueCursors {
		return opaqueCursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(id))
	}
	return id
}

// decodeCursor turns an opaque cursor back into an activity id; anything else
// is taken as an activity id.
func decodeCursor(c string) string {
	if rest, ok := strings.CutPrefix(c, opaqueCursorPrefix); ok {
		if id, err := base64.RawURLEncoding.DecodeString(rest); err == nil {
			return string(id)
		}
	}
	return c
}

// ---------------------------------------------------------------------------
// Changing and inspecting the server.

// Add stores activities (copied), keeping the index sorted: small batches are
// inserted, large ones merged. An activity with a zero VisibleAt becomes
// visible at CreatedAt + Lag. It fails, storing nothing, when an activity has
// no id, a zero CreatedAt or a JSON that is not an object, or reuses an id.
func (s *Server) Add(acts ...Activity) error {
	cp := slices.Clone(acts)
	ptrs := make([]*Activity, len(cp))
	for i := range cp {
		ptrs[i] = &cp[i]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.idx.add(ptrs); err != nil {
		return fmt.Errorf("fakeapi: Add: %w", err)
	}
	return nil
}

// Script queues faults for the next requests, one per request, in order. A
// fault with a predicate (OnlyIfCursor, Match, or kind FaultRepeatedCursor)
// waits at the head of the queue until a request matches it.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, faults...)
}

// SetKeys replaces the accepted keys and their scopes while the server runs,
// with the meaning of Options.APIKeys and Options.Scopes (both empty means
// {"test-key"}). It lets a test revoke a key, accept a fixed one, or grant a
// missing scope. On error the keys are unchanged.
func (s *Server) SetKeys(apiKeys []string, scopes map[string][]string) error {
	keys, err := buildKeys(apiKeys, scopes)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
	return nil
}

// Sync materialises growth up to the current clock, as a request would.
func (s *Server) Sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.materialiseLocked(s.clock())
}

// SetClock replaces the server's clock.
func (s *Server) SetClock(clock func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = clock
}

// Now reads the server's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock()
}

// Visible returns copies of the activities visible at now, newest first
// ((created_at, id) descending), with VisibleAt filled in. It does not
// materialise growth; call Sync first.
func (s *Server) Visible(now time.Time) []Activity {
	return s.snapshot(func(a *Activity) bool { return !a.VisibleAt.After(now) })
}

// All returns copies of every stored activity, visible or not, newest first.
func (s *Server) All() []Activity {
	return s.snapshot(func(*Activity) bool { return true })
}

func (s *Server) snapshot(keep func(*Activity) bool) []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Activity, 0, len(s.idx.order))
	for i := len(s.idx.order) - 1; i >= 0; i-- {
		a := *s.idx.order[i]
		a.VisibleAt = s.idx.visibleAt(&a)
		if keep(&a) {
			out = append(out, a)
		}
	}
	return out
}

// Requests returns the most recent request records (at most MaxRecords), in
// arrival order.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.records)
	// Records are appended when a request ends; a slow request can end after
	// a later one (its retry), so order them by arrival.
	slices.SortStableFunc(out, func(a, b RequestRecord) int { return a.Seq - b.Seq })
	for i := range out {
		q := make(url.Values, len(out[i].Query))
		for k, v := range out[i].Query {
			q[k] = slices.Clone(v)
		}
		out[i].Query = q
	}
	return out
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByStatus = maps.Clone(s.stats.ByStatus)
	st.Faults = maps.Clone(s.stats.Faults)
	st.FaultsPending = len(s.script)
	st.Activities = len(s.idx.order)
	return st
}

// KeyID returns the api_key_id the fake derives from key (a hash; the key
// itself never appears in activities or records).
func KeyID(key string) string { return keyID(key) }

func keyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, 0, 9+22)
	b = append(b, "apikey_01"...)
	for _, c := range sum[:22] {
		b = append(b, base62[int(c)%62])
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Writing answers.

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// appendEnvelope appends the list envelope; "" ids are written as null.
func appendEnvelope(b []byte, items []*Activity, hasMore bool, firstID, lastID string) []byte {
	b = append(b, `{"data":[`...)
	for i, a := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a.JSON...)
	}
	b = append(b, `],"has_more":`...)
	b = strconv.AppendBool(b, hasMore)
	b = appendNullableField(b, "first_id", firstID)
	b = appendNullableField(b, "last_id", lastID)
	return append(b, '}')
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that went away is not the server's problem
}

func writeError(w http.ResponseWriter, e *apiError, requestID string) {
	b := append([]byte(nil), `{"type":"error","error":{`...)
	b = appendStrField(b, "type", e.typ)
	b = appendStrField(b, "message", e.message)
	b = append(b, '}')
	b = appendStrField(b, "request_id", requestID)
	b = append(b, '}')
	writeBody(w, e.status, "application/json", b)
}

// writeTruncated sends 200 with the full Content-Length, half the body, and
// closes the connection.
func writeTruncated(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		// No hijacking (HTTP/2, recorders): abort the response instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// resetConnection closes the connection without an answer, with a TCP RST
// when the connection is TCP.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// parseValues decodes a raw query; both raw "[]" and "%5B%5D" keys decode to
// the same names.
func parseValues(raw string) (url.Values, *apiError) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return v, invalidRequest("The query string is malformed: %s.", sanitize(err.Error()))
	}
	return v, nil
}

func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return sanitize(scheme + "://" + r.Host + r.URL.RequestURI())
}

// sanitize makes client-supplied text safe to embed in JSON.
func sanitize(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// pyList formats scopes the way the API's 403 message does: ['a', 'b'].
func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
