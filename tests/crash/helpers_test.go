package crash_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

const (
	apiKeyEnv = "ANTHROPIC_COMPLIANCE_API_KEY"
	apiKey    = "sk-ant-api01-crash-test-key-0123456789"
	// stateFile is the atomic_file name of the checkpoint key
	// anthropic_compliance/crash/activities (every '/' escaped as %2F).
	stateFile = "anthropic_compliance%2Fcrash%2Factivities"
	// idMarker starts every activity the fake serves: the input writes the
	// raw JSON unchanged and the id is always its first field. A string value
	// cannot contain it (its quotes would be escaped).
	idMarker = `{"id":"`
)

// buildBinary builds the real compliance-connect binary (without -race: it
// runs as a subprocess, so the race detector would only slow it down).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "compliance-connect")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/compliance-connect/compliance-connect/cmd/compliance-connect").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// workdir holds the paths of one crash proof.
type workdir struct {
	state, output, config, logs string
}

// pipeline is the config every run of the binary uses.
func pipeline(baseURL string, w *workdir, sc scale) string {
	return fmt.Sprintf(`http:
  enabled: false
logger:
  level: INFO
  format: logfmt
input:
  label: crash
  anthropic_compliance:
    api_key: ${%s}
    base_url: %s
    state:
      path: %s
    overlap: %s
    max_slice: %s
    target_per_slice: %d
    max_open_slices: %d
    endpoints:
      - name: activities
        schedule: "@every 1s"
        earliest: -3d
        page_size: 5000
output:
  file:
    path: %s
    codec: lines
shutdown_timeout: 20s
`, apiKeyEnv, baseURL, w.state, overlap, maxSlice, sc.target, maxOpenSlices, w.output)
}

// dataset indexes the backfill.
type dataset struct {
	created  map[string]time.Time
	last     time.Time // created_at of the newest activity
	meanSize int       // mean JSON size in bytes
}

func newDataset(data []fakeapi.Activity) *dataset {
	ds := &dataset{created: make(map[string]time.Time, len(data))}
	total := 0
	for _, a := range data {
		ds.created[a.ID] = a.CreatedAt
		if a.CreatedAt.After(ds.last) {
			ds.last = a.CreatedAt
		}
		total += len(a.JSON) + 1
	}
	if len(data) > 0 {
		ds.meanSize = total / len(data)
	}
	return ds
}

//------------------------------------------------------------------------------

// proc is one run of the binary.
type proc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time
}

func openLog(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = f.Close()
		if t.Failed() {
			t.Logf("last lines of the binary's log %s:\n%s", path, tail(path))
		}
	})
	return f
}

// startBinary runs `compliance-connect run config`, logging to logs.
func startBinary(t *testing.T, bin, config string, logs *os.File, run int) *proc {
	t.Helper()
	_, _ = fmt.Fprintf(logs, "\n===== run %d =====\n", run+1)
	cmd := exec.Command(bin, "run", config)
	cmd.Env = append(os.Environ(), apiKeyEnv+"="+apiKey)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan struct{}), started: time.Now()}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitOrExit waits d, or until the process exits.
// waitForNew waits until this run has written n activities no earlier run
// wrote, the process exits, or until passes.
func (p *proc) waitForNew(t *testing.T, out *outputReader, n int, until time.Time) {
	t.Helper()
	for !p.exited() && time.Now().Before(until) {
		out.poll(t)
		if out.runNew >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// kill sends SIGKILL, waits for the process to die and returns how long it ran.
func (p *proc) kill(t *testing.T) time.Duration {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the binary was not killed by SIGKILL: %v", p.cmd.ProcessState)
	return time.Since(p.started)
}

// stop ends the process with SIGTERM (a clean shutdown) and checks it exits 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the binary did not exit within 60s of SIGTERM")
	}
	require.True(t, p.cmd.ProcessState.Success(), "the binary exited with %v after SIGTERM", p.cmd.ProcessState)
}

//------------------------------------------------------------------------------

// killRecord is what one kill did and left behind.
type killRecord struct {
	n     int
	how   string
	delay time.Duration // time-based kill
	// fresh is how many new activities a progress-based kill waited for.
	fresh int
	ran   time.Duration

	// written is how many activities this run wrote; dupsBefore how many of
	// them an earlier run had written: what the previous kill made it
	// re-deliver.
	written, dupsBefore int
	// exposed is how many written activities the checkpoint left at this
	// kill does not cover: what the next run will deliver again.
	exposed     int
	rec         *checkpoint.Record // nil: no checkpoint yet
	temps       int                // temporary files the kill left in the state directory
	midBackfill bool
}

func describe(rec *checkpoint.Record) string {
	if rec == nil {
		return "none"
	}
	return fmt.Sprintf("rev %d scanned_to %s (seen %d, pending %d)", rec.Rev, rec.ScannedTo.Format(time.RFC3339), rec.Seen.Len(), len(rec.Pending))
}

