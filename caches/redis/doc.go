// Package redis holds state in a Redis server shared by several collector
// instances: Client is a small plain-Go key/value client with leases (atomic
// compare-and-set / compare-and-delete with a TTL, for active/standby HA), and
// cache_redis.go registers it as the Benthos cache `redis`. Built on
// github.com/redis/go-redis/v9; single-server ("simple") mode only. Beta.
package redis
