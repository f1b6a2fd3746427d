package atomicfile_test

import (
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// holdFlock takes an exclusive flock on path through its own descriptor, as
// another process would; the returned func releases it (once).
func holdFlock(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	var once sync.Once
	return func() { once.Do(func() { _ = f.Close() }) }
}
