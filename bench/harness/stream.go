package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// The stream scenario: a streamed download (GET /stream100, 100 MiB that
// the handler writes in 64 KiB pieces, flushing each, so the body travels
// chunked) and a streamed upload (POST /upload, 1 GiB with a
// Content-Length, which the handler reads from r.Body as it comes and
// counts), through nanogate to the SDK stream worker and straight from
// net/http. Both run payload.StreamMux. The client is the harness: one
// fresh connection per transfer, 256 KiB reads and writes, so that the
// servers' side is what differs.

// Transfer kinds, in the order each round runs them.
const (
	kindDownload = "download"
	kindUpload   = "upload"
)

var transferKinds = []string{kindDownload, kindUpload}

// downloadReps is the downloads per contender and round: 100 MiB take
// well under 100 ms from a direct server, too short for one timing on a
// shared machine to mean much.
const downloadReps = 3

// streamScenario checks a stream contender: a 64 KiB upload, counted.
var streamScenario = scenario{name: "stream", path: payload.UploadPath,
	probe: probe{method: "POST", path: payload.UploadPath, body: payload.StreamPiece(),
		want: []byte(strconv.Itoa(payload.StreamPieceSize))}}

// streamOpts are the flags that shape the stream scenario.
type streamOpts struct {
	rounds int
	warmup bool // one download (its bytes checked) and a 64 MiB upload per contender first
	upload int64
	only   map[string]bool
}

// rssPeak is a process's resident set before a transfer and at its peak
// during it.
type rssPeak struct {
	BeforeKiB int64 `json:"before_kib"`
	PeakKiB   int64 `json:"peak_kib"`
}

// growthMiB is how far the peak rose above the start.
func (p rssPeak) growthMiB() float64 { return float64(p.PeakKiB-p.BeforeKiB) / 1024 }

