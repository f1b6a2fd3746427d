package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/compliance-connect/compliance-connect/config"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// commands lists the subcommands this distribution adds to the Benthos CLI.
func commands() []*cli.Command {
	return []*cli.Command{
		demoCommand(),
		fakeapiCommand(),
		stateCommand(),
		auditCommand(),
		checkCommand(),
	}
}

func fakeapiCommand() *cli.Command {
	return &cli.Command{
		Name:            "fakeapi",
		Usage:           "Serve a fake Compliance API Activity Feed for tests and demos (-h lists flags)",
		SkipFlagParsing: true, // fakeapi.RunCLI parses its own flags
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := fakeapi.RunCLI(ctx, c.Args().Slice(), c.App.Writer, c.App.ErrWriter)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		},
	}
}

const demoKey = "demo-key"

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run the anthropic_compliance input against a built-in fake Compliance API (no API key needed)",
		Description: "Starts the fake Compliance API in-process with a seeded dataset of the last two hours and live growth,\n" +
			"then runs config/demo.yaml: the input prints every activity to stdout and keeps its checkpoint in --state.\n" +
			"Stop it with Ctrl-C; run it again and it resumes from the checkpoint.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state", Value: "./compliance-state/demo", Usage: "checkpoint directory"},
			&cli.IntFlag{Name: "count", Value: 2000, Usage: "activities in the seeded dataset"},
			&cli.StringFlag{Name: "http", Value: "127.0.0.1:4195", Usage: "address of the Benthos HTTP server (/ready, /metrics)"},
			&cli.StringFlag{Name: "api-addr", Value: "127.0.0.1:18089", Usage: "address of the fake Compliance API (kept fixed: the base URL is part of the checkpoint's identity)"},
		},
		Action: func(c *cli.Context) error {
			now := time.Now().UTC()
			fake, err := fakeapi.Start(fakeapi.Options{
				APIKeys:    []string{demoKey},
				Dataset:    fakeapi.Generate(fakeapi.GenOptions{Seed: 42, Count: c.Int("count"), From: now.Add(-2 * time.Hour), To: now.Add(-time.Minute)}),
				Lag:        20 * time.Second,
				Growth:     fakeapi.Growth{PerSecond: 0.5, LateFraction: 0.05, MaxLateness: 90 * time.Second, Seed: 42},
				RateLimit:  600,
				SelfEvents: true,
			}, c.String("api-addr"))
			if err != nil {
				return fmt.Errorf("starting the fake Compliance API (choose another --api-addr if the port is taken): %w", err)
			}
			defer fake.Close()

			stateDir, err := filepath.Abs(c.String("state"))
			if err != nil {
				return err
			}
			cfgFile := filepath.Join(os.TempDir(), fmt.Sprintf("compliance-connect-demo-%d.yaml", os.Getpid()))
			if err := os.WriteFile(cfgFile, config.Demo, 0o600); err != nil {
				return fmt.Errorf("writing the demo config: %w", err)
			}
			defer os.Remove(cfgFile)
			for k, v := range map[string]string{
				"COMPLIANCE_DEMO_URL":          fake.URL(),
				"COMPLIANCE_DEMO_STATE":        stateDir,
				"COMPLIANCE_DEMO_HTTP":         c.String("http"),
				"ANTHROPIC_COMPLIANCE_API_KEY": demoKey,
			} {
				if err := os.Setenv(k, v); err != nil {
					return err
				}
			}
			fmt.Fprintf(c.App.ErrWriter, "compliance-connect demo\n"+
				"  fake Compliance API: %s (%d seeded activities, growing; key %q)\n"+
				"  checkpoint:          %s\n"+
				"  readiness, metrics:  http://%s/ready, http://%s/metrics\n"+
				"  stop with Ctrl-C; run again to resume from the checkpoint\n\n",
				fake.URL(), c.Int("count"), demoKey,
				filepath.Join(stateDir, "anthropic_compliance%2Fdemo%2Factivities"),
				c.String("http"), c.String("http"))
			if code := run(c.Context, []string{"compliance-connect", "run", cfgFile}); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}
