package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/caches/cas"
)

const (
	rcFieldURL        = "url"
	rcFieldUsername   = "username"
	rcFieldPassword   = "password"
	rcFieldKind       = "kind"
	rcFieldTLS        = "tls"
	rcFieldPrefix     = "prefix"
	rcFieldDefaultTTL = "default_ttl"
	rcFieldTimeout    = "timeout"

	rcKindSimple = "simple"
)

func redisCacheSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Stores items in a Redis server, so that several instances can share state such as checkpoints.").
		Description(`
Keys are written under an optional prefix with SET (Add uses SET NX), read with GET and removed with DEL. Items
never expire unless the component using the cache passes a TTL or `+"`default_ttl`"+` is set.

== Checkpoints

The anthropic_compliance input does not write its checkpoint through the cache interface: it uses a compare-and-swap
this cache offers besides it (one Lua script that compares the revision at the head of the stored document and, with
`+"`state.lease`"+`, that the writer still holds the lease, then SETs), and holds its lease with atomic scripts.
Checkpoints are written with no expiry, whatever `+"`default_ttl`"+` says.

== Durability

Redis acknowledges a write once it is in memory. Whether it survives a Redis restart depends on the server's
persistence settings (AOF with `+"`appendfsync everysec`"+` or `+"`always`"+`), and a `+"`maxmemory-policy`"+` that evicts
keys can drop a checkpoint: use `+"`noeviction`"+` or a `+"`volatile-*`"+` policy on a server holding checkpoints.

== Errors

Each command is sent once and not retried by the client: a network error reaches the component, which decides
whether to retry. Errors name the server address and key, never the password.`).
		Fields(
			service.NewURLField(rcFieldURL).
				Description("The server to connect to: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS. "+
					"Host defaults to localhost, port to 6379, database to 0. A password in the URL is hidden when the config is printed; "+
					"prefer the `password` field with an environment variable.").
				Examples("redis://localhost:6379/0", "rediss://redis.example.com:6380/2"),
			service.NewStringField(rcFieldUsername).
				Description("The ACL user name. Empty (the default) keeps the URL's, if any.").
				Default(""),
			service.NewStringField(rcFieldPassword).
				Description("The password. Empty (the default) keeps the URL's, if any.").
				Example("${REDIS_PASSWORD}").
				Default("").
				Secret(),
			service.NewStringAnnotatedEnumField(rcFieldKind, map[string]string{
				rcKindSimple: "One Redis server (or a proxy that looks like one). Cluster and sentinel modes are not supported yet.",
			}).
				Description("The deployment type of the server.").
				Default(rcKindSimple).
				Advanced(),
			service.NewTLSToggledField(rcFieldTLS),
			service.NewStringField(rcFieldPrefix).
				Description("Prepended to every key, so that several pipelines can share one database. Empty (the default) adds nothing.").
				Examples("compliance-connect/", "prod:").
				Default(""),
			service.NewDurationField(rcFieldDefaultTTL).
				Description("The expiry of items written without a TTL of their own. Leave it unset for no expiry, "+
					"which checkpoints need.").
				Examples("60s", "24h").
				Optional().
				Advanced(),
			service.NewDurationField(rcFieldTimeout).
				Description("The limit on connecting and on each network read or write of a command.").
				Examples("1s", "10s").
				Default("5s").
				Advanced(),
		).
		Example("Shared checkpoint store",
			"A cache resource that several instances can use for their checkpoints, with the password from the environment.",
			`
cache_resources:
  - label: state
    redis:
      url: redis://redis.internal:6379/0
      password: ${REDIS_PASSWORD}
      prefix: compliance-connect/
`)
}

func init() {
	service.MustRegisterCache("redis", redisCacheSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.Cache, error) {
			c, err := newRedisCacheFromConfig(conf)
			if err != nil {
				return nil, err
			}
			// The anthropic_compliance input reaches the atomic
			// compare-and-swap and the leases, which the cache
			// interface lacks, here.
			cas.Register(res, c.client.CAS())
			return c, nil
		})
}

//------------------------------------------------------------------------------

// redisCache adapts a Client to the Benthos cache contract.
type redisCache struct {
	client     *Client
	defaultTTL time.Duration
}

func newRedisCacheFromConfig(conf *service.ParsedConfig) (*redisCache, error) {
	var (
		c   Config
		err error
	)
	if c.URL, err = conf.FieldString(rcFieldURL); err != nil {
		return nil, err
	}
	if c.Username, err = conf.FieldString(rcFieldUsername); err != nil {
		return nil, err
	}
	if c.Password, err = conf.FieldString(rcFieldPassword); err != nil {
		return nil, err
	}
	kind, err := conf.FieldString(rcFieldKind)
	if err != nil {
		return nil, err
	}
	if kind != rcKindSimple {
		return nil, fmt.Errorf("field %s: %q is not supported (only %q)", rcFieldKind, kind, rcKindSimple)
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(rcFieldTLS)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", rcFieldTLS, err)
	}
	if tlsOn {
		c.TLS = tlsConf
	}
	if c.Prefix, err = conf.FieldString(rcFieldPrefix); err != nil {
		return nil, err
	}
	var defaultTTL time.Duration
	if conf.Contains(rcFieldDefaultTTL) {
		if defaultTTL, err = conf.FieldDuration(rcFieldDefaultTTL); err != nil {
			return nil, fmt.Errorf("field %s: %w", rcFieldDefaultTTL, err)
		}
		if defaultTTL < 0 {
			return nil, fmt.Errorf("field %s: %v is negative", rcFieldDefaultTTL, defaultTTL)
		}
	}
	if c.Timeout, err = conf.FieldDuration(rcFieldTimeout); err != nil {
		return nil, fmt.Errorf("field %s: %w", rcFieldTimeout, err)
	}
	if c.Timeout <= 0 {
		return nil, fmt.Errorf("field %s: %v must be positive", rcFieldTimeout, c.Timeout)
	}
	return newRedisCache(c, defaultTTL)
}

func newRedisCache(c Config, defaultTTL time.Duration) (*redisCache, error) {
	client, err := NewClient(c)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", rcFieldURL, err)
	}
	return &redisCache{client: client, defaultTTL: defaultTTL}, nil
}

func (r *redisCache) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := r.client.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, service.ErrKeyNotFound
	}
	return b, err
}

func (r *redisCache) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	return r.client.Set(ctx, key, value, r.ttl(ttl))
}

func (r *redisCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	err := r.client.Add(ctx, key, value, r.ttl(ttl))
	if errors.Is(err, ErrExists) {
		return service.ErrKeyAlreadyExists
	}
	return err
}

func (r *redisCache) Delete(ctx context.Context, key string) error {
	return r.client.Delete(ctx, key)
}

func (r *redisCache) Close(context.Context) error {
	return r.client.Close()
}

// ttl picks the caller's TTL, else default_ttl; zero means no expiry.
func (r *redisCache) ttl(ttl *time.Duration) time.Duration {
	if ttl != nil {
		return *ttl
	}
	return r.defaultTTL
}