// transferRun is one transfer of one contender.
type transferRun struct {
	Round   int     `json:"round"`
	Kind    string  `json:"kind"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	MiBps   float64 `json:"mib_per_s"`
	Ratio   float64 `json:"ratio"`   // MiBps / the reference's in the same round and kind; 0: unknown
	Framing string  `json:"framing"` // how the body travelled: "chunked" or "content-length"
	// Front is the process the client talks to (nanogate, or the direct
	// server); Workers the others (nanogate's worker), summed.
	Front   rssPeak `json:"front"`
	Workers rssPeak `json:"workers"`
	CPUus   int64   `json:"cpu_us"` // the contender's processes during the transfer
	Err     string  `json:"error,omitempty"`
}

// streamContender is one contender across the stream scenario.
type streamContender struct {
	Name   string        `json:"name"`
	Status string        `json:"status"`
	Reason string        `json:"reason,omitempty"`
	Runs   []transferRun `json:"runs"`
	Logs   []logNote     `json:"logs,omitempty"`
}

// streamReport is the stream scenario's results.
type streamReport struct {
	UploadBytes int64             `json:"upload_bytes"`
	Contenders  []streamContender `json:"contenders"`
	Summary     []transferSummary `json:"summary"`
}

// runStream starts each stream contender fresh, checks and warms it up,
// then runs the rounds: in each, downloadReps downloads, then one upload,
// each time every contender one after the other, the reference
// (net/http-stream) first, so that each ratio compares transfers made a
// moment apart.
func runStream(ctx context.Context, e *env, o streamOpts) *streamReport {
	rep := &streamReport{UploadBytes: o.upload}
	list := scenarioContenders("stream", o.only)
	ref := list[0].name
	var stacks []*stack
	defer func() {
		for i, s := range stacks {
			if s != nil {
				rep.Contenders[i].Logs = s.stop()
			}
		}
	}()
	for _, c := range list {
		sc := streamContender{Name: c.name, Status: statusOK}
		s, err := bringUp(ctx, e, c, streamScenario, sizing{maxConns: 1}, loadOpts{})
		if err == nil && o.warmup {
			if err = warmStream(ctx, s); err != nil {
				s.stop()
				s = nil
			}
		}
		if err != nil {
			sc.Status, sc.Reason = statusFailed, err.Error()
			logf("stream %s: FAILED: %v", c.name, err)
		}
		rep.Contenders = append(rep.Contenders, sc)
		stacks = append(stacks, s)
		if ctx.Err() != nil {
			return rep
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, kind := range transferKinds {
			reps := 1
			if kind == kindDownload {
				reps = downloadReps
			}
			for range reps {
				var refRate float64
				for i := range rep.Contenders {
					cr := &rep.Contenders[i]
					if cr.Status != statusOK {
						continue
					}
					tr := transfer(ctx, stacks[i], kind, o.upload, false)
					if ctx.Err() != nil {
						return rep
					}
					tr.Round = round
					if cr.Name == ref && tr.Err == "" {
						refRate = tr.MiBps
					}
					if refRate > 0 && tr.Err == "" {
						tr.Ratio = tr.MiBps / refRate
					}
					cr.Runs = append(cr.Runs, tr)
					logTransfer(cr.Name, tr, o.rounds)
				}
			}
		}
	}
	return rep
}

// warmStream runs one download, checking every byte, and a 64 MiB upload.
func warmStream(ctx context.Context, s *stack) error {
	if tr := transfer(ctx, s, kindDownload, 0, true); tr.Err != "" {
		return fmt.Errorf("warm-up download: %s", tr.Err)
	}
	if tr := transfer(ctx, s, kindUpload, 64<<20, false); tr.Err != "" {
		return fmt.Errorf("warm-up upload: %s", tr.Err)
	}
	return nil
}

func logTransfer(name string, tr transferRun, rounds int) {
	if tr.Err != "" {
		logf("stream round %d/%d %-8s %-16s ERROR %s", tr.Round, rounds, tr.Kind, name, tr.Err)
		return
	}
	logf("stream round %d/%d %-8s %-16s %7.0f MiB/s  %.2fs  front RSS %.0f → peak %.0f MiB, workers +%.0f MiB",
		tr.Round, rounds, tr.Kind, name, tr.MiBps, tr.Seconds, float64(tr.Front.BeforeKiB)/1024,
		float64(tr.Front.PeakKiB)/1024, tr.Workers.growthMiB())
}

// transfer runs one download, or one upload of size bytes, against s, and
// measures its rate, the contender's CPU and the peak RSS of its
// processes. verify checks the download byte by byte (the warm-up does).
func transfer(ctx context.Context, s *stack, kind string, size int64, verify bool) transferRun {
	tr := transferRun{Kind: kind}
	if err := s.alive(); err != nil {
		tr.Err = "before the transfer: " + err.Error()
		return tr
	}
	front := s.procs[len(s.procs)-1] // the gateway starts after its worker
	var workers []int
	for _, p := range s.procs[:len(s.procs)-1] {
		workers = append(workers, p.pid())
	}
	peaks := watchPeaks(append([]int{front.pid()}, workers...))
	before := sampleTree(s.pids())
	t0 := time.Now()
	var err error
	if kind == kindDownload {
		tr.Bytes, tr.Framing, err = download(ctx, s.addr, verify)
	} else {
		tr.Bytes, tr.Framing, err = upload(ctx, s.addr, size)
	}
	tr.Seconds = time.Since(t0).Seconds()
	after := sampleTree(s.pids())
	got := peaks.stop()
	tr.Front = got[0]
	for _, p := range got[1:] {
		tr.Workers.BeforeKiB += p.BeforeKiB
		tr.Workers.PeakKiB += p.PeakKiB
	}
	tr.CPUus = (after.CPUTicks - before.CPUTicks) * (1e6 / clockTicks)
	if err == nil {
		err = s.alive()
	}
	if err != nil {
		tr.Err = err.Error()
		return tr
	}
	tr.MiBps = float64(tr.Bytes) / (1 << 20) / tr.Seconds
	return tr
}

// streamIO is the client's read and write size.
const streamIO = 256 << 10

// download fetches /stream100 on a fresh connection and returns the body's
// length and framing. A status other than 200 or a short body is an error.
func download(ctx context.Context, addr string, verify bool) (int64, string, error) {
	c, err := dialTransfer(ctx, addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+payload.StreamPath+" HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, streamIO), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	framing := framingOf(resp)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return 0, framing, fmt.Errorf("GET %s: status %d, body %q", payload.StreamPath, resp.StatusCode, b)
	}
	var w io.Writer = discardCount{}
	var check *pieceChecker
	if verify {
		check = newPieceChecker(payload.StreamPiece())
		w = check
	}
	n, err := io.CopyBuffer(w, onlyReader{resp.Body}, make([]byte, streamIO))
	if err == nil && check != nil && check.bad >= 0 {
		err = fmt.Errorf("GET %s: byte %d differs from the piece's", payload.StreamPath, check.bad)
	}
	if err == nil && n != payload.StreamSize {
		err = fmt.Errorf("GET %s: %d bytes, want %d", payload.StreamPath, n, payload.StreamSize)
	}
	return n, framing, err
}

// upload sends size bytes to /upload with a Content-Length on a fresh
// connection, 256 KiB per write, and checks the count the handler answers.
func upload(ctx context.Context, addr string, size int64) (int64, string, error) {
	c, err := dialTransfer(ctx, addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		payload.UploadPath, size)
	if _, err := io.WriteString(c, head); err != nil {
		return 0, "", err
	}
	buf := bytes.Repeat(payload.StreamPiece(), streamIO/payload.StreamPieceSize)
	var sent int64
	for sent < size && err == nil {
		var n int
		n, err = c.Write(buf[:min(int64(len(buf)), size-sent)])
		sent += int64(n)
	}
	if err != nil {
		return sent, "content-length", fmt.Errorf("POST %s: writing the body after %d bytes: %w", payload.UploadPath, sent, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return sent, "content-length", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 200))
	if err != nil {
		return sent, "content-length", err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != strconv.FormatInt(size, 10) {
		return sent, "content-length", fmt.Errorf("POST %s: status %d, body %q, want 200 and %d", payload.UploadPath, resp.StatusCode, b, size)
	}
	return sent, "content-length", nil
}

// transferTimeout bounds one transfer: 1 GiB at 10 MiB/s.
const transferTimeout = 100 * time.Second

func dialTransfer(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(transferTimeout))
	go func() { // Ctrl-C ends a transfer at once
		<-ctx.Done()
		c.SetDeadline(time.Now())
	}()
	return c, nil
}

func framingOf(resp *http.Response) string {
	if slices.Contains(resp.TransferEncoding, "chunked") {
		return "chunked"
	}
	if resp.ContentLength >= 0 {
		return "content-length"
	}
	return "until close"
}

// onlyReader hides the body's WriterTo, so that io.CopyBuffer reads through
// the client's 256 KiB buffer.
type onlyReader struct{ io.Reader }

// discardCount is io.Discard without its ReaderFrom.
type discardCount struct{}

func (discardCount) Write(p []byte) (int, error) { return len(p), nil }

// pieceChecker compares a download with the piece repeated; bad is the
// offset of the first stretch (at most a piece long) that differs, -1 while
// none has.
type pieceChecker struct {
	piece []byte
	off   int64
	bad   int64
}

func newPieceChecker(piece []byte) *pieceChecker { return &pieceChecker{piece: piece, bad: -1} }

func (c *pieceChecker) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && c.bad < 0; {
		at := int((c.off + int64(i)) % int64(len(c.piece)))
		n := min(len(p)-i, len(c.piece)-at)
		if !bytes.Equal(p[i:i+n], c.piece[at:at+n]) {
			c.bad = c.off + int64(i)
		}
		i += n
	}
	c.off += int64(len(p))
	return len(p), nil
}

// peakWatch follows processes' resident sets during a transfer: each
// one's high-water mark (VmHWM) is reset first through
// /proc/PID/clear_refs ("5", Linux 4.0+, root), and VmRSS is sampled every
// 10 ms as well, for a kernel or a user that cannot reset it.
type peakWatch struct {
	pids   []int
	reset  []bool
	peaks  []rssPeak // written by sample until exited is closed
	done   chan struct{}
	exited chan struct{}
}

func watchPeaks(pids []int) *peakWatch {
	w := &peakWatch{pids: pids, reset: make([]bool, len(pids)), peaks: make([]rssPeak, len(pids)),
		done: make(chan struct{}), exited: make(chan struct{})}
	for i, pid := range pids {
		w.reset[i] = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
		rss := kibField("/proc/"+strconv.Itoa(pid)+"/status", "VmRSS:")
		w.peaks[i] = rssPeak{BeforeKiB: rss, PeakKiB: rss}
	}
	go w.sample()
	return w
}

func (w *peakWatch) sample() {
	defer close(w.exited)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		for i, pid := range w.pids {
			rss := kibField("/proc/"+strconv.Itoa(pid)+"/status", "VmRSS:")
			w.peaks[i].PeakKiB = max(w.peaks[i].PeakKiB, rss)
		}
		select {
		case <-w.done:
			return // after a last sample
		case <-t.C:
		}
	}
}

// stop ends the sampling and returns each process's peak, in pids order.
func (w *peakWatch) stop() []rssPeak {
	close(w.done)
	<-w.exited
	for i, pid := range w.pids {
		if w.reset[i] {
			hwm := kibField("/proc/"+strconv.Itoa(pid)+"/status", "VmHWM:")
			w.peaks[i].PeakKiB = max(w.peaks[i].PeakKiB, hwm)
		}
	}
	return w.peaks
}

// transferSummary is one row of the stream table: a contender and a kind
// of transfer over every run of the rounds. Rate, ratio, time and CPU are
// medians; the RSS growths are the largest of the runs, since the target
// is a bound.
type transferSummary struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Status       string `json:"status"`
	Reason       string `json:"reason,omitempty"`
	Runs         int    `json:"runs"`
	OK           int    `json:"runs_ok"`
	Framing      string `json:"framing,omitempty"`
	MiBps        metric `json:"mib_per_s"`
	Ratio        metric `json:"ratio"`
	Seconds      metric `json:"seconds"`
	FrontBefore  metric `json:"front_rss_before_mib"`
	FrontGrowth  metric `json:"front_peak_growth_mib"`  // max over the runs
	WorkerGrowth metric `json:"worker_peak_growth_mib"` // max over the runs; NaN without workers
	CPUmsPerMiB  metric `json:"cpu_ms_per_mib"`
	FirstErr     string `json:"first_error,omitempty"`
}

// summarizeStream makes one row per contender and kind.
func summarizeStream(cs []streamContender) []transferSummary {
	var out []transferSummary
	for _, kind := range transferKinds {
		for _, c := range cs {
			s := transferSummary{Name: c.Name, Kind: kind, Status: c.Status, Reason: c.Reason}
			var rate, ratio, secs, before, cpu []float64
			front, worker := math.Inf(-1), math.Inf(-1)
			for _, r := range c.Runs {
				if r.Kind != kind {
					continue
				}
				s.Runs++
				if r.Err != "" {
					if s.FirstErr == "" {
						s.FirstErr = r.Err
					}
					continue
				}
				s.OK++
				if s.Framing == "" {
					s.Framing = r.Framing
				}
				rate = append(rate, r.MiBps)
				secs = append(secs, r.Seconds)
				before = append(before, float64(r.Front.BeforeKiB)/1024)
				cpu = append(cpu, float64(r.CPUus)/1e3/(float64(r.Bytes)/(1<<20)))
				if r.Ratio > 0 {
					ratio = append(ratio, r.Ratio)
				}
				front = math.Max(front, r.Front.growthMiB())
				if r.Workers.PeakKiB > 0 {
					worker = math.Max(worker, r.Workers.growthMiB())
				}
			}
			s.MiBps, s.Ratio, s.Seconds = median(rate), median(ratio), median(secs)
			s.FrontBefore, s.CPUmsPerMiB = median(before), median(cpu)
			s.FrontGrowth, s.WorkerGrowth = finite(front), finite(worker)
			out = append(out, s)
		}
	}
	return out
}

// finite turns the -Inf of an empty maximum into a missing metric.
func finite(v float64) metric {
	if math.IsInf(v, 0) {
		return metric(math.NaN())
	}
	return metric(v)
}
