package main

import (
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// cacheTypes remembers the type of each cache resource of the loaded config.
// Benthos does not tell plugins what type a resource is, so the binary reads
// it from the config and hands it to the input.
type cacheTypes struct {
	mu    sync.Mutex
	types map[string]string
}

// fromConfig records cache_resources[*]: a label plus one key naming the type.
func (c *cacheTypes) fromConfig(conf *service.ParsedConfig) error {
	types := map[string]string{}
	if conf.Contains("cache_resources") {
		raw, err := conf.FieldAny("cache_resources")
		if err != nil {
			return err
		}
		list, _ := raw.([]any)
		for _, item := range list {
			var m map[string]any
			switch v := item.(type) {
			case map[string]any:
				m = v
			case *yaml.Node:
				if err := v.Decode(&m); err != nil {
					return fmt.Errorf("cache_resources: %w", err)
				}
			}
			label, _ := m["label"].(string)
			for k := range m {
				if k != "label" {
					types[label] = k
				}
			}
		}
	}
	c.mu.Lock()
	c.types = types
	c.mu.Unlock()
	return nil
}

func (c *cacheTypes) lookup(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.types == nil {
		return "", false
	}
	t, ok := c.types[name]
	return t, ok
}
