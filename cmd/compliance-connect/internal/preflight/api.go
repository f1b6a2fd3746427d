package preflight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// The sample request: one page of at most sampleLimit activities of the hour
// before now - settle, with the endpoint's filters. It checks the key and the
// scope, and its density estimates the activity rate.
const (
	sampleSpan  = time.Hour
	sampleLimit = 1000
)

// skewWarn is the clock difference the collector itself warns about.
const skewWarn = 30 * time.Second

// backfillWarn is how long a backfill may hold the usable budget before
// check warns that it starves the other tools.
const backfillWarn = time.Hour

// defaultLimit is the documented budget when the API does not say.
const defaultLimit = 600

// probes observes the API clients: every attempt is counted, and the last
// response of each endpoint is kept with the local time it arrived.
// Hooks run on the calling goroutine and the checks run one at a time, so
// nothing here is shared between goroutines.
type probes struct {
	now      func() time.Time
	requests int
	last     map[string]*response
}

type response struct {
	info    api.ResponseInfo
	localAt time.Time
}

func newProbes(now func() time.Time) *probes {
	return &probes{now: now, last: map[string]*response{}}
}

func probeKey(label, endpoint string) string { return label + "\x00" + endpoint }

func (p *probes) hooks(label, endpoint string) api.Hooks {
	key := probeKey(label, endpoint)
	return api.Hooks{
		OnRequest: func(api.RequestInfo) { p.requests++ },
		OnResponse: func(ri api.ResponseInfo) {
			p.last[key] = &response{info: ri, localAt: p.now()}
		},
	}
}

// sample is what one request brought back: the Activity Feed's sample
// request of a feed endpoint, or the probe of one scope (scope set).
type sample struct {
	ep        *compliance.PipelineAPI
	scope     string    // the scope probed; "" for the feed's sample
	from, to  time.Time // the created_at range asked for (feed)
	page      *api.Page // the feed's page
	requestID string    // of the successful response
	resp      *response
	err       error
}

// The scopes of the other kinds (compliance.EndpointScope names them), and
// the request that probes each: one record of a list that needs it.
const (
	scopeOrgData  = "read:compliance_org_data"
	scopeUserData = "read:compliance_user_data"
)

var scopeProbeRequest = map[string]string{
	scopeOrgData:  "GET /v1/compliance/organizations?limit=1",
	scopeUserData: "GET /v1/compliance/apps/chats?limit=1",
}

// scopeProbe is the one request of an input that checks one scope for every
// endpoint (other than the feed) that needs it.
type scopeProbe struct {
	scope string
	eps   []*compliance.PipelineAPI
	s     *sample
}

// scopeProbes lists the scopes the input's non-feed endpoints need, in the
// order they first appear, each with the endpoints that need it.
func scopeProbes(eps []*compliance.PipelineAPI) []*scopeProbe {
	var out []*scopeProbe
	for _, ep := range eps {
		if ep.Kind == compliance.KindFeed {
			continue // its own sample request checks its scope
		}
		for _, scope := range ep.Scopes {
			i := slices.IndexFunc(out, func(p *scopeProbe) bool { return p.scope == scope })
			if i < 0 {
				out = append(out, &scopeProbe{scope: scope})
				i = len(out) - 1
			}
			out[i].eps = append(out[i].eps, ep)
		}
	}
	return out
}

