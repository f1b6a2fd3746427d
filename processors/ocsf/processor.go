// Package ocsf maps Anthropic Compliance API activities to OCSF 1.6.0 events
// and registers the anthropic_compliance_ocsf Benthos processor. The
// type → class/activity table is table.go; the mapping is mapper.go (usable
// without Benthos through Mapper). Beta: class choices for some families are
// our proposal and may change.
package ocsf

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/processors/internal/normalize"
)

// ProcessorName is the registered name of the processor.
const ProcessorName = "anthropic_compliance_ocsf"

// unknownTypeMetric counts activities of types no rule matches.
const unknownTypeMetric = "anthropic_compliance_ocsf_unknown_type"

func processorSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Parsing", "Mapping").
		Version("0.1.0").
		Summary("Maps an Anthropic Compliance API activity to an OCSF 1.6.0 event.").
		Description(normalize.Markdown(`
Reads each message as one activity of the Compliance API Activity Feed (as emitted by the
§anthropic_compliance§ input) and replaces it with an OCSF 1.6.0 event. Metadata is kept.

== Classes

Activity types come from a catalogue of the 515 types of the newest API reference
(§processors/internal/catalog§: each type's family, verb, target kind and fields). The target
picks the class, the verb the activity_id:

- Authentication (3002): sign-ins and sign-outs (§sso_login_*§, §magic_link_login_*§, §social_login_*§,
  §step_up_authentication_*§, §phone_code_*§, §lti_launch_*§, workload token exchanges, §user_logged_out§,
  §session_revoked§; §abuse_decision_received§ with status from §decision§).
- Account Change (3001): member accounts and invitations (§org_user_*§, §scim_user_*§, §account_deleted§),
  keys and service accounts acting as accounts, trusted devices and passkeys (MFA Factor Enable/Disable).
- User Access Management (3005): roles assigned or revoked (§role_assignment_*§, §rbac_role_assigned§,
  §claude_user_role_updated§), §primary_owner_transferred§ (the new owner), consents (§user_consent_*§).
- Group Management (3006): groups and their members, members of workspaces (the workspace is the group),
  privileges given to a group principal.
- Web Resources Activity (6001): chats, artifacts, projects, files, documents, skills, commands, plugins,
  Claude Code sessions; shares (Share, or Delete for a revoked share link, invitation or snapshot);
  exports and reports (Export, Read).
- API Activity (6003): §compliance_api_accessed§ (activity from §request_method§, status from §status_code§,
  with §api§, §http_request§, §http_response§), and configuration: settings, integrations, billing, keys
  and tokens that are not accounts, role definitions, API platform resources (Create/Read/Update/Delete),
  the class OCSF uses for management-plane calls.

activity_id 99 (Other) is kept only where the class has no activity for the verb, each with a written
reason (e.g. Account Change has no Update). A type the catalogue does not list maps through the same
rules from its family and verb (its longest known prefix and suffix), a type of no known family by its
verb as configuration, and one with neither is API Activity with activity_id 99. Every type not in the
catalogue is counted in the metric §anthropic_compliance_ocsf_unknown_type§ and logged once at debug level.
status_id is failure for failed, denied, rejected and blocked verbs, unknown for initiated and attempted
ones, from §status_code§, §decision§, §approved§ or §result§ where those decide, success otherwise.

== Common attributes

§time§ (epoch ms) and §metadata.original_time§ from §created_at§, §metadata.uid§ from §id§,
§metadata.event_code§ from §type§, §metadata.tenant_uid§ from §organization_uuid§,
§metadata.logged_time§ is the processing time, §actor.user§ (uid, email_addr, credential_uid for key
actors, type_id), §actor.idp§, §src_endpoint.ip§, §http_request.user_agent§, severity_id 1. Every member
not mapped (§organization_id§, §actor.type§ and the rest) is kept under §unmapped§.

== Errors

A message that is not a JSON object, has no string §type§ or no RFC 3339 §created_at§, or is larger
than 128 MiB, is passed on unchanged and flagged with an error (handle it with §catch§ or §reject_errored§).`)).
		Fields(normalize.ConfigFields("raw_data")...).
		LintRule(normalize.LintRule).
		Example("Activity Feed to OCSF", "Collects the feed and normalizes each activity, dropping request bodies.", `
input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
pipeline:
  processors:
    - anthropic_compliance_ocsf:
        redact: [ request_body ]
`)
}

func init() {
	service.MustRegisterProcessor(ProcessorName, processorSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
		c, err := normalize.ParseConfig(conf)
		if err != nil {
			return nil, err
		}
		unknown := normalize.NewUnknownTypes(mgr, unknownTypeMetric, "its family and verb")
		m, err := NewMapper(Options{KeepRaw: c.KeepRaw, Redaction: c.Redaction, UnknownType: unknown.Record})
		if err != nil {
			return nil, err
		}
		return normalize.NewProcessor(ProcessorName, m), nil
	})
}
