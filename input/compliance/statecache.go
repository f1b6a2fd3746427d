package compliance

import (
	"fmt"
	"strings"
)

// CacheResource is a cache resource as configured: its type and its own
// config block. Benthos does not tell plugins either; the compliance-connect
// binary reads them from the config (WithCacheResources).
type CacheResource struct {
	Type string
	// Config is the block under the type key; nil when unknown (then no
	// default TTL can be checked), empty when the block is empty.
	Config map[string]any
}

// WithCacheResources tells the input each cache resource's type and config,
// so that it can refuse a checkpoint store that forgets: a volatile cache
// (memory, lru, ttlru, noop) unless state.allow_volatile is set, the core
// `file` cache, and a cache whose default TTL would expire the checkpoint.
// Without it the checks cannot be made and a warning is logged.
func WithCacheResources(fn func(resource string) (CacheResource, bool)) Option {
	return func(o *options) { o.cacheResource = fn }
}

// WithCacheTypes is WithCacheResources with the types only.
func WithCacheTypes(fn func(resource string) (typ string, known bool)) Option {
	return WithCacheResources(func(name string) (CacheResource, bool) {
		typ, ok := fn(name)
		return CacheResource{Type: typ}, ok
	})
}

// volatileCaches forget what they hold (on restart, eviction or a default TTL).
var volatileCaches = map[string]bool{"memory": true, "lru": true, "ttlru": true, "noop": true}

// ourCaches write checkpoints through their compare-and-swap, with no expiry.
var ourCaches = map[string]bool{"atomic_file": true, "redis": true}

// checkStateCache is the one rule, shared by start-up and lint, for which
// cache resources may hold checkpoints. It returns a warning to log for an
// accepted cache that deserves one.
func checkStateCache(name string, r CacheResource, allowVolatile bool) (warning string, err error) {
	typ := r.Type
	if typ == "file" {
		return "", fmt.Errorf("state.cache: cache resource %q is a core `file` cache, which cannot hold checkpoints: it does not create "+
			"the directories of the checkpoint key (anthropic_compliance/<label>/<endpoint>) and writes in place without fsync, so a crash "+
			"tears the checkpoint. Leave state.cache empty to use state.path (a crash-safe directory), or declare an `atomic_file` cache", name)
	}
	if volatileCaches[typ] {
		if !allowVolatile {
			return "", fmt.Errorf("state.cache: cache resource %q is a %s cache, which loses the checkpoint (on restart, eviction or expiry) and restarts collection from `earliest`; use a durable cache (atomic_file, redis) or set state.allow_volatile: true", name, typ)
		}
		warning = fmt.Sprintf("state.cache: cache resource %q is a volatile %s cache (allowed by state.allow_volatile): the checkpoint is lost on restart", name, typ)
	}
	if ourCaches[typ] {
		return warning, nil // written through their compare-and-swap, never with a TTL
	}
	if r.Config == nil {
		return warning, nil // the config is unknown: its TTLs cannot be checked
	}
	if field, ttl := defaultTTL(r); field != "" {
		return "", fmt.Errorf("state.cache: cache resource %q (%s) expires items written without a TTL after %s (%s), which would expire the "+
			"checkpoint and restart collection from `earliest`; %s", name, typ, ttl, field, ttlRemedy(typ))
	}
	return warning, nil
}

// defaultTTL names the field that gives items of r an expiry, and its value.
func defaultTTL(r CacheResource) (field, ttl string) {
	str := func(key, def string) (string, bool) {
		v, present := r.Config[key]
		if !present {
			return def, def != ""
		}
		s, _ := v.(string)
		return strings.TrimSpace(s), strings.TrimSpace(s) != ""
	}
	switch r.Type {
	case "memory":
		// Items expire only while compaction runs (Benthos v4.60).
		ttl, on := str("default_ttl", "5m")
		if _, compacting := str("compaction_interval", "60s"); on && compacting {
			return "default_ttl", ttl
		}
		return "", ""
	case "ttlru":
		ttl, _ := str("default_ttl", "5m")
		return "default_ttl", ttl
	}
	if ttl, on := str("default_ttl", ""); on {
		return "default_ttl", ttl
	}
	return "", ""
}

func ttlRemedy(typ string) string {
	switch typ {
	case "memory":
		return `set compaction_interval: "" on it (items then never expire)`
	case "ttlru":
		return "a ttlru cache always expires items: use another cache"
	}
	return "remove default_ttl from it"
}