// api sends the sample request of each Activity Feed endpoint and one probe
// per scope the other endpoints need, and reports the key, each endpoint's
// scopes, the clock and the budget.
func (r *run) api(ctx context.Context) {
	r.samples = map[*compliance.PipelineAPI]*sample{}
	byInput := map[string][]*compliance.PipelineAPI{}
	for _, ep := range r.pipeline.Endpoints {
		byInput[ep.Label] = append(byInput[ep.Label], ep)
	}
	for _, label := range r.pipeline.Inputs {
		eps := byInput[label]
		subject := inputSubject(label)
		if len(eps) == 0 {
			continue
		}
		if eps[0].KeyMissing {
			r.add(CheckKey, subject, Fail, "set api_key, normally from an environment variable: api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}, exported in the environment the service runs in",
				"api_key is empty (an unset environment variable?): no request was sent")
			for _, ep := range eps {
				r.add(CheckScope, endpointSubject(ep), Skip, "", "not asked: api_key is empty")
			}
			r.add(CheckClock, subject, Skip, "", "not asked: api_key is empty")
			r.add(CheckBudget, subject, Skip, "", "not asked: api_key is empty")
			continue
		}
		var first, dated *sample // the first answer (the key); the first with a response (clock, budget)
		refused := false
		answered := func(s *sample) {
			if first == nil {
				first = s
				refused = r.keyResult(subject, s)
			}
			if dated == nil && s.resp != nil {
				dated = s
			}
		}
		for _, ep := range eps {
			if ep.Kind != compliance.KindFeed {
				continue
			}
			if refused {
				r.add(CheckScope, endpointSubject(ep), Skip, "", "not asked: the key was refused")
				continue
			}
			s := r.request(ctx, ep)
			r.samples[ep] = s
			answered(s)
			if refused {
				r.add(CheckScope, endpointSubject(ep), Skip, "", "not verified: the key was refused")
			} else {
				r.scopeResult(s)
			}
		}
		probes := scopeProbes(eps)
		for _, p := range probes {
			if !refused {
				p.s = r.probeScope(ctx, p.scope, p.eps[0])
				answered(p.s)
			}
		}
		for _, ep := range eps {
			if ep.Kind == compliance.KindFeed {
				continue
			}
			if refused {
				r.add(CheckScope, endpointSubject(ep), Skip, "", "not verified: the key was refused")
				continue
			}
			r.endpointScopes(ep, probes)
		}
		if dated == nil {
			dated = first
		}
		r.clockResult(subject, dated)
		r.budgetResult(subject, dated, eps[0])
	}
}

// request sends the sample request of one endpoint: the input's request
// (base URL, key, version, filters) for the hour before now - settle.
func (r *run) request(ctx context.Context, ep *compliance.PipelineAPI) *sample {
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	s := &sample{ep: ep}
	s.to = r.o.Now().Add(-ep.Settle).UTC().Truncate(time.Second)
	s.from = s.to.Add(-sampleSpan)
	p := ep.Filters
	p.CreatedAtGTE, p.CreatedAtLT = s.from.Format(time.RFC3339), s.to.Format(time.RFC3339)
	p.Limit = sampleLimit // whatever page_size says: the sample must be dense enough to estimate from
	key := probeKey(ep.Label, ep.Endpoint)
	delete(r.probes.last, key)
	s.page, s.err = ep.Client.ListActivities(ctx, p)
	if s.err == nil {
		s.requestID = s.page.RequestID
	}
	s.resp = r.probes.last[key]
	return s
}

// probeScope asks for one record of a list that needs scope, with the client
// of ep (an endpoint that needs it).
func (r *run) probeScope(ctx context.Context, scope string, ep *compliance.PipelineAPI) *sample {
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	s := &sample{ep: ep, scope: scope}
	key := probeKey(ep.Label, ep.Endpoint)
	delete(r.probes.last, key)
	switch scope {
	case scopeOrgData:
		var page *api.PageOf[api.Organization]
		if page, s.err = ep.Client.ListOrganizations(ctx, api.PageParams{Limit: 1}); s.err == nil {
			s.requestID = page.RequestID
		}
	case scopeUserData:
		var page *api.CursorPage[api.Chat]
		if page, s.err = ep.Client.ListChats(ctx, api.ChatsParams{Limit: 1}); s.err == nil {
			s.requestID = page.RequestID
		}
	default:
		s.err = fmt.Errorf("check has no request to probe scope %s", scope)
	}
	s.resp = r.probes.last[key]
	return s
}

