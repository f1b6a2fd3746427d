package compliance

import (
	"strconv"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// chartSection is the inspector's chart of the job history, drawn as inline
// SVG on the server: one bar per job (activities emitted, coloured by
// outcome) and a line of the collection lag when each job ended.
type chartSection struct {
	Width, Height int
	PlotLeft      string
	PlotRight     string
	PlotTop       string
	PlotBottom    string
	Bars          []chartBar
	Dots          []chartDot
	LagLine       string // polyline points
	MaxActivities int
	MaxLag        string
	FirstStart    string
	LastStart     string
	Jobs          int
}

type chartBar struct {
	X, Y, W, H string
	Class      string
	JobID      string
	Activities int
	Title      string
}

type chartDot struct {
	X, Y       string
	JobID      string
	LagSeconds string
	Title      string
}

const (
	chartWidth   = 720
	chartHeight  = 170
	chartLeft    = 56.0
	chartRight   = 64.0
	chartTop     = 14.0
	chartBottom  = 24.0
	chartMaxBarW = 28.0
)

// newChart draws the newest inspectorChartJobs of jobs (given newest first),
// oldest on the left; nil when there are none.
func newChart(jobs []collector.Report) *chartSection {
	if len(jobs) == 0 {
		return nil
	}
	n := min(len(jobs), inspectorChartJobs)
	shown := make([]collector.Report, n)
	for i := range n {
		shown[n-1-i] = jobs[i]
	}
	c := &chartSection{
		Width: chartWidth, Height: chartHeight, Jobs: n,
		PlotLeft: num(chartLeft), PlotRight: num(chartWidth - chartRight),
		PlotTop: num(chartTop), PlotBottom: num(chartHeight - chartBottom),
		FirstStart: shown[0].Start.UTC().Format("2006-01-02 15:04:05"),
		LastStart:  shown[n-1].Start.UTC().Format("2006-01-02 15:04:05"),
	}
	var maxLag time.Duration
	for _, rep := range shown {
		c.MaxActivities = max(c.MaxActivities, rep.Emitted)
		if lag, ok := jobLag(rep); ok {
			maxLag = max(maxLag, lag)
		}
	}
	c.MaxLag = fmtDur(maxLag)
	plotW := float64(chartWidth) - chartLeft - chartRight
	plotH := float64(chartHeight) - chartTop - chartBottom
	slot := plotW / float64(n)
	barW := min(slot*0.7, chartMaxBarW)
	var line []string
	for i, rep := range shown {
		center := chartLeft + slot*(float64(i)+0.5)
		h := 0.0
		if c.MaxActivities > 0 {
			h = plotH * float64(rep.Emitted) / float64(c.MaxActivities)
		}
		h = max(h, 1) // a job that emitted nothing is still a visible tick
		c.Bars = append(c.Bars, chartBar{
			X: num(center - barW/2), Y: num(chartTop + plotH - h), W: num(barW), H: num(h),
			Class: outcomeClass(rep.Outcome), JobID: rep.JobID, Activities: rep.Emitted,
			Title: rep.JobID + ": " + strconv.Itoa(rep.Emitted) + " activities, " + rep.Outcome,
		})
		lag, ok := jobLag(rep)
		if !ok {
			continue
		}
		y := chartTop + plotH
		if maxLag > 0 {
			y -= plotH * float64(lag) / float64(maxLag)
		}
		c.Dots = append(c.Dots, chartDot{
			X: num(center), Y: num(y), JobID: rep.JobID, LagSeconds: fmtSeconds(lag),
			Title: rep.JobID + ": lag " + fmtDur(lag) + " when it ended",
		})
		line = append(line, num(center)+","+num(y))
	}
	c.LagLine = strings.Join(line, " ")
	return c
}

// num formats an SVG coordinate.
func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
