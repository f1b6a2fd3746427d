package atomicfile_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
)

func openStore(t *testing.T) *atomicfile.Store {
	t.Helper()
	s, err := openBenchStore(t)
	require.NoError(t, err)
	return s
}

func openBenchStore(tb testing.TB) (*atomicfile.Store, error) {
	return atomicfile.Open(filepath.Join(tb.TempDir(), "state"))
}

// tempFiles lists the leftover temporary files in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestSetThenGetReturnsTheValueVerbatim(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
	}{
		{"json document", []byte(`{"version":1,"scanned_to":"2026-11-25T10:00:00Z"}` + "\n")},
		{"empty value", []byte{}},
		{"binary value", []byte{0, 1, 2, 0xff, '\n', 0}},
		{"one MiB", bytes.Repeat([]byte("0123456789abcdef"), 1<<16)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			require.NoError(t, s.Set("checkpoint", tc.value))

			got, err := s.Get("checkpoint")
			require.NoError(t, err)
			assert.Equal(t, tc.value, got)

			onDisk, err := os.ReadFile(s.Path("checkpoint"))
			require.NoError(t, err)
			assert.Equal(t, tc.value, onDisk, "the file holds the value verbatim")
			assert.Empty(t, tempFiles(t, s.Dir()), "no temporary file is left behind")
		})
	}
}

func TestSetReplacesTheOldValue(t *testing.T) {
	s := openStore(t)
	require.NoError(t, s.Set("k", []byte("a much longer first value")))
	require.NoError(t, s.Set("k", []byte("short")))

	got, err := s.Get("k")
	require.NoError(t, err)
	assert.Equal(t, "short", string(got))
}

func TestKeysMapToReadableFileNames(t *testing.T) {
	tests := []struct {
		key  string
		file string
	}{
		{"checkpoint", "checkpoint"},
		{"compliance:activities", "compliance%3Aactivities"},
		{"a/b", "a%2Fb"},
		{"a%2Fb", "a%252Fb"},
		{"with space", "with%20space"},
		{"dots.are_kept-too", "dots.are_kept-too"},
		{".", "%2E"},
		{"..", "%2E."},
		{".hidden", "%2Ehidden"},
		{"é", "%C3%A9"},
		{"nul\x00", "nul%00"},
	}
	s := openStore(t)
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			assert.Equal(t, filepath.Join(s.Dir(), tc.file), s.Path(tc.key))
		})
	}
}

func TestOddKeysRoundTripWithoutColliding(t *testing.T) {
	keys := []string{
		"compliance:activities", "compliance/activities", "compliance%3Aactivities", "compliance activities",
		".", "..", "...", ".tmp-x", "%2E", "a/../b", "../escape", "/abs/path", "é", "e\u0301", "日本語",
		"tab\tnewline\n", "nul\x00", "-", "_", "~", "A", "a",
	}
	s := openStore(t)
	for i, k := range keys {
		require.NoError(t, s.Set(k, fmt.Appendf(nil, "value %d", i)), "key %q", k)
	}
	for i, k := range keys {
		got, err := s.Get(k)
		require.NoError(t, err, "key %q", k)
		assert.Equal(t, fmt.Sprintf("value %d", i), string(got), "key %q", k)
		assert.Equal(t, s.Dir(), filepath.Dir(s.Path(k)), "key %q stays inside the directory", k)
	}
	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	assert.Len(t, entries, len(keys), "one file per key")
}

