package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	// Runs is how many runs measured the figure (-count); Value is then
	// their median (the row of the run that measured it), Min and Max
	// the spread.
	Runs     int     `json:"runs,omitempty"`
	Min, Max float64 `json:"-"`
}

// spread is a row's lowest and highest value over the runs, for JSON.
type spread struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// MarshalJSON adds the spread of a figure measured more than once. A
// figure that is not a number (a ratio to a baseline that did not run:
// -tm off) is written as 0 with na set, since JSON has no NaN.
func (x row) MarshalJSON() ([]byte, error) {
	if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
		x.Value, x.NA = 0, true
	}
	type plain row
	out := struct {
		plain
		Spread *spread `json:"spread,omitempty"`
	}{plain: plain(x)}
	if x.Runs > 1 && !x.NA {
		out.Spread = &spread{x.Min, x.Max}
	}
	return json.Marshal(out)
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
	v := num(x.Value) + " " + x.Unit
	if x.Runs > 1 {
		v += " (" + num(x.Min) + "–" + num(x.Max) + ")"
	}
	return v
}

// mergeRuns makes one result of several runs of the same scenarios: each
// figure is the row of the run whose value is the median (the lower
// median for an even count), with the lowest and highest values. Rows
// are matched by scenario and position (their names may carry measured
// numbers), or by name where a run has other rows.
func mergeRuns(runs []*results) *results {
	out := &results{}
	if len(runs) == 0 {
		return out
	}
	byScenario := func(r *results) map[string][]row {
		m := map[string][]row{}
		for _, x := range r.Rows {
			m[x.Scenario] = append(m[x.Scenario], x)
		}
		return m
	}
	groups := make([]map[string][]row, len(runs))
	for i, r := range runs {
		groups[i] = byScenario(r)
		out.Failures = append(out.Failures, r.Failures...)
	}
	slices.Sort(out.Failures)
	out.Failures = slices.Compact(out.Failures)
	for i, x := range runs[0].Rows {
		if i > 0 && runs[0].Rows[i-1].Scenario == x.Scenario {
			continue
		}
		first := groups[0][x.Scenario]
		for k, base := range first {
			var same []row
			for _, g := range groups {
				rows := g[x.Scenario]
				switch {
				case len(rows) == len(first):
					same = append(same, rows[k])
				default:
					if j := slices.IndexFunc(rows, func(y row) bool { return y.Name == base.Name }); j >= 0 {
						same = append(same, rows[j])
					}
				}
			}
			out.Rows = append(out.Rows, median(same))
		}
	}
	return out
}

// median returns the row with the median value of rows (measured ones
// first), with Runs, Min and Max set.
func median(rows []row) row {
	var ok []row
	for _, y := range rows {
		if !y.NA {
			ok = append(ok, y)
		}
	}
	if len(ok) == 0 {
		return rows[0]
	}
	slices.SortFunc(ok, func(a, b row) int { return cmp.Compare(a.Value, b.Value) })
	m := ok[(len(ok)-1)/2]
	m.Runs, m.Min, m.Max = len(ok), ok[0].Value, ok[len(ok)-1].Value
	return m
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
	if r.Config["count"] != "" && r.Config["count"] != "1" {
		fmt.Fprintf(w, "Each scenario ran %s times: a figure is the median run's (its row: CPU, ratios and notes are that run's), with the lowest and highest values in brackets; a goal is judged on the median.\n", r.Config["count"])
	}
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

// write puts results.md, results.json and results.svg into dir.
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
	f, err := os.Create(filepath.Join(dir, "results.svg"))
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
