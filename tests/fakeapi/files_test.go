package fakeapi_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// download fetches a /content path and returns the answer, the body read so
// far and the read error.
func download(t *testing.T, base, path string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", testKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// TestFileDownloadsCarryTheDocumentedHeaders: every chat file downloads with
// its metadata's size and md5, a Content-MD5 (base64) of the bytes served, a
// Content-Disposition in the RFC 5987 form that mime.ParseMediaType decodes
// to the filename, the recorded Content-Type, and chunked transfer (no
// Content-Length) unless Options.ContentLength.
func TestFileDownloadsCarryTheDocumentedHeaders(t *testing.T) {
	for _, withLength := range []bool{false, true} {
		r := worldServer(t, fakeapi.WorldOptions{Seed: 11, Chats: 60, FileFraction: 0.6}, func(o *fakeapi.Options) { o.ContentLength = withLength })
		n := 0
		for _, c := range r.Server.Snapshot().Chats {
			if c.Deleted {
				continue // its files are gone: TestDeletedChatsKeepMessagesWithoutContentAndLoseFiles
			}
			for _, id := range c.FileIDs {
				meta := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.FilePath, id), "", testKey))
				resp, body, err := download(t, r.URL(), fakeapi.Expand(fakeapi.FileContentPath, id))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				sum := md5.Sum(body)
				assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), resp.Header.Get("Content-MD5"))
				assert.Equal(t, hex.EncodeToString(sum[:]), meta["md5"])
				assert.EqualValues(t, len(body), meta["size_bytes"])
				assert.Equal(t, meta["mime_type"], resp.Header.Get("Content-Type"))
				assert.Contains(t, meta["claude_chat_ids"], c.ID)
				assert.NotEmpty(t, meta["message_ids"])
				cd := resp.Header.Get("Content-Disposition")
				assert.Regexp(t, `^attachment; filename\*=utf-8''[A-Za-z0-9!#$&+\-.^_`+"`"+`|~%]*$`, cd)
				_, params, err := mime.ParseMediaType(cd)
				require.NoError(t, err)
				assert.Equal(t, meta["filename"], params["filename"])
				if withLength {
					assert.EqualValues(t, len(body), resp.ContentLength)
				} else {
					assert.EqualValues(t, -1, resp.ContentLength, "chunked")
					assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
				}
				n++
			}
		}
		assert.Greater(t, n, 10)
	}
}

// TestDownloadFaultsCutOrCorruptTheStream: FaultTruncatedBody cuts a
// download halfway (the client sees an unexpected EOF) and
// FaultCorruptContent flips a byte under an unchanged Content-MD5; both wait
// for a download, so other requests pass.
func TestDownloadFaultsCutOrCorruptTheStream(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 11, Chats: 60, FileFraction: 0.6, MaxFileSize: 200 << 10}, nil)
	var file string
	for _, c := range r.Server.Snapshot().Chats {
		if len(c.FileIDs) > 0 && !c.Deleted {
			file = c.FileIDs[0]
		}
	}
	path := fakeapi.Expand(fakeapi.FileContentPath, file)
	_, good, err := download(t, r.URL(), path)
	require.NoError(t, err)

	r.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultCorruptContent})
	ok(t, getPath(t, r.URL(), fakeapi.ChatsPath, "limit=1", testKey)) // not a download: untouched
	resp, body, err := download(t, r.URL(), path)
	require.NoError(t, err)
	require.Len(t, body, len(good))
	assert.NotEqual(t, good, body)
	sum := md5.Sum(body)
	assert.NotEqual(t, base64.StdEncoding.EncodeToString(sum[:]), resp.Header.Get("Content-MD5"), "the header names the right bytes")

	r.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultTruncatedBody, Path: fakeapi.FileContentPath})
	ok(t, getPath(t, r.URL(), fakeapi.ChatsPath, "limit=1", testKey))
	_, body, err = download(t, r.URL(), path)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Less(t, len(body), len(good))
	assert.Zero(t, r.Server.Stats().FaultsPending)
}

