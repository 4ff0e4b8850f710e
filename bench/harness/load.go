package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// scenario is one request shape under load.
type scenario struct {
	name   string
	path   string
	probe  probe
	script bool // POST through the echo Lua script
	// ws: WebSocket echo messages from the harness's own client (wsload.go)
	// instead of wrk, against the ws contenders.
	ws bool
}

var scenarios = map[string]scenario{
	"hello": {name: "hello", path: "/hello",
		probe: probe{method: "GET", path: "/hello", want: []byte(payload.Hello)}},
	"big": {name: "big", path: "/big",
		probe: probe{method: "GET", path: "/big", want: payload.Big()}},
	"echo": {name: "echo", path: "/echo", script: true,
		probe: probe{method: "POST", path: "/echo", body: payload.Echo(), want: payload.Echo()}},
	"ws": {name: "ws", path: payload.WSPath, ws: true,
		probe: probe{method: "GET", path: payload.WSPath, ws: true}},
	"sdk": {name: "sdk", path: "/hello", probe: probe{method: "GET", path: "/hello", want: []byte(payload.Hello)}}, // sdk.go
}

// drive runs the scenario's load against addr: wrk, or the WebSocket
// client.
func (sc scenario) drive(ctx context.Context, e *env, addr string, conns int, d time.Duration) (wrkResult, error) {
	if sc.ws {
		return runWSLoad(ctx, "ws://"+addr+sc.path, conns, d)
	}
	return runWrk(ctx, wrkJob{url: "http://" + addr + sc.path, conns: conns,
		threads: 2, duration: d, script: scriptFor(e, sc)})
}

// Contender statuses in the results.
const (
	statusOK      = "ok"
	statusFailed  = "failed"  // could not start, check or warm up; Reason says why
	statusSkipped = "skipped" // needs something the user did not provide
	statusNA      = "n/a"     // cannot serve this scenario by design
)

// runResult is one measured wrk run of one contender.
type runResult struct {
	Round int `json:"round"`
	Conns int `json:"conns"`
	wrkResult
	Tree        treeSample `json:"tree"`           // at the end of the run
	CPUus       int64      `json:"cpu_us"`         // CPU of the tree during the run
	CPUusPerReq float64    `json:"cpu_us_per_req"` // CPUus / Requests
	Parts       []partCPU  `json:"cpu_by_process"` // CPUusPerReq split by process (cpuparts.go)
	Ratio       float64    `json:"ratio"`          // RPS / fasthttp's RPS in the same round and conns; 0: unknown
	Err         string     `json:"error,omitempty"`
}

// contenderResult is one contender across a scenario.
type contenderResult struct {
	Name   string      `json:"name"`
	Status string      `json:"status"`
	Reason string      `json:"reason,omitempty"`
	Runs   []runResult `json:"runs"`
	Logs   []logNote   `json:"logs,omitempty"` // warnings and errors the contender logged
}

// loadOpts are the flags that shape a load scenario.
type loadOpts struct {
	conns    []int
	duration time.Duration
	warmup   time.Duration
	rounds   int
	only     map[string]bool // empty: every contender
}

