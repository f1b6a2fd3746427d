package compliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// A `once` run restricted to a set of ids (only_ids_file) keeps its
// checkpoint under a key of its own, derived from the set: it never shares
// or moves the checkpoint of the plain backfill of the same range, nor that
// of a run restricted to other ids.
func TestOnlyIDsFileGivesTheOnceRunItsOwnCheckpointKeyAndIdentity(t *testing.T) {
	dir := t.TempDir()
	parse := func(onlyIDs string) (string, string) {
		t.Helper()
		yaml := "api_key: sk-ant-api01-ids\nendpoints:\n  - name: activities\n    schedule: once\n    earliest: 2026-11-01T00:00:00Z\n    latest: 2026-11-02T00:00:00Z\n"
		if onlyIDs != "" {
			yaml += "    only_ids_file: " + onlyIDs + "\n"
		}
		conf, err := inputSpec().ParseYAML(yaml, nil)
		require.NoError(t, err)
		cfg, err := parseConfig(conf, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		ep := cfg.Endpoints[0]
		return checkpointKey(cfg, "repair", ep), collectorConfig(cfg, ep).Identity().Filters
	}
	plainKey, plainID := parse("")
	abKey, abID := parse(writeFile(t, dir, "ab.txt", "activity_b\n\nactivity_a\n"))
	baKey, baID := parse(writeFile(t, dir, "ba.txt", "  activity_a\nactivity_b\nactivity_a\n"))
	acKey, acID := parse(writeFile(t, dir, "ac.txt", "activity_a\nactivity_c\n"))

	assert.True(t, strings.HasPrefix(abKey, plainKey+"/ids/"), abKey)
	assert.Equal(t, abKey, baKey, "the same set, in any order, is the same run")
	assert.Equal(t, abID, baID)
	assert.NotEqual(t, abKey, acKey)
	assert.NotEqual(t, plainID, abID)
	assert.NotEqual(t, abID, acID)
}
