package content_test

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/content"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// fileHooks counts what the files source reports.
type fileHooks struct {
	mu         sync.Mutex
	skipped    map[string]int
	downloaded int
	bytes      int64
	checksum   int
}

func (h *fileHooks) hooks() content.Hooks {
	h.skipped = map[string]int{}
	return content.Hooks{
		OnFileDownloaded: func(n int64, _ time.Duration) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.downloaded++
			h.bytes += n
		},
		OnFileSkipped: func(reason string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.skipped[reason]++
		},
		OnChecksumFailure: func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.checksum++
		},
	}
}

func filesSource(t *testing.T, r *rig, cfg content.FilesConfig, h content.Hooks) *content.Files {
	t.Helper()
	if cfg.PageSize == 0 {
		cfg.PageSize = 50
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = 1 << 20
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	src, err := content.NewFiles(cfg, r.client, h, nil)
	require.NoError(t, err)
	return src
}

// contentRequests counts the /content requests for file ids.
func (r *rig) contentRequests() map[string]int {
	out := map[string]int{}
	for _, rec := range r.srv.Requests() {
		if id, ok := strings.CutSuffix(rec.Path, "/content"); ok {
			out[id[strings.LastIndex(id, "/")+1:]]++
		}
	}
	return out
}

func TestFilesDownloadsEveryReferencedFileWithItsMD5Verified(t *testing.T) {
	wo := fakeapi.WorldOptions{Seed: 21, Chats: 80, FileFraction: 0.5, Growth: fakeapi.WorldGrowth{ChatsPerHour: 30, EditsPerHour: 120}}
	r := newRig(t, wo, nil)
	var h fileHooks
	c := r.collector(r.engine("files", content.Filters{}), filesSource(t, r, content.FilesConfig{IncludeGenerated: true}, h.hooks()))
	s := r.sink(c)
	to := collectFor(t, r, c, 30*time.Minute)
	snap := r.srv.Snapshot()

	refs := map[string]int{} // file id -> messages referencing it (settled, live chats)
	generated := map[string]bool{}
	for _, ch := range snap.Chats {
		if ch.Deleted || !ch.UpdatedAt.Before(to) {
			continue
		}
		for _, f := range ch.FileIDs {
			refs[f]++
		}
		for _, g := range ch.GeneratedFileIDs {
			refs[g]++
			generated[g] = true
		}
	}
	got := map[string]int{}
	for _, d := range s.all() {
		require.Equal(t, content.RecordFile, d.typ())
		id := d.meta["compliance_file_id"]
		got[id]++
		sum := md5.Sum(d.body)
		assert.Equal(t, hex.EncodeToString(sum[:]), d.meta["compliance_file_md5"], id)
		assert.Equal(t, "true", d.meta["compliance_file_md5_verified"], id)
		assert.Equal(t, strconv.Itoa(len(d.body)), d.meta["compliance_file_size"], id)
		assert.NotEmpty(t, d.meta["compliance_filename"])
		assert.NotEmpty(t, d.meta["chat_id"])
		assert.NotEmpty(t, d.meta["chat_message_id"])
		_, err := time.Parse("2006-01-02T15:04:05Z", d.meta["compliance_file_created_at"])
		assert.NoError(t, err, "the S3 key layout parses compliance_file_created_at")
		if generated[id] {
			assert.Equal(t, content.KindGeneratedFile, d.meta["compliance_file_kind"])
		}
	}
	missing, expired := 0, 0
	for id, n := range refs {
		switch {
		case got[id] == 0 && generated[id]:
			expired++ // generated content expires; counted as skipped
		case got[id] == 0:
			missing++
		default:
			assert.LessOrEqual(t, got[id], n, "file %s delivered more often than it is referenced", id)
		}
	}
	assert.Zero(t, missing, "files referenced by settled chats never delivered")
	assert.Greater(t, len(got), 30)
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Equal(t, expired, h.skipped[content.SkipExpired])
	assert.Equal(t, len(s.all()), h.downloaded)
}

func TestTooLargeFilesAreSkippedBeforeAnyRequestAndReported(t *testing.T) {
	wo := fakeapi.WorldOptions{Seed: 4, Chats: 40, FileFraction: 1, MaxFileSize: 4 << 10, LargeFileSize: 300 << 10, LargeFileEvery: 3}
	r := newRig(t, wo, nil)
	var h fileHooks
	c := r.collector(r.engine("files", content.Filters{}), filesSource(t, r, content.FilesConfig{MaxFileSize: 256 << 10, EmitSkipped: true}, h.hooks()))
	s := r.sink(c)
	rep, err := runJob(t, c)
	require.NoError(t, err)
	requests := r.contentRequests()
	skipped := 0
	for _, d := range s.all() {
		id := d.meta["compliance_file_id"]
		if d.meta["compliance_file_skipped"] == "" {
			assert.LessOrEqual(t, len(d.body), 256<<10)
			continue
		}
		skipped++
		assert.Equal(t, content.SkipTooLarge, d.meta["compliance_file_skipped"])
		assert.Empty(t, d.body, "a skipped file is a zero-length message")
		assert.Equal(t, strconv.Itoa(300<<10), d.meta["compliance_file_size"])
		assert.Zero(t, requests[id], "file %s was requested although its reference says it is too large", id)
	}
	assert.Positive(t, skipped)
	assert.Equal(t, skipped, rep.Counts[content.CountFilesSkipped])
	h.mu.Lock()
	assert.Equal(t, skipped, h.skipped[content.SkipTooLarge])
	h.mu.Unlock()
}

// firstContentFault scripts n faults of kind on /content downloads and
// returns a function giving the id of the file they hit first.
func firstContentFault(r *rig, kind fakeapi.FaultKind, n int) func() string {
	faults := make([]fakeapi.Fault, n)
	for i := range faults {
		faults[i] = fakeapi.Fault{Kind: kind, Path: fakeapi.FileContentPath}
	}
	r.srv.Script(faults...)
	return func() string {
		for _, rec := range r.srv.Requests() {
			if strings.HasSuffix(rec.Path, "/content") {
				id, _ := strings.CutSuffix(rec.Path, "/content")
				return id[strings.LastIndex(id, "/")+1:]
			}
		}
		return ""
	}
}

func TestAFileWhoseMD5DoesNotMatchIsNeverDeliveredAsGood(t *testing.T) {
	wo := fakeapi.WorldOptions{Seed: 8, Chats: 10, FileFraction: 1}
	tests := []struct {
		name    string
		retries int
		faults  int
		want    string // "" delivered verified, else the skip reason
	}{
		{"downloaded again and delivered once it matches", 2, 1, ""},
		{"skipped once the retries are spent", 2, 3, content.SkipChecksum},
		{"skipped at once without retries", 0, 1, content.SkipChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, wo, nil)
			hit := firstContentFault(r, fakeapi.FaultCorruptContent, tt.faults)
			var h fileHooks
			c := r.collector(r.engine("files", content.Filters{}),
				filesSource(t, r, content.FilesConfig{Workers: 1, Retries: tt.retries, EmitSkipped: true}, h.hooks()))
			s := r.sink(c)
			_, err := runJob(t, c)
			require.NoError(t, err, "a bad file never fails the job")
			id := hit()
			require.NotEmpty(t, id)
			var versions []map[string]string
			for _, d := range s.all() {
				if d.meta["compliance_file_id"] == id {
					versions = append(versions, d.meta)
					if d.meta["compliance_file_skipped"] == "" {
						sum := md5.Sum(d.body)
						assert.Equal(t, hex.EncodeToString(sum[:]), d.meta["compliance_file_md5"])
					}
				}
			}
			require.Len(t, versions, 1, "one message for the file")
			assert.Equal(t, tt.want, versions[0]["compliance_file_skipped"])
			if tt.want == "" {
				assert.Equal(t, "true", versions[0]["compliance_file_md5_verified"])
			} else {
				assert.NotEqual(t, "true", versions[0]["compliance_file_md5_verified"])
			}
			assert.Equal(t, tt.faults, r.contentRequests()[id]-boolInt(tt.want == ""), "downloads of the corrupt file")
			h.mu.Lock()
			assert.Equal(t, min(tt.faults, tt.retries+1), h.checksum)
			h.mu.Unlock()
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestABodyCutShortIsDownloadedAgainThenSkippedAsTransport(t *testing.T) {
	r := newRig(t, fakeapi.WorldOptions{Seed: 8, Chats: 10, FileFraction: 1}, nil)
	hit := firstContentFault(r, fakeapi.FaultTruncatedBody, 3)
	var h fileHooks
	c := r.collector(r.engine("files", content.Filters{}), filesSource(t, r, content.FilesConfig{Workers: 1, Retries: 2}, h.hooks()))
	s := r.sink(c)
	_, err := runJob(t, c)
	require.NoError(t, err)
	id := hit()
	for _, d := range s.all() {
		assert.NotEqual(t, id, d.meta["compliance_file_id"], "a file cut short is not delivered")
	}
	assert.Equal(t, 3, r.contentRequests()[id])
	h.mu.Lock()
	assert.Equal(t, 1, h.skipped[content.SkipTransport])
	h.mu.Unlock()
}

func TestAtMostFileWorkersFilesAreHeldUntilTheirMessagesAreAcknowledged(t *testing.T) {
	r := newRig(t, fakeapi.WorldOptions{Seed: 8, Chats: 30, FileFraction: 1}, nil)
	cfg := r.engine("files", content.Filters{})
	cfg.Slices.MinSlice, cfg.Slices.MaxSlice = 24*time.Hour, 24*time.Hour // one slice: max_open_slices does not bound first
	c := r.collector(cfg, filesSource(t, r, content.FilesConfig{Workers: 2}, content.Hooks{}))
	s := r.sink(c)
	var hold atomic.Bool
	hold.Store(true)
	s.setPolicy(func([]delivered) (bool, error) { return hold.Load(), nil })
	var downloads atomic.Int64
	r.setHook(func(_ http.ResponseWriter, req *http.Request) bool {
		if strings.HasSuffix(req.URL.Path, "/content") {
			downloads.Add(1)
		}
		return false
	})
	done := make(chan error, 1)
	go func() {
		_, err := runJob(t, c)
		done <- err
	}()
	require.Eventually(t, func() bool { return downloads.Load() == 2 }, 30*time.Second, time.Millisecond)
	require.Never(t, func() bool { return downloads.Load() > 2 }, 300*time.Millisecond, time.Millisecond,
		"a third download started while two files wait for their acknowledgement")
	hold.Store(false)
	s.release()
	require.NoError(t, <-done)
	assert.Greater(t, downloads.Load(), int64(10))
}
