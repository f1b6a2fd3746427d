// Package inspector tests the job inspector page (/compliance on the Benthos
// HTTP server) in a real browser: headless Chromium loads it while the real
// input runs against the fake Compliance API, and the tests read the DOM it
// built. Run by hand without Chromium the browser tests skip; ./.ci/test
// installs it and sets COMPLIANCE_TEST_CHROMIUM, which makes a missing or
// broken Chromium a failure.
package inspector
