// Package prometheus holds the `prometheus` Benthos metrics exporter: it keeps
// every Benthos counter, gauge and timer in a private client_golang registry and
// serves them in the Prometheus text format on the Benthos HTTP server's
// /metrics and /stats endpoints, with optional Pushgateway pushes and a file
// written on close. The plugin registers itself in init(); it is beta.
package prometheus
