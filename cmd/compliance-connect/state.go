package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/compliance-connect/compliance-connect/input/compliance"
)

// stateCommand manages checkpoints (Cribl's "Manage State") in the store the
// pipeline config names: show, set, delete and rewind.
func stateCommand() *cli.Command {
	common := []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the pipeline config file the input runs with"},
		&cli.StringFlag{Name: "endpoint", Value: "activities", Usage: "endpoint whose checkpoint to use"},
		&cli.StringFlag{Name: "label", Usage: "label of the anthropic_compliance input, when the config has several"},
	}
	with := func(extra ...cli.Flag) []cli.Flag { return append(append([]cli.Flag{}, common...), extra...) }
	return &cli.Command{
		Name:  "state",
		Usage: "Show, set, delete or rewind the checkpoint of an anthropic_compliance input",
		Description: "Works on the store the config names (state.path or state.cache), by the same atomic compare-and-swap\n" +
			"a running instance commits with: its job in progress cannot write over the change, and its next job resumes\n" +
			"from the new checkpoint (after `delete`, from `earliest`). A scanned_to later than now + settle is refused;\n" +
			"a rewind (or set) below the checkpoint's floor (its resolved earliest) needs --force.\n" +
			"activities, chats and files keep a checkpoint of the same kind (a window; chats and files on updated_at):\n" +
			"every subcommand works on them. A directory or projects endpoint (organizations, users, roles, groups,\n" +
			"organization_settings, projects) keeps its last complete run: `show` prints it and `delete` makes the next\n" +
			"run start over (emit: changes takes a new baseline); `set` and `rewind` are refused.",
		Subcommands: []*cli.Command{
			{
				Name: "show", Usage: "print the checkpoint as JSON", Flags: with(),
				Action: stateAction("show", func(c *cli.Context, t *compliance.StateTarget) error {
					rec, err := t.Show(c.Context)
					if err != nil {
						return err
					}
					out, err := rec.Encode()
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.App.Writer, "%s\n", out)
					return err
				}, func(c *cli.Context, t *compliance.SnapshotTarget) error {
					_, doc, err := t.Show(c.Context)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.App.Writer, "%s\n", bytes.TrimRight(doc, "\n"))
					return err
				}),
			},
			{
				Name: "set", Usage: "replace the checkpoint with a validated JSON document (not for directory or projects endpoints)",
				Flags: with(&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "the document (- for stdin)"}, forceFlag),
				Action: stateAction("set", func(c *cli.Context, t *compliance.StateTarget) error {
					doc, err := readDoc(c.String("file"))
					if err != nil {
						return err
					}
					rec, err := t.Set(c.Context, doc, c.Bool("force"))
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.App.Writer, "stored rev %d in %s\n", rec.Rev, t.Where())
					return err
				}, nil),
			},
			{
				Name: "delete", Usage: "delete the checkpoint (a tombstone): collection starts again from `earliest` (a directory or projects endpoint: its next run starts over)", Flags: with(),
				Action: stateAction("delete", func(c *cli.Context, t *compliance.StateTarget) error {
					if err := t.Delete(c.Context); err != nil {
						return err
					}
					_, err := fmt.Fprintf(c.App.Writer, "deleted %s\n", t.Where())
					return err
				}, func(c *cli.Context, t *compliance.SnapshotTarget) error {
					if err := t.Delete(c.Context); err != nil {
						return err
					}
					next := "its next run emits a whole new snapshot, as on a first run"
					if t.Emit == "changes" {
						next = "its next run takes a new baseline: every record is emitted again as `added`"
						if t.SilentBaseline {
							next = "its next run takes a new baseline, recorded without emitting (baseline: silent): changes since the last run are not emitted"
						}
					}
					_, err := fmt.Fprintf(c.App.Writer, "deleted %s: endpoint %s starts over, %s\n", t.Where(), t.Endpoint, next)
					if err == nil && t.Emit == "changes" {
						_, err = fmt.Fprintf(c.App.Writer, "the previous versions (%s) are left in place: no run reads them again, the next recorded change overwrites one; "+
							"stop the input and delete them to remove them now\n", strings.Join(t.RecordsDocs(), ", "))
					}
					return err
				}),
			},
			{
				Name: "rewind", Usage: "move scanned_to to a time (and clear seen/pending): the next job collects from there (not for directory or projects endpoints)",
				Flags: with(&cli.StringFlag{Name: "to", Required: true, Usage: "an RFC 3339 time or a time expression such as -1d@d"}, forceFlag),
				Action: stateAction("rewind", func(c *cli.Context, t *compliance.StateTarget) error {
					to, err := compliance.ParseRewind(c.String("to"))
					if err != nil {
						return err
					}
					rec, err := t.Rewind(c.Context, to, c.Bool("force"))
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.App.Writer, "rewound %s to %s (rev %d)\n", t.Where(), rec.ScannedTo.Format(time.RFC3339), rec.Rev)
					return err
				}, nil),
			},
		},
	}
}

// forceFlag allows a rewind below the checkpoint's floor.
var forceFlag = &cli.BoolFlag{Name: "force", Usage: "allow moving scanned_to below the checkpoint's floor (its resolved earliest): everything since is collected again"}

// stateAction runs a subcommand on the checkpoint --endpoint and --label
// choose: fn on a feed or content endpoint's, onSnapshot on a directory or
// projects endpoint's (nil: the subcommand is refused there).
func stateAction(name string, fn func(*cli.Context, *compliance.StateTarget) error, onSnapshot func(*cli.Context, *compliance.SnapshotTarget) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		raw, err := os.ReadFile(c.String("config"))
		if err != nil {
			return err
		}
		p, err := compliance.OpenPipelineState(c.Context, raw)
		if err != nil {
			return err
		}
		defer func() { _ = p.Close(c.Context) }()
		for _, w := range p.Warnings {
			fmt.Fprintln(c.App.ErrWriter, "warning: "+w)
		}
		var match []compliance.EndpointState
		var names []string
		for _, ep := range p.Endpoints {
			name := fmt.Sprintf("label %q endpoint %q", ep.Label, ep.Endpoint)
			switch {
			case !ep.Tracking:
				name += " (state tracking off)"
			case ep.Kind == compliance.KindSnapshot:
				name += " (snapshot: show, delete)"
			}
			names = append(names, name)
			if ep.Endpoint == c.String("endpoint") && (!c.IsSet("label") || ep.Label == c.String("label")) {
				match = append(match, ep)
			}
		}
		switch len(match) {
		case 0:
			return fmt.Errorf("no checkpoint matches --endpoint %q --label %q (the config has: %s)", c.String("endpoint"), c.String("label"), strings.Join(names, "; "))
		case 1:
		default:
			return errors.New("several inputs match: choose one with --label (" + strings.Join(names, "; ") + ")")
		}
		ep := match[0]
		switch {
		case ep.Target != nil:
			return fn(c, ep.Target)
		case ep.Snapshot != nil && onSnapshot != nil:
			return onSnapshot(c, ep.Snapshot)
		case ep.Snapshot != nil:
			return fmt.Errorf("refused: input %q endpoint %q is a directory or projects endpoint: its checkpoint records its last complete run, not a position in time, "+
				"so `state %s` does not apply to it; `state show` prints it, `state delete` makes the next run start over", ep.Label, ep.Endpoint, name)
		default:
			return fmt.Errorf("input %q endpoint %q keeps no checkpoint: its state tracking is off (state_tracking.enabled: false)", ep.Label, ep.Endpoint)
		}
	}
}

func readDoc(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}
