package preflight

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/compliance-connect/compliance-connect/audit/against"
)

// redisDurability reads a redis cache's persistence and eviction settings
// (CONFIG GET): a server without AOF or RDB snapshots loses the checkpoint
// when it restarts, and an allkeys-* eviction policy can drop it.
func (r *run) redisDurability(ctx context.Context, v *verdict, block map[string]any, allowVolatile bool) {
	raw, _ := block["url"].(string)
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		v.note("check cannot parse the redis url to read the server's persistence settings")
		return
	}
	if u, _ := block["username"].(string); u != "" {
		opts.Username = u
	}
	if p, _ := block["password"].(string); p != "" {
		opts.Password = p
	}
	tlsConf, err := against.Output{Block: block}.TLS()
	if err != nil {
		v.note("check cannot read the redis tls settings: " + err.Error())
		return
	}
	if tlsConf != nil {
		opts.TLSConfig = tlsConf
	}
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = r.o.Timeout, r.o.Timeout, r.o.Timeout
	client := goredis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	get := func(param string) (string, error) {
		m, err := client.ConfigGet(ctx, param).Result()
		if err != nil {
			return "", err
		}
		val, ok := m[param]
		if !ok {
			return "", fmt.Errorf("no %s in CONFIG GET's answer", param)
		}
		return val, nil
	}
	aof, err1 := get("appendonly")
	save, err2 := get("save")
	policy, err3 := get("maxmemory-policy")
	if err1 != nil || err2 != nil || err3 != nil {
		e := err1
		if e == nil {
			e = err2
		}
		if e == nil {
			e = err3
		}
		v.note(fmt.Sprintf("check cannot read the redis server's persistence settings (%s): make sure it persists (AOF or RDB) and uses maxmemory-policy noeviction", describe(redactRedis(e, opts.Password))))
		return
	}
	if aof != "yes" && strings.TrimSpace(save) == "" {
		const msg = "the redis server does not persist (appendonly no, save \"\"): a Redis restart loses the checkpoint and collection restarts from earliest"
		if allowVolatile {
			v.worse(Warn, "turn on AOF (appendonly yes) or RDB snapshots (save) on the redis server", msg+" (allowed by state.allow_volatile)")
		} else {
			v.worse(Fail, "turn on AOF (appendonly yes) or RDB snapshots (save) on the redis server, or set state.allow_volatile: true if re-collecting from earliest is acceptable", msg)
		}
	} else {
		v.note(fmt.Sprintf("the redis server persists (appendonly %s, save %q)", aof, save))
	}
	if strings.HasPrefix(policy, "allkeys-") {
		v.worse(Warn, "set maxmemory-policy noeviction on the redis server holding checkpoints",
			fmt.Sprintf("the redis server's maxmemory-policy %s can evict the checkpoint when memory runs out", policy))
	}
}

// redactRedis keeps a password out of an error text.
func redactRedis(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), password, "[redacted]"))
}
