package preflight

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText prints one line per check (status, check, subject, message) and
// the fix below each one that is not ok, then a summary.
func (r *Report) WriteText(w io.Writer) error {
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Check))
	}
	for _, res := range r.Results {
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s: %s\n", res.Status, width, res.Check, res.Subject, res.Message); err != nil {
			return err
		}
		if res.Fix != "" {
			if _, err := fmt.Fprintf(w, "%-4s  %-*s  fix: %s\n", "", width, "", res.Fix); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%d failed, %d warnings, %d ok, %d skipped; %d Compliance API request(s)\n",
		r.Count(Fail), r.Count(Warn), r.Count(OK), r.Count(Skip), r.APIRequests)
	return err
}

// WriteJSON prints the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	doc := struct {
		*Report
		Failed bool           `json:"failed"`
		Counts map[Status]int `json:"counts"`
	}{r, r.Failed(), map[Status]int{OK: r.Count(OK), Warn: r.Count(Warn), Fail: r.Count(Fail), Skip: r.Count(Skip)}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
