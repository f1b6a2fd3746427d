// Command vulncheck reads the JSON stream of `govulncheck -format json` on
// standard input, prints one line per vulnerability the code reaches (a
// finding whose trace ends in a function), and exits 1 when one of them is in
// a module. Findings in the standard library are fixed by building with a
// patched Go toolchain, not by go.mod: with -stdlib=warn they are printed
// but do not fail the check. Findings the code does not reach (imported
// packages, required modules) are counted only.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

type trace struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		DB             string `json:"db"`
		GoVersion      string `json:"go_version"`
		ScanLevel      string `json:"scan_level"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []trace `json:"trace"`
	} `json:"finding"`
}

type vuln struct {
	id, module, found, fixed string
}

func main() {
	stdlib := flag.String("stdlib", "fail", "what a reachable standard-library vulnerability does: fail or warn")
	flag.Parse()
	if *stdlib != "fail" && *stdlib != "warn" {
		fmt.Fprintln(os.Stderr, "vulncheck: -stdlib must be fail or warn")
		os.Exit(2)
	}
	failed, err := check(os.Stdin, os.Stdout, *stdlib == "warn")
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// check reports the reachable vulnerabilities of the stream to out and
// whether one of them fails the check.
func check(in io.Reader, out io.Writer, warnStdlib bool) (bool, error) {
	dec := json.NewDecoder(in)
	summaries := map[string]string{}
	reached := map[string]vuln{}
	unreached := map[string]bool{}
	sawConfig := false
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return false, fmt.Errorf("reading govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			sawConfig = true
			fmt.Fprintf(out, "govulncheck %s, %s, database %s, %s scan\n", m.Config.ScannerVersion, m.Config.GoVersion, m.Config.DB, m.Config.ScanLevel)
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			t := m.Finding.Trace[0]
			if t.Function == "" {
				unreached[m.Finding.OSV] = true
				continue
			}
			reached[m.Finding.OSV] = vuln{id: m.Finding.OSV, module: t.Module, found: t.Version, fixed: m.Finding.FixedVersion}
		}
	}
	if !sawConfig {
		return false, errors.New("no govulncheck config message: not the output of govulncheck -format json")
	}
	ids := make([]string, 0, len(reached))
	for id := range reached {
		ids = append(ids, id)
		delete(unreached, id)
	}
	slices.Sort(ids)
	failed := false
	for _, id := range ids {
		v := reached[id]
		verdict := "FAIL"
		fix := "fixed in " + v.fixed
		if v.fixed == "" {
			fix = "no fix yet"
		}
		if v.module == "stdlib" {
			fix = "fixed in go" + strings.TrimPrefix(v.fixed, "v") + ": build with a patched toolchain"
			if v.fixed == "" {
				fix = "no fixed Go release yet"
			}
			if warnStdlib {
				verdict = "warn"
			}
		}
		if verdict == "FAIL" {
			failed = true
		}
		fmt.Fprintf(out, "%s %s %s@%s (%s): %s\n", verdict, id, v.module, v.found, fix, summaries[id])
	}
	fmt.Fprintf(out, "%d reachable vulnerabilities, %d more in imported packages or required modules that the code does not call\n", len(ids), len(unreached))
	return failed, nil
}
