package compliance

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/input/compliance/content"
)

// This file is the table of endpoint kinds: every value of endpoints[].name,
// the key scopes its requests need, its defaults, the endpoint fields it
// accepts and how its runner is built.
//
// A new collector plugs in in three steps:
//  1. write a runnerBuilder that returns it as a jobRunner, built with
//     env.client (the input's one client: shared budget and retries),
//     in.records (where it hands out emit.Batches), env.store and
//     env.runner.key (its checkpoint, nil store without state tracking),
//     env.runner.lease (the HA fence, nil without one), in.opts.clock and
//     env.log; buildSnapshot (snapshot_runner.go) and buildContent
//     (content_wiring.go) are examples;
//  2. set it as the build of its kinds in endpointKinds;
//  3. read its settings from the endpointConfig: they are declared
//     (endpointFields), validated (checkConfig: ranges, and refused on the
//     kinds that do not list them in fields) and parsed already
//     (ep.Content, ep.Raw.Filters.OrganizationIDs, ep.Raw.UserIDs,
//     ep.Raw.ProjectIDs, ep.Settings.Earliest/Latest, ep.Raw.PageSize).
//
// Its job reports are collector.Reports, with its tallies in Counts, which
// the job history, the jobs metric and the job report line take as they are
// (a snapshot's line lists its counts; a windowed endpoint's line is the
// feed's plus its counts).

// Endpoint names (endpoints[].name).
const (
	endpointActivities           = "activities"
	endpointOrganizations        = "organizations"
	endpointUsers                = "users"
	endpointRoles                = "roles"
	endpointGroups               = "groups"
	endpointOrganizationSettings = "organization_settings"
	endpointProjects             = "projects"
	endpointChats                = "chats"
	endpointFiles                = "files"
)

// Key scopes.
const (
	scopeActivities = "read:compliance_activities"
	scopeOrgData    = "read:compliance_org_data"
	scopeUserData   = "read:compliance_user_data"
)

// family is how an endpoint collects.
type family int

const (
	// familyFeed is the Activity Feed: windows on created_at.
	familyFeed family = iota
	// familyIncremental is a window on updated_at (chats, files).
	familyIncremental
	// familySnapshot walks a whole list every run (directory, projects).
	familySnapshot
)

// jobRunner is what an endpoint runner drives on its schedule: the
// activities collector, the snapshot collector and the content collector
// all plug in through it. RunJob runs one job to its end (soft closing stops
// it gracefully, ctx ending stops it at once) and returns its report, which
// lands in the job history, the metrics and the job report line; Health is
// nil while the endpoint works (else /ready answers 503 with it);
// HeldBatches is the number of batches of ended jobs the pipeline still
// holds. A runner hands its messages to the input through the channel of
// collector.Batch (the feed) or of emit.Batch (every other endpoint).
type jobRunner interface {
	RunJob(ctx context.Context, tick time.Time, soft <-chan struct{}) (collector.Report, error)
	Health() error
	HeldBatches() int
}

// runnerEnv is what the input shares with the runner of one endpoint.
type runnerEnv struct {
	runner *endpointRunner // name, checkpoint key, lease (nil unless state.lease.enabled)
	client *api.Client     // the input's one client: one rate budget, headroom and retry policy
	store  *stateStore     // the checkpoint store (nil without state tracking)
	log    inputLog        // the endpoint's logger
}

// runnerBuilder makes the jobRunner of one endpoint.
type runnerBuilder func(in *input, ep endpointConfig, env runnerEnv) (jobRunner, error)

// endpointKind describes one value of endpoints[].name.
type endpointKind struct {
	name   string
	family family
	// scopes are the key scopes its requests need, the first the main one
	// (users walks the organizations, org data, then their members, user
	// data).
	scopes []string
	// pageSize is the default and maxPageSize the largest page_size.
	pageSize, maxPageSize int
	// schedule and jobTimeout are the defaults of schedule and job_timeout.
	schedule, jobTimeout string
	// fields are the endpoint fields it accepts besides the common ones
	// (paths such as "filters.organization_ids").
	fields []string
	// build makes its runner; nil: not built yet (the name is refused).
	build runnerBuilder
}

// Endpoint fields that only some kinds accept.
var (
	feedWindowFields = []string{fieldEPEarliest, fieldEPLatest}
	snapshotFields   = []string{fieldEPEmit, fieldEPIncludePrevious, fieldEPBaseline, fieldEPMaxRecords}
	// feedOnlyFields: the restriction of a once run to listed activity ids
	// (audit --repair) and the reconciliation of late activities.
	feedOnlyFields = []string{fieldEPOnlyIDsFile, fieldEPReconcile}
	orgFilter      = fieldEPFilters + "." + fieldFilterOrgIDs
	contentFilters = []string{orgFilter, fieldEPFilters + "." + fieldFilterUserIDs, fieldEPFilters + "." + fieldFilterProjectIDs}
)

