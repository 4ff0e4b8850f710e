package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// contender is one way of serving the payload paths. start brings up its
// processes in s and sets s.addr; the caller checks and stops the stack.
type contender struct {
	name string
	// helloOnly: the C worker answers "hello world" to every path, so the
	// big and echo scenarios do not apply.
	helloOnly bool
	needs     []string // binaries from build (see bins)
	start     func(e *env, s *stack, z sizing) error
}

// contenders are the hello, big and echo scenarios' contenders, in table
// order: the upper limit, and the reference of the ratio column, first.
var contenders = []contender{
	{name: "fasthttp", needs: []string{binFast}, start: startDirect(binFast)},
	{name: "net/http", needs: []string{binNetHTTP}, start: startDirect(binNetHTTP)},
	{name: "nanogate-ipc-1w", needs: []string{binGateway, binSDK}, start: startGatewaySDK("ipc", 1, false)},
	{name: "nanogate-tcp-1w", needs: []string{binGateway, binSDK}, start: startGatewaySDK("tcp", 1, false)},
	{name: "nanogate-ipc-1w-metrics", needs: []string{binGateway, binSDK}, start: startGatewayObserved(false)},
	{name: "nanogate-ipc-1w-observed", needs: []string{binGateway, binSDK}, start: startGatewayObserved(true)},
	{name: "nanogate-ipc-2w", needs: []string{binGateway, binSDK}, start: startGatewaySDK("ipc", 2, false)},
	{name: "nanogate-ipc-fast", needs: []string{binGateway, binSDK}, start: startGatewaySDK("ipc", 1, true)},
	{name: "nanogate-zmq", needs: []string{binGateway, binSDK}, start: startGatewayZMQ}, // zmqfront.go
	{name: "nanogate-blastbeat-go", helloOnly: true, needs: []string{binGateway, binBBDealer}, start: startGatewayBlastBeat(false)},
	{name: "nanogate-blastbeat-py", helloOnly: true, needs: []string{binGateway}, start: startGatewayBlastBeat(true)},
	{name: "nanogate-c", helloOnly: true, needs: []string{binGateway, binCWorker}, start: startGatewayC},
	{name: "nanogate-clib", helloOnly: true, needs: []string{binGateway, binCLib}, start: startGatewayCLib}, // clib.go
	{name: "nginx", needs: []string{binFast}, start: startNginx},
	{name: "apache-proxy", needs: []string{binFast}, start: startApacheProxy},
	{name: "apache-modnano", helloOnly: true, needs: []string{binCWorker}, start: startApacheModNano},
}

// wsContenders are the ws scenario's: the direct WebSocket echo server
// first, the reference.
var wsContenders = []contender{
	{name: "fasthttp-ws", needs: []string{binWSEcho}, start: startDirect(binWSEcho)},
	{name: "nanogate-ws", needs: []string{binGateway, binSDKStream}, start: startGatewayFrames},
	{name: "nginx-ws", needs: []string{binWSEcho}, start: startNginxWS},
}

// streamContenders are the stream scenario's: the direct net/http server
// first, the reference. nanogate-stream is the same stack as nanogate-ws.
var streamContenders = []contender{
	{name: "net/http-stream", needs: []string{binStreamDirect}, start: startDirect(binStreamDirect)},
	{name: "nanogate-stream", needs: []string{binGateway, binSDKStream}, start: startGatewayFrames},
	{name: "nginx-stream", needs: []string{binStreamDirect}, start: startNginxStream},
}

// sdkContenders are the sdk scenario's (sdk.go): each SDK behind nanogate,
// its app's own server directly and behind nginx; the first is the
// reference of the ratio column, sdk.go's table compares within each SDK.
var sdkContenders = []contender{
	{name: "gunicorn-direct", start: startGunicornDirect},                                  // sdkpython.go
	{name: "nanogate-python", needs: []string{binGateway}, start: startGatewayPython},      // sdkpython.go
	{name: "nginx-gunicorn", start: startNginxGunicorn},                                    // sdkpython.go
	{name: "node-direct", start: startNodeDirect(false)},                                   // sdknode.go
	{name: "nanogate-node", needs: []string{binGateway}, start: startGatewayNode(false)},   // sdknode.go
	{name: "nginx-node", start: startNginxNode(false)},                                     // sdknode.go
	{name: "express-direct", start: startNodeDirect(true)},                                 // sdknode.go
	{name: "nanogate-express", needs: []string{binGateway}, start: startGatewayNode(true)}, // sdknode.go
	{name: "nginx-express", start: startNginxNode(true)},                                   // sdknode.go
}

