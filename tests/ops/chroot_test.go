package ops_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// requireChroot skips the test unless it can chroot (it must run as root),
// and fails instead when ./.ci/test set COMPLIANCE_TEST_CHROOT.
func requireChroot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("COMPLIANCE_TEST_CHROOT") != "" {
		t.Fatalf("COMPLIANCE_TEST_CHROOT is set but this test runs as uid %d: chroot needs root", os.Geteuid())
	}
	t.Skip("chroot needs root; set COMPLIANCE_TEST_CHROOT to make this a failure")
}

// buildStatic builds the packages with CGO_ENABLED=0 into dir, as the
// Dockerfile does (without -trimpath, which would rebuild every package),
// and checks that each result has no ELF interpreter and needs no shared
// library. It returns the binaries' paths in the order of pkgs.
func buildStatic(t *testing.T, dir string, pkgs ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build", "-ldflags", "-s -w", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %v: %s", pkgs, msg)
	var out []string
	for _, pkg := range pkgs {
		bin := filepath.Join(dir, filepath.Base(pkg))
		f, err := elf.Open(bin)
		require.NoError(t, err)
		for _, p := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s has an ELF interpreter: not static", pkg)
		}
		libs, err := f.ImportedLibraries()
		require.NoError(t, err)
		assert.Empty(t, libs, "%s needs shared libraries", pkg)
		require.NoError(t, f.Close())
		out = append(out, bin)
	}
	return out
}

// rootfs is an empty directory laid out like the image's final stage.
type rootfs struct {
	dir string
	img image
}

// stageImage lays out dir like the Dockerfile's final stage: every COPY of
// it is mapped to what the test built or has; a COPY the test does not know
// fails, so the image and this test cannot drift apart.
func stageImage(t *testing.T, img image, bin, probe, caBundle string) rootfs {
	t.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755)) // the user must reach its files
	for _, c := range img.copies {
		f := strings.Fields(c.args)
		require.Len(t, f, 2, "COPY %s: one source, one destination", c.args)
		src, dest := f[0], filepath.Join(dir, f[1])
		var local string
		switch {
		case c.flags["from"] == "" && !strings.HasPrefix(src, "/"):
			local = repoPath(src) // from the build context
		case src == "/out/compliance-connect":
			local = bin
		case src == "/out/healthcheck":
			local = probe
		case src == "/etc/ssl/certs/ca-certificates.crt":
			local = caBundle
		case strings.HasSuffix(src, "/lib/time/zoneinfo.zip"):
			local = filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip")
		case src == "/out/var-lib/":
			// the build stage's mkdir -p /out/var-lib/compliance-connect
			state := filepath.Join(dest, "compliance-connect")
			require.NoError(t, os.MkdirAll(state, 0o755))
			require.NoError(t, os.Chown(state, img.uid, img.gid), "the --chown of the state directory")
			continue
		default:
			t.Fatalf("the test does not know how to stage COPY %s: teach stageImage", c.args)
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(dest), 0o755))
		data, err := os.ReadFile(local)
		require.NoError(t, err)
		mode := os.FileMode(0o644)
		if strings.HasPrefix(f[1], "/usr/local/bin/") {
			mode = 0o755
		}
		require.NoError(t, os.WriteFile(dest, data, mode))
	}
	return rootfs{dir: dir, img: img}
}

// command runs argv inside the root as the image's user, in its working
// directory, with the environment a container runtime gives (PATH, HOME) plus
// the image's ENV and extra.
func (r rootfs) command(argv []string, extra ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Path = argv[0] // a path inside the root, not looked up on the host
	cmd.Dir = r.img.workdir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}
	for k, v := range r.img.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     r.dir,
		Credential: &syscall.Credential{Uid: uint32(r.img.uid), Gid: uint32(r.img.gid)},
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd
}

