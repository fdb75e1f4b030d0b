package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// role says how a row is drawn in the chart.
type role string

const (
	roleTierfs   role = "tierfs"
	roleBaseline role = "baseline"
	roleLink     role = "link"
	roleInfo     role = "info" // not charted
)

// row is one measured figure.
type row struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// NA is set when the figure could not be measured (Note says why).
	NA bool `json:"na,omitempty"`
	// CPU is the process's (and its baseline child's) user+sys time over
	// the wall time of the measurement, in cores (2 cores = 2.0).
	CPU float64 `json:"cpu_cores,omitempty"`
	// Versus is the ratio to baselines, in words ("0.98× single-stream").
	Versus string `json:"versus,omitempty"`
	// Goal is the target the figure is held to, and Met whether it holds.
	Goal string `json:"goal,omitempty"`
	Met  *bool  `json:"met,omitempty"`
	Note string `json:"note,omitempty"`
	Role role   `json:"role"`
}

// results collects rows as the scenarios run.
type results struct {
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"`
	Config   map[string]string `json:"config"`
	Rows     []row             `json:"rows"`
	Failures []string          `json:"failures,omitempty"`
}

// add appends x and returns it for its goal to be set. The pointer is good
// only until the next add, which may move the rows.
func (r *results) add(x row) *row {
	r.Rows = append(r.Rows, x)
	return &r.Rows[len(r.Rows)-1]
}

func met(ok bool) *bool { return &ok }

// atLeast, above and atMost fill a row's goal. Only the goals go
// in the goal column; other targets are references (see reference).
func (x *row) atLeast(goal float64, unit string) {
	x.Goal = "≥ " + num(goal) + unit
	if !x.NA {
		x.Met = met(x.Value >= goal)
	}
}

func (x *row) above(goal float64, unit string) {
	x.Goal = "> " + num(goal) + unit
	if !x.NA {
		x.Met = met(x.Value > goal)
	}
}

// reference notes a target that the issue does not set (from the research
// notes, say) and whether it holds; it never fills the goal column.
func (x *row) reference(target string, ok bool) {
	holds := "does not hold"
	if ok {
		holds = "holds"
	}
	x.Note = joinNonEmpty(x.Note, "reference, not a goal: "+target+" ("+holds+")")
}

func (x *row) atMost(goal float64, unit string) {
	x.Goal = "≤ " + num(goal) + unit
	if !x.NA {
		x.Met = met(x.Value <= goal)
	}
}

// num formats a figure with 3 significant digits or so.
func num(v float64) string {
	switch a := max(v, -v); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func (x row) value() string {
	if x.NA {
		return "n/a"
	}
	return num(x.Value) + " " + x.Unit
}

func (x row) cpu() string {
	if x.CPU == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", x.CPU)
}

func (x row) met() string {
	switch {
	case x.Met == nil:
		return ""
	case *x.Met:
		return "met"
	}
	return "**not met**"
}

// markdown writes the table, one section per scenario.
func (r *results) markdown(w io.Writer) {
	fmt.Fprintf(w, "# tierfs benchmark harness\n\n")
	keys := make([]string, 0, len(r.Config))
	for k := range r.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var cfg []string
	for _, k := range keys {
		cfg = append(cfg, k+"="+r.Config[k])
	}
	fmt.Fprintf(w, "Run %s, %.0f s. %s.\n\n", r.Started.Format(time.RFC3339), r.Seconds, strings.Join(cfg, ", "))
	fmt.Fprintf(w, "CPU is user+sys time over wall time, in cores (of %s).\n", r.Config["cpus"])
	last := ""
	for _, x := range r.Rows {
		if x.Scenario != last {
			last = x.Scenario
			fmt.Fprintf(w, "\n## %s\n\n", x.Scenario)
			fmt.Fprintln(w, "| measure | value | CPU | vs baselines | goal | met | note |")
			fmt.Fprintln(w, "|---|--:|--:|---|---|---|---|")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n",
			cell(x.Name), x.value(), x.cpu(), cell(x.Versus), cell(x.Goal), x.met(), cell(x.Note))
	}
	r.goalSummary(w)
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "\n## Failures\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "- %s\n", cell(f))
		}
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// write puts results.md, results.json and results.png into dir.
func (r *results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	r.markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "results.png"))
	if err != nil {
		return err
	}
	if err := drawChart(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// goalSummary lists every row held to one of the goals.
func (r *results) goalSummary(w io.Writer) {
	var goals []row
	n := 0
	for _, x := range r.Rows {
		if x.Goal == "" {
			continue
		}
		goals = append(goals, x)
		if x.Met != nil && *x.Met {
			n++
		}
	}
	if len(goals) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## The issue's goals: %d of %d met\n\n", n, len(goals))
	fmt.Fprintln(w, "| scenario | measure | value | goal | met |")
	fmt.Fprintln(w, "|---|---|--:|---|---|")
	for _, x := range goals {
		m := x.met()
		if x.Met == nil {
			m = "n/a"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", cell(x.Scenario), cell(x.Name), x.value(), cell(x.Goal), m)
	}
}
