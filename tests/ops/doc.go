// Package ops holds the tests of the operational files: the Grafana
// dashboard and Prometheus alerts (config/grafana, config/prometheus), the
// container image (Dockerfile), the systemd unit and the Kubernetes manifests
// (deploy/). Tests that need promtool or chroot skip when run by hand without
// them, and fail when ./.ci/test asks for them (COMPLIANCE_TEST_PROMTOOL,
// COMPLIANCE_TEST_CHROOT).
package ops
