package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// report is one scenario's results file set: the Markdown table, the raw
// numbers as JSON and the chart.
type report struct {
	Scenario    string            `json:"scenario"`
	Started     time.Time         `json:"started"`
	WallSeconds float64           `json:"wall_seconds"`
	Command     string            `json:"command"`
	Machine     machine           `json:"machine"`
	Summary     []summary         `json:"summary,omitempty"`
	Contenders  []contenderResult `json:"contenders,omitempty"` // every run, with wrk's output
	Idle        []idleResult      `json:"idle,omitempty"`
}

// machine describes where the numbers come from.
type machine struct {
	NProc   int    `json:"nproc"`
	CPU     string `json:"cpu"`
	MemMiB  int    `json:"mem_mib"`
	Kernel  string `json:"kernel"`
	Go      string `json:"go"`
	Wrk     string `json:"wrk"`
	Nginx   string `json:"nginx"`
	Apache  string `json:"apache"`
	Nanomsg string `json:"libnanomsg"`
}

func machineInfo() machine {
	m := machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b)) // MemTotal: N kB first
		if len(f) > 1 {
			kb, _ := strconv.Atoi(f[1])
			m.MemMiB = kb / 1024
		}
	}
	// "wrk debian/4.1.0-3+b2 [epoll] Copyright …": name and version.
	if f := strings.Fields(firstLine(commandOutput("wrk", "-v"))); len(f) >= 2 {
		m.Wrk = f[0] + " " + f[1]
	}
	m.Nginx = strings.TrimPrefix(firstLine(commandOutput("nginx", "-v")), "nginx version: ")
	m.Apache = strings.TrimPrefix(firstLine(commandOutput("apache2", "-v")), "Server version: ")
	m.Nanomsg = firstLine(commandOutput("dpkg-query", "-W", "-f", "${Version}", "libnanomsg-dev"))
	return m
}

func commandOutput(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return string(out)
}

func (m machine) String() string {
	return fmt.Sprintf("%d × %s, %d MiB, Linux %s, %s; %s; %s; %s; libnanomsg %s",
		m.NProc, m.CPU, m.MemMiB, m.Kernel, m.Go, m.Wrk, m.Nginx, m.Apache, m.Nanomsg)
}

// loadMarkdown renders a load scenario's table and notes.
func loadMarkdown(r report, sc scenario, o loadOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s: %s %s\n\n", r.Scenario, sc.probe.method, scenarioWhat(sc))
	fmt.Fprintf(&b, "%s, %d round(s) × %v per contender and conns (median shown), wrk -t2 keep-alive, "+
		"contenders alternating within each round.  \nMachine: %s.  \nCommand: `%s`\n\n",
		r.Started.Format("2006-01-02 15:04"), o.rounds, o.duration, r.Machine, r.Command)
	b.WriteString("| contender | conns | req/s | × fasthttp | p50 ms | p99 ms | socket errors | non-2xx | RSS MiB | PSS MiB | CPU µs/req | rounds ok |\n")
	b.WriteString("| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n")
	var notes []string
	seen := map[string]bool{}
	for _, s := range r.Summary {
		if s.Status != statusOK {
			if !seen[s.Name] {
				seen[s.Name] = true
				text := "**FAILED**: " + cell(s.Reason, 300)
				switch s.Status {
				case statusNA:
					text = "n/a: " + cell(s.Reason, 300)
				case statusSkipped:
					text = cell(s.Reason, 300)
				}
				fmt.Fprintf(&b, "| %s | – | %s | | | | | | | | | |\n", s.Name, text)
			}
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %d | %d | %s | %s | %s | %d/%d |\n",
			s.Name, s.Conns, fmtNum(s.RPS, 0), fmtNum(s.Ratio, 2), fmtNum(s.P50ms, 2), fmtNum(s.P99ms, 2),
			s.SockErrs, s.Non2xx, fmtNum(s.RSSMiB, 1), fmtNum(s.PSSMiB, 1), fmtNum(s.CPUus, 1), s.OK, s.Rounds)
		if s.FirstErr != "" {
			notes = append(notes, fmt.Sprintf("%s at %d conns: %d of %d rounds failed, first: %s",
				s.Name, s.Conns, s.Rounds-s.OK, s.Rounds, cell(s.FirstErr, 300)))
		}
	}
	writeList(&b, "Failed rounds:", notes)
	var logs []string
	for _, cr := range r.Contenders {
		logs = append(logs, logLines(cr.Name, cr.Logs)...)
	}
	writeList(&b, "Warnings and errors in the contenders' logs (all in the JSON):", logs)
	b.WriteString("\nRSS, PSS and CPU cover every process of the contender: gateway and workers, or proxy " +
		"(master and children) and its fasthttp upstream, sampled at the end of each run. RSS sums VmRSS, " +
		"so pages shared by forked children count once per child; PSS splits them. " +
		"Socket errors and non-2xx are summed over the rounds, the other columns are medians.\n")
	return b.String()
}

func scenarioWhat(sc scenario) string {
	switch sc.name {
	case "big":
		return "/big, 16 KiB body"
	case "echo":
		return "/echo, 4 KiB body echoed"
	}
	return "/hello, 11-byte body"
}

