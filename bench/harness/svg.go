package main

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// chart is grouped bars, one panel per metric: a group per contender, a
// bar per series (conns value, or idle count) in each group.
type chart struct {
	title  string
	groups []string
	series []string
	panels []panel
}

type panel struct {
	title  string
	values [][]float64 // [group][series]; NaN: no number (failed, n/a)
	digits int         // decimals of the value labels
}

var palette = []string{"#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2"}

const (
	panelH   = 260 // plot area height
	barW     = 22
	groupGap = 28
	left     = 70
	topPad   = 70
	labelH   = 110 // room for the rotated group labels under a panel
)

// svg renders the chart as a standalone SVG document.
func (c chart) svg() []byte {
	groupW := len(c.series)*barW + groupGap
	width := max(520, left+len(c.groups)*groupW+40, left+9*len([]rune(c.title))) // ~9 px per title character
	height := topPad + len(c.panels)*(panelH+labelH+40)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", left, esc(c.title))
	for i, s := range c.series { // legend
		x := left + i*110
		fmt.Fprintf(&b, `<rect x="%d" y="36" width="12" height="12" fill="%s"/><text x="%d" y="47">%s</text>`+"\n",
			x, palette[i%len(palette)], x+16, esc(s))
	}
	for pi, p := range c.panels {
		top := topPad + pi*(panelH+labelH+40) + 20
		c.drawPanel(&b, p, top, groupW, width)
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func (c chart) drawPanel(b *strings.Builder, p panel, top, groupW, width int) {
	maxV := 0.0
	for _, row := range p.values {
		for _, v := range row {
			if !math.IsNaN(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	scale := niceCeil(maxV * 1.15) // headroom for the value labels
	base := top + panelH
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", left, top-6, esc(p.title))
	for t := 0; t <= 4; t++ { // grid and axis labels
		y := base - t*panelH/4
		v := scale * float64(t) / 4
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", left, y, width-20, y)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+4, short(v))
	}
	for gi, g := range c.groups {
		gx := left + gi*groupW + groupGap/2
		for si := range c.series {
			x := gx + si*barW
			v := math.NaN()
			if gi < len(p.values) && si < len(p.values[gi]) {
				v = p.values[gi][si]
			}
			if math.IsNaN(v) {
				fmt.Fprintf(b, `<text x="%d" y="%d" fill="#c00" font-size="10" text-anchor="middle">×</text>`+"\n", x+barW/2, base-4)
				continue
			}
			h := 0
			if scale > 0 {
				h = int(math.Round(v / scale * panelH))
			}
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x+1, base-h, barW-2, h, palette[si%len(palette)], esc(g), esc(c.series[si]), strconv.FormatFloat(v, 'f', p.digits, 64))
			fmt.Fprintf(b, `<text x="%d" y="%d" font-size="9" text-anchor="start" transform="rotate(-90 %d %d)">%s</text>`+"\n",
				x+barW/2+3, base-h-3, x+barW/2+3, base-h-3, shortDigits(v, p.digits))
		}
		lx, ly := gx+len(c.series)*barW/2, base+14
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" transform="rotate(-35 %d %d)">%s</text>`+"\n", lx, ly, lx, ly, esc(g))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, base, width-20, base)
}

// niceCeil rounds v up to 1, 2, 4, 6 or 8 times a power of ten, so that
// the quarter ticks are round too.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 4, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// short formats axis values: 125000 as 125k.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// shortDigits formats bar labels: thousands as "12.3k", others with d decimals.
func shortDigits(v float64, d int) string {
	if v >= 1e4 {
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

func esc(s string) string { return html.EscapeString(s) }

// loadChart draws req/s (msg/s) and p99 per contender and conns.
func loadChart(r report, sc scenario, conns []int) chart {
	c := chart{title: "nanogate bench, " + r.Scenario + " (median of rounds; × = failed or n/a)"}
	for _, n := range conns {
		c.series = append(c.series, strconv.Itoa(n)+" conns")
	}
	rps := panel{title: sc.units().items + "/s (higher is better)", digits: 0}
	p99 := panel{title: "p99 latency, ms (lower is better)", digits: 2}
	idx := map[string]int{}
	for _, s := range r.Summary {
		gi := c.group(idx, s.Name, len(conns), &rps, &p99)
		for si, n := range conns {
			if n == s.Conns && s.Status == statusOK {
				rps.values[gi][si], p99.values[gi][si] = float64(s.RPS), float64(s.P99ms)
			}
		}
	}
	c.panels = []panel{rps, p99}
	return c
}

// idleChart draws KiB per idle connection and req/s (msg/s) under load
// beside them.
func idleChart(r report, sc scenario, counts []int) chart {
	what := "idle connections"
	if sc.ws {
		what = "idle WebSocket connections"
	}
	c := chart{title: "nanogate bench, " + what + " (× = failed)"}
	for _, n := range counts {
		c.series = append(c.series, strconv.Itoa(n)+" idle")
	}
	mem := panel{title: "RSS per idle connection, KiB (lower is better)", digits: 2}
	rps := panel{title: fmt.Sprintf("%s/s at %d conns beside them (higher is better)", sc.units().items, idleLoadConns), digits: 0}
	idx := map[string]int{}
	for _, x := range r.Idle {
		gi := c.group(idx, x.Name, len(counts), &mem, &rps)
		for si, n := range counts {
			if n != x.Target || x.Status != statusOK {
				continue
			}
			mem.values[gi][si] = float64(x.KiBPerConn)
			if x.LoadErr == "" {
				rps.values[gi][si] = x.Load.RPS
			}
		}
	}
	c.panels = []panel{mem, rps}
	return c
}

// group returns the index of the group called name, adding it (with a row
// of n missing values in each panel) the first time; idx remembers them.
func (c *chart) group(idx map[string]int, name string, n int, panels ...*panel) int {
	gi, ok := idx[name]
	if !ok {
		gi = len(c.groups)
		idx[name] = gi
		c.groups = append(c.groups, name)
		for _, p := range panels {
			p.values = append(p.values, nanRow(n))
		}
	}
	return gi
}

func nanRow(n int) []float64 {
	row := make([]float64, n)
	for i := range row {
		row[i] = math.NaN()
	}
	return row
}
