package atomicfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/compliance-connect/compliance-connect/caches/cas"
)

// lockPrefix starts the name of every per-key lock file. Like temporary
// files, lock names start with '.', so they never collide with a key.
const lockPrefix = ".lock-"

// Swap stores value under key if the document stored there has revision
// expect (0: no file), as one atomic step among every process that uses the
// directory: it holds an exclusive flock on the key's lock file while it
// reads the stored revision (the head of the file only) and replaces the
// file (temporary file, fsync, rename, fsync of the directory). The kernel
// releases the lock when a process dies, so a killed writer never blocks the
// others. See cas.Store for the errors. A fence cannot be honoured here (the
// directory holds no leases) and is refused.
func (s *Store) Swap(ctx context.Context, key string, expect int64, value []byte, fence cas.Fence) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if !fence.IsZero() {
		return fmt.Errorf("atomicfile: swap key %q: a lease fence needs a store that holds leases (redis)", key)
	}
	if err := cas.CheckNext(expect, value); err != nil {
		return fmt.Errorf("atomicfile: swap key %q: %w", key, err)
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("atomicfile: swap key %q: %w", key, err)
	}
	defer unlock()

	found, missing, err := storedRev(path)
	switch {
	case expect == cas.ReplaceUnreadable:
		if err == nil {
			return &cas.ConflictError{Expected: expect, Found: found, Missing: missing}
		}
		if !errors.Is(err, cas.ErrUnreadable) {
			return fmt.Errorf("atomicfile: swap key %q: %w", key, err)
		}
	case err != nil:
		return fmt.Errorf("atomicfile: swap key %q (%s): %w", key, path, err)
	case missing && expect != 0, !missing && found != expect:
		return &cas.ConflictError{Expected: expect, Found: found, Missing: missing}
	}
	if err := s.Set(key, value); err != nil {
		return err
	}
	return nil
}

// storedRev reads the revision of the document in path: from its head when
// it has the contract's shape, else from the whole file. missing reports that
// there is no file.
func storedRev(path string) (rev int64, missing bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	head := make([]byte, cas.HeadSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	if rev, ok := cas.HeadRev(head[:n]); ok {
		return rev, false, nil
	}
	// An older document (rev anywhere) or not a document: read it all.
	rest, err := io.ReadAll(f)
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	rev, err = cas.Rev(append(head[:n], rest...))
	return rev, false, err
}

// lock takes the exclusive flock of key's lock file, polling (so that ctx can
// end the wait) until it is free. The returned func releases it.
func (s *Store) lock(ctx context.Context, key string) (func(), error) {
	sum := sha256.Sum256([]byte(key))
	path := filepath.Join(s.dir, lockPrefix+hex.EncodeToString(sum[:20]))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s (the file system must support flock): %w", path, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// casStore adapts Store to cas.Store.
type casStore struct{ s *Store }

// CAS returns the store's compare-and-swap view.
func (s *Store) CAS() cas.Store { return casStore{s} }

func (c casStore) Get(_ context.Context, key string) ([]byte, error) {
	v, err := c.s.Get(key)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", cas.ErrNotFound, err)
	}
	return v, err
}

func (c casStore) Swap(ctx context.Context, key string, expect int64, value []byte, fence cas.Fence) error {
	return c.s.Swap(ctx, key, expect, value, fence)
}
