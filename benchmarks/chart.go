package main

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// drawChart writes the throughput rows (MB/s, and files/s for small files)
// as an SVG of horizontal bars, one group per scenario, each group scaled
// to its own largest bar, with the value beside every bar: tierfs in blue,
// baselines in orange, the emulated link's limit in grey. A figure
// measured over several runs (-count) has a whisker from its lowest to
// its highest value. The text is real text: a viewer selects, searches
// and scales it.
func drawChart(w io.Writer, r *results) error {
	type group struct {
		name string
		rows []row
	}
	var groups []group
	for _, x := range r.Rows {
		if x.Unit != "MB/s" && x.Unit != "files/s" || x.Role == roleInfo || x.NA || x.Value <= 0 {
			continue
		}
		if len(groups) == 0 || groups[len(groups)-1].name != x.Scenario {
			groups = append(groups, group{name: x.Scenario})
		}
		groups[len(groups)-1].rows = append(groups[len(groups)-1].rows, x)
	}
	const (
		width  = 1400
		margin = 16
		labelW = 700
		barW   = 520
		rowH   = 22
		headH  = 34
		titleH = 48
		barH   = 14
	)
	height := titleH + margin
	for _, g := range groups {
		height += headH + len(g.rows)*rowH
	}
	colors := map[role]string{roleTierfs: "#1f77b4", roleBaseline: "#ff7f0e", roleLink: "#a0a0a0"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := "tierfs vs baselines: throughput in MB/s unless marked (bars scaled per scenario)"
	if n := r.Config["count"]; n != "" && n != "1" {
		title += "; median of " + n + " runs, whiskers from lowest to highest"
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="16" font-weight="bold">%s</text>`+"\n", margin, margin+16, html.EscapeString(title))
	y := titleH
	for _, g := range groups {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", margin, y+18, html.EscapeString(g.name))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d0d0d0"/>`+"\n", margin, y+headH-4, width-margin, y+headH-4)
		y += headH
		top := 0.0
		for _, x := range g.rows {
			top = max(top, x.Value, x.Max)
		}
		scale := func(v float64) float64 { return float64(barW) * v / top }
		for _, x := range g.rows {
			mid := y + rowH/2
			fit := "" // a long name is squeezed to the label column
			if approxWidth(x.Name) > labelW-10 {
				fit = fmt.Sprintf(` textLength="%d" lengthAdjust="spacingAndGlyphs"`, labelW-10)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle"%s>%s</text>`+"\n", margin, mid, fit, html.EscapeString(x.Name))
			x0 := margin + labelW
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
				x0, mid-barH/2, max(scale(x.Value), 1), barH, colors[x.Role], html.EscapeString(x.value()))
			end := scale(x.Value)
			if x.Runs > 1 {
				lo, hi := float64(x0)+scale(x.Min), float64(x0)+scale(x.Max)
				fmt.Fprintf(&b, `<path d="M%.1f %d H%.1f M%.1f %d V%d M%.1f %d V%d" stroke="#202020" fill="none"/>`+"\n",
					lo, mid, hi, lo, mid-4, mid+4, hi, mid-4, mid+4)
				end = max(end, scale(x.Max))
			}
			v := num(x.Value)
			if x.Unit != "MB/s" {
				v += " " + x.Unit
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" dominant-baseline="middle">%s</text>`+"\n", float64(x0)+end+8, mid, html.EscapeString(v))
			y += rowH
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// approxWidth is about how wide s is at 13 px in a sans-serif face.
func approxWidth(s string) int { return 7 * len([]rune(s)) }
