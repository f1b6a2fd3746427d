package ops_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const unitFile = "deploy/systemd/compliance-connect.service"

// unitDirectives reads a unit file into section -> key -> values.
func unitDirectives(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "%s: not a key=value line: %q", path, line)
			require.NotEmpty(t, section, "%s: %q before any section", path, line)
			out[section][k] = append(out[section][k], v)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestSystemdUnitIsHardened pins what the unit promises: a dynamic user that
// can write only its state directory (its working directory, so relative
// state paths land there), a read-only system, no new privileges, no
// capabilities, the key from a root-only file. The other settings are scored
// by systemd-analyze security below.
func TestSystemdUnitIsHardened(t *testing.T) {
	svc := unitDirectives(t, repoPath(unitFile))["Service"]
	require.NotNil(t, svc)
	for k, want := range map[string]string{
		"DynamicUser":             "yes",
		"StateDirectory":          "compliance-connect",
		"WorkingDirectory":        "/var/lib/compliance-connect",
		"Environment":             "TMPDIR=/var/lib/compliance-connect",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"EnvironmentFile":         "/etc/compliance-connect/env",
		"Restart":                 "on-failure",
	} {
		assert.Equal(t, []string{want}, svc[k], k)
	}
	assert.Equal(t, []string{"@system-service", "~@privileged"}, svc["SystemCallFilter"])
	assert.Equal(t, []string{"/usr/local/bin/compliance-connect run /etc/compliance-connect/pipeline.yaml"}, svc["ExecStart"])
	assert.NotContains(t, strings.Join(svc["Environment"], " "), "API_KEY", "the key comes from the root-only EnvironmentFile, not the unit")
}

// TestSystemdAnalyzeAcceptsTheUnit runs `systemd-analyze verify` (any
// message is a failure: unknown keys and bad values are only warnings to
// it) and `systemd-analyze security --offline`, whose exposure score must
// stay at 2.0 or below ("OK"). verify checks that ExecStart's binary exists,
// so it runs on a copy whose ExecStart points at a stand-in executable.
// Skipped where systemd-analyze is not installed.
func TestSystemdAnalyzeAcceptsTheUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile(repoPath(unitFile))
	require.NoError(t, err)
	dir := t.TempDir()
	stand := filepath.Join(dir, "compliance-connect")
	require.NoError(t, os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755))
	copyPath := filepath.Join(dir, "compliance-connect.service")
	require.NoError(t, os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(unit), "ExecStart=/usr/local/bin/compliance-connect ", "ExecStart="+stand+" ")), 0o644))

	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	assert.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify complains")

	out, err = exec.Command(analyze, "security", "--offline=yes", "--no-pager", copyPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`Overall exposure level for compliance-connect\.service: ([0-9.]+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	score, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	t.Logf("systemd-analyze security exposure: %.1f", score)
	assert.LessOrEqual(t, score, 2.0, "%s", out)
}