// idleMarkdown renders the idle scenario's table.
func idleMarkdown(r report, o idleOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## idle: keep-alive connections held open, then GET /hello at %d conns beside them\n\n", idleLoadConns)
	fmt.Fprintf(&b, "%s, load %v, wrk -t2.  \nMachine: %s.  \nCommand: `%s`\n\n",
		r.Started.Format("2006-01-02 15:04"), o.load, r.Machine, r.Command)
	b.WriteString("| contender | idle conns | front processes | held | open errors | RSS before MiB | RSS held MiB | KiB/conn | still open after load | req/s under load | p99 ms | socket errors | non-2xx |\n")
	b.WriteString("| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n")
	var notes []string
	for _, x := range r.Idle {
		if x.Status != statusOK {
			fmt.Fprintf(&b, "| %s | %d | %d | **FAILED**: %s | | | | | | | | | |\n", x.Name, x.Target, x.Procs, cell(x.Reason, 300))
			continue
		}
		rps, p99 := fmtNum(metric(x.Load.RPS), 0), fmtNum(metric(x.Load.P99ms), 2)
		if x.LoadErr != "" {
			rps, p99 = "**FAILED**", "–"
			notes = append(notes, fmt.Sprintf("%s at %d: load: %s", x.Name, x.Target, cell(x.LoadErr, 300)))
		}
		if x.FirstErr != "" {
			notes = append(notes, fmt.Sprintf("%s at %d: %d opens failed, first: %s", x.Name, x.Target, x.DialErrors, cell(x.FirstErr, 200)))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %.1f | %.1f | %s | %d | %s | %s | %d | %d |\n",
			x.Name, x.Target, x.Procs, x.Held, x.DialErrors, float64(x.Before.RSSKiB)/1024, float64(x.During.RSSKiB)/1024,
			fmtNum(x.KiBPerConn, 2), x.StillOpen, rps, p99, x.Load.SocketErrs, x.Load.Non2xx)
	}
	writeList(&b, "Problems:", notes)
	var logs []string
	for _, x := range r.Idle {
		logs = append(logs, logLines(fmt.Sprintf("%s at %d", x.Name, x.Target), x.Logs)...)
	}
	writeList(&b, "Warnings and errors in the contenders' logs (all in the JSON):", logs)
	b.WriteString("\nKiB/conn = (RSS held − RSS before) / held, over every process of the contender " +
		"(nanogate + its worker; nginx master + workers + fasthttp upstream). Kernel socket memory is not in RSS.\n")
	if o.fdLimit > 0 {
		fmt.Fprintf(&b, "\nThe open-file limit was %d per process. Past %d connections, "+
			"the client side is held by several harness processes, and the contender runs several front processes "+
			"sharing the address, the kernel spreading connections over them (nanogate: `reuse_port = true`, "+
			"GOMAXPROCS = processors / processes; nginx: more workers, `listen … reuseport`).\n",
			o.fdLimit, o.fdLimit-idleFDMargin)
	}
	return b.String()
}

// logLines describes a contender's notable log lines, one item per file.
func logLines(who string, notes []logNote) []string {
	var out []string
	for _, n := range notes {
		out = append(out, fmt.Sprintf("%s, %s: %d of %d lines, first: `%s`",
			who, n.File, n.Notable, n.Lines, strings.ReplaceAll(cell(n.Examples[0], 240), "`", "'")))
	}
	return out
}

// writeList writes a heading and a bulleted list, or nothing when the
// list is empty.
func writeList(b *strings.Builder, heading string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString("\n" + heading + "\n\n")
	for _, it := range items {
		b.WriteString("- " + it + "\n")
	}
}

// fmtNum formats a metric with d decimals, "–" when missing.
func fmtNum(m metric, d int) string {
	if !m.ok() {
		return "–"
	}
	return strconv.FormatFloat(float64(m), 'f', d, 64)
}

// cell makes text safe for one Markdown table cell.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// writeFiles writes DATE-SCENARIO.md, .json and .svg (and .png when a
// converter exists) into dir, and returns the paths written.
func writeFiles(dir string, r report, md string, svg []byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, r.Started.Format("2006-01-02")+"-"+r.Scenario)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{".md": []byte(md), ".json": append(js, '\n'), ".svg": svg}
	var written []string
	for _, ext := range []string{".md", ".json", ".svg"} {
		if err := os.WriteFile(base+ext, files[ext], 0o644); err != nil {
			return written, err
		}
		written = append(written, base+ext)
	}
	if png := toPNG(base+".svg", base+".png"); png != "" {
		written = append(written, png)
	}
	return written, nil
}

// toPNG converts the chart with rsvg-convert or ImageMagick when one of
// them works; the PNG is optional.
func toPNG(svg, png string) string {
	tries := [][]string{{"rsvg-convert", "-o", png, svg}, {"convert", svg, png}}
	for _, t := range tries {
		if _, err := exec.LookPath(t[0]); err != nil {
			continue
		}
		if err := exec.Command(t[0], t[1:]...).Run(); err == nil {
			if st, err := os.Stat(png); err == nil && st.Size() > 0 {
				return png
			}
		}
	}
	_ = os.Remove(png)
	return ""
}
