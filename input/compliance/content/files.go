package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// FilesAPI is what the files collector needs of the API client (*api.Client
// implements it).
type FilesAPI interface {
	ChatsAPI
	DownloadFile(ctx context.Context, fileID string, o api.DownloadOptions) (*api.Download, error)
	DownloadGeneratedFile(ctx context.Context, id string, o api.DownloadOptions) (*api.Download, error)
}

// File kinds (metadata compliance_file_kind).
const (
	KindFile          = "file"
	KindGeneratedFile = "generated_file"
)

// Skip reasons (metadata compliance_file_skipped, the reason label of
// compliance_files_skipped).
const (
	SkipTooLarge  = "too_large"
	SkipNotFound  = "not_found"
	SkipExpired   = "expired"
	SkipChecksum  = "checksum"
	SkipTransport = "transport"
)

// FilesConfig configures the files endpoint.
type FilesConfig struct {
	PageSize int // chats per listing page, 1 to 1000
	Filters  Filters
	// MaxFileSize caps a file: larger ones are skipped (too_large), before
	// any request when the reference announces the size.
	MaxFileSize int64
	// Workers download in parallel. At most Workers files are in memory at
	// once, each at most MaxFileSize: a file's buffer lives from the start
	// of its download until its message is acknowledged.
	Workers int
	// Retries is how many times a file whose body broke or whose MD5 did not
	// match is downloaded again before it is skipped.
	Retries int
	// IncludeGenerated also downloads the messages' generated_files.
	IncludeGenerated bool
	// EmitSkipped emits a zero-length message with the metadata and
	// compliance_file_skipped for every skipped file, so that an archive
	// can record the gap.
	EmitSkipped bool
}

// Validate names the first setting out of range.
func (c FilesConfig) Validate() error {
	switch {
	case c.PageSize < 1 || c.PageSize > MaxPageSize:
		return fmt.Errorf("page_size must be between 1 and %d for files, got %d", MaxPageSize, c.PageSize)
	case c.MaxFileSize < 1:
		return fmt.Errorf("max_file_size must be positive, got %d", c.MaxFileSize)
	case c.Workers < 1 || c.Workers > 64:
		return fmt.Errorf("file_workers must be between 1 and 64, got %d", c.Workers)
	case c.Retries < 0 || c.Retries > 10:
		return fmt.Errorf("file_retries must be between 0 and 10, got %d", c.Retries)
	}
	return nil
}

// Files is the files endpoint's collector.Source: for every new chat
// version of a slice it walks the messages created in the slice and
// downloads the files its new messages reference, one binary message per
// file.
type Files struct {
	cfg   FilesConfig
	api   FilesAPI
	hooks Hooks
	log   collector.Logger
	// tokens bound the files in memory: one is taken before a download
	// starts and given back when the file is skipped, or when its message
	// is acknowledged (also after its job ended).
	tokens chan struct{}
	now    func() time.Time
}

// NewFiles checks cfg and returns the files source. log may be nil.
func NewFiles(cfg FilesConfig, a FilesAPI, h Hooks, log collector.Logger) (*Files, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errors.New("files: no API client")
	}
	if log == nil {
		log = nopLog{}
	}
	return &Files{cfg: cfg, api: a, hooks: h, log: log, tokens: make(chan struct{}, cfg.Workers), now: time.Now}, nil
}

// Probe implements collector.Source.
func (f *Files) Probe(ctx context.Context) (time.Time, error) {
	return probe(ctx, f.api, f.cfg.Filters)
}

// fileRef is one file to download and what references it.
type fileRef struct {
	kind, id, filename, mime, md5 string
	size                          int64 // -1: unknown
	createdAt                     time.Time
	chat                          api.Chat
	msg                           api.ChatMessage
	origin                        *collector.Origin
	key                           collector.Key
	unit                          *chatUnit
}

// chatUnit counts the files of a chat version still to be handled.
type chatUnit struct {
	u      *collector.Unit
	left   int
	walked bool // every file of it was submitted
}

