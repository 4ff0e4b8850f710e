package main

import (
	"fmt"
	"strings"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// streamMarkdown renders the stream scenario's table and notes.
func streamMarkdown(r report, o streamOpts) string {
	var b strings.Builder
	rep := r.Stream
	ref := "net/http-stream"
	if len(rep.Summary) > 0 {
		ref = rep.Summary[0].Name
	}
	fmt.Fprintf(&b, "## stream: GET %s (%d MiB, flushed every %d KiB: chunked) and POST %s (%s, Content-Length)\n\n",
		payload.StreamPath, payload.StreamSize>>20, payload.StreamPieceSize>>10, payload.UploadPath, sizeText(rep.UploadBytes))
	fmt.Fprintf(&b, "%s, %d round(s), each with %d downloads and 1 upload per contender (median of the runs shown), "+
		"the harness as the client (a fresh connection per transfer, 256 KiB reads and writes), "+
		"contenders alternating transfer by transfer.  \nMachine: %s.  \nSource: %s.  \nCommand: `%s`\n\n",
		r.Started.Format("2006-01-02 15:04"), o.rounds, downloadReps, r.Machine, r.Source, r.Command)
	fmt.Fprintf(&b, "| contender | transfer | framing | MiB/s | × %s | seconds | front RSS before MiB | front peak growth MiB | worker peak growth MiB | CPU ms/MiB | runs ok |\n", ref)
	b.WriteString("| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: |\n")
	var notes []string
	seen := map[string]bool{}
	for _, s := range rep.Summary {
		if s.Status != statusOK {
			if !seen[s.Name] {
				seen[s.Name] = true
				fmt.Fprintf(&b, "| %s | – | **FAILED**: %s | | | | | | | | |\n", s.Name, cell(s.Reason, 300))
			}
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |\n",
			s.Name, s.Kind, cmpDash(s.Framing), fmtNum(s.MiBps, 0), fmtNum(s.Ratio, 2), fmtNum(s.Seconds, 2),
			fmtNum(s.FrontBefore, 1), fmtNum(s.FrontGrowth, 1), fmtNum(s.WorkerGrowth, 1), fmtNum(s.CPUmsPerMiB, 2), s.OK, s.Runs)
		if s.FirstErr != "" {
			notes = append(notes, fmt.Sprintf("%s %s: %d of %d runs failed, first: %s",
				s.Name, s.Kind, s.Runs-s.OK, s.Runs, cell(s.FirstErr, 300)))
		}
	}
	writeList(&b, "Failed runs:", notes)
	var logs []string
	for _, c := range rep.Contenders {
		logs = append(logs, logLines(c.Name, c.Logs)...)
	}
	writeList(&b, "Warnings and errors in the contenders' logs (all in the JSON):", logs)
	b.WriteString("\nMiB/s is the body's bytes over the time from the request's first byte to the response's last " +
		"(the upload's: its count, answered once the handler has read the whole body). The front process is the one " +
		"the client talks to: nanogate, or the direct server. Peak growth is the highest VmRSS during the transfer " +
		"(VmHWM after a reset through /proc/PID/clear_refs, and 10 ms samples) minus VmRSS at its start, the largest " +
		"of the runs; the worker's is nanogate's SDK worker. CPU ms/MiB is the contender's processes' CPU " +
		"(user + system) per MiB moved, median of the runs; the client's is not in it. The ratio compares each transfer with the " +
		"reference's made just before it.\n")
	return b.String()
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func cmpDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// streamChart draws MiB/s and the front process's peak RSS growth per
// contender, a bar per kind of transfer.
func streamChart(r report) chart {
	c := chart{title: "nanogate bench, stream (median of the runs; × = failed)", series: transferKinds}
	rate := panel{title: "MiB/s (higher is better)", digits: 0}
	growth := panel{title: "front process's peak RSS growth, MiB (largest of the runs; lower is better)", digits: 1}
	idx := map[string]int{}
	for _, s := range r.Stream.Summary {
		gi := c.group(idx, s.Name, len(transferKinds), &rate, &growth)
		for si, k := range transferKinds {
			if k == s.Kind && s.Status == statusOK {
				rate.values[gi][si], growth.values[gi][si] = float64(s.MiBps), float64(s.FrontGrowth)
			}
		}
	}
	c.panels = []panel{rate, growth}
	return c
}
