package against_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/against"
	"github.com/compliance-connect/compliance-connect/audit/internal/fakees"
	"github.com/compliance-connect/compliance-connect/audit/repair"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	_ "github.com/compliance-connect/compliance-connect/outputs/awss3"
	_ "github.com/compliance-connect/compliance-connect/outputs/elasticsearch"
	_ "github.com/compliance-connect/compliance-connect/outputs/kafka"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// lateRig is a fake Compliance API whose dataset holds activities indexed an
// hour after they happened, far beyond the input's settle + overlap: a
// backfill run before they are indexed misses them, and only an audit run
// after finds them missing.
type lateRig struct {
	clock  *fakeapi.ManualClock
	url    string
	t0     time.Time
	window audit.Window
	late   []string // ids of the late activities, sorted
	total  int
}

func newLateRig(t *testing.T) *lateRig {
	t.Helper()
	t0 := time.Now().UTC().Truncate(time.Second)
	r := &lateRig{clock: fakeapi.NewManualClock(t0), t0: t0,
		window: audit.Window{From: t0.Add(-2 * time.Hour), To: t0.Add(-10 * time.Minute)}}
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 16, Count: 1500, From: r.window.From, To: r.window.To})
	for i := 37; i < len(data); i += 211 {
		data[i].VisibleAt = t0.Add(time.Hour) // indexed an hour late
		r.late = append(r.late, data[i].ID)
	}
	slices.Sort(r.late)
	r.total = len(data)
	srv, err := fakeapi.New(fakeapi.Options{Clock: r.clock.Now, Dataset: data})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	r.url = hs.URL
	return r
}

// pipeline is a `once` backfill of the window, through a processor that
// marks every document, into output.
func (r *lateRig) pipeline(t *testing.T, output string) string {
	return fmt.Sprintf(`
input:
  label: audit
  anthropic_compliance:
    api_key: test-key
    base_url: %s
    state:
      path: %s
    endpoints:
      - name: activities
        schedule: once
        earliest: %s
        latest: %s
pipeline:
  processors:
    - mapping: |
        root = this
        root.pipeline_mark = "processed"
output:
%s
`, r.url, t.TempDir(), r.window.From.Format(time.RFC3339), r.window.To.Format(time.RFC3339), output)
}

// env is the environment the pipeline runs in: the input on the fake's clock.
func (r *lateRig) env(opts ...compliance.Option) (*service.Environment, error) {
	env := service.NewEnvironment()
	return env, compliance.Register(env, append([]compliance.Option{compliance.WithClock(r.clock.Now)}, opts...)...)
}

// collect runs the real input, on the fake's clock, until its backfill ends.
func (r *lateRig) collect(t *testing.T, pipeline string) {
	t.Helper()
	env, err := r.env()
	require.NoError(t, err)
	sb := env.NewStreamBuilder()
	require.NoError(t, sb.SetYAML(pipeline))
	require.NoError(t, sb.SetLoggerYAML("level: WARN"))
	stream, err := sb.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, stream.Run(ctx))
}

// audit indexes the late activities, then audits the window.
func (r *lateRig) audit(t *testing.T, pipeline, spec string) *audit.Report {
	t.Helper()
	r.clock.Set(r.t0.Add(2 * time.Hour))
	src, err := compliance.OpenPipelineAPI([]byte(pipeline), "", "activities", "test", api.Hooks{})
	require.NoError(t, err)
	dest, err := against.Open(context.Background(), spec, against.Options{Pipeline: []byte(pipeline), Slack: 10 * time.Minute})
	require.NoError(t, err)
	rep, err := audit.Run(context.Background(), audit.Options{
		Window: r.window, API: audit.Expected{Lister: src.Client, Filters: src.Filters},
		Destination: dest, TempDir: t.TempDir(), SortBudget: 32 << 10, // several sorted runs
	})
	require.NoError(t, err)
	t.Cleanup(rep.Close)
	return rep
}