// readCheckpoint reads the checkpoint file; nil when there is none. A file
// that does not decode fails the test.
func readCheckpoint(t *testing.T, stateDir string, kill int) *checkpoint.Record {
	t.Helper()
	path := filepath.Join(stateDir, stateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	rec, err := checkpoint.Decode(data)
	require.NoError(t, err, "after kill %d the checkpoint %s does not decode", kill, path)
	return rec
}

// readCheckpointQuiet is readCheckpoint for polling: nil on any problem.
func readCheckpointQuiet(stateDir string) *checkpoint.Record {
	data, err := os.ReadFile(filepath.Join(stateDir, stateFile))
	if err != nil {
		return nil
	}
	rec, err := checkpoint.Decode(data)
	if err != nil {
		return nil
	}
	return rec
}

func countTemps(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			n++
		}
	}
	return n
}

//------------------------------------------------------------------------------

// outputReader follows the file output, also while a run writes it.
type outputReader struct {
	path string
	// marker starts every top-level document (idMarker when empty).
	marker string
	off    int64
	ids    []string            // every id written, in order
	seen   map[string]struct{} // distinct ids written

	runNew, runDups int // ids of the current run: first written, written before
	fragments       int // documents cut inside their id by a kill
}

// plainID reports whether s can be an activity id (a cut id runs into the
// next document's '{').
func plainID(s string) bool {
	for _, c := range s {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// poll reads the ids written since the last call. A document still being
// written is read again next time: the offset stays before its id until the
// id's closing quote is there.
func (o *outputReader) poll(t *testing.T) {
	t.Helper()
	f, err := os.Open(o.path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Seek(o.off, io.SeekStart)
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	pos := 0
	marker := []byte(o.mark())
	for {
		i := bytes.Index(b[pos:], marker)
		if i < 0 {
			break
		}
		start := pos + i + len(`{"id":"`)
		j := bytes.IndexByte(b[start:], '"')
		if j < 0 {
			break
		}
		id := string(b[start : start+j])
		pos = start + j
		if !plainID(id) {
			// A torn write: a kill cut this document inside its id and the
			// next run's document follows on the same line. The activity
			// was not acknowledged and is written again later.
			o.fragments++
			continue
		}
		o.ids = append(o.ids, id)
		if _, dup := o.seen[id]; dup {
			o.runDups++
		} else {
			o.seen[id] = struct{}{}
			o.runNew++
		}
	}
	o.off += int64(pos)
}

// endRun returns how many activities the run wrote and how many of them had
// been written before, and starts counting the next run.
func (o *outputReader) endRun() (written, dups int) {
	written, dups = o.runNew+o.runDups, o.runDups
	o.runNew, o.runDups = 0, 0
	return written, dups
}

// exposed counts the written activities that the next run will deliver
// again: those its first job reads (created_at >= max(scanned_to - overlap,
// seen_from, floor)) and does not drop as known (seen or pending).
func (o *outputReader) exposed(rec *checkpoint.Record, ds *dataset, overlap time.Duration) int {
	if rec == nil {
		return len(o.seen)
	}
	from := rec.ScannedToTime().Add(-overlap)
	if sf := rec.SeenFromTime(); sf.After(from) {
		from = sf
	}
	if fl := rec.FloorTime(); fl.After(from) {
		from = fl
	}
	n := 0
	for id := range o.seen {
		if !ds.created[id].Before(from) && !rec.Known(id) {
			n++
		}
	}
	return n
}

// complete parses the whole output and returns the ids of complete
// documents, the documents a kill cut short (an invalid document followed by
// another on the same line: the next run appended to the unterminated line),
// and the invalid documents that are not explained by a kill.
func (o *outputReader) complete(t *testing.T) (ids map[string]struct{}, cut, bad int) {
	t.Helper()
	b, err := os.ReadFile(o.path)
	require.NoError(t, err)
	ids = map[string]struct{}{}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		starts := markerOffsets(line, o.mark())
		if len(starts) == 0 || starts[0] != 0 {
			bad++
			continue
		}
		for i, s := range starts {
			end := len(line)
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			var doc struct {
				ID string `json:"id"`
			}
			switch {
			case json.Unmarshal(line[s:end], &doc) == nil:
				ids[doc.ID] = struct{}{}
			case i+1 < len(starts):
				cut++
			default:
				bad++
			}
		}
	}
	return ids, cut, bad
}

// compare lists the dataset ids never written as a complete document and the
// complete documents' ids that are not in the dataset, sorted.
func (o *outputReader) compare(t *testing.T, ds *dataset) (missing, unexpected []string, cut, bad int) {
	t.Helper()
	ids, cut, bad := o.complete(t)
	for id := range ds.created {
		if _, ok := ids[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range ids {
		if _, ok := ds.created[id]; !ok {
			unexpected = append(unexpected, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	return missing, unexpected, cut, bad
}

func markerOffsets(line []byte, marker string) []int {
	var out []int
	for off := 0; ; {
		i := bytes.Index(line[off:], []byte(marker))
		if i < 0 {
			return out
		}
		out = append(out, off+i)
		off += i + len(marker)
	}
}

func (o *outputReader) mark() string {
	if o.marker == "" {
		return idMarker
	}
	return o.marker
}

// tail returns the last lines of a file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func headOf(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}
