package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// report is one scenario's results file set: the Markdown table, the raw
// numbers as JSON and the chart.
type report struct {
	Scenario    string            `json:"scenario"`
	Started     time.Time         `json:"started"`
	WallSeconds float64           `json:"wall_seconds"`
	Command     string            `json:"command"`
	Source      string            `json:"source"` // the revision built, and whether the work tree differed from it
	Machine     machine           `json:"machine"`
	Summary     []summary         `json:"summary,omitempty"`
	Contenders  []contenderResult `json:"contenders,omitempty"` // every run, with wrk's output
	Idle        []idleResult      `json:"idle,omitempty"`
	Stream      *streamReport     `json:"stream,omitempty"`
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

// sourceState names what the contenders were built from: HEAD, and whether
// the work tree had uncommitted changes (the repository moves while a
// long run goes on; the binaries are built once, at the start).
func sourceState(repo string) string {
	head := strings.TrimSpace(commandOutput("git", "-C", repo, "rev-parse", "--short=7", "HEAD"))
	if head == "" || strings.Contains(head, " ") {
		return "unknown (no git)"
	}
	// Untracked files count (a new source file is built too), results do not.
	if strings.TrimSpace(commandOutput("git", "-C", repo, "status", "--porcelain", "--", ".", ":!bench/results")) != "" {
		return head + " with uncommitted changes, built " + time.Now().UTC().Format("15:04 MST")
	}
	return head + ", built " + time.Now().UTC().Format("15:04 MST")
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
	u, ref := sc.units(), r.reference()
	fmt.Fprintf(&b, "## %s: %s %s\n\n", r.Scenario, sc.probe.method, scenarioWhat(sc))
	loadGen := "wrk -t2 keep-alive"
	if sc.ws {
		loadGen = fmt.Sprintf("the harness's WebSocket client (one %d-byte text message in flight per connection, "+
			"sent again when its echo is back)", payload.WSMessageSize)
	}
	fmt.Fprintf(&b, "%s, %d round(s) × %v per contender and conns (median shown), %s, "+
		"contenders alternating within each round.  \nMachine: %s.  \nSource: %s.  \nCommand: `%s`\n\n",
		r.Started.Format("2006-01-02 15:04"), o.rounds, o.duration, loadGen, r.Machine, r.Source, r.Command)
	fmt.Fprintf(&b, "| contender | conns | %s | × %s | p50 ms | p99 ms | socket errors | %s | RSS MiB | PSS MiB | CPU %s | rounds ok |\n",
		u.rate, ref, u.bad, u.cpu)
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
	upstream := "fasthttp upstream"
	if sc.ws {
		upstream = "ws-echo upstream"
	}
	b.WriteString("\nRSS, PSS and CPU cover every process of the contender: gateway and workers, or proxy " +
		"(master and children) and its " + upstream + ", sampled at the end of each run. RSS sums VmRSS, " +
		"so pages shared by forked children count once per child; PSS splits them. " +
		"Socket errors and " + u.bad + " are summed over the rounds, the other columns are medians.\n")
	if sc.ws {
		b.WriteString("\nA message is one round trip: the text message out, its echo back (checked byte for byte, " +
			"and for its type). Socket errors are connections that failed to open or dropped during a run; " +
			"p50 and p99 are the round trips' percentiles over every message of the run (nearest rank).\n")
	}
	return b.String()
}

// reference is the contender of the ratio column: the first of the
// table.
func (r report) reference() string {
	if len(r.Summary) == 0 {
		return "fasthttp"
	}
	return r.Summary[0].Name
}

func scenarioWhat(sc scenario) string {
	switch sc.name {
	case "big":
		return "/big, 16 KiB body"
	case "echo":
		return "/echo, 4 KiB body echoed"
	case "ws":
		return fmt.Sprintf("%s, WebSocket echo of %d-byte text messages", sc.path, payload.WSMessageSize)
	}
	return "/hello, 11-byte body"
}

// idleMarkdown renders the idle (idle-ws) scenario's table.
func idleMarkdown(r report, o idleOpts) string {
	var b strings.Builder
	sc := o.scenario()
	u := sc.units()
	if sc.ws {
		fmt.Fprintf(&b, "## idle-ws: WebSocket connections held open (one echo each), then the ws echo load at %d conns beside them\n\n", idleLoadConns)
		fmt.Fprintf(&b, "%s, load %v, the harness's WebSocket client.  \nMachine: %s.  \nSource: %s.  \nCommand: `%s`\n\n",
			r.Started.Format("2006-01-02 15:04"), o.load, r.Machine, r.Source, r.Command)
	} else {
		fmt.Fprintf(&b, "## idle: keep-alive connections held open, then GET /hello at %d conns beside them\n\n", idleLoadConns)
		fmt.Fprintf(&b, "%s, load %v, wrk -t2.  \nMachine: %s.  \nSource: %s.  \nCommand: `%s`\n\n",
			r.Started.Format("2006-01-02 15:04"), o.load, r.Machine, r.Source, r.Command)
	}
	// Per-process columns (idle-ws) follow KiB/conn, named by the labels
	// of the first row that has them.
	var parts []string
	for _, x := range r.Idle {
		if len(x.Parts) > 0 {
			for _, p := range x.Parts {
				parts = append(parts, p.Label)
			}
			break
		}
	}
	b.WriteString("| contender | idle conns | front processes | held | open errors | RSS before MiB | RSS held MiB | KiB/conn |")
	for _, p := range parts {
		fmt.Fprintf(&b, " %s KiB/conn |", p)
	}
	fmt.Fprintf(&b, " still open after load | %s under load | p99 ms | socket errors | %s |\n", u.rate, u.bad)
	b.WriteString("| --- | --: | --: | --: | --: | --: | --: | --: |" + strings.Repeat(" --: |", len(parts)) + " --: | --: | --: | --: | --: |\n")
	empty := strings.Repeat(" |", 9+len(parts))
	var notes []string
	for _, x := range r.Idle {
		if x.Status != statusOK {
			fmt.Fprintf(&b, "| %s | %d | %d | **FAILED**: %s |%s\n", x.Name, x.Target, x.Procs, cell(x.Reason, 300), empty)
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
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %.1f | %.1f | %s |",
			x.Name, x.Target, x.Procs, x.Held, x.DialErrors, float64(x.Before.RSSKiB)/1024, float64(x.During.RSSKiB)/1024,
			fmtNum(x.KiBPerConn, 2))
		for i := range parts {
			v := metric(math.NaN())
			if i < len(x.Parts) {
				v = x.Parts[i].KiBPerConn
			}
			fmt.Fprintf(&b, " %s |", fmtNum(v, 2))
		}
		fmt.Fprintf(&b, " %d | %s | %s | %d | %d |\n", x.StillOpen, rps, p99, x.Load.SocketErrs, x.Load.Non2xx)
	}
	writeList(&b, "Problems:", notes)
	var logs []string
	for _, x := range r.Idle {
		logs = append(logs, logLines(fmt.Sprintf("%s at %d", x.Name, x.Target), x.Logs)...)
	}
	writeList(&b, "Warnings and errors in the contenders' logs (all in the JSON):", logs)
	b.WriteString("\nKiB/conn = (RSS held − RSS before) / held, over every process of the contender " +
		"(nanogate + its worker; nginx master + workers + fasthttp upstream). Kernel socket memory is not in RSS.\n")
	if len(parts) > 0 {
		b.WriteString("The per-process columns split it: each process the harness started, with its descendants.\n")
	}
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
		if n.Notable == 0 {
			continue // only lines logged while the stack was stopped: in the JSON
		}
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
