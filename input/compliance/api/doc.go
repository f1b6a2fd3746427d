// Package api is the HTTP client of Anthropic's Compliance API Activity Feed
// (GET /v1/compliance/activities): it builds requests, decodes pages strictly
// and cheaply, retries 429/5xx/529 and network faults (Retry-After,
// x-should-retry), and keeps a headroom in the organization's shared rate
// budget. It uses only the standard library and knows nothing of Benthos; the
// glue in package compliance wires its Hooks to logs and metrics. Beta.
package api
