package ops_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction: the keyword (upper case), its
// --flags and the rest of the line.
type instruction struct {
	cmd   string
	flags map[string]string
	args  string
}

// stage is one FROM ... [AS name] and its instructions.
type stage struct {
	from, name string
	body       []instruction
}

// parseDockerfile reads the instructions of each stage: comments and the
// parser directive are dropped, continuation lines joined. It knows what
// this repository's Dockerfile uses, not the whole syntax (heredocs).
func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			logical = append(logical, s)
		}
		cur.Reset()
	}
	require.Empty(t, strings.TrimSpace(cur.String()), "the Dockerfile ends in a continuation")

	var stages []stage
	for _, l := range logical {
		cmd, rest, _ := strings.Cut(l, " ")
		in := instruction{cmd: strings.ToUpper(cmd), flags: map[string]string{}}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			var flag string
			flag, rest, _ = strings.Cut(rest, " ")
			k, v, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
			in.flags[k] = v
			rest = strings.TrimSpace(rest)
		}
		in.args = rest
		switch {
		case in.cmd == "ARG" && len(stages) == 0:
			// a global build argument
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		default:
			require.NotEmpty(t, stages, "%s before FROM", in.cmd)
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
		}
	}
	require.NotEmpty(t, stages)
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last returns the args of the stage's last cmd instruction ("" if none).
func (s stage) last(cmd string) string {
	all := s.all(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1].args
}

// execForm decodes a JSON-array argument (["a", "b"]).
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	require.NoError(t, json.Unmarshal([]byte(args), &out), "%s must be in exec form (a JSON array), got %q", what, args)
	require.NotEmpty(t, out, what)
	return out
}

// envOf returns the ENV pairs of a stage (KEY=value forms only).
func envOf(t *testing.T, s stage) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, "ENV %q: use KEY=value", in.args)
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// image is what the final stage of the Dockerfile says about the image.
type image struct {
	copies      []instruction
	user        string
	uid, gid    int
	workdir     string
	env         map[string]string
	entrypoint  []string
	cmd         []string
	healthcheck []string // the probe command after CMD
	volumes     []string
}

func loadImage(t *testing.T) (build stage, img image) {
	t.Helper()
	data, err := os.ReadFile(repoPath("Dockerfile"))
	require.NoError(t, err)
	stages := parseDockerfile(t, string(data))
	require.GreaterOrEqual(t, len(stages), 2, "a multi-stage build")
	final := stages[len(stages)-1]
	require.Equal(t, "scratch", final.from, "the final stage starts from an empty image")
	for _, s := range stages[:len(stages)-1] {
		if s.name == "build" {
			build = s
		}
	}
	require.NotEmpty(t, build.from, "a stage named build")

	img.copies = final.all("COPY")
	img.user = final.last("USER")
	u, g, _ := strings.Cut(img.user, ":")
	img.uid, err = strconv.Atoi(u)
	require.NoError(t, err, "USER must be numeric (scratch has no /etc/passwd), got %q", img.user)
	img.gid, err = strconv.Atoi(g)
	require.NoError(t, err, "USER must name a numeric group, got %q", img.user)
	img.workdir = final.last("WORKDIR")
	img.env = envOf(t, final)
	img.entrypoint = execForm(t, "ENTRYPOINT", final.last("ENTRYPOINT"))
	img.cmd = execForm(t, "CMD", final.last("CMD"))
	hc := final.last("HEALTHCHECK")
	probe, ok := strings.CutPrefix(strings.TrimSpace(hc), "CMD ")
	require.True(t, ok, "HEALTHCHECK CMD [...], got %q", hc)
	img.healthcheck = execForm(t, "HEALTHCHECK CMD", strings.TrimSpace(probe))
	img.volumes = execForm(t, "VOLUME", final.last("VOLUME"))
	return build, img
}

// TestDockerfileBuildsAStaticNonRootImage pins what the image promises: a
// static CGO_ENABLED=0 build in a separate stage, an empty base, a numeric
// non-root user owning the state volume, which is also the working
// directory (so relative state paths land in it), a CA bundle where Go
// looks first, Go's time zone database, /ready as the health check, and a
// build context that keeps what the build needs.
func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	build, img := loadImage(t)

	var builds []string
	for _, run := range build.all("RUN") {
		builds = append(builds, regexp.MustCompile(`CGO_ENABLED=0 go build [^&]*`).FindAllString(run.args, -1)...)
	}
	require.Len(t, builds, 2, "two static builds: the binary and the health check")
	assert.Contains(t, builds[0], "./cmd/compliance-connect")
	assert.Contains(t, builds[1], "./deploy/healthcheck")

	assert.NotZero(t, img.uid, "runs as a non-root user")
	assert.NotZero(t, img.gid, "runs with a non-root group")
	require.Len(t, img.volumes, 1)
	assert.Equal(t, img.volumes[0], img.workdir, "the working directory is the state volume")
	assert.Equal(t, img.workdir, img.env["TMPDIR"], "temporary files go to the writable volume (no /tmp)")

	dests := map[string]instruction{}
	for _, c := range img.copies {
		f := strings.Fields(c.args)
		dests[f[len(f)-1]] = c
	}
	ca, ok := dests["/etc/ssl/certs/ca-certificates.crt"]
	require.True(t, ok, "a CA bundle at Go's first lookup path")
	assert.Equal(t, "build", ca.flags["from"])
	zone, ok := dests[img.env["ZONEINFO"]]
	require.True(t, ok, "ZONEINFO names a copied file")
	assert.Contains(t, zone.args, "lib/time/zoneinfo.zip")
	state, ok := dests[filepath.Dir(img.workdir)+"/"]
	require.True(t, ok, "the state directory is copied into %s", filepath.Dir(img.workdir))
	assert.Equal(t, img.user, state.flags["chown"], "the state directory belongs to the user")

	assert.Equal(t, []string{"/usr/local/bin/compliance-connect"}, img.entrypoint)
	assert.Equal(t, "run", img.cmd[0])
	_, ok = dests[img.cmd[1]]
	assert.True(t, ok, "the default pipeline %s is in the image", img.cmd[1])
	require.Len(t, img.healthcheck, 2)
	_, ok = dests[img.healthcheck[0]]
	assert.True(t, ok, "the health check binary is in the image")
	assert.Regexp(t, `^http://127\.0\.0\.1:4195/ready$`, img.healthcheck[1])

	ignore, err := os.ReadFile(repoPath(".dockerignore"))
	require.NoError(t, err)
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	assert.Contains(t, patterns, ".git", "the repository's history stays out of the build context")
	for _, needed := range []string{"go.mod", "go.sum", "cmd/compliance-connect/main.go", "tests/fakeapi/server.go", "config/stdout.yaml", "deploy/healthcheck/main.go"} {
		for _, p := range patterns {
			for _, candidate := range []string{needed, strings.Split(needed, "/")[0]} {
				m, err := filepath.Match(p, candidate)
				require.NoError(t, err)
				assert.False(t, m, ".dockerignore pattern %q excludes %s, which the build needs", p, needed)
			}
		}
	}
}
