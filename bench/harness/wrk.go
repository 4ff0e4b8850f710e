package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrkResult is what one wrk run reported.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	SocketErrs int64   `json:"socket_errors"` // connect + read + write + timeout
	Non2xx     int64   `json:"non_2xx"`       // wrk's "Non-2xx or 3xx responses": status > 399
	Raw        string  `json:"raw"`           // wrk's output as printed
}

// wrkJob is one wrk invocation.
type wrkJob struct {
	url      string
	conns    int
	threads  int
	duration time.Duration
	script   string // Lua script path, or ""
}

// runWrk runs wrk with keep-alive (its default) and --latency, and parses
// its report. Cancelling ctx kills wrk's process group.
func runWrk(ctx context.Context, j wrkJob) (wrkResult, error) {
	threads := min(j.threads, j.conns) // wrk refuses fewer connections than threads
	args := []string{
		"-t" + strconv.Itoa(threads),
		"-c" + strconv.Itoa(j.conns),
		"-d" + strconv.Itoa(max(1, int(j.duration.Round(time.Second)/time.Second))) + "s",
		"--latency",
	}
	if j.script != "" {
		args = append(args, "-s", j.script)
	}
	args = append(args, j.url)
	cmd := exec.CommandContext(ctx, "wrk", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	raw := out.String()
	if ctx.Err() != nil {
		return wrkResult{Raw: raw}, ctx.Err()
	}
	if err != nil {
		return wrkResult{Raw: raw}, fmt.Errorf("wrk: %v: %s", err, firstLine(raw))
	}
	return parseWrk(raw)
}

var (
	reRequests = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m|h),`)
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	rePercent  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$`)
	reSockErr  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk 4's text report. The "Socket errors" and "Non-2xx"
// lines are printed only when non-zero.
func parseWrk(raw string) (wrkResult, error) {
	r := wrkResult{Raw: raw}
	m := reRequests.FindStringSubmatch(raw)
	if m == nil {
		return r, fmt.Errorf("wrk: no request count in output: %s", firstLine(raw))
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.Seconds = toMillis(m[2], m[3]) / 1000
	if m := reRPS.FindStringSubmatch(raw); m != nil {
		r.RPS, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range rePercent.FindAllStringSubmatch(raw, -1) {
		v := toMillis(m[2], m[3])
		if m[1] == "50" {
			r.P50ms = v
		} else {
			r.P99ms = v
		}
	}
	if r.Requests > 0 && (r.P50ms == 0 || r.P99ms == 0) {
		return r, errors.New("wrk: no latency distribution in output (--latency)")
	}
	if m := reSockErr.FindStringSubmatch(raw); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrs += n
		}
	}
	if m := reNon2xx.FindStringSubmatch(raw); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// toMillis converts one of wrk's duration strings (value and unit) to ms.
func toMillis(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return f / 1000
	case "ms":
		return f
	case "s":
		return f * 1000
	case "m":
		return f * 60e3
	case "h":
		return f * 3600e3
	}
	return f
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
