package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaxFileNameLen is the longest file name a key may map to (NAME_MAX on Linux
// file systems). Keys whose escaped form is longer are refused by every method.
const MaxFileNameLen = 255

// tempPrefix starts the name of every temporary file. Escaped key names never
// start with '.', so a temp file can never be mistaken for a key.
const tempPrefix = ".tmp-"

var (
	// ErrNotFound is returned (wrapped) by Get when no file holds the key.
	// errors.Is(err, fs.ErrNotExist) also holds for it.
	ErrNotFound error = &sentinel{msg: "atomicfile: key not found", is: fs.ErrNotExist}

	// ErrExists is returned (wrapped) by Add when the key already has a value.
	// errors.Is(err, fs.ErrExist) also holds for it.
	ErrExists error = &sentinel{msg: "atomicfile: key already exists", is: fs.ErrExist}

	// ErrInvalidKey is returned (wrapped) for an empty key or one whose file
	// name would exceed MaxFileNameLen.
	ErrInvalidKey = errors.New("atomicfile: invalid key")
)

// sentinel is an error value that also matches a standard library error.
type sentinel struct {
	msg string
	is  error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.is }

// Store keeps one file per key in a directory. Values are stored verbatim, so
// an operator can `cat` them; file names are the keys with every byte outside
// [A-Za-z0-9._-] (and a leading '.') written as %XX, e.g. key
// "compliance:activities/a b" is the file "compliance%3Aactivities%2Fa%20b".
//
// A Store is safe for concurrent use: it holds no mutable state, and each
// write goes through its own temporary file. Writes to one key are ordered by
// the file system (last rename wins). One process should own a directory:
// Open removes temporary files, which makes a write in flight in another
// process fail (loudly, never with a torn value).
type Store struct {
	dir string
}

// staleTemp is how old a temporary file must be before Open removes it as a
// crash leftover. A live writer renames its temp file within moments, so a
// second Open of a directory in use (the state command while an input runs)
// never removes a write in flight.
const staleTemp = 10 * time.Minute

// Open returns a Store on dir, creating it (mode 0700, with parents) when
// missing, and removes temporary files that a crash left behind (those older
// than ten minutes). It fails when dir is not a directory or is not writable;
// errors name the directory.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("atomicfile: directory is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("atomicfile: directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("atomicfile: create directory %s: %w", abs, err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("atomicfile: read directory %s: %w", abs, err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleTemp {
			continue // gone already, or possibly a write in flight
		}
		if err := os.Remove(filepath.Join(abs, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("atomicfile: remove leftover temporary file: %w", err)
		}
	}
	// Probe: a store that cannot write should fail now, not at the first commit.
	probe, err := os.CreateTemp(abs, tempPrefix+"probe-*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: directory %s is not writable: %w", abs, err)
	}
	_ = probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("atomicfile: directory %s: remove probe file: %w", abs, err)
	}
	return &Store{dir: abs}, nil
}

// Dir returns the absolute path of the store's directory.
func (s *Store) Dir() string {
	return s.dir
}

// Path returns the file that holds key (whether or not it exists), for error
// messages and operators. An invalid key yields "" (see ErrInvalidKey).
func (s *Store) Path(key string) string {
	name, err := fileName(key)
	if err != nil {
		return ""
	}
	return filepath.Join(s.dir, name)
}

// Get returns the value of key. A key with no file gives an error wrapping
// ErrNotFound; a file that exists but cannot be read gives an error naming
// it, never ErrNotFound. If the directory itself has vanished (deleted,
// unmounted) Get says so instead of reporting the key as absent.
func (s *Store) Get(key string) ([]byte, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("atomicfile: read key %q from %s: %w", key, path, err)
	}
	if info, derr := os.Stat(s.dir); derr != nil || !info.IsDir() {
		return nil, fmt.Errorf("atomicfile: read key %q: store directory %s is gone (deleted or unmounted?): %w", key, s.dir, err)
	}
	return nil, fmt.Errorf("%w: %q (file %s)", ErrNotFound, key, path)
}

// Set stores value under key, replacing any old value atomically: the value is
// written and fsynced to a temporary file in the same directory, renamed over
// the key's file, and the directory is fsynced. When Set returns nil the value
// is durable; when it fails the old value (or absence) is intact.
func (s *Store) Set(key string, value []byte) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(value)
	if err != nil {
		return fmt.Errorf("atomicfile: set key %q (%s): %w", key, path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("atomicfile: set key %q: replace %s: %w", key, path, err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("atomicfile: set key %q (%s): %w", key, path, err)
	}
	return nil
}

// Add stores value under key only if key has no value yet; otherwise it
// returns an error wrapping ErrExists and leaves the old value alone. The
// value is written and fsynced to a temporary file that is then hard-linked
// to the key's file name, so of several concurrent Adds exactly one wins and
// no reader ever sees a partial value.
func (s *Store) Add(key string, value []byte) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(value)
	if err != nil {
		return fmt.Errorf("atomicfile: add key %q (%s): %w", key, path, err)
	}
	linkErr := os.Link(tmp, path)
	_ = os.Remove(tmp)
	if errors.Is(linkErr, fs.ErrExist) {
		return fmt.Errorf("%w: %q (file %s)", ErrExists, key, path)
	}
	if linkErr != nil {
		return fmt.Errorf("atomicfile: add key %q: link %s (the file system must support hard links): %w", key, path, linkErr)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("atomicfile: add key %q (%s): %w", key, path, err)
	}
	return nil
}

// Delete removes key and fsyncs the directory. Deleting a missing key is not
// an error.
func (s *Store) Delete(key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("atomicfile: delete key %q: %w", key, err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("atomicfile: delete key %q (%s): %w", key, path, err)
	}
	return nil
}

//------------------------------------------------------------------------------

func (s *Store) path(key string) (string, error) {
	name, err := fileName(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, name), nil
}

// writeTemp writes value to a new temporary file in the store's directory,
// fsyncs and closes it, and returns its path. On error nothing is left behind.
func (s *Store) writeTemp(value []byte) (path string, err error) {
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(value); err != nil {
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// syncDir makes the directory entry changes (rename, link, unlink) durable.
func (s *Store) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", s.dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("fsync directory %s: %w", s.dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("close directory %s: %w", s.dir, cerr)
	}
	return nil
}

// fileName maps a key to a readable, collision-free file name: bytes in
// [A-Za-z0-9._-] are kept, every other byte (and a leading '.', so names never
// collide with ".", ".." or temporary files) becomes %XX in upper-case hex.
func fileName(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: the key is empty", ErrInvalidKey)
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isPlain(c) && (c != '.' || i > 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	if b.Len() > MaxFileNameLen {
		return "", fmt.Errorf("%w: key %q is too long: its file name would be %d bytes, the limit is %d",
			ErrInvalidKey, shorten(key), b.Len(), MaxFileNameLen)
	}
	return b.String(), nil
}

func isPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// shorten keeps error messages readable when a key is very long.
func shorten(key string) string {
	const keep = 60
	if len(key) <= keep {
		return key
	}
	return key[:keep] + "…"
}
