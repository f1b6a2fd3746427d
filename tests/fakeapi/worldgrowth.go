package fakeapi

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// growing reports whether any WorldGrowth rate is set.
func (st *worldState) growing() bool {
	g := st.opts.Growth
	return g.ChatsPerHour > 0 || g.EditsPerHour > 0 || g.DeletesPerHour > 0 || g.UserChangesPerHour > 0 ||
		g.GroupChangesPerHour > 0 || g.ProjectChangesPerHour > 0 || g.SettingChangesPerHour > 0
}

// events draws how many events of a rate per hour happen in one second.
func events(r *rand.Rand, perHour float64) int {
	if perHour <= 0 {
		return 0
	}
	perSec := perHour / 3600
	n := int(math.Floor(perSec))
	if frac := perSec - float64(n); frac > 0 && r.Float64() < frac {
		n++
	}
	return n
}

// eventWriter writes the activities of world changes.
type eventWriter struct {
	r   *rand.Rand
	at  time.Time
	ar  *arena
	buf []byte
	out []*Activity
}

// emit appends one activity of type typ by user u (a user_actor) in org, with
// the type's fields written by fields.
func (w *eventWriter) emit(typ string, u *wUser, org *wOrg, fields func(b []byte) []byte) {
	a := &Activity{Type: typ, CreatedAt: w.at, ActorType: actorTypeNames[actorUser], ActorID: u.id}
	id := appendBase62([]byte(idPrefix), w.r, idLen-len(idPrefix))
	a.ID = string(id)
	if org != nil {
		a.OrgID, a.OrgUUID = org.id, org.uuid
	}
	b := w.buf[:0]
	b = append(b, '{')
	b = appendStrField(b, "id", a.ID)
	b = appendKey(b, "created_at")
	b = appendTime(b, a.CreatedAt)
	b = appendNullableField(b, "organization_id", a.OrgID)
	b = appendNullableField(b, "organization_uuid", a.OrgUUID)
	b = appendKey(b, "actor")
	b = append(b, '{')
	b = appendStrField(b, "type", a.ActorType)
	b = appendStrField(b, "email_address", u.email)
	b = appendStrField(b, "user_id", u.id)
	b = appendStrField(b, "ip_address", "192.0.2."+strconv.Itoa(1+w.r.IntN(254)))
	b = appendStrField(b, "user_agent", pick(w.r, userAgents))
	b = append(b, '}')
	b = appendStrField(b, "type", typ)
	b = fields(b)
	b = append(b, '}')
	w.buf = b
	a.JSON = w.ar.copy(b)
	w.out = append(w.out, a)
}

// second applies the changes of unix second s and appends their activities.
func (st *worldState) second(s int64, ar *arena, out []*Activity) []*Activity {
	r := rand.New(rand.NewPCG(st.opts.Seed^saltWorldGrowth, uint64(s)))
	at := time.Unix(s, 0).UTC()
	w := &eventWriter{r: r, at: at, ar: ar, out: out}
	g := st.opts.Growth
	for range events(r, g.ChatsPerHour) {
		c := st.addChat(r, at, at)
		w.emit(typeChatCreated, c.user, c.org, func(b []byte) []byte { return appendChatRef(b, c) })
		st.emitUploads(w, c, c.messages)
	}
	for range events(r, g.EditsPerHour) {
		if c := st.liveChat(r); c != nil {
			n := len(c.messages)
			st.addExchange(r, c, at)
			st.emitUploads(w, c, c.messages[n:])
		}
	}
	for range events(r, g.DeletesPerHour) {
		if c := st.liveChat(r); c != nil {
			st.deleteChat(c, at)
			w.emit("claude_chat_deleted", c.user, c.org, func(b []byte) []byte { return appendChatRef(b, c) })
		}
	}
	for range events(r, g.UserChangesPerHour) {
		st.changeUser(r, w)
	}
	for range events(r, g.GroupChangesPerHour) {
		st.changeGroup(r, w)
	}
	for range events(r, g.ProjectChangesPerHour) {
		st.changeProject(r, w)
	}
	for range events(r, g.SettingChangesPerHour) {
		org := st.orgs[r.IntN(len(st.orgs))]
		i := r.IntN(len(org.settings))
		if org.settings[i].typ == "boolean" {
			org.settings[i].value = !org.settings[i].value.(bool)
		}
	}
	return w.out
}

