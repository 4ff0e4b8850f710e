package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every sdk contender starts from the repository, answers the probe
// through its real processes (nanogate, nanogate-wsgi, gunicorn, Node,
// nginx), and has the app's process labelled as the worker, whose CPU the
// table splits out.
func TestSDKContendersServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and starts every sdk contender")
	}
	repo, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{repo: repo, root: t.TempDir(), fdLimit: 4096}
	e.buildAll(map[string]bool{binGateway: true})
	if err := e.buildErr[binGateway]; err != nil {
		t.Fatal(err)
	}
	if err := needTools("gunicorn", node, "nginx", python); err != nil {
		t.Skip(err) // make bench-deps, make deps
	}
	_, noExpress := os.Stat(filepath.Join(repo, "backend-sdk/node/node_modules/express"))
	sc := scenarios["sdk"]
	for _, c := range sdkContenders {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.name, "express") && noExpress != nil {
				t.Skip("express is not installed in backend-sdk/node (make sdk-deps)")
			}
			s, err := newStack(e.root, c.name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.stop() })
			if err := c.start(e, s, sizing{maxConns: 64}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := waitReady(ctx, s, sc.probe, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			parts := s.cpuByPart()
			workers := 0
			for _, p := range parts {
				if p.label == workerLabel {
					workers++
				}
			}
			if workers != 1 {
				t.Errorf("%d processes labelled %q in %+v", workers, workerLabel, parts)
			}
		})
	}
}

// The per-SDK table compares each contender with its own SDK's direct and
// nginx runs, and splits the CPU into the worker's and the front's.
func TestSDKTable(t *testing.T) {
	run := func(conns int, total, worker float64) runResult {
		return runResult{Conns: conns, CPUusPerReq: total,
			Parts: []partCPU{{Label: "nanogate", CPUusPerReq: total - worker}, {Label: workerLabel, CPUusPerReq: worker}}}
	}
	r := report{
		Summary: []summary{
			{Name: "node-direct", Conns: 64, Status: statusOK, RPS: 20000},
			{Name: "nanogate-node", Conns: 64, Status: statusOK, RPS: 24000},
			{Name: "nginx-node", Conns: 64, Status: statusOK, RPS: 16000},
			{Name: "nanogate-express", Conns: 64, Status: statusFailed},
		},
		Contenders: []contenderResult{
			{Name: "nanogate-node", Runs: []runResult{run(64, 40, 10), run(64, 38, 14), run(64, 60, 20), {Conns: 64, Err: "x", CPUusPerReq: 1}}},
			{Name: "node-direct", Runs: []runResult{{Conns: 64, CPUusPerReq: 30, Parts: []partCPU{{Label: workerLabel, CPUusPerReq: 30}}}}},
		},
	}
	md := sdkTable(r, []int{64})
	for _, want := range []string{
		"| Node (1 process) | nanogate-node | 64 | 24000 | 1.20 | 1.50 | 14.0 | 30.0 | 40.0 |",
		"| Node (1 process) | node-direct | 64 | 20000 | 1.00 | 1.25 | 30.0 | 0.0 | 30.0 |",
		"| Node (1 process) | nginx-node | 64 | 16000 | 0.80 | 1.00 | – | – | – |",
		"| Node + Express 5 (1 process) | nanogate-express | 64 | – | – | – | – | – | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "gunicorn") && strings.Contains(md, "| Python") {
		t.Errorf("a contender that did not run has rows:\n%s", md)
	}
}

func TestCPUPerReq(t *testing.T) {
	before := []labeledTicks{{"nanogate", 100}, {workerLabel, 50}}
	after := []labeledTicks{{"nanogate", 130}, {workerLabel, 60}}
	p := cpuPerReq(before, after, 10000)
	// 30 ticks of 10 ms over 10000 requests: 30 µs each; 10 ticks: 10 µs.
	if len(p) != 2 || p[0].Label != "nanogate" || math.Abs(p[0].CPUusPerReq-30) > 1e-9 || math.Abs(p[1].CPUusPerReq-10) > 1e-9 {
		t.Errorf("%+v", p)
	}
	if cpuPerReq(before, after, 0) != nil || cpuPerReq(before, after[:1], 5) != nil ||
		cpuPerReq(before, []labeledTicks{{"x", 1}, {workerLabel, 2}}, 5) != nil {
		t.Error("mismatched samples or no requests gave numbers")
	}
}
