package compliance

import (
	"context"
	"errors"
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// cacheStore keeps checkpoints in a Benthos cache resource, never with a TTL.
type cacheStore struct {
	res  *service.Resources
	name string
}

func (s cacheStore) access(ctx context.Context, fn func(service.Cache) error) error {
	var inner error
	if err := s.res.AccessCache(ctx, s.name, func(c service.Cache) { inner = fn(c) }); err != nil {
		return fmt.Errorf("cache resource %q: %w", s.name, err)
	}
	return inner
}

func (s cacheStore) Load(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.access(ctx, func(c service.Cache) error {
		v, err := c.Get(ctx, key)
		if errors.Is(err, service.ErrKeyNotFound) {
			return checkpoint.ErrNotFound
		}
		out = v
		return err
	})
	return out, err
}

func (s cacheStore) Save(ctx context.Context, key string, value []byte) error {
	return s.access(ctx, func(c service.Cache) error { return c.Set(ctx, key, value, nil) })
}

func (s cacheStore) Create(ctx context.Context, key string, value []byte) error {
	return s.access(ctx, func(c service.Cache) error {
		err := c.Add(ctx, key, value, nil)
		if errors.Is(err, service.ErrKeyAlreadyExists) {
			return checkpoint.ErrExists
		}
		return err
	})
}

func (s cacheStore) Delete(ctx context.Context, key string) error {
	return s.access(ctx, func(c service.Cache) error {
		err := c.Delete(ctx, key)
		if errors.Is(err, service.ErrKeyNotFound) {
			return nil
		}
		return err
	})
}

func (s cacheStore) Describe(key string) string {
	return fmt.Sprintf("cache resource %q key %q", s.name, key)
}

// dirStore keeps checkpoints in the embedded crash-safe directory.
type dirStore struct{ s *atomicfile.Store }

func (d dirStore) Load(_ context.Context, key string) ([]byte, error) {
	v, err := d.s.Get(key)
	if errors.Is(err, atomicfile.ErrNotFound) {
		return nil, checkpoint.ErrNotFound
	}
	return v, err
}

func (d dirStore) Save(_ context.Context, key string, value []byte) error { return d.s.Set(key, value) }

func (d dirStore) Create(_ context.Context, key string, value []byte) error {
	err := d.s.Add(key, value)
	if errors.Is(err, atomicfile.ErrExists) {
		return checkpoint.ErrExists
	}
	return err
}

func (d dirStore) Delete(_ context.Context, key string) error { return d.s.Delete(key) }

func (d dirStore) Describe(key string) string { return "file " + d.s.Path(key) }
