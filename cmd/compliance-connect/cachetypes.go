package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance"
)

// loadedConfig remembers what the input needs to know of the loaded config
// and Benthos does not tell plugins: the type and config of each cache
// resource (to refuse checkpoint stores that forget) and how the HTTP server
// listens (to refuse state writes on a server open to the network).
type loadedConfig struct {
	mu     sync.Mutex
	caches map[string]compliance.CacheResource
	http   *compliance.HTTPServer
}

// fromConfig records cache_resources[*] (a label plus one key naming the
// type) and the http block.
func (c *loadedConfig) fromConfig(conf *service.ParsedConfig) error {
	caches := map[string]compliance.CacheResource{}
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
			for k, v := range m {
				if k != "label" {
					conf, _ := v.(map[string]any)
					if conf == nil {
						conf = map[string]any{} // `memory:` with no block: every default
					}
					caches[label] = compliance.CacheResource{Type: k, Config: conf}
				}
			}
		}
	}
	var server *compliance.HTTPServer
	if enabled, err := conf.FieldBool("http", "enabled"); err == nil {
		s := compliance.HTTPServer{Enabled: enabled}
		addr, err1 := conf.FieldString("http", "address")
		auth, err2 := conf.FieldBool("http", "basic_auth", "enabled")
		if err1 == nil && err2 == nil {
			s.Address, s.BasicAuth = addr, auth
			server = &s
		}
	}
	c.mu.Lock()
	c.caches, c.http = caches, server
	c.mu.Unlock()
	return nil
}

func (c *loadedConfig) cacheResource(name string) (compliance.CacheResource, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caches == nil {
		return compliance.CacheResource{}, false
	}
	r, ok := c.caches[name]
	return r, ok
}

func (c *loadedConfig) httpServer() (compliance.HTTPServer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.http == nil {
		return compliance.HTTPServer{}, false
	}
	return *c.http, true
}

//------------------------------------------------------------------------------

// lintStateCaches adds to `lint` what Benthos' linter cannot see, one
// component at a time: the cache resource an anthropic_compliance input
// names as state.cache (a core `file` cache, a volatile one, a default TTL),
// checked with the rule start-up applies. args are the command line; it
// returns how many problems it printed to w.
func lintStateCaches(args []string, w io.Writer) int {
	targets, resources := lintArgs(args)
	var resDocs [][]byte
	for _, pattern := range resources {
		for _, path := range expandLintPath(pattern) {
			if b, err := os.ReadFile(path); err == nil {
				resDocs = append(resDocs, b)
			}
		}
	}
	problems := 0
	for _, pattern := range targets {
		for _, path := range expandLintPath(pattern) {
			b, err := os.ReadFile(path)
			if err != nil {
				continue // Benthos' lint reports it
			}
			found, err := compliance.LintStateCaches(b, resDocs...)
			if err != nil {
				continue // Benthos' lint reports it
			}
			for _, p := range found {
				fmt.Fprintf(w, "%s: %s\n", path, p)
				problems++
			}
		}
	}
	return problems
}

// flagsWithValue are the flags of the Benthos CLI (root and lint) whose
// value is the next argument.
var flagsWithValue = map[string]bool{"-r": true, "--resources": true, "-e": true, "--env-file": true, "-t": true, "--templates": true,
	"-c": true, "--config": true, "--set": true, "-s": true, "--log.level": true}

// lintArgs picks the files of `compliance-connect [flags] lint [flags]
// files...`: the targets, and the resource files of -r/--resources.
func lintArgs(args []string) (targets, resources []string) {
	withValue := flagsWithValue
	inLint := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch {
		case a == "lint" && !inLint:
			inLint = true
		case strings.HasPrefix(a, "-"):
			if !hasValue && withValue[name] && i+1 < len(args) {
				i++
				value = args[i]
			}
			switch name {
			case "-r", "--resources":
				resources = append(resources, value)
			case "-c", "--config":
				targets = append(targets, value)
			}
		case inLint:
			targets = append(targets, a)
		}
	}
	return targets, resources
}

// expandLintPath expands a glob, or a dir/... path to its YAML files.
func expandLintPath(pattern string) []string {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		var out []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				out = append(out, p)
			}
			return nil
		})
		return out
	}
	matches, err := filepath.Glob(pattern)
	if err != nil || len(matches) == 0 {
		return []string{pattern}
	}
	return matches
}

// isLint reports whether args run the lint subcommand.
func isLint(args []string) bool {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a == "lint"
		}
		if !strings.Contains(a, "=") && flagsWithValue[a] {
			i++ // the flag's value
		}
	}
	return false
}
