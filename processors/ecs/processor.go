// Package ecs maps Anthropic Compliance API activities to Elastic Common
// Schema (ECS 9) documents shaped like Elastic's own anthropic integration,
// and registers the anthropic_compliance_ecs Benthos processor. The
// categorization table is table.go; the mapping is mapper.go (usable without
// Benthos through Mapper). Beta.
package ecs

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/processors/internal/normalize"
)

// ProcessorName is the registered name of the processor.
const ProcessorName = "anthropic_compliance_ecs"

// unknownTypeMetric counts activities of types no rule matches.
const unknownTypeMetric = "anthropic_compliance_ecs_unknown_type"

func processorSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Parsing", "Mapping").
		Version("0.1.0").
		Summary("Maps an Anthropic Compliance API activity to an Elastic Common Schema (ECS 9) document.").
		Description(fmt.Sprintf(normalize.Markdown(`
Reads each message as one activity of the Compliance API Activity Feed (as emitted by the
§anthropic_compliance§ input) and replaces it with an ECS document shaped like the one Elastic's
§anthropic§ integration produces. Metadata is kept.

== Fields

- §@timestamp§ (UTC) from §created_at§; §event.id§, §event.action§ from §id§, §type§;
  §event.kind: event§; §ecs.version§; §organization.id§; §organization.name§ from §org_name§ or
  §organization_name§; §event.reason§ from §reason§; §file.name§ from §filename§.
- §event.category§, §event.type§, §event.outcome§ from a catalogue of the 515 types of the newest API
  reference (§processors/internal/catalog§): the type's family picks the categories, its verb the
  type (only one its categories expect) and outcome. They agree with Elastic's §anthropic§ integration on
  296 of the 305 types it maps; the deliberate deviations, where ECS's own definitions say otherwise, are:

`+"%s"+`
  A type the catalogue does not list maps through the same rules from its family and verb (a type of no
  known family by its verb, as configuration); one with neither gets no category, type §info§, outcome
  §unknown§. Every type not in the catalogue is counted in the metric
  §anthropic_compliance_ecs_unknown_type§ and logged once at debug level. §compliance_api_accessed§: outcome
  from §status_code§ (2xx success, 4xx failure, else unknown); §org_join_proposal_decided§ from §approved§;
  §abuse_decision_received§ from §decision§; §github_token_import§ from §result§.
- §user.id§ (user_actor), §user.email§ (user_actor, anthropic_actor, or the unauthenticated address),
  §user.name§ (the part of §user.email§ before the @); §user.target.email§ / §.id§ from the first of
  §invited_email§, §deleted_user_email§, §user_email§, §invitee_email§ / §user_id§, §deleted_user_id§,
  §requester_user_id§, §new_owner_id§, §invitee_user_id§, §member_id§, §principal_id§ (if §principal_type§ is
  user), §target_id§ (if §target_type§ is user); §user.target.name§ from its email; §user.target.roles§ from
  §role§ (§role_assignment_*§) or §current_role§ (§claude_user_role_updated§); §source.ip§,
  §user_agent.original§ from the actor. Beyond Elastic, on purpose: §new_owner_id§, §invitee_user_id§ and
  §member_id§ fill §user.target.id§ (ECS: "the targeted user of an action"; Elastic leaves them under
  §anthropic.audit§), §user.target.name§ is set like §user.name§, and §current_role§ of
  §claude_user_role_updated§ fills §user.target.roles§ (ECS: the roles "at the time of the event").
- §http.request.method§, §http.request.id§, §http.response.status_code§, §url.*§ from the request fields.
- §related.ip§, §related.user§, §related.hosts§ (deduplicated).
- Everything else, the rest of the actor included, under §anthropic.audit§.

Null and empty values are removed at every depth, as Elastic's pipeline does. No GeoIP or user-agent
parsing is done; an Elasticsearch ingest pipeline can add them.

== Errors

A message that is not a JSON object, has no string §type§ or no RFC 3339 §created_at§, or is larger
than 128 MiB, is passed on unchanged and flagged with an error (handle it with §catch§ or §reject_errored§).`), deviationsMarkdown())).
		Fields(normalize.ConfigFields("event.original")...).
		LintRule(normalize.LintRule).
		Example("Activity Feed to ECS", "Collects the feed and normalizes each activity, keeping the original and hashing emails.", `
input:
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    endpoints:
      - name: activities
        schedule: "*/5 * * * *"
pipeline:
  processors:
    - anthropic_compliance_ecs:
        keep_raw: true
        redact: [ request_body, emails ]
        redact_mode: hash
        hash_key: ${EMAIL_HASH_KEY}
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