// fetched is a worker's answer for one file: its bytes, or why it was
// skipped, or an error that fails the job.
type fetched struct {
	ref      *fileRef
	body     []byte
	dl       *api.Download
	skip     string
	detail   error
	err      error
	attempts int
}

// Walk implements collector.Source.
func (f *Files) Walk(w *collector.SliceWalk) (bool, time.Duration, error) {
	ctx, cancel := context.WithCancel(w.Context())
	defer cancel()
	p := f.startPool(ctx)
	defer p.stop()
	sealed, cut, err := walkChats(w, f.api, f.cfg.PageSize, f.cfg.Filters, func(origin *collector.Origin, chat api.Chat) (bool, error) {
		u := w.Version(versionKey(chat), chat.Raw)
		if u == nil {
			f.hooks.duplicate()
			return true, nil
		}
		unit := &chatUnit{u: u}
		if chat.DeletedAt.IsZero() {
			refs, err := f.references(w, origin, chat, unit)
			if err != nil {
				return false, err
			}
			for _, r := range refs {
				if !p.submit(w, r) {
					return false, p.err
				}
			}
		}
		unit.walked = true
		if unit.left == 0 {
			u.Close()
		}
		return true, nil
	})
	if err == nil && cut == 0 && sealed && !p.finish(w) {
		return false, 0, p.err
	}
	return sealed && p.err == nil && !p.stopped, cut, err
}

// references walks the new messages of a chat version (see newMessages)
// and claims the files they reference.
func (f *Files) references(w *collector.SliceWalk, origin *collector.Origin, chat api.Chat, unit *chatUnit) ([]*fileRef, error) {
	var refs []*fileRef
	claim := func(r *fileRef) {
		r.key = collector.Key{ID: "file:" + r.id, At: r.msg.CreatedAt}
		if w.Child(r.key) {
			r.chat, r.origin, r.unit = chat, origin, unit
			unit.left++
			refs = append(refs, r)
		}
	}
	requests, newest, err := walkMessages(w.Context(), f.api, chat.ID, newMessages(w, chat.ID), func(page *api.ChatMessages) error {
		w.Observe(page.Meta)
		for _, m := range page.Items {
			for _, x := range m.Files {
				claim(&fileRef{kind: KindFile, id: x.ID, filename: x.Filename, mime: x.MimeType, md5: x.MD5, size: x.SizeBytes,
					createdAt: x.CreatedAt, msg: m})
			}
			if !f.cfg.IncludeGenerated {
				continue
			}
			for _, g := range m.GeneratedFiles {
				claim(&fileRef{kind: KindGeneratedFile, id: g.ID, filename: g.Filename, mime: g.MimeType, md5: g.MD5, size: g.SizeBytes, msg: m})
			}
		}
		return nil
	})
	w.Count(CountMessagesRequests, requests)
	if err == nil {
		w.Mark(chat.ID, later(chat.UpdatedAt, newest))
	}
	if api.IsNotFound(err) {
		// Deleted for good since the listing: what was read is still
		// downloaded (it answers 404 and is skipped as not_found).
		w.Count(CountMessagesMissing, 1)
		f.hooks.unavailable("not_found")
		return refs, nil
	}
	return refs, err
}

// pool runs the download workers of one slice's walk.
type pool struct {
	f       *Files
	tasks   chan *fileRef
	results chan *fetched
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	pending int // submitted, answer not handled yet (walk goroutine)
	err     error
	stopped bool
}

func (f *Files) startPool(ctx context.Context) *pool {
	ctx, cancel := context.WithCancel(ctx)
	p := &pool{f: f, tasks: make(chan *fileRef), results: make(chan *fetched), cancel: cancel}
	for range f.cfg.Workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for r := range p.tasks {
				p.results <- f.fetch(ctx, r)
			}
		}()
	}
	return p
}

