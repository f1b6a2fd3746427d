package fakeapi

import (
	"math/rand/v2"
	"slices"
	"time"
)

// GenOptions configures Generate. The zero value of every field has a default.
type GenOptions struct {
	// Seed selects the dataset; the same options always give the same activities.
	Seed uint64
	// Count is the number of activities; 0 or less gives none.
	Count int
	// From and To bound created_at to [From, To), truncated to whole seconds.
	// Zero To means 2026-01-01T00:00:00Z; zero From means To minus 24h.
	From, To time.Time
	// Millis gives about a quarter of the activities a millisecond part in
	// created_at; false keeps every created_at on a whole second.
	Millis bool
	// Orgs is the number of organizations activities belong to (default 3).
	Orgs int
	// Users is the number of distinct users (default 200).
	Users int
	// World, when set, replaces Orgs and Users: activities then name the
	// world's organizations, users (a user_actor's organization is the
	// user's), groups and projects, and the chats and files that existed
	// when they happened (claude_chat_created names the newest chat created
	// by then; an activity older than the world's first chat or file names
	// the oldest one, so give the world an earlier From than the dataset).
	// Pass the same World to Options.World.
	World *World
}

// defaultGenTo is the To that Generate uses when GenOptions.To is zero.
var defaultGenTo = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	idPrefix   = "activity_01"
	idLen      = len(idPrefix) + 24
	arenaChunk = 1 << 20
	arenaSlack = 16 << 10

	saltDataset    = 0x6461746173657431 // distinct PCG streams per purpose
	saltPopulation = 0x706f70756c617431
	saltGrowth     = 0x67726f7774683031
	saltServer     = 0x7365727665723031
)

// Generate returns Count activities sorted ascending by (created_at, id),
// deterministic for the options. It covers every type of ActivityTypes and every
// actor variant of ActorTypes whenever Count is at least
// len(ActivityTypes())+len(ActorTypes()); it produces bursts of 5–50 activities
// in one second, null organizations on sign-in, sign-out and Compliance API
// events, and strings with unicode, quotes, backslashes and newlines. VisibleAt
// is left zero, so a Server makes each activity visible at CreatedAt + Lag.
func Generate(o GenOptions) []Activity {
	if o.Count <= 0 {
		return nil
	}
	if o.To.IsZero() {
		o.To = defaultGenTo
	}
	o.To = o.To.UTC().Truncate(time.Second)
	if o.From.IsZero() {
		o.From = o.To.Add(-24 * time.Hour)
	}
	o.From = o.From.UTC().Truncate(time.Second)
	if !o.From.Before(o.To) {
		o.From = o.To.Add(-time.Second)
	}
	if o.Orgs <= 0 {
		o.Orgs = 3
	}
	if o.Users <= 0 {
		o.Users = 200
	}

	n := o.Count
	g := &gen{r: rand.New(rand.NewPCG(o.Seed, saltDataset))}
	if o.World != nil {
		g.pop = o.World.base.population(rand.New(rand.NewPCG(o.Seed, saltPopulation)))
	} else {
		g.pop = newPopulation(rand.New(rand.NewPCG(o.Seed, saltPopulation)), o.Orgs, o.Users)
	}
	acts := make([]Activity, n)
	idBuf := make([]byte, 0, n*idLen)
	var ar arena
	forced := forcedSchedule(n)

	spanSec := o.To.Sub(o.From).Seconds()
	const meanGroup = 4.3 // expected group size of nextGroupSize
	offset, inGroup := 0.0, 0
	var second time.Time
	for i := range n {
		if inGroup == 0 {
			inGroup = nextGroupSize(g.r)
			groupsLeft := max(float64(n-i)/meanGroup, 1)
			offset += g.r.Float64() * 2 * (spanSec - offset) / groupsLeft
			if offset >= spanSec {
				offset = spanSec - 0.5
			}
			second = o.From.Add(time.Duration(offset) * time.Second)
		}
		inGroup--

		a := &acts[i]
		a.CreatedAt = second
		if o.Millis && g.r.IntN(4) == 0 {
			a.CreatedAt = second.Add(time.Duration(1+g.r.IntN(999)) * time.Millisecond)
		}
		start := len(idBuf)
		idBuf = appendBase62(append(idBuf, idPrefix...), g.r, idLen-len(idPrefix))
		ts, kind := g.pickTypeAndActor(forced[i])
		a.JSON = ar.write(func(b []byte) []byte { return g.record(b, a, idBuf[start:], ts, kind) })
	}
	ids := string(idBuf)
	for i := range acts {
		acts[i].ID = ids[i*idLen : (i+1)*idLen]
	}
	// Activities of one second (the same group or groups that met) are ordered
	// by (created_at, id); seconds themselves are already non-decreasing.
	for i := 0; i < n; {
		j := i + 1
		for j < n && acts[j].CreatedAt.Truncate(time.Second).Equal(acts[i].CreatedAt.Truncate(time.Second)) {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(acts[i:j], func(a, b Activity) int { return compareActivities(&a, &b) })
		}
		i = j
	}
	return acts
}

