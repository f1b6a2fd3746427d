package awss3_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/compliance-connect/compliance-connect/outputs/awss3"
)

// fakeS3 is an in-memory S3 served over HTTP with one bucket, "archive". It
// records the headers of every object upload.
type fakeS3 struct {
	url    string
	client *s3.Client

	mu   sync.Mutex
	puts []http.Header
}

func (f *fakeS3) putHeaders() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.puts)
}

func newFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("archive"))
	f := &fakeS3{}
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			f.mu.Lock()
			f.puts = append(f.puts, r.Header.Clone())
			f.mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.client = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("test-id", "test-secret", ""),
	})
	return f
}

// outputYAML is an aws_s3 output pointed at the fake, plus extra settings.
func (f *fakeS3) outputYAML(extra string) string {
	return fmt.Sprintf(`
aws_s3:
  bucket: archive
  region: us-east-1
  endpoint: %s
  force_path_style_urls: true
  credentials:
    id: test-id
    secret: test-secret
%s`, f.url, extra)
}

type object struct {
	key, contentType, contentEncoding string
	lines                             []string
}

// objects reads back every object in the bucket, gunzipping when the object
// says it is gzip-encoded, and splits it into newline-terminated lines.
func (f *fakeS3) objects(t *testing.T) []object {
	t.Helper()
	ctx := context.Background()
	var out []object
	pages := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{Bucket: aws.String("archive")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		require.NoError(t, err)
		for _, item := range page.Contents {
			resp, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("archive"), Key: item.Key})
			require.NoError(t, err)
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			obj := object{key: *item.Key, contentType: aws.ToString(resp.ContentType), contentEncoding: aws.ToString(resp.ContentEncoding)}
			if obj.contentEncoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				require.NoError(t, err, "object %s", obj.key)
				raw, err = io.ReadAll(zr)
				require.NoError(t, err, "object %s", obj.key)
			}
			require.True(t, len(raw) > 0 && raw[len(raw)-1] == '\n', "object %s must end with a newline", obj.key)
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				obj.lines = append(obj.lines, sc.Text())
			}
			require.NoError(t, sc.Err())
			out = append(out, obj)
		}
	}
	return out
}

// runStream runs a stream from a batch producer func to the output and returns
// the producer func; the stream stops when the test ends.
func runStream(t *testing.T, outputYAML string) service.MessageBatchHandlerFunc {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: OFF"))
	produce, err := b.AddBatchProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML(outputYAML))
	stream, err := b.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		assert.NoError(t, stream.Stop(ctx))
		<-done
	})
	return produce
}

// writeBatch writes one batch straight to an output resource, so the batch
// reaches WriteBatch exactly as given, and returns the write error.
func writeBatch(t *testing.T, outputYAML string, batch service.MessageBatch) error {
	t.Helper()
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddOutputYAML("label: out\n"+strings.TrimPrefix(outputYAML, "\n")))
	res, stop, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })
	var writeErr error
	require.NoError(t, res.AccessOutput(context.Background(), "out", func(o *service.ResourceOutput) {
		writeErr = o.WriteBatch(context.Background(), batch)
	}))
	return writeErr
}

func activityLine(i int) string {
	return fmt.Sprintf(`{"id":"activity_%05d","type":"claude_file_uploaded"}`, i)
}

func activity(i int) *service.Message {
	m := service.NewMessage([]byte(activityLine(i)))
	m.MetaSetMut("activity_id", fmt.Sprintf("activity_%05d", i))
	return m
}

