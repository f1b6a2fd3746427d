package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/caches/cas"
)

const (
	afcFieldDirectory = "directory"
)

// errTTLUnsupported is returned by the cache's Set and Add when given a TTL.
var errTTLUnsupported = errors.New("atomic_file cache does not support TTLs: remove the ttl from the component that uses this cache")

func atomicFileCacheSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Local").
		Version("0.1.0").
		Summary("Stores each item as a file in a local directory, with crash-safe atomic writes.").
		Description(`
Every write goes to a temporary file in the same directory, is fsynced, renamed over the item's file, and the
directory is fsynced. A crash (SIGKILL, power loss) therefore leaves either the old value or the new one, never a
truncated or mixed file, which makes this cache suitable for checkpoints. The core `+"`file`"+` cache truncates in
place without fsync and is not.

== File layout

One file per key, holding the value verbatim (`+"`cat`"+` shows it). The file name is the key with every byte outside
`+"`[A-Za-z0-9._-]`"+` (and a leading `+"`.`"+`) written as `+"`%XX`"+`: the key `+"`compliance:activities`"+` is the file
`+"`compliance%3Aactivities`"+`. Keys whose file name would exceed 255 bytes are refused. Deleting a file resets that key.

== Limits

Items never expire: a `+"`ttl`"+` given by the component using the cache is refused with an error. Opening the cache
removes temporary files older than ten minutes, crash leftovers. Writes cost two fsyncs each, so this cache suits low-rate
state, not per-message dedupe at high volume.

== Checkpoints

The anthropic_compliance input writes its checkpoint through a compare-and-swap that this cache offers besides the cache
interface: under an exclusive `+"`flock`"+` of a per-key lock file (`+"`.lock-…`"+` in the directory), it compares the
stored revision and replaces the file. Several processes (a running pipeline and `+"`compliance-connect state`"+`) can
therefore share the directory; the kernel releases the lock of a process that dies. The file system must support
`+"`flock`"+` (local file systems do; on NFS it maps to POSIX locks).`).
		Field(service.NewStringField(afcFieldDirectory).
			Description("The directory holding the items. It is created (mode 0700, with parents) when missing; "+
				"startup fails if it is not a writable directory.").
			Examples("./compliance-state", "/var/lib/compliance-connect/state")).
		Example("Checkpoint store",
			"A cache resource that an input can name to keep its checkpoint across restarts.",
			`
cache_resources:
  - label: state
    atomic_file:
      directory: /var/lib/compliance-connect/state
`)
}

func init() {
	service.MustRegisterCache("atomic_file", atomicFileCacheSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.Cache, error) {
			c, err := newAtomicFileCacheFromConfig(conf)
			if err != nil {
				return nil, err
			}
			// The anthropic_compliance input reaches the atomic
			// compare-and-swap, which the cache interface lacks, here.
			cas.Register(res, c.store.CAS())
			return c, nil
		})
}

//------------------------------------------------------------------------------

// atomicFileCache adapts a Store to the Benthos cache contract.
type atomicFileCache struct {
	store *Store
}

func newAtomicFileCacheFromConfig(conf *service.ParsedConfig) (*atomicFileCache, error) {
	dir, err := conf.FieldString(afcFieldDirectory)
	if err != nil {
		return nil, err
	}
	return newAtomicFileCache(dir)
}

func newAtomicFileCache(dir string) (*atomicFileCache, error) {
	if dir == "" {
		return nil, fmt.Errorf("field %s: must not be empty", afcFieldDirectory)
	}
	store, err := Open(dir)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", afcFieldDirectory, err)
	}
	return &atomicFileCache{store: store}, nil
}

func (c *atomicFileCache) Get(_ context.Context, key string) ([]byte, error) {
	b, err := c.store.Get(key)
	if errors.Is(err, ErrNotFound) {
		return nil, service.ErrKeyNotFound
	}
	return b, err
}

func (c *atomicFileCache) Set(_ context.Context, key string, value []byte, ttl *time.Duration) error {
	if ttl != nil {
		return errTTLUnsupported
	}
	return c.store.Set(key, value)
}

func (c *atomicFileCache) Add(_ context.Context, key string, value []byte, ttl *time.Duration) error {
	if ttl != nil {
		return errTTLUnsupported
	}
	err := c.store.Add(key, value)
	if errors.Is(err, ErrExists) {
		return service.ErrKeyAlreadyExists
	}
	return err
}

func (c *atomicFileCache) Delete(_ context.Context, key string) error {
	return c.store.Delete(key)
}

func (c *atomicFileCache) Close(context.Context) error {
	return nil
}
