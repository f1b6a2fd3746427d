package content

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// Filters narrow the chats collected. OrganizationIDs go to the API; the
// API refuses user_ids[] with order_by=updated_at (and project_ids[] needs
// user_ids[]), so UserIDs and ProjectIDs are applied to the listing here.
type Filters struct {
	OrganizationIDs []string `json:"organization_ids,omitempty"`
	UserIDs         []string `json:"user_ids,omitempty"`
	ProjectIDs      []string `json:"project_ids,omitempty"`
}

func (f Filters) canonical() Filters {
	norm := func(in []string) []string {
		if len(in) == 0 {
			return nil
		}
		out := slices.Clone(in)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return Filters{OrganizationIDs: norm(f.OrganizationIDs), UserIDs: norm(f.UserIDs), ProjectIDs: norm(f.ProjectIDs)}
}

// Hash identifies the filter set in the checkpoint identity; order and
// repeats do not change it.
func (f Filters) Hash() string {
	b, _ := json.Marshal(f.canonical())
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// keep reports whether a chat passes the client-side filters: its creator
// is one of UserIDs and its project one of ProjectIDs (each when set).
func (f Filters) keep(c api.Chat) bool {
	if len(f.UserIDs) > 0 && !slices.Contains(f.UserIDs, c.UserID) {
		return false
	}
	return len(f.ProjectIDs) == 0 || slices.Contains(f.ProjectIDs, c.ProjectID)
}