func TestInvalidKeysAreRefusedByEveryMethod(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name    string
		key     string
		wantMsg string
	}{
		{"empty", "", "the key is empty"},
		{"too long", strings.Repeat("k", atomicfile.MaxFileNameLen+1), "too long: its file name would be 256 bytes, the limit is 255"},
		{"too long once escaped", strings.Repeat(":", 86), "its file name would be 258 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, getErr := s.Get(tc.key)
			errs := []error{getErr, s.Set(tc.key, nil), s.Add(tc.key, nil), s.Delete(tc.key)}
			for i, err := range errs {
				require.ErrorIs(t, err, atomicfile.ErrInvalidKey, "method %d", i)
				assert.Contains(t, err.Error(), tc.wantMsg)
			}
			assert.Empty(t, s.Path(tc.key))
		})
	}
	longest := strings.Repeat("k", atomicfile.MaxFileNameLen)
	require.NoError(t, s.Set(longest, []byte("fits")), "a key exactly at the limit is accepted")
}

func TestGetOfAMissingKeyIsErrNotFound(t *testing.T) {
	s := openStore(t)
	_, err := s.Get("absent")
	require.ErrorIs(t, err, atomicfile.ErrNotFound)
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), s.Path("absent"))
}

func TestGetOfAnUnreadableFileNamesTheFileAndIsNotErrNotFound(t *testing.T) {
	s := openStore(t)
	// A directory where the value should be: it exists but cannot be read as a
	// file, whatever the user's privileges (tests may run as root).
	require.NoError(t, os.Mkdir(s.Path("checkpoint"), 0o700))

	_, err := s.Get("checkpoint")
	require.Error(t, err)
	assert.NotErrorIs(t, err, atomicfile.ErrNotFound)
	assert.Contains(t, err.Error(), s.Path("checkpoint"))
}

func TestGetReportsAVanishedDirectoryInsteadOfAMissingKey(t *testing.T) {
	s := openStore(t)
	require.NoError(t, s.Set("checkpoint", []byte("x")))
	require.NoError(t, os.RemoveAll(s.Dir()))

	_, err := s.Get("checkpoint")
	require.Error(t, err)
	assert.NotErrorIs(t, err, atomicfile.ErrNotFound)
	assert.Contains(t, err.Error(), "store directory "+s.Dir()+" is gone")
}

func TestAddStoresOnlyWhenTheKeyIsAbsent(t *testing.T) {
	s := openStore(t)
	require.NoError(t, s.Add("k", []byte("first")))

	err := s.Add("k", []byte("second"))
	require.ErrorIs(t, err, atomicfile.ErrExists)
	require.ErrorIs(t, err, fs.ErrExist)
	assert.Contains(t, err.Error(), s.Path("k"))

	got, err := s.Get("k")
	require.NoError(t, err)
	assert.Equal(t, "first", string(got))
	assert.Empty(t, tempFiles(t, s.Dir()))
}

func TestConcurrentAddsOfOneKeyHaveExactlyOneWinner(t *testing.T) {
	const writers = 32
	for round := range 20 {
		s := openStore(t)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-start
				errs[i] = s.Add("lease", fmt.Appendf(nil, "writer %d", i))
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "round %d: writers %d and %d both won", round, winner, i)
				winner = i
				continue
			}
			require.ErrorIs(t, err, atomicfile.ErrExists, "round %d writer %d", round, i)
		}
		require.NotEqual(t, -1, winner, "round %d: nobody won", round)
		got, err := s.Get("lease")
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("writer %d", winner), string(got))
		assert.Empty(t, tempFiles(t, s.Dir()))
	}
}

func TestConcurrentSetsAndGetsNeverSeeAPartialValue(t *testing.T) {
	s := openStore(t)
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 64<<10) }
	require.NoError(t, s.Set("k", value(0)))

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 10 {
				assert.NoError(t, s.Set("k", value(i)))
			}
		})
	}
	readErrs := make(chan error, 1)
	wg.Go(func() {
		for range 200 {
			got, err := s.Get("k")
			if err == nil && !bytes.Equal(got, value(int(got[0]-'a'))) {
				err = fmt.Errorf("partial or mixed value of %d bytes", len(got))
			}
			if err != nil {
				readErrs <- err
				return
			}
		}
	})
	wg.Wait()
	close(readErrs)
	require.NoError(t, <-readErrs)
}