// runLoad starts every selected contender fresh, checks and warms each up,
// then measures them in rounds that alternate contenders (A B C, A B C…)
// so that machine drift hits everyone alike; the reference (fasthttp, or
// fasthttp-ws) runs first in every round and conns, as the reference of
// the ratio.
func runLoad(ctx context.Context, e *env, sc scenario, o loadOpts) (results []contenderResult) {
	z := sizing{maxConns: slices.Max(o.conns)}
	var stacks []*stack
	defer func() {
		for i, s := range stacks {
			if s != nil {
				results[i].Logs = s.stop()
			}
		}
	}()
	list := scenarioContenders(sc.name, o.only)
	ref := list[0].name
	for _, c := range list {
		cr := contenderResult{Name: c.name, Status: statusOK}
		s, err := bringUp(ctx, e, c, sc, z, o)
		switch {
		case errors.Is(err, errNA):
			cr.Status, cr.Reason = statusNA, `the C worker answers "hello world" to every path`
		case errors.Is(err, errSkipModNano):
			cr.Status, cr.Reason = statusSkipped, err.Error()
			fmt.Printf("%s: %s\n", c.name, err)
		case err != nil:
			cr.Status, cr.Reason = statusFailed, err.Error()
			logf("%s %s: FAILED: %v", sc.name, c.name, err)
		}
		results = append(results, cr)
		stacks = append(stacks, s)
		if ctx.Err() != nil {
			return results
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, conns := range o.conns {
			var fastRPS float64
			for i := range results {
				if results[i].Status != statusOK {
					continue
				}
				rr := measure(ctx, e, stacks[i], sc, round, conns, o.duration)
				if ctx.Err() != nil {
					return results
				}
				// A contender that logs leaves dirty pages (40 MB of access
				// log in 5 s of hello), which the kernel writes back 30 s
				// later, during another contender's run: the metrics-only
				// contender, measured after the one with the access log,
				// lost 8% to it. Written back here, between runs.
				syscall.Sync()
				if results[i].Name == ref && rr.Err == "" {
					fastRPS = rr.RPS
				}
				if fastRPS > 0 && rr.Err == "" {
					rr.Ratio = rr.RPS / fastRPS
				}
				results[i].Runs = append(results[i].Runs, rr)
				logRun(sc, results[i].Name, rr, o.rounds)
			}
		}
	}
	return results
}

// errNA marks a contender that cannot serve the scenario by design.
var errNA = errors.New("not applicable")

// bringUp starts c, waits until its probe answers, warms it up with a
// short wrk run and probes it again. On error the stack is already stopped.
func bringUp(ctx context.Context, e *env, c contender, sc scenario, z sizing, o loadOpts) (*stack, error) {
	if c.helloOnly && sc.name != "hello" {
		return nil, errNA
	}
	if err := e.missing(c); err != nil {
		return nil, err
	}
	s, err := newStack(e.root, safeName(c.name))
	if err != nil {
		return nil, err
	}
	s.name = c.name
	fail := func(err error) (*stack, error) {
		for _, n := range s.stop() {
			if said := append(n.Examples, n.Stopped...); len(said) > 0 {
				err = fmt.Errorf("%w; %s said: %s", err, n.File, said[0])
				break
			}
		}
		return nil, err
	}
	if err := c.start(e, s, z); err != nil {
		if alive := s.alive(); alive != nil && !errors.Is(err, errSkipModNano) {
			err = fmt.Errorf("%v (%v)", err, alive)
		}
		return fail(err)
	}
	if err := waitReady(ctx, s, sc.probe, 15*time.Second); err != nil {
		return fail(fmt.Errorf("check: %w", err))
	}
	if o.warmup > 0 {
		w, err := sc.drive(ctx, e, s.addr, z.maxConns, o.warmup)
		if err != nil {
			return fail(fmt.Errorf("warm-up: %w", err))
		}
		if w.Requests == 0 {
			return fail(errors.New("warm-up: no request answered"))
		}
	}
	if err := sc.probe.do(ctx, s.addr); err != nil {
		return fail(fmt.Errorf("check after warm-up: %w", err))
	}
	return s, nil
}

// measure runs the load (wrk) once against s and samples its process tree
// before and after: CPU as the delta, RSS at the end of the run.
func measure(ctx context.Context, e *env, s *stack, sc scenario, round, conns int, d time.Duration) runResult {
	rr := runResult{Round: round, Conns: conns}
	if err := s.alive(); err != nil {
		rr.Err = "before the run: " + err.Error()
		return rr
	}
	before, partsBefore := sampleTree(s.pids()), s.cpuByPart()
	w, err := sc.drive(ctx, e, s.addr, conns, d)
	after, partsAfter := sampleTree(s.pids()), s.cpuByPart()
	rr.wrkResult, rr.Tree = w, after
	if err != nil {
		rr.Err = err.Error()
		return rr
	}
	if err := s.alive(); err != nil {
		rr.Err = "during the run: " + err.Error()
		return rr
	}
	rr.CPUus = (after.CPUTicks - before.CPUTicks) * (1e6 / clockTicks)
	if w.Requests > 0 {
		rr.CPUusPerReq = float64(rr.CPUus) / float64(w.Requests)
	}
	rr.Parts = cpuPerReq(partsBefore, partsAfter, w.Requests)
	return rr
}

// scriptFor returns the wrk script of the scenario, "" for plain GETs.
func scriptFor(e *env, sc scenario) string {
	if sc.script {
		return e.echoLua
	}
	return ""
}

// writeEchoLua writes the wrk script that POSTs the 4 KiB echo body. The
// body is printable (payload's alphabet), so a Lua long string holds it.
func writeEchoLua(root string) (string, error) {
	path := filepath.Join(root, "echo.lua")
	lua := "wrk.method = \"POST\"\n" +
		"wrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n" +
		"wrk.body = [[" + string(payload.Echo()) + "]]\n"
	return path, os.WriteFile(path, []byte(lua), 0o644)
}

// safeName turns a contender name into a file name ("net/http").
func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c == '/' {
			b[i] = '-'
		}
	}
	return string(b)
}

func logRun(sc scenario, name string, rr runResult, rounds int) {
	if rr.Err != "" {
		logf("%s round %d/%d c=%d %-16s ERROR %s", sc.name, rr.Round, rounds, rr.Conns, name, rr.Err)
		return
	}
	u := sc.units()
	logf("%s round %d/%d c=%d %-16s %9.0f %s  p99 %7.2f ms  err %d  %s %d  RSS %.1f MiB  %.1f %s",
		sc.name, rr.Round, rounds, rr.Conns, name, rr.RPS, u.rate, rr.P99ms, rr.SocketErrs, u.bad, rr.Non2xx,
		float64(rr.Tree.RSSKiB)/1024, rr.CPUusPerReq, u.cpu)
}

// units names a load scenario's figures in logs, tables and charts.
type units struct {
	rate  string // "req/s"
	items string // "requests", in chart titles
	bad   string // "non-2xx": answers that are not what was asked
	cpu   string // "µs/req"
}

func (sc scenario) units() units {
	if sc.ws {
		return units{rate: "msg/s", items: "messages", bad: "bad echoes", cpu: "µs/msg"}
	}
	return units{rate: "req/s", items: "requests", bad: "non-2xx", cpu: "µs/req"}
}

// logf prints progress on stderr, keeping stdout for the tables.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
