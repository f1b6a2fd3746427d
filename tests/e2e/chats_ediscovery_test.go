package e2e_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	_ "github.com/compliance-connect/compliance-connect/outputs/awss3"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestTheEDiscoveryConfigArchivesChatsMessagesAndFilesByUserAndDate runs
// config/ediscovery-s3.yaml's output (pointed at an in-memory S3) behind
// its chats and files endpoints, and reads the archive back: one object
// per chat version and per message under chats/<user>/<date>/<chat>/, every
// file's bytes unchanged under files/<user>/<date>/ with its content type,
// and too-large files recorded under skipped/.
func TestTheEDiscoveryConfigArchivesChatsMessagesAndFilesByUserAndDate(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	w, err := fakeapi.NewWorld(fakeapi.WorldOptions{Seed: 31, Chats: 25, MaxMessages: 6, FileFraction: 0.5,
		LargeFileSize: 200 << 10, LargeFileEvery: 4, From: now.Add(-3 * time.Hour), To: now.Add(-10 * time.Minute)})
	require.NoError(t, err)
	r := newRig(t, now, fakeapi.Options{World: w}, rigOptions{})
	chats, messages, files := worldTotals(r.api.Snapshot())

	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("archive"))
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")})

	sb := r.env.NewStreamBuilder()
	sb.SetLogger(r.logs.logger())
	require.NoError(t, sb.AddInputYAML(r.config(`
  endpoints:
    - name: chats
      schedule: "@every 20ms"
      earliest: "2026-11-25T08:00:00Z"
      include_messages: true
    - name: files
      schedule: "@every 20ms"
      earliest: "2026-11-25T08:00:00Z"
      max_file_size: 100KiB
      file_workers: 2
      emit_skipped: true
`)))
	require.NoError(t, sb.AddOutputYAML(ediscoveryOutput(t, s3srv.URL)))
	stream, err := sb.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	for _, ep := range []string{"chats", "files"} {
		r.waitJob(ep+" up to 11:58", func(rep report) bool {
			return rep["endpoint"] == ep && rep["scanned_to"] == "2026-11-25T11:58:00Z" && rep["outcome"] == "success"
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, stream.Stop(ctx))
	<-done

	kinds := map[string]int{}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String("archive")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Contents {
			key := aws.ToString(item.Key)
			obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("archive"), Key: item.Key})
			require.NoError(t, err)
			body, err := io.ReadAll(obj.Body)
			require.NoError(t, err)
			parts := strings.Split(key, "/")
			require.GreaterOrEqual(t, len(parts), 6, key)
			assert.Contains(t, parts[1], "@", "keyed by the user's email: %s", key)
			_, err = time.Parse("2006/01/02", strings.Join(parts[2:5], "/"))
			assert.NoError(t, err, "then by date: %s", key)
			switch {
			case parts[0] == "files" && parts[5] == "skipped":
				kinds["skipped"]++
				var meta map[string]string
				require.NoError(t, json.Unmarshal(body, &meta), key)
				assert.Equal(t, "too_large", meta["compliance_file_skipped"])
			case parts[0] == "files":
				kinds["file"]++
				sum := md5.Sum(body)
				id := strings.SplitN(parts[5], "-", 2)[0]
				assert.True(t, strings.HasPrefix(id, "claude_file_"), key)
				ctype := aws.ToString(obj.ContentType)
				assert.True(t, ctype != "" && ctype != "application/x-ndjson", "the file's own content type: %s has %q", key, ctype)
				assert.Len(t, hex.EncodeToString(sum[:]), 32)
				assert.LessOrEqual(t, len(body), 100<<10)
			case len(parts) == 8 && parts[6] == "messages":
				kinds["message"]++
				assert.Equal(t, "gzip", aws.ToString(obj.ContentEncoding))
				assert.True(t, strings.HasPrefix(gunzip(t, body), `{"id":"claude_chat_msg_`), key)
			default:
				kinds["chat"]++
				assert.True(t, strings.HasPrefix(gunzip(t, body), `{"id":"claude_chat_`), key)
			}
		}
	}
	assert.Equal(t, chats, kinds["chat"])
	assert.Equal(t, messages, kinds["message"])
	assert.Equal(t, files, kinds["file"]+kinds["skipped"])
	assert.Positive(t, kinds["skipped"])
	t.Logf("archived %v", kinds)
}

// ediscoveryOutput is config/ediscovery-s3.yaml's output with every aws_s3
// pointed at the fake S3.
func ediscoveryOutput(t *testing.T, url string) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/ediscovery-s3.yaml")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s3, ok := x["aws_s3"].(map[string]any); ok {
				s3["bucket"], s3["endpoint"], s3["force_path_style_urls"] = "archive", url, true
				s3["credentials"] = map[string]any{"id": "id", "secret": "secret"}
			}
			for _, e := range x {
				visit(e)
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		}
	}
	visit(doc["output"])
	out, err := yaml.Marshal(doc["output"])
	require.NoError(t, err)
	return string(out)
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(out)
}
