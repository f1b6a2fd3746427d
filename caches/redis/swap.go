package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/compliance-connect/compliance-connect/caches/cas"
)

// swapScript is the compare-and-swap of a revisioned document (see package
// cas), run atomically by the server. The stored revision is read from the
// first bytes of the value (GETRANGE), so a swap never transfers or decodes
// the whole document; a document written before revisions came first is
// decoded once (cjson) to find it. The value is written with no expiry,
// whatever the cache's default_ttl.
//
// KEYS[1] document, KEYS[2] lease (the document's key when unfenced).
// ARGV[1] expected revision (-1: replace an unreadable value only),
// ARGV[2] value, ARGV[3] fence token (” = unfenced), ARGV[4] head size.
//
// Replies: {1} written; {0, found, missing} conflict; {2, holder} fenced;
// {3} the stored value has no readable revision.
var swapScript = goredis.NewScript(`
if ARGV[3] ~= '' then
  local holder = redis.call('GET', KEYS[2])
  if holder ~= ARGV[3] then
    return {2, holder or ''}
  end
end
local found, missing, unreadable = 0, 0, false
if redis.call('EXISTS', KEYS[1]) == 0 then
  missing = 1
else
  local head = redis.call('GETRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
  local rev = string.match(head, '^%s*{%s*"rev"%s*:%s*(%d+)[%s,}]')
  if rev then
    found = tonumber(rev)
  else
    local ok, doc = pcall(cjson.decode, redis.call('GET', KEYS[1]))
    if ok and type(doc) == 'table' and type(doc['rev']) == 'number' and doc['rev'] >= 0 then
      found = doc['rev']
    else
      unreadable = true
    end
  end
end
local expect = tonumber(ARGV[1])
if expect == -1 then
  if not unreadable then
    return {0, found, missing}
  end
elseif unreadable then
  return {3}
elseif found ~= expect or (missing == 1 and expect ~= 0) then
  return {0, found, missing}
end
redis.call('SET', KEYS[1], ARGV[2])
return {1}
`)

// Swap is the compare-and-swap of package cas: value is stored under key, with
// no expiry, only if the revision stored there is expect (0: nothing) and,
// with a fence, the lease fence.Key (under the same prefix) holds
// fence.Token, all checked and written in one server-side script.
func (c *Client) Swap(ctx context.Context, key string, expect int64, value []byte, fence cas.Fence) error {
	if err := cas.CheckNext(expect, value); err != nil {
		return c.wrap("swap", key, err)
	}
	leaseKey := c.Key(key)
	if !fence.IsZero() {
		if fence.Key == "" || fence.Token == "" {
			return c.wrap("swap", key, errors.New("a fence needs a lease key and a token"))
		}
		leaseKey = c.Key(fence.Key)
	}
	res, err := swapScript.Run(ctx, c.rdb, []string{c.Key(key), leaseKey},
		expect, value, fence.Token, cas.HeadSize).Slice()
	if err != nil {
		return c.wrap("swap", key, err)
	}
	code, _ := res[0].(int64)
	switch code {
	case 1:
		return nil
	case 0:
		found, _ := res[1].(int64)
		missing, _ := res[2].(int64)
		return &cas.ConflictError{Expected: expect, Found: found, Missing: missing == 1}
	case 2:
		holder, _ := res[1].(string)
		return &cas.FencedError{Lease: c.Key(fence.Key), Holder: holder}
	case 3:
		return c.wrap("swap", key, cas.ErrUnreadable)
	}
	return c.wrap("swap", key, fmt.Errorf("unexpected script reply %v", res))
}

// casClient adapts Client to cas.Store and cas.Leaser.
type casClient struct{ c *Client }

// CAS returns the client's compare-and-swap view, which also holds leases.
func (c *Client) CAS() interface {
	cas.Store
	cas.Leaser
} {
	return casClient{c}
}

func (a casClient) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := a.c.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", cas.ErrNotFound, err)
	}
	return v, err
}

func (a casClient) Swap(ctx context.Context, key string, expect int64, value []byte, fence cas.Fence) error {
	return a.c.Swap(ctx, key, expect, value, fence)
}

func (a casClient) AcquireLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	return a.c.AcquireLease(ctx, key, holder, ttl)
}

func (a casClient) ReleaseLease(ctx context.Context, key, holder string) (bool, error) {
	return a.c.ReleaseLease(ctx, key, holder)
}