// keyResult reports whether the key was accepted; it returns true when the
// API refused it (401), which stops the input's other requests.
func (r *run) keyResult(subject string, s *sample) bool {
	base := s.ep.BaseURL
	if s.err == nil {
		r.add(CheckKey, subject, OK, "", "the key is accepted by %s (request-id %s)", base, s.requestID)
		return false
	}
	page := "an Activity Feed page"
	if s.scope != "" {
		page = "a Compliance API page (" + scopeProbeRequest[s.scope] + ")"
	}
	e, ok := apiError(s.err)
	switch {
	case ok && e.Status == 401:
		r.add(CheckKey, subject, Fail,
			"put a Compliance Access Key (sk-ant-api01-…, created in claude.ai under Organization settings > API) or an Admin API key (sk-ant-admin01-…) in api_key; a Claude API key (sk-ant-api03-…) has no access, and a deleted key is refused from its next request",
			"the API refused the key: %s", e.Error())
		return true
	case ok && e.Status == 403:
		r.add(CheckKey, subject, OK, "", "the key is known to %s (its scopes are checked below; request-id %s)", base, e.RequestID)
	case ok && e.Status == 429:
		r.add(CheckKey, subject, OK, "", "the key is known to %s (a 429 comes after authentication; request-id %s)", base, e.RequestID)
	case ok && e.Status >= 400 && e.Status < 500:
		r.add(CheckKey, subject, OK, "", "the key is known to %s (request-id %s)", base, e.RequestID)
	case errors.Is(s.err, api.ErrMalformed):
		r.add(CheckKey, subject, Fail, "check base_url (and proxy_url): something other than the Compliance API answered",
			"could not verify the key: the answer of %s is not %s: %s", base, page, describe(s.err))
	case ok && e.Status >= 500:
		r.add(CheckKey, subject, Fail, "the API failed, not the config: run check again later (the input retries such failures)",
			"could not verify the key: %s", e.Error())
	default:
		r.add(CheckKey, subject, Fail, "check base_url, proxy_url (or HTTPS_PROXY/NO_PROXY), tls, DNS and the firewall between this host and the API",
			"could not reach %s: %s", base, describe(s.err))
	}
	return false
}

func (r *run) scopeResult(s *sample) {
	subject := endpointSubject(s.ep)
	scope := s.ep.Scope
	if s.err == nil {
		r.add(CheckScope, subject, OK, "", "the key has %s", scope)
		return
	}
	e, ok := apiError(s.err)
	switch {
	case ok && e.Status == 403:
		r.add(CheckScope, subject, Fail,
			fmt.Sprintf("create a Compliance Access Key with the %s scope (scopes are fixed when a key is created), or an Admin API key created after the Compliance API was enabled", scope),
			"the key lacks %s: %s", scope, e.Error())
	case ok && e.Status == 429:
		r.add(CheckScope, subject, Skip, "run check again after the budget resets", "not verified: the request was rate limited")
	case ok && e.Status >= 400 && e.Status < 500:
		r.add(CheckScope, subject, OK, "", "the key has %s (the request got past the scope check)", scope)
		r.add(CheckRequest, subject, Fail,
			"every job of this endpoint will be refused the same way: correct the endpoint's filters (an unknown activity type, both activity_types and exclude_activity_types) or anthropic_version",
			"the API rejects this endpoint's request: %s", e.Error())
	default:
		r.add(CheckScope, subject, Skip, "", "not verified: the request failed (see %s)", CheckKey)
	}
}

// endpointScopes reports the scopes of an endpoint other than the feed from
// the input's probes: a 403 fails naming the scope and every endpoint that
// needs it.
func (r *run) endpointScopes(ep *compliance.PipelineAPI, probes []*scopeProbe) {
	subject := endpointSubject(ep)
	var has, lacks, unverified, refusals []string
	for _, scope := range ep.Scopes {
		i := slices.IndexFunc(probes, func(p *scopeProbe) bool { return p.scope == scope })
		if i < 0 || probes[i].s == nil {
			unverified = append(unverified, scope+" (not asked)")
			continue
		}
		p := probes[i]
		e, ok := apiError(p.s.err)
		switch {
		case p.s.err == nil:
			has = append(has, fmt.Sprintf("%s (%s, request-id %s)", scope, scopeProbeRequest[scope], p.s.requestID))
		case ok && e.Status == 403:
			var names []string
			for _, other := range p.eps {
				names = append(names, other.Endpoint)
			}
			lacks = append(lacks, scope)
			refusals = append(refusals, fmt.Sprintf("the key lacks %s, which endpoints %s of this input need: %s", scope, strings.Join(names, ", "), e.Error()))
		case ok && e.Status == 429:
			unverified = append(unverified, scope+" (the request was rate limited)")
		case ok && e.Status >= 400 && e.Status < 500:
			has = append(has, fmt.Sprintf("%s (%s got past the scope check: %s)", scope, scopeProbeRequest[scope], e.Error()))
		default:
			unverified = append(unverified, fmt.Sprintf("%s (the request failed: %s; see %s)", scope, describe(p.s.err), CheckKey))
		}
	}
	notes := slices.Clone(refusals)
	if len(has) > 0 {
		notes = append(notes, "the key has "+strings.Join(has, ", "))
	}
	if len(unverified) > 0 {
		notes = append(notes, "not verified: "+strings.Join(unverified, ", "))
	}
	switch {
	case len(lacks) > 0:
		r.add(CheckScope, subject, Fail,
			fmt.Sprintf("create a Compliance Access Key with the scopes %s (scopes are fixed when a key is created), or an Admin API key created after the Compliance API was enabled; or remove the endpoints that need them",
				strings.Join(ep.Scopes, " and ")),
			"%s", strings.Join(notes, "; "))
	case len(unverified) > 0:
		r.add(CheckScope, subject, Skip, "run check again later", "%s", strings.Join(notes, "; "))
	default:
		r.add(CheckScope, subject, OK, "", "%s", strings.Join(notes, "; "))
	}
}