// idleContenders are the ones the idle scenario holds connections
// against; idleWSContenders those of idle-ws (WebSocket connections).
var (
	idleContenders   = []string{"nanogate-ipc-1w", "nanogate-zmq", "nginx"}
	idleWSContenders = []string{"nanogate-ws"}
)

// families are the contender lists, each with the scenarios it serves.
var families = []struct {
	scenarios  []string
	contenders []contender
}{
	{[]string{"hello", "big", "echo", "idle"}, contenders},
	{[]string{"ws", "idle-ws"}, wsContenders},
	{[]string{"stream"}, streamContenders},
	{[]string{"sdk"}, sdkContenders},
}

func findContender(name string) (contender, bool) {
	for _, f := range families {
		for _, c := range f.contenders {
			if c.name == name {
				return c, true
			}
		}
	}
	return contender{}, false
}

// scenarioContenders returns the contenders scenario runs, in table order.
// --only (only) names contenders of any scenario: a scenario runs the ones
// it names, plus its reference (the first of a load scenario's list), or
// all of its own when it names none of them.
func scenarioContenders(scenario string, only map[string]bool) []contender {
	var list []contender
	ref := true
	switch scenario {
	case "idle", "idle-ws":
		names := idleContenders
		if scenario == "idle-ws" {
			names = idleWSContenders
		}
		for _, n := range names {
			c, _ := findContender(n)
			list = append(list, c)
		}
		ref = false
	case "ws":
		list = wsContenders
	case "stream":
		list = streamContenders
	case "sdk":
		list = sdkContenders
	default:
		list = contenders
	}
	var out []contender
	for i, c := range list {
		if only[c.name] || (ref && i == 0) {
			out = append(out, c)
		}
	}
	if len(out) == 0 || (ref && len(out) == 1 && !only[list[0].name]) {
		return list
	}
	return out
}

// startDirect serves the payload straight from one Go server.
func startDirect(bin string) func(*env, *stack, sizing) error {
	return func(e *env, s *stack, _ sizing) error {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		if _, err := s.run(bin, []string{e.bins[bin], "--listen", addr}); err != nil {
			return err
		}
		s.addr = addr
		return nil
	}
}

// startGatewaySDK runs n SDK workers, each binding its own endpoint of one
// route, and nanogate dialing them; fast: the workers serve through the
// SDK's FastHandler instead of net/http.
func startGatewaySDK(scheme string, n int, fast bool) func(*env, *stack, sizing) error {
	return startGatewaySDKFrom(binGateway, binSDK, scheme, n, fast)
}

// baselineContender is nanogate-ipc-1w as it was at revision rev: the
// gateway and the hello worker built from rev (--baseline), so that a
// change of the request/reply path is measured against its predecessor in
// the same run, a few seconds apart.
func baselineContender(rev string) contender {
	return contender{name: "nanogate-ipc-1w@" + rev, needs: []string{binGatewayBase, binSDKBase},
		start: startGatewaySDKFrom(binGatewayBase, binSDKBase, "ipc", 1, false)}
}

// addBaseline puts the baseline contender right after nanogate-ipc-1w.
func addBaseline(rev string) {
	c := baselineContender(rev)
	i := slices.IndexFunc(contenders, func(c contender) bool { return c.name == "nanogate-ipc-1w" })
	contenders = slices.Insert(contenders, i+1, c)
	families[0].contenders = contenders
}

// startGatewaySDKFrom is startGatewaySDK with the gateway and worker
// binaries gw and sdk.
func startGatewaySDKFrom(gw, sdk, scheme string, n int, fast bool) func(*env, *stack, sizing) error {
	return func(e *env, s *stack, z sizing) error {
		var endpoints []string
		for i := 1; i <= n; i++ {
			url, sock, err := endpointURL(s, scheme, "w"+strconv.Itoa(i))
			if err != nil {
				return err
			}
			argv := []string{e.bins[sdk], "--bind", url, "--concurrency", strconv.Itoa(gatewayContexts)}
			if fast {
				argv = append(argv, "--fast")
			}
			if _, err := s.run("worker"+strconv.Itoa(i), argv, e.workerEnv...); err != nil {
				return err
			}
			if sock != "" {
				if err := waitFile(sock, 10*time.Second); err != nil {
					return err
				}
			}
			endpoints = append(endpoints, url)
		}
		return startGateway(e, s, z, gw, endpoints)
	}
}

// startGatewayC runs the mod_nano-style C worker and nanogate dialing it.
func startGatewayC(e *env, s *stack, z sizing) error {
	url, err := startCWorker(e, s)
	if err != nil {
		return err
	}
	return startGateway(e, s, z, binGateway, []string{url})
}

