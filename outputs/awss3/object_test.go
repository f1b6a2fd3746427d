package awss3_test

import (
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestObjectPerMessageStoresEachMessageUnchangedUnderItsOwnKey(t *testing.T) {
	fake := newFakeS3(t)
	files := []struct{ key, typ, body string }{
		{"alice@example.com/2026/11/25/claude_file_01a-notes.txt", "text/plain", "line one\nline two\n\x00binary"},
		{"bob@example.com/2026/11/24/claude_file_01b-scan.png", "image/png", "\x89PNG\r\n\x1a\n"},
	}
	var batch service.MessageBatch
	for _, f := range files {
		m := service.NewMessage([]byte(f.body))
		m.MetaSetMut("key", f.key)
		m.MetaSetMut("type", f.typ)
		batch = append(batch, m)
	}
	require.NoError(t, writeBatch(t, fake.outputYAML(`
  object_per_message: true
  compression: none
  path: '${! @key }'
  content_type: '${! @type }'
`), batch))
	for _, f := range files {
		resp, err := fake.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("archive"), Key: aws.String(f.key)})
		require.NoError(t, err, f.key)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, f.body, string(body), "the bytes, unchanged")
		assert.Equal(t, f.typ, aws.ToString(resp.ContentType))
		assert.Empty(t, aws.ToString(resp.ContentEncoding))
	}
}

func TestObjectPerMessageNacksOnlyTheMessageThatFails(t *testing.T) {
	fake := newFakeS3(t)
	ok := service.NewMessage([]byte("kept"))
	ok.MetaSetMut("key", "good")
	bad := service.NewMessage([]byte("lost"))
	err := writeBatch(t, fake.outputYAML(`
  object_per_message: true
  path: '${! @key.or("") }'
`), service.MessageBatch{ok, bad})
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	assert.Equal(t, 1, batchErr.IndexedErrors())
	assert.ErrorContains(t, err, "empty object key")
}
