package main

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
)

// drawChart draws the throughput rows (MB/s, and files/s for small files)
// as horizontal bars, one group
// per scenario, each group scaled to its own largest bar (the value is
// printed beside every bar): tierfs in blue, baselines in orange, the
// emulated link's limit in grey.
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
		width   = 1600
		margin  = 16
		labelW  = 820
		barW    = 560
		rowH    = 24
		headH   = 34
		titleH  = 56
		barH    = 16
		valueX0 = margin + labelW + barW + 10
	)
	height := titleH + margin
	for _, g := range groups {
		height += headH + len(g.rows)*rowH
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	ink := color.RGBA{0x20, 0x20, 0x20, 0xff}
	colors := map[role]color.RGBA{
		roleTierfs:   {0x1f, 0x77, 0xb4, 0xff},
		roleBaseline: {0xff, 0x7f, 0x0e, 0xff},
		roleLink:     {0xa0, 0xa0, 0xa0, 0xff},
	}
	drawText(img, margin, margin, "tierfs vs baselines, throughput in MB/s unless marked (bars scaled per scenario)", ink)
	y := titleH
	for _, g := range groups {
		drawText(img, margin, y+12, g.name, ink)
		draw.Draw(img, image.Rect(margin, y+headH-4, width-margin, y+headH-3), image.NewUniform(color.RGBA{0xd0, 0xd0, 0xd0, 0xff}), image.Point{}, draw.Src)
		y += headH
		top := 0.0
		for _, x := range g.rows {
			top = max(top, x.Value)
		}
		for _, x := range g.rows {
			label := []rune(x.Name)
			if textWidth(string(label)) > labelW-10 {
				for len(label) > 0 && textWidth(string(label)+"...") > labelW-10 {
					label = label[:len(label)-1]
				}
				label = append(label, []rune("...")...)
			}
			drawText(img, margin, y+(rowH-textHeight)/2, string(label), ink)
			n := int(float64(barW) * x.Value / top)
			c := colors[x.Role]
			draw.Draw(img, image.Rect(margin+labelW, y+(rowH-barH)/2, margin+labelW+max(n, 1), y+(rowH+barH)/2), image.NewUniform(c), image.Point{}, draw.Src)
			v := num(x.Value)
			if x.Unit != "MB/s" {
				v += " " + x.Unit
			}
			drawText(img, valueX0, y+(rowH-textHeight)/2, v, ink)
			y += rowH
		}
	}
	return png.Encode(w, img)
}