// submit hands a file to a worker, handling answers while they are busy.
// It returns false when the walk must end (p.err, or the job stopped).
func (p *pool) submit(w *collector.SliceWalk, r *fileRef) bool {
	for {
		if p.err != nil || p.stopped {
			return false
		}
		select {
		case p.tasks <- r:
			p.pending++
			return true
		case a := <-p.results:
			p.handle(w, a)
		}
	}
}

// finish handles the answers still due; false when the walk must end.
func (p *pool) finish(w *collector.SliceWalk) bool {
	for p.pending > 0 {
		p.handle(w, <-p.results)
	}
	return p.err == nil && !p.stopped
}

// stop ends the workers, giving back the tokens of answers never emitted.
func (p *pool) stop() {
	p.cancel()
	close(p.tasks)
	go func() { p.wg.Wait(); close(p.results) }()
	for a := range p.results {
		if a.err == nil && a.skip == "" {
			p.f.release()
		}
	}
}

// handle emits one answer (or its skip) on the walk goroutine.
func (p *pool) handle(w *collector.SliceWalk, a *fetched) {
	p.pending--
	f, r := p.f, a.ref
	downloaded := a.err == nil && a.skip == ""
	if p.err != nil || p.stopped || a.err != nil {
		if downloaded {
			f.release()
		}
		if a.err != nil && p.err == nil && !p.stopped {
			p.err = a.err
		}
		return
	}
	w.Count(CountDownloadsRequests, a.attempts)
	var items []collector.Item
	var onAck func(error)
	if downloaded {
		w.Count(CountFilesDownloaded, 1)
		w.Count(CountFileBytes, len(a.body))
		f.hooks.records(RecordFile, 1)
		items = []collector.Item{{Origin: r.origin, Record: &collector.Record{Body: a.body, Meta: fileMeta(r, a)}}}
		onAck = func(error) { f.release() }
	} else {
		w.Count(CountFilesSkipped, 1)
		f.log.Warnf("file %s (%s of message %s, chat %s) skipped: %s: %v", r.id, r.kind, r.msg.ID, r.chat.ID, a.skip, a.detail)
		if f.hooks.OnFileSkipped != nil {
			f.hooks.OnFileSkipped(a.skip)
		}
		if f.cfg.EmitSkipped {
			items = []collector.Item{{Origin: r.origin, Record: &collector.Record{Body: []byte{}, Meta: fileMeta(r, a)}}}
		}
	}
	if items != nil && !r.unit.u.Emit(items, []collector.Key{r.key}, onAck) {
		if downloaded {
			f.release() // never taken: never acknowledged
		}
		p.stopped = true
		return
	}
	r.unit.left--
	if r.unit.left == 0 && r.unit.walked {
		r.unit.u.Close()
	}
}

func (f *Files) release() { <-f.tokens }

// fetch downloads one file on a worker: a token first (the memory bound),
// then the download, again on a broken body or an MD5 mismatch up to
// Retries times. The token stays taken only when the bytes are returned.
func (f *Files) fetch(ctx context.Context, r *fileRef) *fetched {
	a := &fetched{ref: r}
	if r.size > f.cfg.MaxFileSize {
		a.skip, a.detail = SkipTooLarge, fmt.Errorf("%d bytes announced, max_file_size is %d", r.size, f.cfg.MaxFileSize)
		return a
	}
	select {
	case f.tokens <- struct{}{}:
	case <-ctx.Done():
		a.err = ctx.Err()
		return a
	}
	for {
		a.attempts++
		start := f.now()
		body, dl, err := f.download(ctx, r)
		if err == nil {
			if f.hooks.OnFileDownloaded != nil {
				f.hooks.OnFileDownloaded(int64(len(body)), f.now().Sub(start))
			}
			a.body, a.dl = body, dl
			return a
		}
		retry := false
		var checksum *api.ChecksumError
		var tooLarge *api.TooLargeError
		switch {
		case ctx.Err() != nil:
			a.err = ctx.Err()
		case errors.As(err, &checksum):
			if f.hooks.OnChecksumFailure != nil {
				f.hooks.OnChecksumFailure()
			}
			a.skip, retry = SkipChecksum, true
		case errors.As(err, &tooLarge):
			a.skip = SkipTooLarge
		case api.IsNotFound(err):
			a.skip = SkipNotFound
			if e, ok := errors.AsType[*api.Error](err); ok && r.kind == KindGeneratedFile && strings.Contains(e.Message, "content not found") {
				a.skip = SkipExpired
			}
		case api.IsRetryable(err):
			a.skip, retry = SkipTransport, true
		default:
			// Auth errors and requests that failed after their retries
			// concern every file: the job fails.
			a.err = fmt.Errorf("file %s: %w", r.id, err)
		}
		a.detail = err
		if retry && a.attempts <= f.cfg.Retries {
			a.skip = ""
			continue
		}
		<-f.tokens
		return a
	}
}

