package main

import (
	"github.com/urfave/cli/v2"
)

// commands lists the subcommands this distribution adds to the Benthos CLI.
func commands() []*cli.Command {
	return []*cli.Command{
		demoCommand(),
	}
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run the anthropic_compliance input against a built-in fake Compliance API (no API key needed)",
		Action: func(c *cli.Context) error {
			_, err := c.App.Writer.Write([]byte("demo not available yet: the anthropic_compliance input has not landed\n"))
			return err
		},
	}
}
