package redis_test

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service/integration"

	_ "github.com/compliance-connect/compliance-connect/caches/redis"
)

// TestRedisCacheConformance runs Benthos' cache suite against the registered
// plugin and the real test server. It deliberately does not call
// integration.CheckSkip, which would skip it unless -run names it.
func TestRedisCacheConformance(t *testing.T) {
	template := `
cache_resources:
  - label: testcache
    redis:
      url: $URL
      prefix: $PREFIX$ID/
`
	integration.CacheTests(
		integration.CacheTestOpenClose(),
		integration.CacheTestMissingKey(),
		integration.CacheTestDoubleAdd(),
		integration.CacheTestDelete(),
		integration.CacheTestGetAndSet(50),
	).Run(t, template,
		integration.CacheTestOptVarSet("URL", redisURL(t)),
		integration.CacheTestOptVarSet("PREFIX", testPrefix(t)))
}
