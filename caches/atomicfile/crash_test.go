package atomicfile_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
)

// crashChildDirEnv switches the test binary into the writer child of
// TestSetSurvivesSIGKILLAtRandomPoints.
const crashChildDirEnv = "ATOMICFILE_CRASH_CHILD_DIR"

const crashKey = "compliance:activities/checkpoint"

// alphabet is the repeating body pattern of crash values, long enough to slice
// any body from it without copying byte by byte.
var alphabet = bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), (1<<20)/26+2)

// crashValue is the deterministic value of generation gen: a header naming gen
// and the size, a body whose bytes depend on gen, and a trailer. Sizes range
// from 1 KiB to about 1 MiB so that kills land inside writes of varying length.
func crashValue(gen int) []byte {
	size := 1024 + (gen*7919)%(1<<20)
	b := fmt.Appendf(make([]byte, 0, size+40), "gen=%010d size=%010d\n", gen, size)
	b = append(b, alphabet[gen%26:gen%26+size]...)
	return append(b, "\nend\n"...)
}

// checkCrashValue returns the generation of v, or an error when v is not
// exactly crashValue of the generation its header names.
func checkCrashValue(v []byte) (int, error) {
	var gen, size int
	if _, err := fmt.Sscanf(string(v[:min(len(v), 33)]), "gen=%d size=%d\n", &gen, &size); err != nil {
		return 0, fmt.Errorf("unreadable header in %d bytes: %w", len(v), err)
	}
	if !bytes.Equal(v, crashValue(gen)) {
		return 0, fmt.Errorf("generation %d: %d bytes do not match the expected %d", gen, len(v), len(crashValue(gen)))
	}
	return gen, nil
}

// runCrashChild Sets the key in a tight loop, each generation one above the
// stored one, and prints "ready" after its first Set. It exits when stdin
// closes, so a parent that dies cannot leave it running.
func runCrashChild(dir string) {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	s, err := atomicfile.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	gen := 0
	if v, err := s.Get(crashKey); err == nil {
		last, err := checkCrashValue(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		gen = last + 1
	}
	for first := true; ; gen++ {
		if err := s.Set(crashKey, crashValue(gen)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if first {
			fmt.Println("ready")
			first = false
		}
	}
}

// TestSetSurvivesSIGKILLAtRandomPoints re-executes this test binary as a child
// that overwrites one key in a tight loop, SIGKILLs it at a random moment, and
// checks that the key always holds one complete value whose generation never
// goes backwards. SIGKILL keeps the page cache, so this proves atomicity against
// process death, not durability against power loss (that rests on the fsyncs).
func TestSetSurvivesSIGKILLAtRandomPoints(t *testing.T) {
	if dir := os.Getenv(crashChildDirEnv); dir != "" {
		runCrashChild(dir)
		return
	}
	const kills = 25
	dir := filepath.Join(t.TempDir(), "state")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("kill delays from seed %d", seed)

	lastGen, midWrite := -1, 0
	for kill := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSetSurvivesSIGKILLAtRandomPoints$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildDirEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("kill %d: child did not get ready (line %q, err %v): %s", kill, line, err, stderr.String())
		}
		time.Sleep(time.Duration(rng.Int64N(int64(20 * time.Millisecond))))
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		_ = stdin.Close()
		require.Contains(t, cmd.ProcessState.String(), "killed", "kill %d: the child must die by SIGKILL, not exit: %s", kill, stderr.String())

		if len(tempFiles(t, dir)) > 0 {
			midWrite++
		}
		ageTempFiles(t, dir) // a restart long after the crash
		s, err := atomicfile.Open(dir)
		require.NoError(t, err)
		require.Empty(t, tempFiles(t, dir), "Open removes the killed writer's stale temporary file")
		v, err := s.Get(crashKey)
		require.NoError(t, err, "kill %d", kill)
		gen, err := checkCrashValue(v)
		require.NoError(t, err, "kill %d: the file must hold one complete value", kill)
		require.GreaterOrEqual(t, gen, lastGen, "kill %d: the generation went backwards", kill)
		lastGen = gen
	}
	t.Logf("%d kills, 0 torn values, %d kills landed while a temporary file existed, last generation %d", kills, midWrite, lastGen)
}
