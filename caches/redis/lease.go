package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A lease is a key whose value names its holder and whose TTL bounds how long
// a holder that stops renewing keeps it. Every operation is one Lua script, so
// the check of the holder and the change are atomic on the server. A write
// fenced by a lease is Swap with a cas.Fence.

// acquireScript takes the lease when free, or renews it when the caller
// already holds it, and otherwise names the holder. KEYS[1] lease, ARGV[1]
// holder, ARGV[2] ttl in ms. Replies {1} held, {0, holder} held by another.
var acquireScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
if cur then
  return {0, cur}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
`)

// releaseScript deletes the lease only while the caller holds it.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// AcquireLease takes the lease key for holder for ttl, or renews it (its TTL
// reset to ttl) when holder already holds it, so a holder calls it both to
// take and to keep the lease, and a restarted holder with the same identity
// gets its lease back. It returns true when holder holds it now; otherwise
// false and the current holder. Two callers can never both take a free lease.
func (c *Client) AcquireLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	if holder == "" {
		return false, "", c.wrap("acquire lease", key, errors.New("holder is empty"))
	}
	if ttl <= 0 {
		return false, "", c.wrap("acquire lease", key, fmt.Errorf("lease ttl %v must be positive", ttl))
	}
	exp, _ := expiry(ttl)
	res, err := acquireScript.Run(ctx, c.rdb, []string{c.Key(key)}, holder, exp.Milliseconds()).Slice()
	if err != nil {
		return false, "", c.wrap("acquire lease", key, err)
	}
	if code, _ := res[0].(int64); code == 1 {
		return true, holder, nil
	}
	cur, _ := res[1].(string)
	return false, cur, nil
}

// ReleaseLease deletes the lease if holder still holds it, so a standby can
// take over without waiting for the TTL. False means holder no longer held it
// (nothing was changed).
func (c *Client) ReleaseLease(ctx context.Context, key, holder string) (bool, error) {
	if holder == "" {
		return false, c.wrap("release lease", key, errors.New("holder is empty"))
	}
	n, err := releaseScript.Run(ctx, c.rdb, []string{c.Key(key)}, holder).Int()
	if err != nil {
		return false, c.wrap("release lease", key, err)
	}
	return n == 1, nil
}
