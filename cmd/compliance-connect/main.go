// Command compliance-connect is a Benthos distribution that carries every core
// component plus this project's plugins: the anthropic_compliance input, the
// SIEM outputs, the durable caches, the Prometheus exporter and the OCSF/ECS
// processors. It adds the subcommands fakeapi, demo and state.
package main

import (
	"context"
	"os"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func main() {
	os.Exit(run(context.Background(), os.Args))
}

// run executes the CLI with args and returns the process exit code, so that
// tests can drive the binary's code paths without os.Exit.
func run(ctx context.Context, args []string) int {
	opts := []service.CLIOptFunc{
		service.CLIOptSetArgs(args...),
		service.CLIOptSetBinaryName("compliance-connect"),
		service.CLIOptSetProductName("compliance-connect"),
		service.CLIOptSetVersion(versionString(), buildDate()),
		service.CLIOptSetDocumentationURL("https://github.com/compliance-connect/compliance-connect"),
	}
	for _, c := range commands() {
		opts = append(opts, service.CLIOptAddCommand(c))
	}
	code, _ := service.RunCLIToCode(ctx, opts...)
	return code
}
