package atomicfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/caches/cas/castest"
)

func TestSwapConformsToTheCASContract(t *testing.T) {
	castest.Run(t, castest.Harness{
		New: func(t *testing.T) (cas.Store, func(string, []byte)) {
			s := openStore(t)
			return s.CAS(), func(key string, raw []byte) { require.NoError(t, s.Set(key, raw)) }
		},
	})
}

// swapChildEnv switches the test binary into a writer child of
// TestSwapIsAtomicAcrossProcesses: "<dir> <key> <count>".
const swapChildEnv = "ATOMICFILE_SWAP_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(swapChildEnv); args != "" {
		f := strings.Fields(args)
		n, _ := strconv.Atoi(f[2])
		if err := incrementN(f[0], f[1], n, "child"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// incrementN makes n successful read-then-swap increments of key's revision,
// reading again after every conflict.
func incrementN(dir, key string, n int, who string) error {
	s, err := atomicfile.Open(dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for i := 0; i < n; {
		v, err := s.Get(key)
		if err != nil {
			return err
		}
		rev, err := cas.Rev(v)
		if err != nil {
			return err
		}
		err = s.Swap(ctx, key, rev, castest.Doc(rev+1, fmt.Sprintf("%s-%d", who, i)), cas.Fence{})
		if _, conflict := errors.AsType[*cas.ConflictError](err); conflict {
			continue
		}
		if err != nil {
			return err
		}
		i++
	}
	return nil
}

// The CLI and a running input are different processes sharing the directory:
// three processes increment one revision concurrently and none loses an
// update (without the lock, two read-compare-write sequences interleave and
// the final revision falls short).
func TestSwapIsAtomicAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := atomicfile.Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.Swap(context.Background(), "k", 0, castest.Doc(1, "start"), cas.Fence{}))
	const each = 60
	var children []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s k %d", swapChildEnv, dir, each))
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		children = append(children, cmd)
	}
	require.NoError(t, incrementN(dir, "k", each, "parent"))
	for _, c := range children {
		require.NoError(t, c.Wait())
	}
	v, err := s.Get("k")
	require.NoError(t, err)
	rev, err := cas.Rev(v)
	require.NoError(t, err)
	assert.Equal(t, int64(1+3*each), rev)
}

func TestSwapWaitsForTheLockOnlyAsLongAsItsContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := atomicfile.Open(dir)
	require.NoError(t, err)
	// Hold the key's lock from "another process": a second descriptor.
	locks, err := filepath.Glob(filepath.Join(dir, ".lock-*"))
	require.NoError(t, err)
	require.Empty(t, locks)
	require.NoError(t, s.Swap(context.Background(), "k", 0, castest.Doc(1, "a"), cas.Fence{}))
	locks, err = filepath.Glob(filepath.Join(dir, ".lock-*"))
	require.NoError(t, err)
	require.Len(t, locks, 1, "one lock file per key")
	release := holdFlock(t, locks[0])
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = s.Swap(ctx, "k", 1, castest.Doc(2, "b"), cas.Fence{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	release()
	require.NoError(t, s.Swap(context.Background(), "k", 1, castest.Doc(2, "b"), cas.Fence{}), "free again once released")
}
