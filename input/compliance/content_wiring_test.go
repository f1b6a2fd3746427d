package compliance

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/content"
)

func TestContentEndpointMistakesAreReportedByLintAndStartUp(t *testing.T) {
	dir := t.TempDir()
	entry := func(name, lines string) string {
		return "  api_key: sk-ant-api01-validation\n  state:\n    path: " + dir + "\n  endpoints:\n    - name: " + name + "\n" + lines
	}
	tests := []struct {
		name, fields, want string
	}{
		{"chats page_size above the API's 1000", entry("chats", "      page_size: 2000"),
			"endpoints[0].page_size: must be between 1 and 1000, got 2000"},
		{"activity filters on chats", entry("chats", "      filters:\n        activity_types: [claude_chat_created]"),
			"endpoints[0].filters.activity_types: applies only to activities, not to chats"},
		{"user filters on activities", entry("activities", "      filters:\n        user_ids: [user_01]"),
			"endpoints[0].filters.user_ids: applies only to chats, files, not to activities"},
		{"messages on activities", entry("activities", "      include_messages: true"),
			"endpoints[0].include_messages: applies only to chats, not to activities"},
		{"messages on files", entry("files", "      include_messages: true"),
			"endpoints[0].include_messages: applies only to chats, not to files"},
		{"file settings on chats", entry("chats", "      file_workers: 2"),
			"endpoints[0].file_workers: applies only to files, not to chats"},
		{"a size that is not one", entry("files", "      max_file_size: big"),
			"endpoints[0].max_file_size: must be a number of bytes"},
		{"no file worker", entry("files", "      file_workers: 0"),
			"endpoints[0].file_workers: must be between 1 and 64, got 0"},
		{"a negative retry count", entry("files", "      file_retries: -1"),
			"endpoints[0].file_retries: must be between 0 and 10, got -1"},
		{"a zero marks horizon", entry("chats", "      marks_horizon: 0s"),
			"endpoints[0].marks_horizon: must be positive"},
	}
	env := validationEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := inputYAML(tc.fields)
			lints := lintInput(t, env, yaml)
			if !slices.ContainsFunc(lints, func(l string) bool { return strings.HasPrefix(l, tc.want) }) {
				t.Fatalf("lint says %q, want a message starting %q", lints, tc.want)
			}
			err := constructInput(t, env, yaml, "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAChatsEntryParsesToItsCollectorAndSource(t *testing.T) {
	env := validationEnv(t)
	conf, err := inputSpec().ParseYAML(`
api_key: sk-ant-api01-validation
endpoints:
  - name: chats
    include_messages: true
    message_mode: per_chat
    filters:
      organization_ids: [org-b, org-a]
      user_ids: [user_01]
  - name: files
    max_file_size: 2MiB
    file_workers: 3
`, env)
	require.NoError(t, err)
	cfg, err := parseConfig(conf, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, cfg.Endpoints, 2)
	chats, files := cfg.Endpoints[0], cfg.Endpoints[1]
	require.NotNil(t, chats.Content)
	assert.Equal(t, content.ChatsConfig{PageSize: 1000, Filters: content.Filters{OrganizationIDs: []string{"org-b", "org-a"}, UserIDs: []string{"user_01"}, ProjectIDs: []string{}},
		IncludeMessages: true, MessageMode: content.PerChat, MessagesSince: content.SinceNew}, chats.Content.Chats)
	cc := contentCollectorConfig(cfg, chats)
	assert.Equal(t, 1000, cc.PageSize, "page_size's default is the API's largest for chats, 1000")
	id := cc.Identity()
	assert.Equal(t, "updated_at", id.Key)
	assert.Equal(t, chats.Content.Filters.Hash(), id.Filters)
	assert.Equal(t, 7*24*time.Hour, cc.MarkHorizon)
	assert.Equal(t, int64(2<<20), files.Content.Files.MaxFileSize)
	assert.Equal(t, 3, files.Content.Files.Workers)
	assert.Empty(t, collectorConfig(cfg, endpointConfig{Name: endpointActivities}).Identity().Key)
}
