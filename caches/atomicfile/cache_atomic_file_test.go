package atomicfile_test

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service/integration"

	_ "github.com/compliance-connect/compliance-connect/caches/atomicfile"
)

// TestAtomicFileCacheConformance runs Benthos' cache suite against the
// registered plugin. It deliberately does not call integration.CheckSkip: the
// suite needs no external service and must always run.
func TestAtomicFileCacheConformance(t *testing.T) {
	template := `
cache_resources:
  - label: testcache
    atomic_file:
      directory: $DIR/$ID
`
	integration.CacheTests(
		integration.CacheTestOpenClose(),
		integration.CacheTestMissingKey(),
		integration.CacheTestDoubleAdd(),
		integration.CacheTestDelete(),
		integration.CacheTestGetAndSet(50),
	).Run(t, template, integration.CacheTestOptVarSet("DIR", t.TempDir()))
}