func TestDeleteRemovesTheKeyAndIgnoresMissingKeys(t *testing.T) {
	s := openStore(t)
	require.NoError(t, s.Set("k", []byte("v")))
	require.NoError(t, s.Delete("k"))

	_, err := s.Get("k")
	require.ErrorIs(t, err, atomicfile.ErrNotFound)
	require.NoError(t, s.Delete("k"), "deleting a missing key is not an error")
	require.NoError(t, s.Add("k", []byte("again")), "a deleted key can be added again")
}

func TestLeftoverTempFilesAreIgnoredAndRemovedOnOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := atomicfile.Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.Set("checkpoint", []byte("complete")))
	// What a crash between "write temp" and "rename" leaves behind.
	leftover := filepath.Join(dir, ".tmp-123456")
	require.NoError(t, os.WriteFile(leftover, []byte("torn"), 0o600))

	got, err := s.Get("checkpoint")
	require.NoError(t, err)
	assert.Equal(t, "complete", string(got))
	_, err = s.Get(".tmp-123456")
	require.ErrorIs(t, err, atomicfile.ErrNotFound, "a temp file is never read as a key")

	// A fresh temp file may be another writer's write in flight: kept.
	_, err = atomicfile.Open(dir)
	require.NoError(t, err)
	assert.FileExists(t, leftover, "a temp file younger than ten minutes may be a write in flight")

	ageTempFiles(t, dir)
	s, err = atomicfile.Open(dir)
	require.NoError(t, err)
	assert.NoFileExists(t, leftover)
	got, err = s.Get("checkpoint")
	require.NoError(t, err)
	assert.Equal(t, "complete", string(got))
}

func TestOpenCreatesThePrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "state")
	s, err := atomicfile.Open(dir)
	require.NoError(t, err)
	assert.Equal(t, dir, s.Dir())

	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, info.IsDir())
	assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm())
}

func TestOpenRelativeDirectoryReportsAbsolutePaths(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := atomicfile.Open("compliance-state")
	require.NoError(t, err)
	assert.True(t, filepath.IsAbs(s.Path("k")), s.Path("k"))
}

func TestOpenErrorsNameTheDirectory(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))

	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"empty", "", "directory is empty"},
		{"a regular file", notADir, notADir},
		{"below a regular file", filepath.Join(notADir, "state"), filepath.Join(notADir, "state")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := atomicfile.Open(tc.dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOpenFailsOnADirectoryItCannotWrite(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// Root writes through permission bits; procfs refuses new files to anyone.
		if runtime.GOOS != "linux" {
			t.Skip("needs an unprivileged user or Linux procfs")
		}
		dir = "/proc/self"
	} else {
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	}

	_, err := atomicfile.Open(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "directory "+dir+" is not writable")
}

// ageTempFiles makes every temporary file in dir an hour old.
func ageTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	old := time.Now().Add(-time.Hour)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			require.NoError(t, os.Chtimes(filepath.Join(dir, e.Name()), old, old))
		}
	}
}

func TestCheckPermissionsWarnsAboutDirectoriesOthersCanWrite(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		want string
	}{
		{0o700, ""},
		{0o750, ""},
		{0o770, "group-writable (mode 0770)"},
		{0o777, "world-writable (mode 0777)"},
		{0o1777, "world-writable"},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.Chmod(dir, tc.mode))
			got := atomicfile.CheckPermissions(dir)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tc.want)
			assert.Contains(t, got, "chmod 700")
		})
	}
}

func TestCheckPermissionsWarnsAboutADirectoryOwnedByAnotherUser(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	other := os.Geteuid() + 1
	if err := os.Chown(dir, other, -1); err != nil {
		t.Skipf("cannot give the directory to another user without privileges: %v", err)
	}
	assert.Contains(t, atomicfile.CheckPermissions(dir), fmt.Sprintf("owned by uid %d", other))
}
