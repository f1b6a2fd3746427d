package ocsf

import (
	"github.com/compliance-connect/compliance-connect/processors/internal/activity"
	"github.com/compliance-connect/compliance-connect/processors/internal/jsonobj"
)

// OCSF user.type_id values.
const (
	userTypeUnknown = 0
	userTypeUser    = 1
	userTypeAdmin   = 2
	userTypeSystem  = 3
	userTypeOther   = 99
)

// user is an OCSF user object before encoding; the actor's is reused as the
// Authentication subject and as the Account Change fallback target.
type user struct {
	uid, name, email, credentialUID string
	typeID                          int
	typeName                        string
}

func (u user) write(o jsonobj.Object) {
	o.String("uid", u.uid)
	o.String("name", u.name)
	o.String("email_addr", u.email)
	o.String("credential_uid", u.credentialUID)
	if u.typeName != "" {
		o.Int("type_id", int64(u.typeID))
		o.String("type", u.typeName)
	}
}

func (u user) isZero() bool { return u == user{} }

// actorVariant says how one actor.type maps onto actor.user: which member
// holds the uid, email, name or credential, and the user type.
type actorVariant struct {
	uid, email, name, credential string
	typeID                       int
	typeName                     string
}

// actorVariants covers compliance-api.md §4.2. Members not named here (and
// actor.type itself) stay under unmapped.actor; the idp and app fields are set
// in mapActor.
var actorVariants = map[string]actorVariant{
	activity.UserActor:                {uid: "user_id", email: "email_address", typeID: userTypeUser, typeName: "User"},
	activity.APIActor:                 {credential: "api_key_id", typeID: userTypeOther, typeName: "API Key"},
	activity.AdminAPIKeyActor:         {credential: "admin_api_key_id", typeID: userTypeAdmin, typeName: "Admin"},
	activity.UnauthenticatedUserActor: {email: "unauthenticated_email_address", typeID: userTypeOther, typeName: "Unauthenticated User"},
	activity.AnthropicActor:           {email: "email_address", typeID: userTypeOther, typeName: "Anthropic"},
	activity.SCIMDirectorySyncActor:   {typeID: userTypeOther, typeName: "SCIM Directory Sync"},
	activity.SystemActor:              {typeID: userTypeSystem, typeName: "System"},
	activity.ServiceAccountActor:      {uid: "service_account_id", typeID: userTypeOther, typeName: "Service Account"},
	activity.FederatedIdentityActor:   {name: "subject", typeID: userTypeOther, typeName: "Federated Identity"},
	activity.FederatedActor:           {name: "subject", typeID: userTypeOther, typeName: "Federated"},
	activity.AttestedDeviceActor:      {typeID: userTypeOther, typeName: "Attested Device"},
}

// mapActor writes actor, src_endpoint.ip and http_request.user_agent and
// returns the actor's user and IP address.
func mapActor(ev jsonobj.Object, a *activity.Activity) (u user, ip string) {
	f := &a.Actor.Fields
	if !f.Present() {
		return user{}, ""
	}
	if v, ok := actorVariants[a.Actor.Type]; ok {
		u.uid = take(f, v.uid)
		u.email = take(f, v.email)
		u.name = take(f, v.name)
		u.credentialUID = take(f, v.credential)
		u.typeID, u.typeName = v.typeID, v.typeName
	} else if a.Actor.Type != "" {
		// A variant newer than this table: say what it is, map nothing else.
		u.typeID, u.typeName = userTypeOther, a.Actor.Type
	} else {
		u.typeID, u.typeName = userTypeUnknown, "Unknown"
	}

	actor := ev.Object("actor")
	u.write(actor.Object("user"))
	switch a.Actor.Type {
	case activity.SCIMDirectorySyncActor:
		idp := actor.Object("idp")
		idp.String("uid", take(f, "directory_id"))
		idp.String("name", take(f, "idp_connection_type"))
	case activity.FederatedIdentityActor:
		actor.Object("idp").String("uid", take(f, "issuer"))
	case activity.FederatedActor:
		// The provider object stays under unmapped.actor; its type names the IdP.
		if provider, ok := f.Object("provider"); ok {
			name, _ := provider.String("type")
			actor.Object("idp").String("name", name)
		}
	case activity.SystemActor:
		actor.String("app_name", take(f, "service"))
	case activity.AttestedDeviceActor:
		actor.String("app_uid", take(f, "external_client_id"))
	}
	ip = take(f, "ip_address")
	ev.Object("src_endpoint").String("ip", ip)
	ev.Object("http_request").String("user_agent", take(f, "user_agent"))
	return u, ip
}

func take(f *activity.Fields, key string) string {
	if key == "" {
		return ""
	}
	v, _ := f.Take(key)
	return v
}
