package ops_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsyaml "sigs.k8s.io/yaml"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"

	_ "github.com/compliance-connect/compliance-connect/caches/redis"
)

const k8sDir = "deploy/kubernetes"

// manifests are the Kubernetes objects of deploy/kubernetes, decoded
// strictly into the client types of k8s.io/api: an unknown or misspelt
// field, a wrong type or a bad quantity is an error.
type manifests struct {
	deployment *appsv1.Deployment
	configMap  *corev1.ConfigMap
	service    *corev1.Service
	secret     *corev1.Secret
	pdb        *policyv1.PodDisruptionBudget
	files      map[string]string // kind -> file
}

func decodeStrict(t *testing.T, file string, doc []byte, into any) {
	t.Helper()
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	require.NoError(t, err, file)
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(into), "%s does not decode strictly as %T", file, into)
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(repoPath(k8sDir, "*.yaml"))
	require.NoError(t, err)
	m := manifests{files: map[string]string{}}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			require.NoError(t, sigsyaml.Unmarshal([]byte(doc), &meta), file)
			var into any
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				m.deployment = &appsv1.Deployment{}
				into = m.deployment
			case "v1 ConfigMap":
				m.configMap = &corev1.ConfigMap{}
				into = m.configMap
			case "v1 Service":
				m.service = &corev1.Service{}
				into = m.service
			case "v1 Secret":
				m.secret = &corev1.Secret{}
				into = m.secret
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				into = m.pdb
			default:
				t.Fatalf("%s: %s %s is not checked by this test: teach loadManifests", file, meta.APIVersion, meta.Kind)
			}
			_, dup := m.files[meta.Kind]
			require.False(t, dup, "two %s objects", meta.Kind)
			m.files[meta.Kind] = filepath.Base(file)
			decodeStrict(t, file, []byte(doc), into)
		}
	}
	require.NotNil(t, m.deployment, "a Deployment")
	require.NotNil(t, m.configMap, "a ConfigMap")
	require.NotNil(t, m.service, "a Service")
	require.NotNil(t, m.secret, "an example Secret")
	require.NotNil(t, m.pdb, "a PodDisruptionBudget")
	return m
}