// emitUploads adds a claude_file_uploaded activity per file of msgs.
func (st *worldState) emitUploads(w *eventWriter, c *wChat, msgs []*wMessage) {
	for _, m := range msgs {
		for _, f := range m.files {
			w.emit("claude_file_uploaded", c.user, c.org, func(b []byte) []byte {
				b = appendStrField(b, "claude_file_id", f.id)
				b = appendStrField(b, "filename", f.filename)
				return appendChatRef(b, c)
			})
		}
	}
}

// liveChat picks a chat not deleted, or nil.
func (st *worldState) liveChat(r *rand.Rand) *wChat {
	for range 16 {
		if len(st.chats) == 0 {
			return nil
		}
		if c := st.chats[r.IntN(len(st.chats))]; c.deletedAt.IsZero() {
			return c
		}
	}
	return nil
}

func (st *worldState) changeUser(r *rand.Rand, w *eventWriter) {
	if r.IntN(2) == 0 {
		u := st.newUser(r, len(st.users), w.at, w.at)
		st.users = append(st.users, u)
		w.emit("scim_user_created", u, u.org, func(b []byte) []byte { return appendStrField(b, "user_id", u.id) })
		return
	}
	u := st.activeUser(r)
	if !u.active || st.countActive() < 2 {
		return
	}
	st.removeUser(u)
	admin := st.activeUser(r)
	w.emit("org_user_deleted", admin, u.org, func(b []byte) []byte {
		b = appendStrField(b, "deleted_user_id", u.id)
		return appendStrField(b, "deleted_user_email", u.email)
	})
}

func (st *worldState) countActive() int {
	n := 0
	for _, u := range st.users {
		if u.active {
			n++
		}
	}
	return n
}

func (st *worldState) changeGroup(r *rand.Rand, w *eventWriter) {
	g := st.groups[r.IntN(len(st.groups))]
	admin := st.activeUser(r)
	memberIDs := func(b []byte, u *wUser) []byte {
		b = appendStrField(b, "group_id", g.id)
		b = appendKey(b, "member_ids")
		return append(appendJSONString(append(b, '['), u.id), ']')
	}
	if r.IntN(2) == 0 || len(g.members) == 0 {
		u := st.activeUser(r)
		for _, m := range g.members {
			if m.user == u {
				return
			}
		}
		g.members = append(g.members, wMember{user: u, createdAt: w.at, updatedAt: w.at})
		if !g.createdAt.IsZero() {
			g.updatedAt = w.at
		}
		w.emit("group_member_added", admin, admin.org, func(b []byte) []byte { return memberIDs(b, u) })
		return
	}
	i := r.IntN(len(g.members))
	u := g.members[i].user
	g.members = append(g.members[:i:i], g.members[i+1:]...)
	if !g.createdAt.IsZero() {
		g.updatedAt = w.at
	}
	w.emit("group_member_removed", admin, admin.org, func(b []byte) []byte { return memberIDs(b, u) })
}

func (st *worldState) changeProject(r *rand.Rand, w *eventWriter) {
	if k := r.IntN(4); k == 0 || len(st.projects) == 0 {
		p := st.addProject(r, w.at)
		w.emit("claude_project_created", p.user, p.org, func(b []byte) []byte {
			b = appendStrField(b, "claude_project_id", p.id)
			return appendStrField(b, "claude_project_name", p.name)
		})
		return
	}
	p := st.projects[r.IntN(len(st.projects))]
	switch r.IntN(3) {
	case 0:
		st.addAttachment(r, p, w.at)
	case 1:
		st.addCollaborator(r, p, w.at)
	default:
		if len(p.collaborators) < 2 {
			return
		}
		i := 1 + r.IntN(len(p.collaborators)-1) // never the owner
		p.collaborators = append(p.collaborators[:i:i], p.collaborators[i+1:]...)
	}
	p.updatedAt = w.at
}