// download reads one file to its end into one buffer: of the announced
// size when the response or the reference gives it, otherwise grown up to
// MaxFileSize.
func (f *Files) download(ctx context.Context, r *fileRef) ([]byte, *api.Download, error) {
	opts := api.DownloadOptions{MaxBytes: f.cfg.MaxFileSize, ExpectedMD5: r.md5}
	open := f.api.DownloadFile
	if r.kind == KindGeneratedFile {
		open = f.api.DownloadGeneratedFile
	}
	d, err := open(ctx, r.id, opts)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	hint := d.Size
	if hint < 0 {
		hint = r.size
	}
	body, err := readAll(d, hint, f.cfg.MaxFileSize)
	if err != nil {
		return nil, nil, err
	}
	return body, d, nil
}

// readAll reads r to EOF into one buffer of hint+1 bytes (the last byte
// lets the read that meets EOF happen without growing it); with no hint,
// or a wrong one, the buffer doubles, never beyond max+1.
func readAll(r io.Reader, hint, max int64) ([]byte, error) {
	size := hint
	if size < 0 || size > max {
		size = min(64<<10, max)
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			grown := min(int64(2*cap(buf)), max+1)
			if grown <= int64(cap(buf)) {
				grown = int64(cap(buf)) + 1 // the reader stops past max itself
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// fileMeta is a file message's metadata.
func fileMeta(r *fileRef, a *fetched) []collector.MetaField {
	m := metaList{{Key: "compliance_record_type", Value: RecordFile}}
	m.add("compliance_file_kind", r.kind)
	m.add("compliance_file_id", r.id)
	name, raw, ctype, size, sum, verified := r.filename, r.filename, r.mime, r.size, r.md5, "false"
	if d := a.dl; d != nil {
		if d.Filename != "" {
			name, raw = d.Filename, d.Filename
		}
		if d.ContentType != "" {
			ctype = d.ContentType
		}
		size, sum = d.BytesRead(), d.MD5()
		if d.Verified() {
			verified = "true"
		}
	}
	m.add("compliance_filename", api.SafeFilename(name))
	m.add("compliance_filename_raw", raw)
	m.add("compliance_content_type", ctype)
	if size >= 0 {
		m.add("compliance_file_size", strconv.FormatInt(size, 10))
	}
	m.add("compliance_file_md5", sum)
	if a.dl != nil {
		m.add("compliance_file_md5_verified", verified)
	}
	created := r.createdAt
	if created.IsZero() {
		created = r.msg.CreatedAt
	}
	m.add("compliance_file_created_at", created.UTC().Truncate(time.Second).Format(time.RFC3339))
	m.add("compliance_file_skipped", a.skip)
	m.add("chat_id", r.chat.ID)
	m.add("chat_message_id", r.msg.ID)
	m.add("chat_user_id", r.chat.UserID)
	m.add("chat_user_email", r.chat.UserEmail)
	m.add("chat_organization_uuid", r.chat.OrganizationUUID)
	return m
}

type nopLog struct{}

func (nopLog) Debugf(string, ...any) {}
func (nopLog) Infof(string, ...any)  {}
func (nopLog) Warnf(string, ...any)  {}
func (nopLog) Errorf(string, ...any) {}