// repair re-sends what rep found missing through the pipeline, as
// `compliance-connect audit --repair` does, and returns how the run ended.
func (r *lateRig) repair(t *testing.T, pipeline string, rep *audit.Report, opts ...func(*repair.Options)) (collector.Report, error) {
	t.Helper()
	src, err := compliance.OpenPipelineAPI([]byte(pipeline), "", "activities", "test", api.Hooks{})
	require.NoError(t, err)
	defer src.Close(context.Background())
	plan, target, err := repair.Prepare(rep, src, t.TempDir())
	require.NoError(t, err)
	assert.EqualValues(t, len(r.late), plan.IDs)
	assert.False(t, plan.Range.From.Before(r.window.From))
	assert.False(t, plan.Range.To.After(r.window.To))
	assert.GreaterOrEqual(t, plan.Activities, int64(len(r.late)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := repair.Options{Pipeline: []byte(pipeline), Target: target, Env: r.env}
	for _, opt := range opts {
		opt(&o)
	}
	res, err := repair.Run(ctx, o)
	require.True(t, res.Ran, "the once job ran and reported")
	return res.Job, err
}

// assertRepaired checks a repair's run and the audit after it: exactly the
// late activities were sent, and the destination now holds every activity
// once.
func assertRepaired(t *testing.T, r *lateRig, job collector.Report, err error, after *audit.Report) {
	t.Helper()
	require.NoError(t, err)
	assert.Equal(t, collector.OutcomeSuccess, job.Outcome)
	assert.Equal(t, len(r.late), job.Emitted, "exactly the missing activities are re-sent")
	assert.Equal(t, job.Returned-job.Emitted, job.Filtered)
	assert.Positive(t, job.Filtered, "the others are walked and left out")
	c := after.Counts
	assert.True(t, after.Complete(), "the re-audit is clean")
	assert.EqualValues(t, r.total, c.Expected)
	assert.EqualValues(t, r.total, c.Present)
	assert.Zero(t, c.Missing)
	assert.Zero(t, c.Duplicated, "no activity already present was sent again")
	assert.Zero(t, c.Unexpected)
}

// lines reads an NDJSON file into documents.
func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var docs []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var d map[string]any
		require.NoError(t, json.Unmarshal(l, &d))
		docs = append(docs, d)
	}
	return docs
}

func missingIDs(t *testing.T, rep *audit.Report) []string {
	t.Helper()
	var buf jsonReport
	buf.decode(t, rep)
	var ids []string
	for _, e := range buf.Missing {
		ids = append(ids, e.ID)
	}
	return ids
}

func assertOnlyLateMissing(t *testing.T, r *lateRig, rep *audit.Report) {
	t.Helper()
	assert.Equal(t, r.late, missingIDs(t, rep), "the audit reports exactly the activities indexed after the input scanned their time")
	c := rep.Counts
	assert.EqualValues(t, r.total, c.Expected)
	assert.EqualValues(t, r.total-len(r.late), c.Present)
	assert.EqualValues(t, len(r.late), c.Missing)
	assert.Zero(t, c.Unexpected)
	assert.Zero(t, c.Unreadable)
	assert.False(t, rep.Complete())
	require.NotNil(t, rep.OldestMissing)
	assert.NotEmpty(t, rep.OldestMissing.Type)
}