// nextGroupSize draws how many activities share the next second: mostly one,
// sometimes a few, and in 12% of groups a burst of 5–50.
func nextGroupSize(r *rand.Rand) int {
	switch x := r.IntN(100); {
	case x < 80:
		return 1
	case x < 88:
		return 2 + r.IntN(3)
	default:
		return 5 + r.IntN(46)
	}
}

// forcedChoice pins the type and/or actor of one record; -1 means random.
type forcedChoice struct{ typ, actor int }

// forcedSchedule spreads one record of every type and one claude_chat_created
// per actor variant evenly over n records, so small datasets still cover them.
func forcedSchedule(n int) []forcedChoice {
	out := make([]forcedChoice, n)
	for i := range out {
		out[i] = forcedChoice{-1, -1}
	}
	var list []forcedChoice
	for t := range catalog {
		list = append(list, forcedChoice{t, -1})
	}
	for k := range int(numActorKinds) {
		list = append(list, forcedChoice{catalogIndex[typeChatCreated], k})
	}
	for j, c := range list {
		out[j*n/len(list)] = c
	}
	return out
}

var (
	cumulativeWeights = func() []int {
		out := make([]int, len(catalog))
		sum := 0
		for i, t := range catalog {
			sum += t.weight
			out[i] = sum
		}
		return out
	}()
	allowedActors = func() [][]actorKind {
		out := make([][]actorKind, len(catalog))
		for i, t := range catalog {
			for k := range numActorKinds {
				if t.actors&(1<<k) != 0 {
					out[i] = append(out[i], k)
				}
			}
		}
		return out
	}()
)

// pickTypeAndActor draws a catalogue index by weight and an allowed actor,
// honouring a forced choice.
func (g *gen) pickTypeAndActor(f forcedChoice) (int, actorKind) {
	ts := f.typ
	if ts < 0 {
		x := g.r.IntN(cumulativeWeights[len(cumulativeWeights)-1])
		ts, _ = slices.BinarySearch(cumulativeWeights, x+1)
	}
	if f.actor >= 0 {
		return ts, actorKind(f.actor)
	}
	allowed := allowedActors[ts]
	// Actor mix: user_actor dominates wherever it is allowed.
	if allowed[0] == actorUser && g.r.IntN(100) < 75 {
		return ts, actorUser
	}
	return ts, allowed[g.r.IntN(len(allowed))]
}

// record appends the JSON of one activity of catalogue type ts and actor kind,
// and fills a's Type, ActorType, ActorID, OrgID and OrgUUID. a.CreatedAt must
// be set; id is the activity id.
func (g *gen) record(b []byte, a *Activity, id []byte, ts int, kind actorKind) []byte {
	spec := &catalog[ts]
	g.at, g.typ, g.actor = a.CreatedAt, spec.name, nil
	if w := g.pop.world; w != nil && kind == actorUser {
		g.actor = w.activeUser(g.r) // the activity's org is then the user's
	}
	b = append(b, '{')
	b = appendKey(b, "id")
	b = append(b, '"')
	b = append(b, id...)
	b = append(b, '"')
	b = appendKey(b, "created_at")
	b = appendTime(b, a.CreatedAt)
	switch {
	case spec.noOrg:
		a.OrgID, a.OrgUUID = "", ""
	case g.actor != nil:
		a.OrgID, a.OrgUUID = g.actor.org.id, g.actor.org.uuid
	default:
		o := g.pop.orgs[g.r.IntN(len(g.pop.orgs))]
		a.OrgID, a.OrgUUID = o.id, o.uuid
	}
	b = appendNullableField(b, "organization_id", a.OrgID)
	b = appendNullableField(b, "organization_uuid", a.OrgUUID)
	b, a.ActorID = g.appendActor(b, kind)
	a.ActorType = actorTypeNames[kind]
	a.Type = spec.name
	b = appendStrField(b, "type", spec.name)
	b = spec.fields(g, b)
	return append(b, '}')
}

// arena hands out immutable copies of records carved from large chunks, so a
// million records cost a few hundred allocations instead of a million.
type arena struct{ buf []byte }

// write appends one record with fn directly into the arena and returns it.
// Records are far smaller than arenaSlack; a larger one still comes out
// right (append moves the chunk, earlier records keep the old one).
func (a *arena) write(fn func([]byte) []byte) []byte {
	if cap(a.buf)-len(a.buf) < arenaSlack {
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = fn(a.buf)
	return a.buf[start:len(a.buf):len(a.buf)]
}

func (a *arena) copy(p []byte) []byte {
	if cap(a.buf)-len(a.buf) < len(p) {
		a.buf = make([]byte, 0, max(arenaChunk, len(p)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, p...)
	return a.buf[start:len(a.buf):len(a.buf)]
}