// startCWorker runs backend-sdk/c/modnano_worker on an ipc socket that
// Apache's children (www-data) may connect to as well.
func startCWorker(e *env, s *stack) (string, error) {
	url, sock, _ := endpointURL(s, "ipc", "c")
	if _, err := s.run("c-worker", []string{e.bins[binCWorker], url}); err != nil {
		return "", err
	}
	if err := waitFile(sock, 10*time.Second); err != nil {
		return "", err
	}
	return url, os.Chmod(sock, 0o666)
}

// endpointURL names a worker endpoint in the stack: an ipc socket in its
// dir (returned as sock), or a free loopback TCP port.
func endpointURL(s *stack, scheme, name string) (url, sock string, err error) {
	if scheme == "ipc" {
		sock = filepath.Join(s.dir, name+".sock")
		return "ipc://" + sock, sock, nil
	}
	addr, err := freeAddr()
	return "tcp://" + addr, "", err
}

// gatewayContexts is the in-flight limit per endpoint (the route's
// contexts) and each SDK worker's concurrency: above the largest load, so
// that a 503 in the table means a gateway problem, not a sizing choice.
const gatewayContexts = 1024

// startGateway writes a config for nanogate (binary gw) and starts it.
func startGateway(e *env, s *stack, z sizing, gw string, endpoints []string) error {
	return startGatewayLogged(e, s, z, gw, endpoints, false, false)
}

// startOneSDKWorker runs one Go SDK hello worker bound to an ipc
// endpoint of the stack, with the gateway's contexts as its concurrency,
// and returns the endpoint once the worker listens.
func startOneSDKWorker(e *env, s *stack) (string, error) {
	url, sock, err := endpointURL(s, "ipc", "w1")
	if err != nil {
		return "", err
	}
	if _, err := s.run("worker1", []string{e.bins[binSDK], "--bind", url, "--concurrency", strconv.Itoa(gatewayContexts)}, e.workerEnv...); err != nil {
		return "", err
	}
	return url, waitFile(sock, 10*time.Second)
}

// startGatewayObserved is nanogate-ipc-1w with what an operator turns on:
// the admin listener's Prometheus metrics, and with access the access log
// (a line per request, to a file as a log pipeline would read it), so that
// their cost on the request path is measured beside the plain contender:
// nanogate-ipc-1w-metrics for the metrics alone (the production issue's
// 3%), nanogate-ipc-1w-observed for both.
func startGatewayObserved(access bool) func(e *env, s *stack, z sizing) error {
	return func(e *env, s *stack, z sizing) error {
		url, err := startOneSDKWorker(e, s)
		if err != nil {
			return err
		}
		return startGatewayLogged(e, s, z, binGateway, []string{url}, access, true)
	}
}

// startGatewayLogged starts gw on endpoints, with the access log on if
// access (and the binary knows how to turn it off otherwise), and the admin
// listener (metrics) if admin.
func startGatewayLogged(e *env, s *stack, z sizing, gw string, endpoints []string, access, admin bool) error {
	if z.maxConns > gatewayContexts {
		return fmt.Errorf("%d connections exceed the route's %d contexts; raise gatewayContexts", z.maxConns, gatewayContexts)
	}
	quiet := e.knowsAccessKey(gw) && !access
	return startGateways(e, s, z, gw, func(addr string, _ int) string {
		c := gatewayConfig(addr, z, endpoints, quiet)
		if admin {
			c += "\n[admin]\nlisten = \"127.0.0.1:0\"\n"
		}
		return c
	})
}

// startGateways starts nanogate (binary gw) with the config that conf
// renders for process i of z.procs, all on one free address.
func startGateways(e *env, s *stack, z sizing, gw string, conf func(addr string, i int) string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	// Past one process's open-file limit, several gateways share the
	// address (reuse_port), as an operator would run them: with the
	// processors shared out, as nginx's single-threaded workers are.
	var env []string
	if z.procs > 1 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(max(1, runtime.NumCPU()/z.procs)))
	}
	for i := range max(1, z.procs) {
		label := "nanogate"
		if i > 0 {
			label += strconv.Itoa(i + 1)
		}
		path := filepath.Join(s.dir, label+".toml")
		if err := os.WriteFile(path, []byte(conf(addr, i)), 0o644); err != nil {
			return err
		}
		if _, err := s.run(label, []string{e.bins[gw], "--config", path}, env...); err != nil {
			return err
		}
	}
	s.addr = addr
	return nil
}

