// Command compliance-connect is a Benthos distribution that carries every core
// component plus this project's plugins: the anthropic_compliance input, the
// SIEM outputs, the durable caches, the Prometheus exporter and the OCSF/ECS
// processors. It adds the subcommands fakeapi, demo and state.
package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/input/compliance"
)

func main() {
	os.Exit(run(context.Background(), os.Args))
}

// run executes the CLI with args and returns the process exit code, so that
// tests can drive the binary's code paths without os.Exit.
func run(ctx context.Context, args []string) int {
	// The input is registered again in an environment of our own, with the
	// two things only the binary can give it: the types of the configured
	// cache resources (to refuse volatile checkpoint stores) and how `once`
	// backfills ended (to exit non-zero after a failed one).
	var onceFailed atomic.Bool
	loaded := &loadedConfig{}
	env, err := newEnvironment(
		compliance.WithCacheResources(loaded.cacheResource),
		compliance.WithHTTPServer(loaded.httpServer),
		compliance.WithOnceResult(func(_ string, err error) {
			if err != nil {
				onceFailed.Store(true)
			}
		}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := []service.CLIOptFunc{
		service.CLIOptSetArgs(args...),
		service.CLIOptSetBinaryName("compliance-connect"),
		service.CLIOptSetProductName("compliance-connect"),
		service.CLIOptSetVersion(versionString(), buildDate()),
		service.CLIOptSetDocumentationURL("https://github.com/compliance-connect/compliance-connect"),
		service.CLIOptSetEnvironment(env),
		service.CLIOptOnConfigParse(loaded.fromConfig),
	}
	for _, c := range commands() {
		opts = append(opts, service.CLIOptAddCommand(c))
	}
	// Benthos lints one component at a time: the checkpoint store an
	// input names among the cache resources is checked here.
	stateLint := 0
	if isLint(args) {
		stateLint = lintStateCaches(args, os.Stderr)
	}
	code, err := service.RunCLIToCode(ctx, opts...)
	if code == 0 && stateLint > 0 {
		code = 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
	}
	if code == 0 && onceFailed.Load() {
		fmt.Fprintln(os.Stderr, "a `schedule: once` backfill failed; see the log above (it resumes from its own checkpoint when run again)")
		code = 1
	}
	return code
}

// newEnvironment is the binary's Benthos environment: every core component
// and this project's plugins, with the anthropic_compliance input registered
// again with opts, what only the binary can give it. `run` and
// `audit --repair` both run pipelines in it.
func newEnvironment(opts ...compliance.Option) (*service.Environment, error) {
	env := service.NewEnvironment()
	if err := compliance.Register(env, opts...); err != nil {
		return nil, fmt.Errorf("registering %s: %w", compliance.Name, err)
	}
	return env, nil
}