func (r *run) clockResult(subject string, s *sample) {
	if s == nil || s.resp == nil || s.resp.info.ServerDate.IsZero() {
		r.add(CheckClock, subject, Skip, "", "no Date header from the API to compare with")
		return
	}
	// The Date header has whole seconds (the server's time lies within the
	// second after it) and was written while the request was in flight: the
	// middle of each is the best guess.
	local := s.resp.localAt.Add(-s.resp.info.Duration / 2)
	skew := local.Sub(s.resp.info.ServerDate.Add(500 * time.Millisecond)).Round(time.Second)
	if skew > -skewWarn && skew < skewWarn {
		r.add(CheckClock, subject, OK, "", "this host's clock is within %v of the API's (measured %+v, to about a second)", skewWarn, skew)
		return
	}
	side := "ahead of"
	effect := "the collector follows the API's clock for its windows, but cron ticks, `earliest` on a fresh start and log times follow this host's"
	if skew < 0 {
		side, effect = "behind", "collection lags by as much and cron ticks come late; the collector never reads past the API's clock"
	}
	r.add(CheckClock, subject, Warn, "synchronise this host's clock (NTP: chrony or systemd-timesyncd)",
		"this host's clock is %v %s the API's Date header: %s", skew.Abs(), side, effect)
}

func (r *run) budgetResult(subject string, s *sample, ep *compliance.PipelineAPI) {
	if s == nil || s.resp == nil || !s.resp.info.RateLimit.Known {
		if s != nil && s.err != nil {
			if e, ok := apiError(s.err); ok && e.Status == 429 {
				r.add(CheckBudget, subject, Warn, "find the tool that spends the organisation's budget (every tool and key share it); the input waits for the reset and retries",
					"the budget is exhausted right now (429, no rate-limit headers)")
				return
			}
		}
		r.add(CheckBudget, subject, Skip, "", "the API sent no anthropic-ratelimit-requests-* headers")
		return
	}
	rl := s.resp.info.RateLimit
	reset := ""
	if !rl.Reset.IsZero() {
		reset = fmt.Sprintf(", resetting at %s", rl.Reset.UTC().Format(time.RFC3339))
	}
	keep := int(math.Ceil(ep.Budget.Headroom*float64(rl.Limit) - 1e-9))
	msg := fmt.Sprintf("%d of %d requests left in this window%s", rl.Remaining, rl.Limit, reset)
	switch {
	case rl.Remaining == 0:
		r.add(CheckBudget, subject, Warn, "find the tool that spends the organisation's budget (every tool and key share it); the input waits for the reset and retries",
			"%s: the budget is exhausted right now", msg)
	case ep.Budget.Headroom > 0 && rl.Remaining <= keep:
		r.add(CheckBudget, subject, Warn, "other tools are spending the shared budget: the input will pause until each reset; lower rate_limit.headroom only if this collector should take precedence",
			"%s: at or below the %d that rate_limit.headroom (%.0f%%) leaves to other tools", msg, keep, ep.Budget.Headroom*100)
	default:
		r.add(CheckBudget, subject, OK, "", "%s (rate_limit.headroom leaves %d to other tools)", msg, keep)
	}
}