// endpointKinds is every endpoint, in the order the docs list them.
var endpointKinds = []endpointKind{
	{name: endpointActivities, family: familyFeed, scopes: []string{scopeActivities}, pageSize: defaultPageSize, maxPageSize: 5000,
		schedule: defaultSchedule, jobTimeout: defaultJobTimeout, build: buildActivities,
		fields: slices.Concat(feedWindowFields, feedOnlyFields, []string{fieldEPFilters + "." + fieldFilterTypes, fieldEPFilters + "." + fieldFilterExcludeType,
			fieldEPFilters + "." + fieldFilterActorIDs, orgFilter})},
	{name: endpointOrganizations, family: familySnapshot, scopes: []string{scopeOrgData}, pageSize: api.MaxDirectoryLimit, maxPageSize: api.MaxDirectoryLimit,
		schedule: defaultSnapshotSchedule, jobTimeout: defaultSnapshotJobTimeout, build: buildSnapshot, fields: snapshotFields},
	{name: endpointUsers, family: familySnapshot, scopes: []string{scopeUserData, scopeOrgData}, pageSize: api.MaxDirectoryLimit, maxPageSize: api.MaxDirectoryLimit,
		schedule: defaultSnapshotSchedule, jobTimeout: defaultSnapshotJobTimeout, build: buildSnapshot, fields: append(slices.Clone(snapshotFields), orgFilter)},
	{name: endpointRoles, family: familySnapshot, scopes: []string{scopeOrgData}, pageSize: api.MaxDirectoryLimit, maxPageSize: api.MaxDirectoryLimit,
		schedule: defaultSnapshotSchedule, jobTimeout: defaultSnapshotJobTimeout, build: buildSnapshot, fields: append(slices.Clone(snapshotFields), orgFilter)},
	{name: endpointGroups, family: familySnapshot, scopes: []string{scopeOrgData, scopeUserData}, pageSize: api.MaxDirectoryLimit, maxPageSize: api.MaxDirectoryLimit,
		schedule: defaultSnapshotSchedule, jobTimeout: defaultSnapshotJobTimeout, build: buildSnapshot, fields: snapshotFields},
	{name: endpointOrganizationSettings, family: familySnapshot, scopes: []string{scopeOrgData}, pageSize: api.MaxDirectoryLimit, maxPageSize: api.MaxDirectoryLimit,
		schedule: defaultSnapshotSchedule, jobTimeout: defaultSnapshotJobTimeout, build: buildSnapshot, fields: append(slices.Clone(snapshotFields), orgFilter)},
	{name: endpointProjects, family: familySnapshot, scopes: []string{scopeUserData}, pageSize: api.MaxProjectsLimit, maxPageSize: api.MaxProjectsLimit,
		schedule: defaultSnapshotSchedule, jobTimeout: defaultSnapshotJobTimeout, build: buildSnapshot,
		fields: append(slices.Clone(snapshotFields), orgFilter, fieldEPIncludeDocuments)},
	{name: endpointChats, family: familyIncremental, scopes: []string{scopeUserData}, pageSize: content.MaxPageSize, maxPageSize: content.MaxPageSize,
		schedule: defaultSchedule, jobTimeout: defaultJobTimeout, build: buildContent,
		fields: slices.Concat(feedWindowFields, contentFilters, []string{fieldEPIncludeMessages, fieldEPMessageMode, fieldEPMessagesSince, fieldEPMarksHorizon})},
	{name: endpointFiles, family: familyIncremental, scopes: []string{scopeUserData}, pageSize: content.MaxPageSize, maxPageSize: content.MaxPageSize,
		schedule: defaultSchedule, jobTimeout: defaultJobTimeout, build: buildContent,
		fields: slices.Concat(feedWindowFields, contentFilters, []string{fieldEPMaxFileSize, fieldEPFileWorkers, fieldEPFileRetries,
			fieldEPIncludeGenerated, fieldEPEmitSkipped, fieldEPMarksHorizon})},
}

// kindOf returns the kind of an endpoint name.
func kindOf(name string) (endpointKind, bool) {
	for _, k := range endpointKinds {
		if k.name == name {
			return k, true
		}
	}
	return endpointKind{}, false
}

// endpointNames lists every endpoint name.
func endpointNames() []string {
	out := make([]string, len(endpointKinds))
	for i, k := range endpointKinds {
		out[i] = k.name
	}
	return out
}

// kindsTaking lists the endpoints that accept field, for messages.
func kindsTaking(field string) string {
	var names []string
	for _, k := range endpointKinds {
		if slices.Contains(k.fields, field) {
			names = append(names, k.name)
		}
	}
	return strings.Join(names, ", ")
}

// apiScopes are the key scopes of the API's requests, by the endpoint names
// of the client's hooks (api.ResponseInfo.Endpoint).
var apiScopes = map[string]string{
	api.EndpointActivities:           scopeActivities,
	api.EndpointOrganizations:        scopeOrgData,
	api.EndpointRoles:                scopeOrgData,
	api.EndpointRolePermissions:      scopeOrgData,
	api.EndpointOrganizationSettings: scopeOrgData,
	api.EndpointGroups:               scopeOrgData,
	api.EndpointUsers:                scopeUserData,
	api.EndpointGroupMembers:         scopeUserData,
	api.EndpointChats:                scopeUserData,
	api.EndpointChatMessages:         scopeUserData,
	api.EndpointFiles:                scopeUserData,
	api.EndpointGeneratedFiles:       scopeUserData,
	api.EndpointArtifacts:            scopeUserData,
	api.EndpointProjects:             scopeUserData,
	api.EndpointProjectAttachments:   scopeUserData,
	api.EndpointProjectCollaborators: scopeUserData,
	api.EndpointProjectDocuments:     scopeUserData,
}

// requestScope is the key scope a request to an API endpoint (a hook's
// endpoint name) needs; "" if unknown.
func requestScope(apiEndpoint string) string { return apiScopes[apiEndpoint] }

// EndpointScope is the key scope an endpoint needs (the 403 permission_error
// names it); an endpoint whose requests need two scopes names both, the
// main one first ("read:compliance_user_data and read:compliance_org_data").
// It reads the one table of endpoints (endpointKinds); OpenPipeline refuses
// an endpoint without a scope.
func EndpointScope(endpoint string) string {
	k, ok := kindOf(endpoint)
	if !ok {
		return ""
	}
	return strings.Join(k.scopes, " and ")
}
