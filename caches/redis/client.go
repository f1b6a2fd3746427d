package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultTimeout bounds dialling and each command's network reads and writes
// when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

var (
	// ErrNotFound is returned (wrapped) by Get when the key has no value.
	ErrNotFound = errors.New("redis: key not found")

	// ErrExists is returned (wrapped) by Add when the key already has a value.
	ErrExists = errors.New("redis: key already exists")
)

// Config says how to reach the server. The zero Timeout means DefaultTimeout.
type Config struct {
	// URL is redis://[user[:password]@]host[:port][/db] or rediss://… (TLS).
	// Host defaults to localhost, port to 6379, db to 0.
	URL string
	// Username and Password, when not empty, replace the URL's.
	Username string
	Password string
	// TLS, when not nil, enables TLS with this configuration (overriding the
	// default one a rediss:// URL implies).
	TLS *tls.Config
	// Prefix is prepended to every key this client touches, leases included.
	Prefix string
	// Timeout bounds dialling and every network read and write.
	Timeout time.Duration
}

// Client is a key/value client on one Redis server with keys under a prefix.
// It is safe for concurrent use; connections are pooled and dialled lazily,
// so NewClient does no I/O (call Ping to check the server at startup).
//
// Each command is sent at most once (go-redis retries are disabled): a network
// error is returned to the caller instead of being retried, because a silently
// retried SET NX whose first attempt succeeded would report a false "already
// exists". Errors name the server address and key, never the password.
type Client struct {
	rdb    *goredis.Client
	addr   string
	prefix string
}

// NewClient validates conf and builds a client. Errors quote the URL with its
// password replaced by "xxxxx".
func NewClient(conf Config) (*Client, error) {
	opts, err := parseURL(conf.URL)
	if err != nil {
		return nil, err
	}
	if conf.Username != "" {
		opts.Username = conf.Username
	}
	if conf.Password != "" {
		opts.Password = conf.Password
	}
	if conf.TLS != nil {
		opts.TLSConfig = conf.TLS
	}
	timeout := conf.Timeout
	if timeout < 0 {
		return nil, fmt.Errorf("redis: timeout %v is negative", timeout)
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Client{rdb: goredis.NewClient(opts), addr: opts.Addr, prefix: conf.Prefix}, nil
}

// Addr returns the server's host:port.
func (c *Client) Addr() string {
	return c.addr
}

// Key returns the Redis key that holds key (the prefix plus key).
func (c *Client) Key(key string) string {
	return c.prefix + key
}

// Ping checks that the server is reachable and accepts the credentials.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return c.wrap("ping", "", err)
	}
	return nil
}

// Get returns the value of key, or an error wrapping ErrNotFound.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.rdb.Get(ctx, c.Key(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("%w: %q on %s", ErrNotFound, c.Key(key), c.addr)
	}
	if err != nil {
		return nil, c.wrap("get", key, err)
	}
	return b, nil
}

// Set stores value under key (SET). A ttl of zero means no expiry (and clears
// any expiry the key had); a positive ttl is applied atomically with the
// value, rounded up to whole milliseconds.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	exp, err := expiry(ttl)
	if err != nil {
		return c.wrap("set", key, err)
	}
	if err := c.rdb.Set(ctx, c.Key(key), value, exp).Err(); err != nil {
		return c.wrap("set", key, err)
	}
	return nil
}

// Add stores value under key only if it has no value (SET NX), otherwise it
// returns an error wrapping ErrExists. ttl is as for Set.
func (c *Client) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	exp, err := expiry(ttl)
	if err != nil {
		return c.wrap("add", key, err)
	}
	ok, err := c.rdb.SetNX(ctx, c.Key(key), value, exp).Result()
	if err != nil {
		return c.wrap("add", key, err)
	}
	if !ok {
		return fmt.Errorf("%w: %q on %s", ErrExists, c.Key(key), c.addr)
	}
	return nil
}

// Delete removes key (DEL). A missing key is not an error.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.Key(key)).Err(); err != nil {
		return c.wrap("delete", key, err)
	}
	return nil
}

// Close closes the connection pool.
func (c *Client) Close() error {
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("redis %s: close: %w", c.addr, err)
	}
	return nil
}

//------------------------------------------------------------------------------

func (c *Client) wrap(op, key string, err error) error {
	if key == "" {
		return fmt.Errorf("redis %s: %s: %w", c.addr, op, err)
	}
	return fmt.Errorf("redis %s: %s %q: %w", c.addr, op, c.Key(key), err)
}

// expiry turns a TTL into go-redis's expiration: 0 = none, otherwise rounded
// up to whole milliseconds (go-redis reads a sub-millisecond duration as "no
// expiry", and a TTL must never be shortened).
func expiry(ttl time.Duration) (time.Duration, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("ttl %v is negative", ttl)
	}
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond), nil
}

// parseURL turns a redis:// or rediss:// URL into go-redis options. Its errors
// never contain the password: url.Parse quotes its whole input in errors, so
// the URL is first validated in redacted form, and a password that changes
// how the URL parses is reported without showing either.
func parseURL(raw string) (*goredis.Options, error) {
	if raw == "" {
		return nil, errors.New("redis: url is empty")
	}
	redacted := redactURL(raw)
	u, err := url.Parse(redacted)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis: invalid url %s: %w", redacted, err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis: invalid url %s: scheme must be redis or rediss, got %q", redacted, u.Scheme)
	}
	safe, err := goredis.ParseURL(redacted)
	if err != nil {
		return nil, fmt.Errorf("redis: invalid url %s: %w", redacted, err)
	}
	opts, err := goredis.ParseURL(raw)
	if err != nil || opts.Addr != safe.Addr || opts.DB != safe.DB {
		return nil, fmt.Errorf("redis: invalid url %s: the user name or password cannot be parsed "+
			"(percent-encode reserved characters such as @ : / ? # %%, or use the username and password fields)", redacted)
	}
	return opts, nil
}

// redactURL replaces the password of a URL-like string with "xxxxx" without
// parsing it (it must also work on strings url.Parse rejects). Everything
// between "://" and the last '@' is the user info, since a password may hold
// any character; the user name is kept.
func redactURL(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		rest = raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return raw[:len(raw)-len(rest)] + user + ":xxxxx" + rest[at:]
}
