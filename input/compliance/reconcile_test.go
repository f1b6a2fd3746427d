package compliance

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each mistake in an endpoint's `reconcile` gets one message, the same from
// `lint` and from start-up (one parse: checkConfig).
func TestReconcileConfigMistakesGetOneMessageFromLintAndStartUp(t *testing.T) {
	dir := t.TempDir()
	endpoint := func(lines string) string {
		return "  api_key: sk-ant-api01-validation\n  state:\n    path: " + dir + "\n  endpoints:\n    - name: activities\n" + lines
	}
	tests := []struct{ name, fields, want string }{
		{"state tracking off", endpoint("      state_tracking:\n        enabled: false\n      reconcile: {}"),
			"endpoints[0].reconcile: needs state_tracking.enabled: true (it walks below the checkpoint and reads the record of delivered ids kept beside it)"},
		{"a once backfill", endpoint("      schedule: once\n      earliest: -2d@d\n      latest: -1d@d\n      reconcile: {}"),
			"endpoints[0].reconcile: is not available with schedule: once (a backfill of a fixed range; run the backfill again later to collect what was indexed late)"},
		{"schedule once", endpoint("      reconcile:\n        schedule: once"),
			"endpoints[0].reconcile.schedule: must be a cron expression or @every <duration>, not once"},
		{"bad cron", endpoint("      reconcile:\n        schedule: \"0 25 * * *\""),
			`endpoints[0].reconcile.schedule: invalid schedule "0 25 * * *"`},
		{"lookback shorter than the interval", endpoint("      reconcile:\n        schedule: \"@daily\"\n        lookback: 12h"),
			`endpoints[0].reconcile.lookback: 12h0m0s is shorter than the interval of reconcile.schedule "@daily" (24h0m0s): activities created in the rest of each interval would never be reconciled; set it to at least 24h0m0s`},
		{"lookback over a week", endpoint("      reconcile:\n        schedule: \"@every 1h\"\n        lookback: 200h"),
			"endpoints[0].reconcile.lookback: must be whole seconds, at least 1m and at most 168h (the record of delivered ids holds every id of lookback + settle), got 200h"},
		{"lookback not a duration", endpoint("      reconcile:\n        lookback: a day"),
			`endpoints[0].reconcile.lookback: must be a duration such as 90s or 1m30s, got "a day"`},
		{"negative settle", endpoint("      reconcile:\n        settle: -1h"),
			"endpoints[0].reconcile.settle: must be whole, non-negative seconds, at most 168h, got -1h"},
		{"settle not whole seconds", endpoint("      reconcile:\n        settle: 1500ms"),
			"endpoints[0].reconcile.settle: must be whole, non-negative seconds, at most 168h, got 1500ms"},
		{"bad job_timeout", endpoint("      reconcile:\n        job_timeout: soon"),
			"endpoints[0].reconcile.job_timeout: "},
	}
	env := validationEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := inputYAML(tc.fields)
			lints := lintInput(t, env, yaml)
			var matching []string
			for _, l := range lints {
				if strings.Contains(l, "reconcile") {
					matching = append(matching, l)
				}
			}
			require.Len(t, matching, 1, "one message for the one bad value: %q", lints)
			require.True(t, strings.HasPrefix(matching[0], tc.want), "lint says %q, want a message starting %q", matching[0], tc.want)
			err := constructInput(t, env, yaml, "")
			require.Error(t, err, "the constructor rejects the config")
			assert.Contains(t, err.Error(), matching[0], "start-up says it in the same words")
		})
	}
}

// The documented shapes lint clean and build; `reconcile` is absent by
// default (no reconciliation, nothing written beside the checkpoint).
func TestReconcileConfigsThatLintClean(t *testing.T) {
	dir := t.TempDir()
	env := validationEnv(t)
	for _, lines := range []string{
		"      reconcile: {}",
		"      reconcile:\n        schedule: \"@daily\"\n        lookback: 24h\n        settle: 1h",
		"      reconcile:\n        schedule: \"30 2 * * *\"\n        lookback: 48h\n        settle: 6h\n        run_on_start: true\n        job_timeout: 0",
		"      schedule: \"@every 1m\"\n      reconcile:\n        schedule: \"@every 6h\"\n        lookback: 6h\n        settle: 0s",
	} {
		yaml := inputYAML("  api_key: sk-ant-api01-validation\n  state:\n    path: " + dir + "\n  endpoints:\n    - name: activities\n" + lines)
		assert.Empty(t, lintInput(t, env, yaml), lines)
		conf, err := inputSpec().ParseYAML(strings.SplitN(yaml, "anthropic_compliance:\n", 2)[1], env)
		require.NoError(t, err)
		cfg, err := parseConfig(conf, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		require.NoError(t, err, lines)
		require.NotNil(t, cfg.Endpoints[0].Reconcile, lines)
	}
	conf, err := inputSpec().ParseYAML("api_key: k\nstate:\n  path: "+dir+"\n", env)
	require.NoError(t, err)
	cfg, err := parseConfig(conf, time.Now())
	require.NoError(t, err)
	assert.Nil(t, cfg.Endpoints[0].Reconcile)
	rc := mustReconcile(t, dir, "    reconcile: {}")
	assert.Equal(t, "@daily", rc.Schedule.String())
	assert.Equal(t, 24*time.Hour, rc.Lookback)
	assert.Equal(t, time.Hour, rc.Settle)
	assert.Equal(t, time.Hour, rc.JobTimeout)
	assert.False(t, rc.RunOnStart)
}

func mustReconcile(t *testing.T, dir, lines string) *reconcileConfig {
	t.Helper()
	conf, err := inputSpec().ParseYAML("api_key: k\nstate:\n  path: "+dir+"\nendpoints:\n  - name: activities\n"+lines+"\n", nil)
	require.NoError(t, err)
	cfg, err := parseConfig(conf, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.NotNil(t, cfg.Endpoints[0].Reconcile)
	return cfg.Endpoints[0].Reconcile
}
