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

The activity type picks the class, from an exact table, then type prefixes:

- Authentication (3002): §sso_login_*§, §magic_link_login_*§, §social_login_*§, §anonymous_mobile_login_attempted§, §user_logged_out§, §session_revoked§.
- Account Change (3001): §org_user_*§, §scim_user_*§, API, admin and service keys, service accounts.
- User Access Management (3005): §role_assignment_*§, §rbac_role_assigned§/§unassigned§, §claude_user_role_updated§.
- Group Management (3006): §group_*§.
- Web Resources Activity (6001): Claude chats, files, projects, artifacts, skills; platform files.
- API Activity (6003): §compliance_api_accessed§ (with §api§, §http_request§, §http_response§),
  configuration families (§org_*§, §platform_*§, §mcp_*§, §rbac_role_*§, other §claude_*§), and every
  type no rule matches, with §activity_id§ 99. Such unknown types are counted in the metric
  §anthropic_compliance_ocsf_unknown_type§ and each is logged once at debug level.

The activity_id follows the type's verb (§_created§, §_viewed§, §_deleted§, ...); status_id is failure for
§_failed§/§_denied§/§_rejected§/§_blocked§, unknown for §_initiated§/§_attempted§, and
follows §status_code§ for §compliance_api_accessed§; success otherwise.

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
		unknown := normalize.NewUnknownTypes(mgr, unknownTypeMetric, "API Activity (6003) with activity_id 99")
		m, err := NewMapper(Options{KeepRaw: c.KeepRaw, Redaction: c.Redaction, UnknownType: unknown.Record})
		if err != nil {
			return nil, err
		}
		return normalize.NewProcessor(ProcessorName, m), nil
	})
}
