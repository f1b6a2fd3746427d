package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
)

// Exit codes of `check`.
const (
	checkPassed    = 0 // every check ok, skipped or a warning
	checkFailed    = 1 // at least one check failed
	checkCannotRun = 2 // the checks could not be made (config unreadable or invalid)
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "Preflight: tell what will go wrong with a pipeline before its first run (key, scopes, clock, budget, cost, state store, checkpoint, HTTP exposure, outputs)",
		UsageText: "compliance-connect check -c pipeline.yaml [--json] [--timeout 15s]",
		Description: "Reads the pipeline config as `run` would (${VAR} expanded) and checks, for each anthropic_compliance input:\n" +
			"  api.key, api.scope  the API accepts the key (401) and it has every scope each endpoint needs (a 403 names the\n" +
			"                      scope and the endpoints that need it)\n" +
			"  api.clock           this host's clock against the API's Date header\n" +
			"  api.budget          the shared request budget left (anthropic-ratelimit-requests-*)\n" +
			"  api.cost            what a job of each endpoint costs at its schedule, in requests/min of the shared budget:\n" +
			"                      (1 + overlap / interval) x activities / page_size, plus one per slice, with the activity\n" +
			"                      rate estimated from the sample request (an estimate: busier hours cost more); not\n" +
			"                      estimated for the directory, projects, chats and files endpoints (skip, with why)\n" +
			"  state.store         the checkpoint store is durable (not a memory cache, tmpfs or a container layer; a redis\n" +
			"                      server that persists and does not evict), has sane permissions and is writable: a probe\n" +
			"                      document (anthropic_compliance/.preflight-probe, left in place) is written through\n" +
			"                      the checkpoint's compare-and-swap and read back, never the checkpoint itself (a\n" +
			"                      missing state.path is not created)\n" +
			"  state.checkpoint    the checkpoint, read only, belongs to this config (base URL, filters, endpoint); for a\n" +
			"                      directory or projects endpoint, its last complete run\n" +
			"  http.server         where the HTTP server listens, and whether basic auth and TLS are on\n" +
			"  output              each kafka (metadata), elasticsearch (GET /), aws_s3 (HeadBucket), splunk_hec (health,\n" +
			"                      and the token with an empty POST) and file (directory writable) output, also inside\n" +
			"                      fallback/broker/switch; nothing is written to them\n\n" +
			"API requests: " + preflight.MaxAPIRequests + ".\n" +
			"The Activity Feed's is one page of at most 1000 activities of the hour before now - settle, with the endpoint's\n" +
			"filters; the scope probes ask for one organization (org data) and one chat (user data). Each counts against the\n" +
			"organisation's budget and adds one compliance_api_accessed activity to the feed.\n" +
			"The API key never appears in the output.\n\n" +
			"Each line is: status (ok, warn, fail, skip), check, subject, finding; a `fix:` line follows each that is not ok.\n" +
			"Run it as the user the service runs as: file permissions are checked for the user running check.\n\n" +
			"Exit status: 0 every check ok (warnings and skips allowed), 1 a check failed, 2 the checks could not be made.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "the pipeline config the service runs with (required)"},
			&cli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
			&cli.DurationFlag{Name: "timeout", Value: 15 * time.Second, Usage: "bound of each API request and output probe"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cli.Exit("check: "+err.Error(), checkCannotRun)
		},
		Action: func(c *cli.Context) error {
			if c.String("config") == "" {
				return cli.Exit("check: -c/--config is required: the pipeline config the service runs with", checkCannotRun)
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			raw, err := os.ReadFile(c.String("config"))
			if err != nil {
				return cli.Exit("check: "+err.Error(), checkCannotRun)
			}
			rep, err := preflight.Run(ctx, preflight.Options{
				Pipeline:  raw,
				Timeout:   c.Duration("timeout"),
				UserAgent: "compliance-connect-check/" + versionString(),
			})
			if err != nil {
				return cli.Exit("check: "+err.Error(), checkCannotRun)
			}
			if c.Bool("json") {
				err = rep.WriteJSON(c.App.Writer)
			} else {
				err = rep.WriteText(c.App.Writer)
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("check: %v", err), checkCannotRun)
			}
			if rep.Failed() {
				return cli.Exit("", checkFailed)
			}
			return nil
		},
	}
}
