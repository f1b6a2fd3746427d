package fakeapi

import (
	"fmt"
	"slices"
)

// EditProjectDocument replaces the content of a project document, as a user
// editing it in claude.ai would; its metadata's md5 and size follow. The
// project's updated_at does not move (whether the API moves it is
// unconfirmed). It fails for an unknown id.
func (s *Server) EditProjectDocument(id, content string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.materialiseLocked(s.clock())
	d := s.docLocked(id)
	if d == nil {
		return fmt.Errorf("fakeapi: no project document %q", id)
	}
	d.content = content
	return nil
}

// RemoveProjectDocument deletes a project document: it leaves its project's
// attachments and its content and metadata answer 404. It fails for an
// unknown id.
func (s *Server) RemoveProjectDocument(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.materialiseLocked(s.clock())
	d := s.docLocked(id)
	if d == nil {
		return fmt.Errorf("fakeapi: no project document %q", id)
	}
	delete(s.world.docByID, id)
	for _, p := range s.world.projects {
		p.attachments = slices.DeleteFunc(p.attachments, func(a *wAttachment) bool { return a == d })
	}
	return nil
}

func (s *Server) docLocked(id string) *wAttachment {
	if s.world == nil {
		return nil
	}
	return s.world.docByID[id]
}