// cost estimates what the jobs of each endpoint spend of the shared budget.
func (r *run) cost() {
	for _, ep := range r.pipeline.Endpoints {
		s := r.samples[ep]
		subject := endpointSubject(ep)
		if ep.Kind != compliance.KindFeed {
			r.add(CheckCost, subject, Skip, "", "%s", r.unestimated(ep))
			continue
		}
		if s == nil || s.err != nil || s.page == nil {
			r.add(CheckCost, subject, Skip, "", "no activity rate to estimate from: the sample request did not succeed")
			continue
		}
		limit := defaultLimit
		if s.resp != nil && s.resp.info.RateLimit.Known {
			limit = s.resp.info.RateLimit.Limit
		}
		est := estimate(ep, s, r.o.Now(), !r.hasCheckpoint[subject])
		r.costResult(subject, ep, est, limit)
	}
}

// unestimated says why the cost of an endpoint other than the feed is not
// estimated, and what it depends on.
func (r *run) unestimated(ep *compliance.PipelineAPI) string {
	every := "once"
	if !ep.Schedule.Once() {
		next := ep.Schedule.Next(r.o.Now())
		every = "every " + human(ep.Schedule.Next(next).Sub(next))
	}
	switch {
	case ep.Kind == compliance.KindSnapshot:
		return fmt.Sprintf("not estimated: each run (%s) walks the whole list, one request per page of %d records (and per organization or group for the lists below them); "+
			"check does not sample the list's size", every, ep.PageSize)
	case ep.Endpoint == "files":
		return fmt.Sprintf("not estimated: each job (%s) lists the files updated in its window, one request per page of %d, plus one download per file; "+
			"how many change per interval cannot be told from one request", every, ep.PageSize)
	}
	return fmt.Sprintf("not estimated: each job (%s) lists the %s updated in its window, one request per page of %d (plus, with include_messages, the messages of each updated chat); "+
		"how many change per interval cannot be told from one request", every, ep.Endpoint, ep.PageSize)
}

func (r *run) costResult(subject string, ep *compliance.PipelineAPI, est cost, limit int) {
	usable := float64(limit) * (1 - ep.Budget.Headroom)
	v := &verdict{status: OK}
	v.note(fmt.Sprintf("about %s activities/hour (an estimate from %d activities of the sample; busier hours cost more)", round(est.PerHour), est.Sampled))
	if !ep.Schedule.Once() {
		v.note(fmt.Sprintf("a job every %s costs about %s requests ((1 + overlap/interval) × activities / page_size %d, plus one per slice), about %.1f requests/min of the %d/min shared by every tool of the organisation (%.0f%%)",
			human(est.Interval), round(est.PerJob), ep.PageSize, est.PerMinute, limit, 100*est.PerMinute/float64(limit)))
		switch {
		case est.PerMinute > usable:
			v.worse(Fail, "collect less often with more per job (a longer schedule interval), raise page_size to 5000, narrow the filters, or ask Anthropic for a higher limit",
				fmt.Sprintf("more than the %.0f/min rate_limit.headroom leaves, so jobs cannot keep up", usable))
		case est.PerMinute > usable/2:
			v.worse(Warn, "collect less often (a longer schedule interval) or raise page_size to 5000 to leave the budget to other tools",
				"more than half of what rate_limit.headroom leaves")
		}
	}
	if est.Backfill > 0 {
		what := fmt.Sprintf("the first job backfills %s from earliest %q", human(est.BackfillSpan), ep.Earliest.String())
		fix := "start from a later earliest, raise page_size to 5000, or let the first job run when other tools are idle"
		if ep.Schedule.Once() {
			what = fmt.Sprintf("the `once` backfill of %s", human(est.BackfillSpan))
			fix = "split the range into several `once` runs at quiet times, or raise page_size to 5000"
		}
		long := minutes(est.Backfill / usable)
		v.note(fmt.Sprintf("%s: about %s requests, at least %s at %.0f requests/min", what, round(est.Backfill), human(long), usable))
		if long > backfillWarn {
			v.worse(Warn, fix, "the backfill holds the usable budget for over an hour, slowing every other tool of the organisation")
		}
	}
	r.add(CheckCost, subject, v.status, v.fix, "%s", strings.Join(v.notes, "; "))
}

func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

// round prints a count without false precision.
func round(f float64) string {
	switch {
	case f < 10:
		return fmt.Sprintf("%.1f", f)
	case f < 1000:
		return fmt.Sprintf("%.0f", f)
	case f < 1e6:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.1fM", f/1e6)
}

// human prints a duration in its largest sensible unit.
func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1fd", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1fh", d.Hours())
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
