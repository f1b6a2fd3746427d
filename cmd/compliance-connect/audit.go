package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/compliance-connect/compliance-connect/audit"
	"github.com/compliance-connect/compliance-connect/audit/against"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/api"
	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

// Exit codes of `audit`.
const (
	auditComplete     = 0
	auditGaps         = 1
	auditFailed       = 2
	auditRepairFailed = 3
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:      "audit",
		Usage:     "Prove that a destination holds every activity of a window: compare the API's ids with the destination's",
		UsageText: "compliance-connect audit -c pipeline.yaml --from <time> --to <time> [--against <destination>] [--json] [--repair]",
		Description: "Lists the window's activity ids from the Compliance API with the filters, key, retries and rate-budget\n" +
			"headroom of the pipeline's anthropic_compliance input (pages of 5000, ids only), reads the ids the destination\n" +
			"holds for the window, and reports expected, present, missing, duplicated and unexpected ids. Both sides go\n" +
			"through an external sort on disk (--temp-dir), so memory stays flat for any window.\n\n" +
			"Times are RFC 3339 or expressions such as -1d@d; the window is [from, to) of created_at. Choose --to before\n" +
			"the input's checkpoint (`state show`): activities it has not reached yet are reported missing.\n\n" +
			against.Help + "\n\n" +
			repairHelp + "\n\n" +
			"Exit status: 0 complete, 1 gaps (activities missing), 2 the audit could not be made, 3 the repair failed.\n" +
			"Duplicates and unexpected documents are reported, never deleted, and do not make the exit status non-zero.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the pipeline config the input runs with"},
			&cli.StringFlag{Name: "from", Required: true, Usage: "start of the window (inclusive): RFC 3339 or a time expression such as -1q@q"},
			&cli.StringFlag{Name: "to", Required: true, Usage: "end of the window (exclusive): RFC 3339 or a time expression such as @q"},
			&cli.StringFlag{Name: "against", Value: "output", Usage: "the destination: output[:N], file://, s3://, es://, kafka:// (see above)"},
			&cli.StringFlag{Name: "label", Usage: "label of the anthropic_compliance input, when the config has several"},
			&cli.StringFlag{Name: "endpoint", Value: "activities", Usage: "the input's endpoint"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON (with every missing, duplicated and unexpected id) instead of a summary"},
			&cli.StringFlag{Name: "id-field", Usage: "dotted path of the activity id in documents (default: automatic for raw, ECS and OCSF documents)"},
			&cli.StringFlag{Name: "time-field", Usage: "dotted path of created_at in documents; for Elasticsearch the date field to search on (default created_at, @timestamp after anthropic_compliance_ecs)"},
			&cli.DurationFlag{Name: "slack", Value: 10 * time.Minute, Usage: "clock-skew allowance: files and objects modified, and Kafka records produced, up to this long before --from are still read"},
			&cli.Int64Flag{Name: "max-requests", Usage: "stop (exit 2) when the estimate after the first page exceeds this many API requests (0: no limit)"},
			&cli.StringFlag{Name: "temp-dir", Usage: "directory of the sorted runs (default: the system temp directory; about 100 bytes per id per side)"},
			&cli.IntFlag{Name: "examples", Value: 10, Usage: "ids of each list shown in the summary"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no plan or progress on stderr"},
			&cli.BoolFlag{Name: "repair", Usage: "re-send the missing activities through the pipeline (a once run of its input restricted to their ids), then audit again (see above)"},
			&cli.DurationFlag{Name: "repair-timeout", Usage: "longest the repair run may collect (its job_timeout); 0: no limit"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			code, err := runAudit(ctx, c, c.App.Writer, c.App.ErrWriter)
			if err != nil {
				return cli.Exit("audit: "+err.Error(), auditFailed)
			}
			if code != auditComplete {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

func runAudit(ctx context.Context, c *cli.Context, stdout, stderr io.Writer) (int, error) {
	say := func(format string, args ...any) {
		if !c.Bool("quiet") {
			fmt.Fprintf(stderr, "audit: "+format+"\n", args...)
		}
	}
	now := time.Now().UTC()
	var w audit.Window
	for _, f := range []struct {
		flag string
		dst  *time.Time
	}{{"from", &w.From}, {"to", &w.To}} {
		e, err := timeexpr.Parse(c.String(f.flag))
		if err != nil {
			return 0, fmt.Errorf("--%s: %w", f.flag, err)
		}
		*f.dst = e.Resolve(now, time.UTC)
	}
	raw, err := os.ReadFile(c.String("config"))
	if err != nil {
		return 0, err
	}
	hooks := api.Hooks{OnWait: func(wi api.WaitInfo) {
		if wi.Reason == "headroom" {
			say("waiting %s for the rate budget: %d of %d requests left in this minute (rate_limit.headroom keeps them for other tools)", wi.Wait.Round(time.Second), wi.Remaining, wi.Limit)
		}
	}}
	src, err := compliance.OpenPipelineAPI(raw, c.String("label"), c.String("endpoint"), "compliance-connect-audit/"+versionString(), hooks)
	if err != nil {
		return 0, err
	}
	defer func() { _ = src.Close(context.Background()) }()
	if edge := now.Add(-src.Settle); w.To.After(edge) {
		say("warning: the window ends after now - settle (%s): the API may not have indexed, nor the input delivered, its last activities yet", edge.Format(time.RFC3339))
	}
	spec := c.String("against")
	dest, err := against.Open(ctx, spec, against.Options{
		Fields:    audit.Fields{ID: c.String("id-field"), Time: c.String("time-field")},
		TimeField: c.String("time-field"),
		Slack:     c.Duration("slack"),
		Pipeline:  compliance.ExpandEnv(raw),
	})
	if err != nil {
		return 0, err
	}
	a := &auditor{c: c, say: say, window: w, src: src, dest: dest}
	if !c.Bool("repair") {
		rep, err := a.run(ctx)
		if err != nil {
			return 0, err
		}
		defer rep.Close()
		if err := a.write(stdout, rep); err != nil {
			return 0, err
		}
		return exitCode(rep), nil
	}
	r, err := newRepairer(ctx, c, raw, src, w, spec, stderr)
	if err != nil {
		return 0, err
	}
	return r.run(ctx, a, stdout)
}

// auditor makes the audit of one window against one destination: once, or
// before and after a repair.
type auditor struct {
	c      *cli.Context
	say    func(format string, args ...any)
	window audit.Window
	src    *compliance.PipelineAPI
	dest   audit.Destination
}

func (a *auditor) run(ctx context.Context) (*audit.Report, error) {
	c, say, src := a.c, a.say, a.src
	say("window %s, input %q endpoint %q of %s%s", a.window, src.Label, src.Endpoint, src.BaseURL, filterText(src.Filters))
	say("against %s", a.dest)
	say("API cost: ceil(N / %d) requests for the N activities of the window (at least 1); each counts against the organisation's shared budget, and rate_limit.headroom %.0f%% of it is left to other tools", audit.PageSize, src.Budget.Headroom*100)
	return audit.Run(ctx, audit.Options{
		Window:      a.window,
		API:         audit.Expected{Lister: src.Client, Filters: src.Filters},
		Destination: a.dest,
		TempDir:     c.String("temp-dir"),
		MaxRequests: c.Int64("max-requests"),
		OnPlan: func(p audit.Plan) error {
			if !p.HasMore {
				say("plan: the window holds %d activities: 1 request", p.FirstPage)
				return nil
			}
			msg := fmt.Sprintf("plan: the first page reached back to %s: about %d activities, about %d requests", p.Reached.UTC().Format(time.RFC3339), p.Activities, p.Requests)
			if rl := p.RateLimit; rl.Known && rl.Limit > 0 {
				per := float64(rl.Limit) * (1 - src.Budget.Headroom)
				msg += fmt.Sprintf(" (at least %.0f min at %.0f requests/min)", math.Ceil(float64(p.Requests)/per), per)
			}
			say("%s", msg)
			return nil
		},
		ProgressEvery: 5 * time.Second,
		OnProgress: func(p audit.Progress) {
			switch p.Stage {
			case "api":
				say("API: %d ids, %d requests, reached %s", p.Listed, p.Requests, p.Reached.UTC().Format(time.RFC3339))
			default:
				say("destination: %d documents read", p.Documents)
			}
		},
	})
}

// write prints a report as the flags ask.
func (a *auditor) write(w io.Writer, rep *audit.Report) error {
	if a.c.Bool("json") {
		return rep.WriteJSON(w)
	}
	return rep.WriteText(w, a.c.Int("examples"))
}

func exitCode(rep *audit.Report) int {
	if !rep.Complete() {
		return auditGaps
	}
	return auditComplete
}

func filterText(p api.ListParams) string {
	var parts []string
	for _, f := range []struct {
		name string
		v    []string
	}{{"activity_types", p.ActivityTypes}, {"exclude_activity_types", p.ExcludeActivityTypes}, {"actor_ids", p.ActorIDs}, {"organization_ids", p.OrganizationIDs}} {
		if len(f.v) > 0 {
			parts = append(parts, f.name+"="+strings.Join(f.v, ","))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (filters " + strings.Join(parts, " ") + ")"
}