// TestKubernetesManifestsRunTwoReplicasOnTheLease checks, offline, what makes
// the deployment work: the manifests decode strictly into the Kubernetes
// types; two replicas of the image's user with a read-only root, the
// image's writable directory mounted, the key from the Secret the example
// creates, the pipeline from the ConfigMap, readiness on /ready and
// liveness on /ping of the port the pipeline's HTTP server listens on;
// selectors that match the pods; the kustomization listing every manifest
// but the Secret.
func TestKubernetesManifestsRunTwoReplicasOnTheLease(t *testing.T) {
	m := loadManifests(t)
	_, img := loadImage(t)
	d := m.deployment
	pod := d.Spec.Template.Spec

	require.NotNil(t, d.Spec.Replicas)
	assert.Equal(t, int32(2), *d.Spec.Replicas, "one collects, one stands by")
	sel, err := metaSelector(d.Spec.Selector.MatchLabels)
	require.NoError(t, err)
	podLabels := labels.Set(d.Spec.Template.Labels)
	assert.True(t, sel.Matches(podLabels), "the Deployment's selector matches its pods")
	assert.True(t, labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels), "the Service selects the pods")
	pdbSel, err := metaSelector(m.pdb.Spec.Selector.MatchLabels)
	require.NoError(t, err)
	assert.True(t, pdbSel.Matches(podLabels), "the PodDisruptionBudget covers the pods")
	require.NotNil(t, m.pdb.Spec.MinAvailable)
	assert.Equal(t, 1, m.pdb.Spec.MinAvailable.IntValue())

	require.NotNil(t, pod.SecurityContext)
	require.NotNil(t, pod.SecurityContext.RunAsUser)
	assert.Equal(t, int64(img.uid), *pod.SecurityContext.RunAsUser, "the image's user")
	assert.True(t, pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot)
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	require.NotNil(t, c.SecurityContext)
	assert.True(t, c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.True(t, c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation)
	require.NotNil(t, c.SecurityContext.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)

	// The pipeline from the ConfigMap, at the path the args name.
	require.Len(t, c.Args, 2)
	assert.Equal(t, "run", c.Args[0])
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	var pipeline string
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		assert.Equal(t, m.configMap.Name, v.ConfigMap.Name)
		require.Len(t, v.ConfigMap.Items, 1)
		mount, ok := mounts[v.Name]
		require.True(t, ok, "volume %s is mounted", v.Name)
		assert.Equal(t, c.Args[1], filepath.Join(mount.MountPath, v.ConfigMap.Items[0].Path), "the args name the mounted pipeline")
		pipeline = m.configMap.Data[v.ConfigMap.Items[0].Key]
	}
	require.NotEmpty(t, pipeline, "the ConfigMap holds the pipeline")
	writable := false
	for _, v := range pod.Volumes {
		if v.EmptyDir != nil && mounts[v.Name].MountPath == img.workdir {
			writable = true
		}
	}
	assert.True(t, writable, "the image's working directory (TMPDIR) is a writable emptyDir under a read-only root")

	// The key from the Secret the example creates; no literal secrets.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for _, name := range []string{"ANTHROPIC_COMPLIANCE_API_KEY", "REDIS_PASSWORD"} {
		e, ok := env[name]
		require.True(t, ok, "%s is set", name)
		require.NotNil(t, e.ValueFrom, name)
		require.NotNil(t, e.ValueFrom.SecretKeyRef, "%s comes from a Secret", name)
		assert.Equal(t, m.secret.Name, e.ValueFrom.SecretKeyRef.Name, name)
		assert.Contains(t, m.secret.StringData, e.ValueFrom.SecretKeyRef.Key, "the example Secret has %s's key", name)
	}
	for _, ref := range regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`).FindAllStringSubmatch(pipeline, -1) {
		_, ok := env[ref[1]]
		assert.True(t, ok, "the pipeline's ${%s} (no default) is set in the container", ref[1])
	}

	// Probes on the port the pipeline's HTTP server listens on.
	var conf struct {
		HTTP struct {
			Address string `yaml:"address"`
		} `yaml:"http"`
		Input struct {
			AC struct {
				State struct {
					Cache string `yaml:"cache"`
					Lease struct {
						Enabled bool `yaml:"enabled"`
					} `yaml:"lease"`
				} `yaml:"state"`
			} `yaml:"anthropic_compliance"`
		} `yaml:"input"`
		CacheResources []map[string]any `yaml:"cache_resources"`
		Metrics        map[string]any   `yaml:"metrics"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(pipeline), &conf))
	require.Len(t, c.Ports, 1)
	assert.Equal(t, "0.0.0.0:"+strconv.Itoa(int(c.Ports[0].ContainerPort)), conf.HTTP.Address, "the HTTP server listens on the container port, on every interface")
	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.ReadinessProbe.HTTPGet)
	assert.Equal(t, "/ready", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, c.Ports[0].Name, c.ReadinessProbe.HTTPGet.Port.String())
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.LivenessProbe.HTTPGet)
	assert.Equal(t, "/ping", c.LivenessProbe.HTTPGet.Path, "liveness does not restart a replica that is merely not ready")
	assert.Equal(t, c.Ports[0].Name, m.service.Spec.Ports[0].TargetPort.String())
	assert.Contains(t, conf.Metrics, "prometheus")

	// The checkpoint in a shared redis cache with the lease on.
	assert.True(t, conf.Input.AC.State.Lease.Enabled, "state.lease.enabled")
	var cacheType string
	for _, r := range conf.CacheResources {
		if r["label"] == conf.Input.AC.State.Cache {
			for k := range r {
				if k != "label" {
					cacheType = k
				}
			}
		}
	}
	assert.Equal(t, "redis", cacheType, "state.cache names a redis cache resource")

	// The pipeline lints clean with the plugins of the binary it runs on.
	t.Setenv("ANTHROPIC_COMPLIANCE_API_KEY", "dummy-key")
	t.Setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
	require.NoError(t, service.NewEnvironment().NewStreamBuilder().SetYAML(pipeline), "the ConfigMap's pipeline")

	// The kustomization lists every manifest but the Secret.
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	data, err := os.ReadFile(repoPath(k8sDir, "kustomization.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &kust))
	var want []string
	for kind, file := range m.files {
		if kind != "Secret" {
			want = append(want, file)
		}
	}
	slices.Sort(want)
	got := slices.Clone(kust.Resources)
	slices.Sort(got)
	assert.Equal(t, want, got)
	assert.NotContains(t, kust.Resources, m.files["Secret"], "apply -k never overwrites the real key")
}

// TestKustomizeBuildsTheManifests runs `kubectl kustomize` (offline) where
// kubectl is installed.
func TestKustomizeBuildsTheManifests(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	out, err := exec.Command(kubectl, "kustomize", repoPath(k8sDir)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, kind := range []string{"Deployment", "ConfigMap", "Service", "PodDisruptionBudget"} {
		assert.Contains(t, string(out), "kind: "+kind)
	}
	assert.NotContains(t, string(out), "kind: Secret")
}

func metaSelector(ml map[string]string) (labels.Selector, error) {
	if len(ml) == 0 {
		return labels.Nothing(), nil
	}
	return labels.SelectorFromSet(ml), nil
}
