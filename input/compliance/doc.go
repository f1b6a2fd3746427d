// Package compliance registers the anthropic_compliance Benthos input, which
// collects the Activity Feed of Anthropic's Compliance API
// (GET /v1/compliance/activities) with windowed cursor pagination, retries and
// an ack-gated durable checkpoint. It is the only package of the input that
// knows Benthos; the collection logic lives in its sub-packages.
package compliance