// startGatewayFrames runs the SDK stream worker (sdk-stream: StreamServer,
// AcceptWebSocket) binding an ipc endpoint, and nanogate dialing it on a
// route of format frames with WebSocket on. Each gateway process binds an
// inbound address of its own, which its requests name to the worker.
func startGatewayFrames(e *env, s *stack, z sizing) error {
	url, sock, _ := endpointURL(s, "ipc", "w1")
	// Every held and loaded connection is a stream of the worker.
	streams := strconv.Itoa(z.idle + max(z.maxConns, 64) + 1024)
	argv := []string{e.bins[binSDKStream], "--bind", url, "--max-streams", streams}
	if _, err := s.run("worker1", argv, e.workerEnv...); err != nil {
		return err
	}
	if err := waitFile(sock, 10*time.Second); err != nil {
		return err
	}
	quiet := e.knowsAccessKey(binGateway)
	return startGateways(e, s, z, binGateway, func(addr string, i int) string {
		inbound := "ipc://" + filepath.Join(s.dir, "inbound"+strconv.Itoa(i+1)+".sock")
		return framesGatewayConfig(addr, z, url, inbound, quiet)
	})
}

// gatewayConfig renders the nanogate TOML (config/example.toml documents
// every key).
func gatewayConfig(addr string, z sizing, endpoints []string, quiet bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen = %q\n\n[server]\n", addr)
	if z.procs > 1 {
		b.WriteString("reuse_port = true\n")
	}
	if z.idle > 0 {
		// Room for the idle connections, the load beside them and the
		// checks; idle ones must outlive the whole scenario.
		fmt.Fprintf(&b, "max_conns = %d\nidle_timeout = \"1h\"\n", z.idle+z.maxConns+1024)
	} else {
		fmt.Fprintf(&b, "max_conns = %d\n", max(z.maxConns, 64)+1024)
	}
	b.WriteString(logSection(quiet))
	b.WriteString("\n[[route]]\nname = \"bench\"\npath = \"/\"\ntimeout = \"5s\"\n")
	fmt.Fprintf(&b, "contexts = %d\nendpoints = [", gatewayContexts)
	for i, ep := range endpoints {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", ep)
	}
	b.WriteString("]\n")
	return b.String()
}

// framesGatewayConfig renders the nanogate TOML of the ws, stream and
// idle-ws contenders: one route of format frames, WebSocket on, and a body
// limit above the stream scenario's 1 GiB upload.
func framesGatewayConfig(addr string, z sizing, endpoint, inbound string, quiet bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen = %q\n\n[server]\n", addr)
	if z.procs > 1 {
		b.WriteString("reuse_port = true\n")
	}
	fmt.Fprintf(&b, "max_conns = %d\nmax_body_bytes = %q\n", z.idle+max(z.maxConns, 64)+1024, "2GiB")
	if z.idle > 0 {
		b.WriteString("idle_timeout = \"1h\"\n")
	}
	b.WriteString(logSection(quiet))
	fmt.Fprintf(&b, "\n[sessions]\ninbound = %q\n", inbound)
	b.WriteString("\n[[route]]\nname = \"bench\"\npath = \"/\"\nformat = \"frames\"\nwebsocket = true\ntimeout = \"5s\"\n")
	if z.idle > 0 {
		// Held WebSockets are silent: they must outlive the scenario.
		b.WriteString("stream_idle_timeout = \"1h\"\n")
	}
	fmt.Fprintf(&b, "endpoints = [%q]\n", endpoint)
	return b.String()
}

// logSection is the gateway's [log] table: warnings and errors only, and,
// when quiet, no access log. The access log writes a line per request (on
// by default since 9dccf7b); nginx runs with access_log off and Apache
// without CustomLog, so the gateway runs without it too.
func logSection(quiet bool) string {
	if quiet {
		return "\n[log]\nlevel = \"warn\"\naccess = false\n"
	}
	return "\n[log]\nlevel = \"warn\"\n"
}

// knowsAccessKey reports whether the gateway binary gw accepts
// "[log] access": one built from a revision before the key (--baseline)
// refuses unknown keys, and has no access log to turn off. It asks the
// binary itself, with "nanogate check", once per binary.
func (e *env) knowsAccessKey(gw string) bool {
	if known, ok := e.accessKey[gw]; ok {
		return known
	}
	path := filepath.Join(e.root, "access-check-"+safeName(gw)+".toml")
	text := "[log]\naccess = false\n\n[[route]]\npath = \"/\"\nendpoints = [\"ipc:///nanogate-bench-check.sock\"]\n"
	known := os.WriteFile(path, []byte(text), 0o644) == nil && exec.Command(e.bins[gw], "check", path).Run() == nil
	if e.accessKey == nil {
		e.accessKey = map[string]bool{}
	}
	e.accessKey[gw] = known
	return known
}
