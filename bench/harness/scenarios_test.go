package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/config"
)

func TestParseScenarios(t *testing.T) {
	for in, want := range map[string][]string{
		"hello":                    {"hello"},
		"ws,stream,idle-ws":        {"ws", "stream", "idle-ws"},
		" hello , ws ,hello":       {"hello", "ws"},
		"all":                      allScenarios,
		"hello,big,echo,idle,ws":   {"hello", "big", "echo", "idle", "ws"},
		"stream,idle-ws,idle,echo": {"stream", "idle-ws", "idle", "echo"},
	} {
		got, err := parseScenarios(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseScenarios(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "websocket", "hello,", "all,ws"} {
		if _, err := parseScenarios(in); err == nil {
			t.Errorf("parseScenarios(%q): no error", in)
		}
	}
}

// --only picks within each scenario: the named contenders and the
// reference, or everything when the scenario has none of the names.
func TestScenarioContenders(t *testing.T) {
	names := func(cs []contender) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		return strings.Join(out, ",")
	}
	only := map[string]bool{"nanogate-ipc-1w": true, "nginx-ws": true}
	for _, c := range []struct {
		scenario string
		only     map[string]bool
		want     string
	}{
		{"hello", only, "fasthttp,nanogate-ipc-1w"},
		{"ws", only, "fasthttp-ws,nginx-ws"},
		{"stream", only, "net/http-stream,nanogate-stream,nginx-stream"},
		{"idle", only, "nanogate-ipc-1w"},
		{"idle-ws", only, "nanogate-ws"},
		{"big", nil, names(contenders)},
		{"ws", nil, "fasthttp-ws,nanogate-ws,nginx-ws"},
		{"idle", nil, "nanogate-ipc-1w,nanogate-zmq,nginx"},
		{"hello", map[string]bool{"fasthttp": true}, "fasthttp"},
		{"ws", map[string]bool{"fasthttp-ws": true, "nanogate-ws": true}, "fasthttp-ws,nanogate-ws"},
		{"sdk", nil, names(sdkContenders)},
		{"sdk", map[string]bool{"nanogate-node": true, "nginx-node": true}, "gunicorn-direct,nanogate-node,nginx-node"},
	} {
		if got := names(scenarioContenders(c.scenario, c.only)); got != c.want {
			t.Errorf("%s with %v: %s, want %s", c.scenario, c.only, got, c.want)
		}
	}
}

// The frames config the harness writes must pass nanogate's own parser.
func TestFramesGatewayConfigParses(t *testing.T) {
	for _, z := range []sizing{{maxConns: 256}, {maxConns: 64, idle: 10000}, {maxConns: 64, idle: 50000, procs: 3}} {
		text := framesGatewayConfig("127.0.0.1:8080", z, "ipc:///tmp/w1.sock", "ipc:///tmp/inbound1.sock", true)
		c, err := config.Parse("bench.toml", []byte(text))
		if err != nil {
			t.Errorf("%+v: %v\n%s", z, err, text)
			continue
		}
		r := c.Routes[0]
		if r.Format != "frames" || !r.WebSocket || c.Server.MaxBodyBytes < 1<<30 || c.Sessions.Inbound != "ipc:///tmp/inbound1.sock" || !c.Log.NoAccess {
			t.Errorf("%+v: %+v", z, c)
		}
		if held := z.idle > 0; held != (r.StreamIdleTimeout.Hours() == 1) || c.Server.ReusePort != (z.procs > 1) {
			t.Errorf("%+v: stream idle %v, reuse_port %v", z, r.StreamIdleTimeout, c.Server.ReusePort)
		}
	}
}

// nginx relays /ws as WebSocket only in the ws contender; the other
// contenders' config is the one they always had.
func TestNginxConfWebSocket(t *testing.T) {
	render := func(ws bool) string {
		data := map[string]any{"Dir": "/d", "Addr": "127.0.0.1:1", "Upstream": "127.0.0.1:2", "WorkerConns": 5000,
			"NoFile": 6000, "KeepAlive": "75s", "Workers": "auto", "ReusePort": false, "WebSocket": ws, "WSPath": "/ws"}
		var b strings.Builder
		if err := nginxConf.Execute(&b, data); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	plain, ws := render(false), render(true)
	if strings.Contains(plain, "Upgrade") || !strings.HasSuffix(plain, "            proxy_set_header Connection \"\";\n        }\n    }\n}\n") {
		t.Errorf("plain config:\n%s", plain)
	}
	for _, want := range []string{"location /ws {", "proxy_set_header Upgrade $http_upgrade;", `proxy_set_header Connection "upgrade";`,
		"proxy_http_version 1.1;", "proxy_read_timeout 3600s;"} {
		if !strings.Contains(ws, want) {
			t.Errorf("ws config lacks %q:\n%s", want, ws)
		}
	}
}

// Warnings logged once the stack is being stopped are kept apart.
func TestCollectLogsStopping(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "worker1.log")
	os.WriteFile(path, []byte("INFO started\nWARN slow\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "quiet.log"), []byte("INFO fine\n"), 0o644)
	at := logSizes(dir)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("WARN gateway disconnected\nERROR gone\n")
	f.Close()
	notes := collectLogs(dir, at)
	if len(notes) != 1 {
		t.Fatalf("%+v", notes)
	}
	n := notes[0]
	if n.File != "worker1.log" || n.Lines != 4 || n.Notable != 1 || n.Examples[0] != "WARN slow" ||
		n.Stopping != 2 || n.Stopped[1] != "ERROR gone" {
		t.Errorf("%+v", n)
	}
	if got := logLines("w", notes); len(got) != 1 || !strings.Contains(got[0], "1 of 4 lines, first: `WARN slow`") {
		t.Errorf("logLines: %v", got)
	}
	// Only lines from the stop: in the JSON, not in the tables.
	os.WriteFile(path, []byte("WARN bye\n"), 0o644)
	notes = collectLogs(dir, map[string]int64{"worker1.log": 0})
	if len(notes) != 1 || notes[0].Notable != 0 || len(logLines("w", notes)) != 0 {
		t.Errorf("%+v", notes)
	}
	if notes := collectLogs(dir, nil); len(notes) != 1 || notes[0].Notable != 1 {
		t.Errorf("without a stop mark: %+v", notes)
	}
}

func TestSplitParts(t *testing.T) {
	before := []labeledRSS{{"worker1", 8 << 10}, {"nanogate", 10 << 10}}
	during := []labeledRSS{{"worker1", 18 << 10}, {"nanogate", 40 << 10}}
	p := splitParts(before, during, 1024)
	if len(p) != 2 || p[0].Label != "worker1" || p[0].KiBPerConn != 10 || p[1].KiBPerConn != 30 || p[1].DuringKiB != 40<<10 {
		t.Errorf("%+v", p)
	}
	if p := splitParts(before, during, 0); !math.IsNaN(float64(p[0].KiBPerConn)) {
		t.Errorf("nothing held: %+v", p)
	}
	if p := splitParts(before, during[:1], 10); len(p) != 1 {
		t.Errorf("a process gone: %+v", p)
	}
}

// idle-ws has a column per process; idle's table is as it was.
func TestIdleMarkdownParts(t *testing.T) {
	rows := []idleResult{{Name: "nanogate-ws", Target: 10, Status: statusOK, Held: 10, KiBPerConn: 30,
		Parts: []partMem{{Label: "worker1", KiBPerConn: 8}, {Label: "nanogate", KiBPerConn: 22}}},
		{Name: "other", Target: 10, Status: statusFailed, Reason: "no"}}
	md := idleMarkdown(report{Idle: rows}, idleOpts{name: "idle-ws"})
	for _, want := range []string{"| KiB/conn | worker1 KiB/conn | nanogate KiB/conn | still open after load | msg/s under load |",
		"| 30.00 | 8.00 | 22.00 | 0 |", "| other | 10 | 0 | **FAILED**: no | | | | | | | | | | | |\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("idle-ws markdown lacks %q:\n%s", want, md)
		}
	}
	rows[0].Parts = nil
	md = idleMarkdown(report{Idle: rows}, idleOpts{name: "idle"})
	if !strings.Contains(md, "| KiB/conn | still open after load | req/s under load | p99 ms | socket errors | non-2xx |\n") {
		t.Errorf("idle markdown:\n%s", md)
	}
}

// The access log is turned off only for a gateway that knows the key, as
// the gateway's own check says.
func TestKnowsAccessKey(t *testing.T) {
	dir := t.TempDir()
	e := &env{root: dir, bins: map[string]string{}}
	for name, status := range map[string]int{"new": 0, "old": 1} {
		path := filepath.Join(dir, name)
		script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = check ] && grep -q 'access = false' \"$2\" && exit %d\nexit 2\n", status)
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		e.bins[name] = path
	}
	if !e.knowsAccessKey("new") || e.knowsAccessKey("old") {
		t.Errorf("new %v, old %v", e.accessKey["new"], e.accessKey["old"])
	}
	os.Remove(e.bins["new"])
	if !e.knowsAccessKey("new") {
		t.Error("the answer is not kept")
	}
}