func TestAuditFindsExactlyTheLateActivitiesTheInputMissed(t *testing.T) {
	t.Run("file output, named by the pipeline", func(t *testing.T) {
		r := newLateRig(t)
		out := filepath.Join(t.TempDir(), "activities.ndjson")
		p := r.pipeline(t, fmt.Sprintf("  file:\n    path: %s\n    codec: lines\n", out))
		r.collect(t, p)
		rep := r.audit(t, p, "output")
		assertOnlyLateMissing(t, r, rep)

		job, err := r.repair(t, p, rep)
		assertRepaired(t, r, job, err, r.audit(t, p, "output"))
		docs := lines(t, out)
		assert.Equal(t, r.total, len(docs), "every activity once")
		repaired := 0
		for _, d := range docs {
			assert.Equal(t, "processed", d["pipeline_mark"], "every document went through the pipeline's processor")
			if slices.Contains(r.late, d["id"].(string)) {
				repaired++
			}
		}
		assert.Equal(t, len(r.late), repaired)
	})

	t.Run("a repair whose output refuses the activities fails", func(t *testing.T) {
		r := newLateRig(t)
		out := filepath.Join(t.TempDir(), "activities.ndjson")
		p := r.pipeline(t, fmt.Sprintf("  file:\n    path: %s\n    codec: lines\n", out))
		r.collect(t, p)
		rep := r.audit(t, p, "file://"+out)
		assertOnlyLateMissing(t, r, rep)

		// The same pipeline, but its output now fails every write.
		broken := r.pipeline(t, fmt.Sprintf("  file:\n    path: %s\n    codec: lines\n", t.TempDir()))
		job, err := r.repair(t, broken, rep)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "delivery failed downstream (nack)")
		assert.Equal(t, collector.OutcomeFailed, job.Outcome)
		assertOnlyLateMissing(t, r, r.audit(t, p, "file://"+out))

		// A fan_out broker retries a failing output forever and never nacks:
		// the repair's job_timeout ends it, and the stream is stopped.
		stuck := strings.Replace(r.pipeline(t, fmt.Sprintf("  broker:\n    pattern: fan_out\n    outputs:\n      - file: { path: %s, codec: lines }\n      - drop: {}\n", t.TempDir())),
			"    api_key: test-key\n", "    api_key: test-key\n    drain_grace: 1s\n", 1)
		job, err = r.repair(t, stuck, rep, func(o *repair.Options) { o.Target.JobTimeout, o.StopGrace = time.Second, time.Second })
		require.Error(t, err)
		assert.ErrorContains(t, err, "job_timeout")
		assert.Equal(t, collector.OutcomeTimeout, job.Outcome)
		assertOnlyLateMissing(t, r, r.audit(t, p, "file://"+out))
	})

	t.Run("file output with an interpolated path, named by a file:// directory", func(t *testing.T) {
		r := newLateRig(t)
		dir := t.TempDir()
		p := r.pipeline(t, fmt.Sprintf("  file:\n    path: '%s/${! @activity_type }.ndjson'\n    codec: lines\n", dir))
		r.collect(t, p)
		assertOnlyLateMissing(t, r, r.audit(t, p, "file://"+dir))
		assertOnlyLateMissing(t, r, r.audit(t, p, "output"))
	})

	t.Run("aws_s3 output into gofakes3", func(t *testing.T) {
		r := newLateRig(t)
		backend := s3mem.New()
		require.NoError(t, backend.CreateBucket("archive"))
		s3srv := httptest.NewServer(gofakes3.New(backend).Server())
		t.Cleanup(s3srv.Close)
		p := r.pipeline(t, fmt.Sprintf(`  aws_s3:
    bucket: archive
    region: us-east-1
    endpoint: %s
    force_path_style_urls: true
    credentials: { id: test-id, secret: test-secret }
    path: 'anthropic/activities/${! timestamp_unix_nano() }-${! uuid_v4() }.ndjson.gz'
    batching: { count: 200, period: 1s }
`, s3srv.URL))
		r.collect(t, p)
		rep := r.audit(t, p, "output")
		assertOnlyLateMissing(t, r, rep)

		job, err := r.repair(t, p, rep)
		assertRepaired(t, r, job, err, r.audit(t, p, "output"))
	})

	t.Run("elasticsearch output into a fake bulk/search server", func(t *testing.T) {
		r := newLateRig(t)
		es := fakees.New(1)
		esSrv := httptest.NewServer(es)
		t.Cleanup(esSrv.Close)
		p := r.pipeline(t, fmt.Sprintf(`  elasticsearch:
    urls: [ %s ]
    index: 'anthropic-audit-${! @activity_created_at.ts_format("2006.01.02.15", "UTC") }'
    batching: { count: 200, period: 1s }
`, esSrv.URL))
		r.collect(t, p)
		require.Equal(t, r.total-len(r.late), es.Len())
		rep := r.audit(t, p, "output")
		assertOnlyLateMissing(t, r, rep)

		writes := es.Writes()
		job, err := r.repair(t, p, rep)
		assertRepaired(t, r, job, err, r.audit(t, p, "output"))
		assert.Equal(t, len(r.late), es.Writes()-writes, "the output indexed exactly the missing activities (an overwrite by id would hide a duplicate)")
		for _, id := range r.late {
			assert.Equal(t, "processed", es.Find(id)["pipeline_mark"], "repaired through the pipeline's processor")
		}
	})

	t.Run("kafka output into kfake, by value and by key", func(t *testing.T) {
		r := newLateRig(t)
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "activities"))
		require.NoError(t, err)
		t.Cleanup(cluster.Close)
		brokers := cluster.ListenAddrs()[0]
		p := r.pipeline(t, fmt.Sprintf(`  kafka:
    seed_brokers: [ %s ]
    topic: activities
    metadata: { include_prefixes: [ activity_ ] }
    batching: { count: 200, period: 1s }
`, brokers))
		r.collect(t, p)
		rep := r.audit(t, p, "output")
		assertOnlyLateMissing(t, r, rep)
		assertOnlyLateMissing(t, r, r.audit(t, p, "kafka://"+brokers+"/activities?by=key"))

		job, err := r.repair(t, p, rep)
		assertRepaired(t, r, job, err, r.audit(t, p, "output"))
		assertRepaired(t, r, job, err, r.audit(t, p, "kafka://"+brokers+"/activities?by=key"))
	})
}
