// Package fakeapi is an in-process fake of the Anthropic Compliance API,
// written from compliance-api.md §2–§6 and compliance-content-api.md: the
// Activity Feed (GET /v1/compliance/activities) with indexing lag, live
// growth and late arrivals, and the directory and content endpoints
// (organizations, users, roles and permissions, groups and members,
// organization settings, chats and their messages, files, generated files
// and artifacts with their /content downloads, projects with attachments,
// collaborators and documents) of one seeded World that the feed's
// activities name and that changes on the fake's clock. It enforces scopes
// per key, the documented pagination styles, bounds and orders, strict query
// parameter names and both revisions of the auth errors, rate-limits every
// endpoint from one budget, records self events and injects scripted faults,
// so that tests, the demo and the `fakeapi` subcommand can exercise a client
// without a real key. Sessions and code artifacts are not served (the
// reference is not firm on them). It imports only the standard library; its
// wire types are independent of the client's.
package fakeapi