func TestEveryMessageIsReadBackFromGzippedNDJSONObjects(t *testing.T) {
	// The batcher adds whole incoming batches, so objects can exceed count by
	// up to perCall-1; with perCall dividing count they hold at most count.
	const total, producers, perCall = 5000, 4, 50
	fake := newFakeS3(t)
	produce := runStream(t, fake.outputYAML(`
  batching:
    count: 250
    period: 20ms
  max_in_flight: 4
`))

	var wg sync.WaitGroup
	errs := make(chan error, total/perCall)
	for p := range producers {
		wg.Go(func() {
			for start := p * perCall; start < total; start += producers * perCall {
				var batch service.MessageBatch
				for i := start; i < start+perCall; i++ {
					batch = append(batch, activity(i))
				}
				errs <- produce(context.Background(), batch)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	want := make(map[string]bool, total)
	for i := range total {
		want[activityLine(i)] = true
	}
	objects := fake.objects(t)
	require.GreaterOrEqual(t, len(objects), total/250, "objects of at most 250 messages")
	got := 0
	for _, obj := range objects {
		assert.Regexp(t, `^anthropic/activities/\d+-[0-9a-f-]{36}\.ndjson\.gz$`, obj.key)
		assert.Equal(t, "gzip", obj.contentEncoding)
		assert.Equal(t, "application/x-ndjson", obj.contentType)
		assert.LessOrEqual(t, len(obj.lines), 250)
		for _, line := range obj.lines {
			require.True(t, want[line], "unexpected or duplicated line %q in %s", line, obj.key)
			delete(want, line)
			got++
		}
	}
	assert.Equal(t, total, got)
	assert.Empty(t, want, "activities missing from the bucket")
}

func TestUncompressedObjectsArePlainNDJSON(t *testing.T) {
	fake := newFakeS3(t)
	require.NoError(t, writeBatch(t, fake.outputYAML(`
  compression: none
  content_type: application/json
  path: 'plain/${! @activity_id }.ndjson'
`), service.MessageBatch{activity(1), activity(2), activity(3)}))

	objects := fake.objects(t)
	require.Len(t, objects, 1)
	assert.Equal(t, "plain/activity_00001.ndjson", objects[0].key)
	assert.Empty(t, objects[0].contentEncoding)
	assert.Equal(t, "application/json", objects[0].contentType)
	assert.Equal(t, []string{activityLine(1), activityLine(2), activityLine(3)}, objects[0].lines, "lines keep batch order")
}

func TestStorageClassAndKMSKeyAreSentWithTheUpload(t *testing.T) {
	fake := newFakeS3(t)
	require.NoError(t, writeBatch(t, fake.outputYAML(`
  storage_class: STANDARD_IA
  kms_key_id: alias/compliance-archive
`), service.MessageBatch{activity(1)}))

	puts := fake.putHeaders()
	require.Len(t, puts, 1)
	assert.Equal(t, "STANDARD_IA", puts[0].Get("X-Amz-Storage-Class"))
	assert.Equal(t, "aws:kms", puts[0].Get("X-Amz-Server-Side-Encryption"))
	assert.Equal(t, "alias/compliance-archive", puts[0].Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
	assert.Equal(t, "gzip", puts[0].Get("Content-Encoding"))
	assert.Contains(t, puts[0].Get("Authorization"), "Credential=test-id/", "static credentials sign the request")
}

func TestPathIsEvaluatedOncePerBatchAgainstTheFirstMessage(t *testing.T) {
	fake := newFakeS3(t)
	var batch service.MessageBatch
	for i, day := range []string{"2026/01/02", "2026/01/03", "2026/01/04"} {
		m := activity(i)
		m.MetaSetMut("day", day)
		batch = append(batch, m)
	}
	require.NoError(t, writeBatch(t, fake.outputYAML(`
  path: 'anthropic/activities/${! @day }/${! uuid_v4() }.ndjson.gz'
`), batch))

	objects := fake.objects(t)
	require.Len(t, objects, 1)
	assert.True(t, strings.HasPrefix(objects[0].key, "anthropic/activities/2026/01/02/"), objects[0].key)
	assert.Len(t, objects[0].lines, 3)
}

func TestMissingBucketNacksTheBatch(t *testing.T) {
	fake := newFakeS3(t)
	produce := runStream(t, strings.Replace(fake.outputYAML("  timeout: 5s\n"), "bucket: archive", "bucket: no-such-bucket", 1))

	err := produce(context.Background(), service.MessageBatch{activity(1), activity(2)})
	require.Error(t, err)
	assert.ErrorContains(t, err, "s3://no-such-bucket/")
	assert.ErrorContains(t, err, "NoSuchBucket")
}

func TestMultilineJSONIsCompactedAndMultilineNonJSONIsNackedAlone(t *testing.T) {
	fake := newFakeS3(t)
	batch := service.MessageBatch{
		service.NewMessage([]byte("{\n  \"id\": \"pretty\",\n  \"n\": 1\n}\n")),
		service.NewMessage([]byte("not json\nsecond line")),
		service.NewMessage([]byte(`{"id":"plain"}`)),
	}
	err := writeBatch(t, fake.outputYAML(""), batch)

	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	var failed []string
	batchErr.WalkMessages(func(_ int, m *service.Message, err error) bool {
		if err != nil {
			b, _ := m.AsBytes()
			failed = append(failed, string(b))
			assert.ErrorContains(t, err, "not valid JSON")
		}
		return true
	})
	assert.Equal(t, []string{"not json\nsecond line"}, failed)

	objects := fake.objects(t)
	require.Len(t, objects, 1)
	assert.Equal(t, []string{`{"id":"pretty","n":1}`, `{"id":"plain"}`}, objects[0].lines)
}

// The dead-letter pattern of config/s3.yaml: what S3 nacks lands in a file per
// activity and the input sees an ack.
func TestFallbackWritesNackedActivitiesToDeadLetterFiles(t *testing.T) {
	fake := newFakeS3(t)
	dir := t.TempDir()
	s3conf := strings.Replace(fake.outputYAML("  timeout: 5s\n"), "bucket: archive", "bucket: no-such-bucket", 1)
	indented := strings.ReplaceAll(strings.TrimPrefix(s3conf, "\n"), "\n", "\n    ")
	produce := runStream(t, fmt.Sprintf(`
fallback:
  - %s
  - file:
      path: '%s/${! @activity_id }.json'
      codec: lines
`, indented, dir))

	require.NoError(t, produce(context.Background(), service.MessageBatch{activity(1), activity(2)}))
	for _, i := range []int{1, 2} {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("activity_%05d.json", i)))
		require.NoError(t, err)
		assert.Equal(t, activityLine(i)+"\n", string(raw))
	}
}