// host returns the host path of a path inside the root.
func (r rootfs) host(p string) string { return filepath.Join(r.dir, p) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// output collects a process's output for failure messages.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TestImageContentsRunInAnEmptyRoot proves the image's contents work
// without a container daemon: the static binaries are built like the
// Dockerfile builds them and laid out like its final stage in an empty
// directory, which becomes the root of every process, run as the image's
// user with only the image's environment:
//   - `compliance-connect demo` (built-in fake API) runs a job and writes its
//     checkpoint into the state volume; the HEALTHCHECK command reports it
//     healthy, and unhealthy where nothing answers; SIGTERM stops it cleanly;
//   - the default command's pipeline lints clean;
//   - a `once` backfill with `timezone: Europe/Paris` over HTTPS (the fake's
//     certificate in the image's CA bundle) delivers every activity and exits
//     0, and fails without the image's ZONEINFO.
func TestImageContentsRunInAnEmptyRoot(t *testing.T) {
	requireChroot(t)
	t.Parallel() // mostly the static build
	_, img := loadImage(t)
	bins := t.TempDir()
	built := buildStatic(t, bins, "./cmd/compliance-connect", "./deploy/healthcheck")
	bin, probe := built[0], built[1]

	// The fake API of the backfill, over TLS: its certificate joins the CA
	// bundle (the build stage's is Debian's, like this machine's).
	now := time.Now().UTC().Truncate(time.Second)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 14, Count: 250, From: now.Add(-time.Hour), To: now.Add(-5 * time.Minute)})
	const key = "sk-ant-api01-ops-chroot-test-key-0000000"
	api, err := fakeapi.New(fakeapi.Options{APIKeys: []string{key}, Dataset: data})
	require.NoError(t, err)
	tlsAPI := httptest.NewUnstartedServer(api)
	tlsAPI.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	tlsAPI.StartTLS()
	t.Cleanup(tlsAPI.Close)
	bundle := filepath.Join(bins, "ca-certificates.crt")
	system, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt") // optional: the test CA alone also works
	require.NoError(t, os.WriteFile(bundle, append(system, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsAPI.Certificate().Raw})...), 0o644))

	root := stageImage(t, img, bin, probe, bundle)

	t.Run("the demo runs a job, the health check sees it, SIGTERM stops it", func(t *testing.T) {
		httpAddr, apiAddr := freeAddr(t), freeAddr(t)
		var out output
		demo := root.command(append(img.entrypoint, "demo", "--http", httpAddr, "--api-addr", apiAddr, "--count", "300"))
		demo.Stdout, demo.Stderr = &out, &out
		require.NoError(t, demo.Start())
		exited := make(chan error, 1)
		go func() { exited <- demo.Wait() }()
		t.Cleanup(func() {
			_ = demo.Process.Kill()
			<-exited
		})

		var report struct {
			Jobs []struct {
				Outcome string `json:"outcome"`
				Emitted int    `json:"activities_emitted"`
			} `json:"jobs"`
		}
		require.Eventually(t, func() bool {
			select {
			case err := <-exited:
				exited <- err
				return true // reported below
			default:
			}
			resp, err := http.Get("http://" + httpAddr + "/compliance/demo/jobs")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&report) == nil && len(report.Jobs) > 0
		}, 60*time.Second, 50*time.Millisecond, "waiting for the demo's first job:\n%s", out.String())
		require.NotEmpty(t, report.Jobs, "the demo exited:\n%s", out.String())
		assert.Equal(t, "success", report.Jobs[0].Outcome, out.String())
		assert.Positive(t, report.Jobs[0].Emitted)

		healthy := append([]string{}, img.healthcheck...)
		healthy[len(healthy)-1] = strings.Replace(healthy[len(healthy)-1], "127.0.0.1:4195", httpAddr, 1)
		msg, err := root.command(healthy).CombinedOutput()
		assert.NoError(t, err, "HEALTHCHECK %v: %s", healthy, msg)
		unhealthy := append([]string{}, img.healthcheck...)
		unhealthy[len(unhealthy)-1] = strings.Replace(unhealthy[len(unhealthy)-1], "127.0.0.1:4195", freeAddr(t), 1)
		msg, err = root.command(unhealthy).CombinedOutput()
		assert.Error(t, err, "the health check fails where nothing answers: %s", msg)

		require.NoError(t, demo.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-exited:
			exited <- err
			assert.NoError(t, err, "the demo exits 0 on SIGTERM:\n%s", out.String())
		case <-time.After(60 * time.Second):
			t.Fatalf("the demo did not stop within 60s of SIGTERM:\n%s", out.String())
		}

		ckpt := root.host(filepath.Join(img.workdir, "compliance-state", "demo", "anthropic_compliance%2Fdemo%2Factivities"))
		raw, err := os.ReadFile(ckpt)
		require.NoError(t, err, "the checkpoint is in the state volume:\n%s", out.String())
		var rec struct {
			ScannedTo string `json:"scanned_to"`
		}
		require.NoError(t, json.Unmarshal(raw, &rec))
		assert.NotEmpty(t, rec.ScannedTo)
		fi, err := os.Stat(ckpt)
		require.NoError(t, err)
		assert.Equal(t, uint32(img.uid), fi.Sys().(*syscall.Stat_t).Uid, "written by the image's user")
		assert.NotContains(t, out.String(), "panic")
	})

	t.Run("the default command's pipeline lints clean in the image", func(t *testing.T) {
		argv := append(append([]string{}, img.entrypoint...), "lint", img.cmd[len(img.cmd)-1])
		msg, err := root.command(argv, "ANTHROPIC_COMPLIANCE_API_KEY=dummy-key").CombinedOutput()
		require.NoError(t, err, "%s", msg)
		assert.Empty(t, strings.TrimSpace(string(msg)))
	})

	t.Run("a once backfill over TLS in a time zone delivers everything and exits 0", func(t *testing.T) {
		pipeline := fmt.Sprintf(`
http:
  address: %s
input:
  label: tls
  anthropic_compliance:
    api_key: ${ANTHROPIC_COMPLIANCE_API_KEY}
    base_url: %s
    endpoints:
      - name: activities
        schedule: once
        timezone: Europe/Paris
        earliest: "%s"
        latest: "%s"
output:
  file:
    path: ./tls-activities.jsonl
    codec: lines
`, freeAddr(t), tlsAPI.URL,
			now.Add(-time.Hour).Format(time.RFC3339), now.Add(-3*time.Minute).Format(time.RFC3339))
		conf := filepath.Join(img.workdir, "tls.yaml")
		require.NoError(t, os.WriteFile(root.host(conf), []byte(pipeline), 0o644))
		argv := append(append([]string{}, img.entrypoint...), "run", conf)

		msg, err := root.command(argv, "ANTHROPIC_COMPLIANCE_API_KEY="+key).CombinedOutput()
		require.NoError(t, err, "the backfill exits 0:\n%s", msg)
		assert.NotContains(t, string(msg), key, "the key never appears in the output")
		f, err := os.Open(root.host(filepath.Join(img.workdir, "tls-activities.jsonl")))
		require.NoError(t, err)
		defer f.Close()
		assert.Equal(t, len(data), countLines(t, f), "every activity was delivered")

		// Without the image's ZONEINFO the time zone cannot be loaded: the
		// variable is what makes it work in an empty root.
		var env []string
		for _, kv := range root.command(argv).Env {
			if !strings.HasPrefix(kv, "ZONEINFO=") {
				env = append(env, kv)
			}
		}
		noZone := root.command(argv)
		noZone.Env = append(env, "ANTHROPIC_COMPLIANCE_API_KEY="+key)
		msg, err = noZone.CombinedOutput()
		require.Error(t, err, "without ZONEINFO the pipeline is refused:\n%s", msg)
		assert.Contains(t, string(msg), "Europe/Paris")
	})
}

func countLines(t *testing.T, r io.Reader) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	require.NoError(t, sc.Err())
	return n
}
