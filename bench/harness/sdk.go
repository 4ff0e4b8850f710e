package main

import (
	"fmt"
	"math"
	"net"
	"strings"
	"time"
)

// The sdk scenario (GET /hello) puts each worker SDK in another language
// behind nanogate beside the same application served by its own
// language's server directly, and by that server behind nginx, one app
// process each: the question of issue 10 is whether an app behind
// nanogate is at least as fast as behind nginx with the same workers, and
// what its worker spends per request.

// workerLabel names the application's process in every sdk contender
// (nanogate's worker, or the direct server that nginx may front), so that
// its CPU is found among the stack's processes (runResult.Parts).
const workerLabel = "worker"

// sdkGroup is one SDK's three contenders.
type sdkGroup struct {
	sdk, nanogate, direct, nginx string
}

var sdkGroups = []sdkGroup{
	{"Python WSGI (1 process × 32 threads)", "nanogate-python", "gunicorn-direct", "nginx-gunicorn"},
	{"Node (1 process)", "nanogate-node", "node-direct", "nginx-node"},
	{"Node + Express 5 (1 process)", "nanogate-express", "express-direct", "nginx-express"},
}

// sdkTable renders, after the sdk scenario's load table, each SDK's
// contenders with their rates against the same app direct and behind
// nginx, and the CPU per request split into the app's worker and the rest
// (the gateway, or nginx).
func sdkTable(r report, conns []int) string {
	rps := map[string]map[int]metric{}
	for _, s := range r.Summary {
		if rps[s.Name] == nil {
			rps[s.Name] = map[int]metric{}
		}
		rps[s.Name][s.Conns] = metric(math.NaN())
		if s.Status == statusOK {
			rps[s.Name][s.Conns] = s.RPS
		}
	}
	runs := map[string][]runResult{}
	for _, cr := range r.Contenders {
		runs[cr.Name] = cr.Runs
	}
	var b strings.Builder
	b.WriteString("\n### Per SDK: the app's worker apart\n\n")
	b.WriteString("| SDK | contender | conns | req/s | × direct | × nginx | worker µs/req | front µs/req | total µs/req |\n")
	b.WriteString("| --- | --- | --: | --: | --: | --: | --: | --: | --: |\n")
	for _, g := range sdkGroups {
		for _, name := range []string{g.nanogate, g.direct, g.nginx} {
			if rps[name] == nil {
				continue // not selected (--only)
			}
			for _, c := range conns {
				own := rps[name][c]
				worker, front, total := cpuMedians(runs[name], c)
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", g.sdk, name, c, fmtNum(own, 0),
					fmtNum(ratioOf(own, rps[g.direct][c]), 2), fmtNum(ratioOf(own, rps[g.nginx][c]), 2),
					fmtNum(worker, 1), fmtNum(front, 1), fmtNum(total, 1))
			}
		}
	}
	b.WriteString("\n× direct and × nginx: req/s over the same SDK's app served directly and behind nginx, medians of " +
		"the same rounds. Worker µs/req is the CPU of the app's process (nanogate's worker: nanogate-wsgi or the Node SDK; " +
		"gunicorn, master and its one gthread worker; Node's http server) per request answered; front µs/req is the rest " +
		"of the contender (the gateway; nginx's master and workers; nothing when direct). wrk's own CPU is in neither. " +
		"In the table above, nginx's upstream is the app's server, not fasthttp.\n")
	return b.String()
}

// cpuMedians returns the medians, over the good runs at conns, of the
// CPU per request of the worker, of the other processes together (each
// run's sum, so that a direct server's is 0), and of the whole contender.
func cpuMedians(runs []runResult, conns int) (worker, front, total metric) {
	var w, f, t []float64
	for _, r := range runs {
		if r.Conns != conns || r.Err != "" {
			continue
		}
		t = append(t, r.CPUusPerReq)
		if len(r.Parts) == 0 {
			continue
		}
		var rest float64
		for _, p := range r.Parts {
			if p.Label == workerLabel {
				w = append(w, p.CPUusPerReq)
			} else {
				rest += p.CPUusPerReq
			}
		}
		f = append(f, rest)
	}
	return median(w), median(f), median(t)
}

// waitAccept waits until addr accepts a TCP connection (an upstream before
// nginx is started in front of it), failing early when a process of the
// stack exits.
func waitAccept(s *stack, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if gone := s.alive(); gone != nil {
			return gone
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept within %v: %v", addr, within, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a port another process opens
	}
}

// ratioOf is a / b, missing when either is missing or b is 0.
func ratioOf(a, b metric) metric {
	if !a.ok() || !b.ok() || b == 0 {
		return metric(math.NaN())
	}
	return a / b
}
