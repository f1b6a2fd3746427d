package fakeapi

import (
	"maps"
	"slices"
	"time"
)

// Snapshot is what a server's world holds at its clock, for tests to check
// what a client collected against.
type Snapshot struct {
	// Orgs are the organization uuids, in created_at order.
	Orgs []string
	// Users maps an organization uuid to the ids of its members (removed
	// users excluded), in join order.
	Users map[string][]string
	// Groups maps a group id to its members' user ids.
	Groups map[string][]string
	// Chats are every chat created by now, deleted ones included, in
	// (created_at, id) order.
	Chats []ChatInfo
	// Projects are the project ids created by now, in creation order.
	Projects []string
}

// ChatInfo describes one chat of a Snapshot.
type ChatInfo struct {
	ID, UserID, OrgUUID  string
	CreatedAt, UpdatedAt time.Time
	// Deleted is set for a chat deleted in claude.ai (still listed).
	Deleted bool
	// MessageIDs are the ids of its messages, oldest first.
	MessageIDs []string
	// FileIDs and GeneratedFileIDs are what its messages reference.
	FileIDs, GeneratedFileIDs []string
}

// Snapshot materialises the world's changes up to the clock and describes
// it. Without Options.World it is empty.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	s.materialiseLocked(now)
	snap := Snapshot{Users: map[string][]string{}, Groups: map[string][]string{}}
	st := s.world
	if st == nil {
		return snap
	}
	for _, o := range st.orgs {
		snap.Orgs = append(snap.Orgs, o.uuid)
		snap.Users[o.uuid] = []string{}
	}
	users := slices.Clone(st.users)
	slices.SortStableFunc(users, func(a, b *wUser) int {
		if c := a.joinedAt.Compare(b.joinedAt); c != 0 {
			return c
		}
		return cmpString(a.id, b.id)
	})
	for _, u := range users {
		if u.active && !u.joinedAt.After(now) {
			snap.Users[u.org.uuid] = append(snap.Users[u.org.uuid], u.id)
		}
	}
	for _, g := range st.groups {
		ids := []string{}
		for _, m := range g.members {
			if m.user.active {
				ids = append(ids, m.user.id)
			}
		}
		snap.Groups[g.id] = ids
	}
	for _, c := range st.chats {
		if c.createdAt.After(now) {
			continue
		}
		info := ChatInfo{ID: c.id, OrgUUID: c.org.uuid, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt, Deleted: !c.deletedAt.IsZero()}
		if c.user != nil {
			info.UserID = c.user.id
		}
		for _, m := range c.messages {
			info.MessageIDs = append(info.MessageIDs, m.id)
			for _, f := range m.files {
				info.FileIDs = append(info.FileIDs, f.id)
			}
			for _, g := range m.genFiles {
				info.GeneratedFileIDs = append(info.GeneratedFileIDs, g.id)
			}
		}
		snap.Chats = append(snap.Chats, info)
	}
	for _, p := range st.projects {
		if !p.createdAt.After(now) {
			snap.Projects = append(snap.Projects, p.id)
		}
	}
	return snap
}

// GroupIDs returns the group ids of a snapshot, sorted.
func (s Snapshot) GroupIDs() []string { return slices.Sorted(maps.Keys(s.Groups)) }
