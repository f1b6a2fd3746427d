package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// Filters narrow the feed; they are resent on every page.
type Filters struct {
	ActivityTypes        []string `json:"activity_types,omitempty"`
	ExcludeActivityTypes []string `json:"exclude_activity_types,omitempty"`
	ActorIDs             []string `json:"actor_ids,omitempty"`
	OrganizationIDs      []string `json:"organization_ids,omitempty"`
}

// Validate rejects combinations the API refuses.
func (f Filters) Validate() error {
	if len(f.ActivityTypes) > 0 && len(f.ExcludeActivityTypes) > 0 {
		return errors.New("filters: set activity_types or exclude_activity_types, not both")
	}
	return nil
}

// canonical sorts and deduplicates every list, so that order and repeats do
// not change the identity.
func (f Filters) canonical() Filters {
	norm := func(in []string) []string {
		if len(in) == 0 {
			return nil
		}
		out := slices.Clone(in)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return Filters{
		ActivityTypes:        norm(f.ActivityTypes),
		ExcludeActivityTypes: norm(f.ExcludeActivityTypes),
		ActorIDs:             norm(f.ActorIDs),
		OrganizationIDs:      norm(f.OrganizationIDs),
	}
}

// Hash identifies the filter set in the checkpoint identity.
func (f Filters) Hash() string {
	b, _ := json.Marshal(f.canonical())
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// apply copies the filters into request parameters.
func (f Filters) apply(p *api.ListParams) {
	c := f.canonical()
	p.ActivityTypes = c.ActivityTypes
	p.ExcludeActivityTypes = c.ExcludeActivityTypes
	p.ActorIDs = c.ActorIDs
	p.OrganizationIDs = c.OrganizationIDs
}