// TestGeneratedFilesArtifactsAndProjectContent: generated files have
// metadata and content (an expired one keeps its metadata, size and md5
// null, and its content answers 404); artifacts answer a JSON content whose
// md5 the metadata gives; project files download through the files
// endpoint; project documents have content and metadata.
func TestGeneratedFilesArtifactsAndProjectContent(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 13, Chats: 90, Projects: 20}, nil)
	expired, live := 0, 0
	for _, c := range r.Server.Snapshot().Chats {
		if c.Deleted {
			continue
		}
		for _, id := range c.GeneratedFileIDs {
			meta := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.GeneratedFilePath, id), "", testKey))
			assert.Equal(t, c.ID, meta["claude_chat_id"])
			a := getPath(t, r.URL(), fakeapi.Expand(fakeapi.GeneratedFileContentPath, id), "", testKey)
			if meta["size_bytes"] == nil {
				expired++
				assert.Nil(t, meta["md5"])
				e := decodeError(t, a, http.StatusNotFound, "not_found_error")
				assert.Equal(t, "Generated file content not found: '"+id+"'", e.Error.Message)
				continue
			}
			live++
			require.Equal(t, http.StatusOK, a.status)
			sum := md5.Sum(a.body)
			assert.Equal(t, hex.EncodeToString(sum[:]), meta["md5"])
			assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), a.header.Get("Content-MD5"))
		}
		env := messages(t, r.URL(), c.ID, "")
		for _, m := range env.ChatMessages {
			for _, art := range asList(m["artifacts"]) {
				ver := art["version_id"].(string)
				meta := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ArtifactPath, ver), "", testKey))
				content := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ArtifactContentPath, ver), "", testKey))
				sum := md5.Sum([]byte(content["content"].(string)))
				assert.Equal(t, hex.EncodeToString(sum[:]), meta["md5"], "the md5 is over the content text")
				assert.Equal(t, art["title"], content["title"])
			}
		}
	}
	assert.Positive(t, expired)
	assert.Positive(t, live)

	files, docs := 0, 0
	for _, p := range r.Server.Snapshot().Projects {
		atts, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.ProjectAttachmentsPath, p), 0, nil)
		for _, a := range atts {
			id := field(a, "id")
			switch a["type"] {
			case "project_file":
				files++
				_, body, err := download(t, r.URL(), fakeapi.Expand(fakeapi.FileContentPath, id))
				require.NoError(t, err)
				sum := md5.Sum(body)
				assert.Equal(t, hex.EncodeToString(sum[:]), a["md5"])
			case "project_doc":
				docs++
				assert.Nil(t, a["updated_at"])
				doc := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ProjectDocumentPath, id), "", testKey))
				meta := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ProjectDocumentMetadataPath, id), "", testKey))
				sum := md5.Sum([]byte(doc["content"].(string)))
				assert.Equal(t, hex.EncodeToString(sum[:]), meta["md5"])
				assert.Equal(t, p, meta["claude_project_id"])
			}
		}
	}
	assert.Positive(t, files)
	assert.Positive(t, docs)
}

// TestLargeFilesStreamWithoutBuffering: a file larger than any page streams
// with the right MD5 (the fake generates it as it writes).
func TestLargeFilesStreamWithoutBuffering(t *testing.T) {
	r := worldServer(t, fakeapi.WorldOptions{Seed: 1, Chats: 40, FileFraction: 0.5, LargeFileSize: 6 << 20, LargeFileEvery: 25}, nil)
	var large string
	for _, c := range r.Server.Snapshot().Chats {
		if c.Deleted {
			continue
		}
		for _, id := range c.FileIDs {
			if m := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.FilePath, id), "", testKey)); m["size_bytes"] == float64(6<<20) {
				large = id
			}
		}
	}
	require.NotEmpty(t, large)
	req, err := http.NewRequest(http.MethodGet, r.URL()+fakeapi.Expand(fakeapi.FileContentPath, large), nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", testKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	h := md5.New()
	n, err := io.Copy(h, resp.Body)
	require.NoError(t, err)
	assert.EqualValues(t, 6<<20, n)
	assert.Equal(t, resp.Header.Get("Content-MD5"), base64.StdEncoding.EncodeToString(h.Sum(nil)))
}

// TestProjectDocumentsCanBeEditedAndRemoved: an edited document serves its
// new content (metadata md5 following) and is still listed; a removed one
// leaves its project's attachments and its content answers 404.
func TestProjectDocumentsCanBeEditedAndRemoved(t *testing.T) {
	r := worldServer(t, smallWorld, nil)
	var project, doc string
	for _, p := range r.Server.Snapshot().Projects {
		atts, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.ProjectAttachmentsPath, p), 0, nil)
		for _, a := range atts {
			if a["type"] == "project_doc" && doc == "" {
				project, doc = p, field(a, "id")
			}
		}
	}
	require.NotEmpty(t, doc, "the world has a project document")
	listed := func() bool {
		atts, _ := walkPages(t, r.URL(), fakeapi.Expand(fakeapi.ProjectAttachmentsPath, project), 0, nil)
		return slices.Contains(idsOfRecs(atts, "id"), doc)
	}

	require.NoError(t, r.Server.EditProjectDocument(doc, "edited content"))
	got := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ProjectDocumentPath, doc), "", testKey))
	assert.Equal(t, "edited content", got["content"])
	meta := ok(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ProjectDocumentMetadataPath, doc), "", testKey))
	sum := md5.Sum([]byte("edited content"))
	assert.Equal(t, hex.EncodeToString(sum[:]), meta["md5"])
	assert.True(t, listed(), "an edited document stays listed")

	require.NoError(t, r.Server.RemoveProjectDocument(doc))
	decodeError(t, getPath(t, r.URL(), fakeapi.Expand(fakeapi.ProjectDocumentPath, doc), "", testKey), http.StatusNotFound, "not_found_error")
	assert.False(t, listed(), "a removed document leaves the attachments")
	assert.Error(t, r.Server.RemoveProjectDocument(doc), "an unknown id is refused")
	assert.Error(t, r.Server.EditProjectDocument(doc, "x"), "an unknown id is refused")
}
