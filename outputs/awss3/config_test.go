package awss3

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// isolateAWSEnv hides the host's AWS settings so only the test's apply.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func parseYAML(t *testing.T, yaml string) (*config, error) {
	t.Helper()
	conf, err := outputSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	return parseConfig(conf)
}

func TestParseConfigRejectsInvalidSettings(t *testing.T) {
	tests := []struct{ name, yaml, wantErr string }{
		{"empty bucket", `{bucket: ""}`, "bucket: must not be empty"},
		{"id without secret", `{bucket: b, credentials: {id: AKIA}}`, "credentials: id and secret must be set together"},
		{"secret without id", `{bucket: b, credentials: {secret: s3cr3t}}`, "credentials: id and secret must be set together"},
		{"token without keys", `{bucket: b, credentials: {token: tok}}`, "credentials: token requires id and secret"},
		{"external id without role", `{bucket: b, credentials: {role_external_id: x}}`, "credentials: role_external_id requires role"},
		{"unknown compression", `{bucket: b, compression: zstd}`, `compression: unknown value "zstd"`},
		{"zero timeout", `{bucket: b, timeout: 0s}`, "timeout: must be greater than 0"},
		{"zero max_in_flight", `{bucket: b, max_in_flight: 0}`, "max_in_flight: must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseYAML(t, tt.yaml)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "s3cr3t", "secrets never appear in errors")
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseYAML(t, `{bucket: archive}`)
	require.NoError(t, err)
	assert.True(t, cfg.gzip)
	contentType, static := cfg.contentType.Static()
	assert.True(t, static)
	assert.Equal(t, "application/x-ndjson", contentType)
	assert.False(t, cfg.perMessage, "a batch is one NDJSON object")
	_, static = cfg.path.Static()
	assert.False(t, static, "the default path is unique per batch")
	assert.Equal(t, 64, cfg.maxInFlight)
	assert.Equal(t, "30s", cfg.timeout.String())
}

func TestLintReportsUnpairedStaticCredentials(t *testing.T) {
	linter := service.NewEnvironment().FullConfigSchema("", "").NewStreamConfigLinter()
	lints, err := linter.LintYAML([]byte("output:\n  aws_s3: {bucket: b, credentials: {id: AKIA}}\n"))
	require.NoError(t, err)
	require.Len(t, lints, 1)
	assert.Contains(t, lints[0].What, "credentials: id and secret must be set together")
}

func TestMissingRegionFailsConstruction(t *testing.T) {
	isolateAWSEnv(t)
	cfg, err := parseYAML(t, `{bucket: archive}`)
	require.NoError(t, err)
	_, err = newOutput(context.Background(), cfg)
	require.Error(t, err)
	assert.ErrorContains(t, err, "region: not set")
}

func TestCredentialsComeFromTheConfiguredSource(t *testing.T) {
	tests := []struct {
		name, yaml, wantID string
	}{
		{"static keys", `{bucket: b, region: eu-west-1, credentials: {id: STATICID, secret: s}}`, "STATICID"},
		{"named profile", `{bucket: b, region: eu-west-1, credentials: {profile: archive}}`, "PROFILEID"},
		{"default chain from environment", `{bucket: b, region: eu-west-1}`, "ENVID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "ENVID")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
			credFile := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
			require.NoError(t, os.WriteFile(credFile, []byte("[archive]\naws_access_key_id = PROFILEID\naws_secret_access_key = profilesecret\n"), 0o600))

			cfg, err := parseYAML(t, tt.yaml)
			require.NoError(t, err)
			out, err := newOutput(context.Background(), cfg)
			require.NoError(t, err)
			creds, err := out.awsConf.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.wantID, creds.AccessKeyID)
		})
	}
}

func TestUnknownProfileFailsConstructionNamingIt(t *testing.T) {
	isolateAWSEnv(t)
	cfg, err := parseYAML(t, `{bucket: b, region: eu-west-1, credentials: {profile: nope}}`)
	require.NoError(t, err)
	_, err = newOutput(context.Background(), cfg)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "nope"), err.Error())
}

func TestRoleIsAssumedThroughSTSWithExternalID(t *testing.T) {
	isolateAWSEnv(t)
	forms := make(chan url.Values, 1)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case forms <- r.PostForm:
		default:
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ROLEID</AccessKeyId>
      <SecretAccessKey>rolesecret</SecretAccessKey>
      <SessionToken>roletoken</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/writer/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`)
	}))
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)

	cfg, err := parseYAML(t, `{bucket: b, region: eu-west-1, credentials: {id: BASEID, secret: base, role: "arn:aws:iam::123456789012:role/writer", role_external_id: ext-42}}`)
	require.NoError(t, err)
	out, err := newOutput(context.Background(), cfg)
	require.NoError(t, err)
	creds, err := out.awsConf.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ROLEID", creds.AccessKeyID)
	form := <-forms
	assert.Equal(t, "AssumeRole", form.Get("Action"))
	assert.Equal(t, "arn:aws:iam::123456789012:role/writer", form.Get("RoleArn"))
	assert.Equal(t, "ext-42", form.Get("ExternalId"))
}
