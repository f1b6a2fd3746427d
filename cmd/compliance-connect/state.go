package main

import (
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
			"a rewind (or set) below the checkpoint's floor (its resolved earliest) needs --force.",
		Subcommands: []*cli.Command{
			{
				Name: "show", Usage: "print the checkpoint as JSON", Flags: with(),
				Action: stateAction(func(c *cli.Context, t *compliance.StateTarget) error {
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
				}),
			},
			{
				Name: "set", Usage: "replace the checkpoint with a validated JSON document",
				Flags: with(&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "the document (- for stdin)"}, forceFlag),
				Action: stateAction(func(c *cli.Context, t *compliance.StateTarget) error {
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
				}),
			},
			{
				Name: "delete", Usage: "delete the checkpoint (a tombstone): collection starts again from `earliest`", Flags: with(),
				Action: stateAction(func(c *cli.Context, t *compliance.StateTarget) error {
					if err := t.Delete(c.Context); err != nil {
						return err
					}
					_, err := fmt.Fprintf(c.App.Writer, "deleted %s\n", t.Where())
					return err
				}),
			},
			{
				Name: "rewind", Usage: "move scanned_to to a time (and clear seen/pending): the next job collects from there",
				Flags: with(&cli.StringFlag{Name: "to", Required: true, Usage: "an RFC 3339 time or a time expression such as -1d@d"}, forceFlag),
				Action: stateAction(func(c *cli.Context, t *compliance.StateTarget) error {
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
				}),
			},
		},
	}
}

// forceFlag allows a rewind below the checkpoint's floor.
var forceFlag = &cli.BoolFlag{Name: "force", Usage: "allow moving scanned_to below the checkpoint's floor (its resolved earliest): everything since is collected again"}

func stateAction(fn func(*cli.Context, *compliance.StateTarget) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		raw, err := os.ReadFile(c.String("config"))
		if err != nil {
			return err
		}
		targets, warnings, closeFn, err := compliance.OpenStateTargets(c.Context, raw)
		if err != nil {
			return err
		}
		defer func() { _ = closeFn(c.Context) }()
		for _, w := range warnings {
			fmt.Fprintln(c.App.ErrWriter, "warning: "+w)
		}
		var match []*compliance.StateTarget
		var names []string
		for _, t := range targets {
			names = append(names, fmt.Sprintf("label %q endpoint %q", t.Label, t.Endpoint))
			if t.Endpoint == c.String("endpoint") && (!c.IsSet("label") || t.Label == c.String("label")) {
				match = append(match, t)
			}
		}
		switch len(match) {
		case 0:
			return fmt.Errorf("no checkpoint matches --endpoint %q --label %q (the config has: %s)", c.String("endpoint"), c.String("label"), strings.Join(names, "; "))
		case 1:
			return fn(c, match[0])
		default:
			return errors.New("several inputs match: choose one with --label (" + strings.Join(names, "; ") + ")")
		}
	}
}

func readDoc(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}
