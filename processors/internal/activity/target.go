package activity

// Target-user fields, in priority order: the first one present wins
// (peers-and-user-needs.md §5.1, mirroring Elastic's pipeline, which stops at
// requester_user_id; the new primary owner, an artifact's invitee and a scan
// project's member are the user acted upon too).
var (
	targetEmailKeys = []string{"invited_email", "deleted_user_email", "user_email", "invitee_email"}
	targetIDKeys    = []string{"user_id", "deleted_user_id", "requester_user_id", "new_owner_id", "invitee_user_id", "member_id"}
)

// Keys whose id names a user only when the sibling *_type says "user".
const (
	KeyPrincipalID   = "principal_id"
	KeyPrincipalType = "principal_type"
	KeyTargetID      = "target_id"
	KeyTargetType    = "target_type"
)

// TakeTargetUser returns the id and email of the user the activity acts upon
// and marks the fields it used. Email: invited_email, deleted_user_email,
// user_email, invitee_email. Id: user_id, deleted_user_id, requester_user_id,
// new_owner_id, invitee_user_id, member_id, principal_id when principal_type
// is "user", target_id when target_type is "user". In each list the first field present wins; the others stay unused.
func (a *Activity) TakeTargetUser() (id, email string) {
	for _, k := range targetEmailKeys {
		if v, ok := a.Fields.take(k); ok && v != "" {
			email = v
			break
		}
	}
	for _, k := range targetIDKeys {
		if v, ok := a.Fields.take(k); ok && v != "" {
			return v, email
		}
	}
	for _, pair := range [][2]string{{KeyPrincipalID, KeyPrincipalType}, {KeyTargetID, KeyTargetType}} {
		if t, _ := a.Fields.String(pair[1]); t != "user" {
			continue
		}
		if v, ok := a.Fields.take(pair[0]); ok && v != "" {
			return v, email
		}
	}
	return "", email
}
