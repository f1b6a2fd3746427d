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
// the check of the holder and the change are atomic on the server.

// acquireScript takes the lease when free, or refreshes it when the caller
// already holds it. KEYS[1] lease, ARGV[1] holder, ARGV[2] ttl in ms.
var acquireScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// renewScript extends the lease only while the caller holds it.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes the lease only while the caller holds it.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// setFencedScript writes a value only while the caller holds the lease.
// KEYS[1] lease, KEYS[2] target; ARGV[1] holder, ARGV[2] value, ARGV[3] ttl
// in ms (0 = no expiry).
var setFencedScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[2], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// AcquireLease takes the lease key for holder for ttl. It returns true when
// holder now holds it: the key was free (or had expired), or holder already
// held it (its TTL is then reset to ttl, so a restarted holder with the same
// identity gets its lease back). It returns false when another holder has it.
func (c *Client) AcquireLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	return c.runLease(ctx, "acquire lease", acquireScript, key, holder, ttl)
}

// RenewLease resets the lease's TTL to ttl if holder still holds it. False
// means the lease expired or was taken by another holder: holder must stop
// acting as the owner at once.
func (c *Client) RenewLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	return c.runLease(ctx, "renew lease", renewScript, key, holder, ttl)
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

// SetFenced stores value under key (as Set does) only if holder holds the
// lease leaseKey, checked atomically with the write: a holder that lost its
// lease (paused past its TTL, partitioned) cannot overwrite the new holder's
// state. It returns false, writing nothing, when holder does not hold it.
func (c *Client) SetFenced(ctx context.Context, leaseKey, holder, key string, value []byte, ttl time.Duration) (bool, error) {
	if holder == "" {
		return false, c.wrap("fenced set", key, errors.New("holder is empty"))
	}
	exp, err := expiry(ttl)
	if err != nil {
		return false, c.wrap("fenced set", key, err)
	}
	n, err := setFencedScript.Run(ctx, c.rdb, []string{c.Key(leaseKey), c.Key(key)},
		holder, value, exp.Milliseconds()).Int()
	if err != nil {
		return false, c.wrap("fenced set", key, err)
	}
	return n == 1, nil
}

//------------------------------------------------------------------------------

func (c *Client) runLease(ctx context.Context, op string, script *goredis.Script, key, holder string, ttl time.Duration) (bool, error) {
	if holder == "" {
		return false, c.wrap(op, key, errors.New("holder is empty"))
	}
	if ttl <= 0 {
		return false, c.wrap(op, key, fmt.Errorf("lease ttl %v must be positive", ttl))
	}
	exp, _ := expiry(ttl)
	n, err := script.Run(ctx, c.rdb, []string{c.Key(key)}, holder, exp.Milliseconds()).Int()
	if err != nil {
		return false, c.wrap(op, key, err)
	}
	return n == 1, nil
}
