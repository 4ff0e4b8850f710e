package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// contenders is every contender, in table order: the upper limit first.
var contenders = []contender{
	{name: "fasthttp", needs: []string{binFast}, start: startDirect(binFast)},
	{name: "net/http", needs: []string{binNetHTTP}, start: startDirect(binNetHTTP)},
	{name: "nanogate-ipc-1w", needs: []string{binGateway, binSDK}, start: startGatewaySDK("ipc", 1, false)},
	{name: "nanogate-tcp-1w", needs: []string{binGateway, binSDK}, start: startGatewaySDK("tcp", 1, false)},
	{name: "nanogate-ipc-2w", needs: []string{binGateway, binSDK}, start: startGatewaySDK("ipc", 2, false)},
	{name: "nanogate-ipc-fast", needs: []string{binGateway, binSDK}, start: startGatewaySDK("ipc", 1, true)},
	{name: "nanogate-c", helloOnly: true, needs: []string{binGateway, binCWorker}, start: startGatewayC},
	{name: "nginx", needs: []string{binFast}, start: startNginx},
	{name: "apache-proxy", needs: []string{binFast}, start: startApacheProxy},
	{name: "apache-modnano", helloOnly: true, needs: []string{binCWorker}, start: startApacheModNano},
}

// idleContenders are the ones the idle scenario holds connections against.
var idleContenders = []string{"nanogate-ipc-1w", "nginx"}

func findContender(name string) (contender, bool) {
	for _, c := range contenders {
		if c.name == name {
			return c, true
		}
	}
	return contender{}, false
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
	return func(e *env, s *stack, z sizing) error {
		var endpoints []string
		for i := 1; i <= n; i++ {
			url, sock, err := endpointURL(s, scheme, "w"+strconv.Itoa(i))
			if err != nil {
				return err
			}
			argv := []string{e.bins[binSDK], "--bind", url, "--concurrency", strconv.Itoa(gatewayContexts)}
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
		return startGateway(e, s, z, endpoints)
	}
}

// startGatewayC runs the mod_nano-style C worker and nanogate dialing it.
func startGatewayC(e *env, s *stack, z sizing) error {
	url, err := startCWorker(e, s)
	if err != nil {
		return err
	}
	return startGateway(e, s, z, []string{url})
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

// startGateway writes a config for nanogate and starts it.
func startGateway(e *env, s *stack, z sizing, endpoints []string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	if z.maxConns > gatewayContexts {
		return fmt.Errorf("%d connections exceed the route's %d contexts; raise gatewayContexts", z.maxConns, gatewayContexts)
	}
	conf := filepath.Join(s.dir, "nanogate.toml")
	if err := os.WriteFile(conf, []byte(gatewayConfig(addr, z, endpoints)), 0o644); err != nil {
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
		if _, err := s.run(label, []string{e.bins[binGateway], "--config", conf}, env...); err != nil {
			return err
		}
	}
	s.addr = addr
	return nil
}

// gatewayConfig renders the nanogate TOML (config/example.toml documents
// every key).
func gatewayConfig(addr string, z sizing, endpoints []string) string {
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
	b.WriteString("\n[log]\nlevel = \"warn\"\n\n[[route]]\nname = \"bench\"\npath = \"/\"\ntimeout = \"5s\"\n")
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
