// Package api is the HTTP client of Anthropic's Compliance API: the Activity
// Feed (ListActivities, decoded strictly and cheaply), the directory
// (organizations, users, roles and permissions, groups and members,
// settings), chats and their messages, files, generated files and artifacts
// (metadata, and streamed downloads checked against Content-MD5 and a size
// cap), and projects. Every call goes through one retry layer (429/5xx/529
// and network faults, Retry-After, x-should-retry) and keeps one headroom in
// the organization's shared rate budget, whichever endpoint the latest
// reading came from. WalkPages and WalkCursor follow the two pagination
// styles with guards against broken pagination. It uses only the standard
// library and knows nothing of Benthos; the glue in package compliance wires
// its Hooks to logs and metrics. Beta.
package api
