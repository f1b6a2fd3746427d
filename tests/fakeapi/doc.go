// Package fakeapi is an in-process fake of the Anthropic Compliance API Activity
// Feed (GET /v1/compliance/activities), written from compliance-api.md §2–§5.
// It serves a seeded dataset with indexing lag, live growth and late arrivals,
// rate limits, self events and scripted faults, so that tests, the demo and the
// `fakeapi` subcommand can exercise a client without a real key. It imports only
// the standard library; its wire types are independent of the client's.
package fakeapi
