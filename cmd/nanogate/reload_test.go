package main

// SIGHUP reloads under load: routes come and go, pools are replaced and
// kept, a bad file is refused, and wrk sees no error and no non-2xx.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitServing waits until g logs an access line after mark: requests are
// flowing through it.
func waitServing(t *testing.T, g *gateway, mark int) {
	t.Helper()
	g.waitFrom(t, mark, "a request served", startTimeout, func(l string) bool { return strings.Contains(l, "msg=access") })
}

// wrkRun is wrk loading the gateway for 6 s at 16 connections.
type wrkRun struct {
	cmd *exec.Cmd
	out strings.Builder
}

func startWrk(t *testing.T, url string) *wrkRun {
	t.Helper()
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatalf("wrk not installed (run make deps): %v", err)
	}
	w := &wrkRun{cmd: exec.Command(bin, "-t2", "-c16", "-d6s", url)}
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	return w
}

var wrkRequests = regexp.MustCompile(`(\d+) requests in`)

// clean waits for wrk and fails the test unless every request got a 2xx
// (no socket error, no other status) and the load was real (1000 requests
// at least); it returns the count. during says what happened meanwhile.
func (w *wrkRun) clean(t *testing.T, during string) int {
	t.Helper()
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, w.out.String())
	}
	res := w.out.String()
	if strings.Contains(res, "Socket errors") || strings.Contains(res, "Non-2xx") {
		t.Fatalf("errors under load with %s:\n%s", during, res)
	}
	m := wrkRequests.FindStringSubmatch(res)
	n := 0
	if m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	if n < 1000 {
		t.Fatalf("only %d requests under load with %s:\n%s", n, during, res)
	}
	return n
}

func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "reload")
	startWorker(t, "--bind", ep)
	// Two versions: the second adds a route and changes the root route's
	// timeout, which takes a new pool for it; going back takes another.
	v1 := fmt.Sprintf("[[route]]\npath = \"/\"\ntimeout = \"10s\"\nendpoints = [%q]\n", ep)
	v2 := v1 + fmt.Sprintf("[[route]]\npath = \"/extra/\"\nendpoints = [%q]\n", ep)
	v2 = strings.Replace(v2, `timeout = "10s"`, `timeout = "9s"`, 1)
	cfg := writeFile(t, "nanogate.toml", v1)
	g := startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, ep)

	load := startWrk(t, g.url+"/hello")

	reloads := 0
	reload := func(content string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		mark := g.out.len()
		g.cmd.Process.Signal(syscall.SIGHUP)
		g.waitFrom(t, mark, "reload logged", 10*time.Second, func(l string) bool {
			return strings.Contains(l, `msg="configuration reloaded"`) || strings.Contains(l, `msg="reload refused`)
		})
		reloads++
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if i%2 == 0 {
			reload(v2)
		} else {
			reload(v1)
		}
		if i == 3 {
			// A file that does not pass check is refused; the running
			// configuration goes on serving.
			mark := g.out.len()
			os.WriteFile(cfg, []byte("[[route]]\npath = \"nope\"\n"), 0o644)
			g.cmd.Process.Signal(syscall.SIGHUP)
			g.waitFrom(t, mark, "refusal", 10*time.Second, func(l string) bool {
				return strings.Contains(l, `msg="reload refused, the running configuration stays"`) && strings.Contains(l, `must start with`)
			})
		}
		waitServing(t, g, g.out.len()) // requests flow through the new table before the next reload
	}
	n := load.clean(t, fmt.Sprintf("%d reloads", reloads))
	// Still serving after it all.
	resp, err := http.Get(g.url + "/extra/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/extra/ answered %d after the reloads", resp.StatusCode)
	}
	t.Logf("%d reloads under load, %d requests, none failed", reloads, n)
}

// TestAccessLog: a request leaves one access line with what an operator
// looks for, and the client gets its request id back.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "access")
	g, _ := startStack(t, ep, nil, "--route", "/="+ep)
	req, _ := http.NewRequest("GET", g.url+"/hello?x=1", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-42" {
		t.Fatalf("X-Request-Id %q", resp.Header.Get("X-Request-Id"))
	}
	line := g.waitFrom(t, 0, "the access line", 10*time.Second, func(l string) bool {
		return strings.Contains(l, "msg=access") && hasField(l, "id", "trace-42")
	})
	for _, kv := range [][2]string{{"method", "GET"}, {"uri", `"/hello?x=1"`}, {"status", "200"}, {"route", "/"}} {
		if !hasField(line, kv[0], kv[1]) {
			t.Errorf("access line lacks %s=%s: %s", kv[0], kv[1], line)
		}
	}
	if !strings.Contains(line, "client=127.0.0.1:") {
		t.Errorf("access line lacks the client: %s", line)
	}
}

// TestRollingRestart: workers restarted one at a time with SIGTERM under
// wrk load lose no request, with the gateway dialling them (an endpoint
// each) and with the workers dialling a gateway that listens (one
// endpoint, several workers). The SDK drains on SIGTERM and tells the
// gateway, which stops sending it new requests.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"dial", "listen"} {
		t.Run(mode, func(t *testing.T) {
			var g *gateway
			var start func(i int) *proc
			var eps []string
			connected := func(mark int, i int) {
				t.Helper()
				if mode == "dial" {
					g.waitConnected(t, mark, eps[i])
					return
				}
				g.waitFrom(t, mark, "a worker connected", startTimeout, func(l string) bool {
					return strings.Contains(l, `msg="worker connected"`)
				})
			}
			if mode == "dial" {
				eps = []string{ipcURL(t, "w0"), ipcURL(t, "w1")}
				start = func(i int) *proc { return startWorker(t, "--bind", eps[i]) }
			} else {
				eps = []string{tcpURL(t)}
				start = func(int) *proc { return startWorker(t, "--dial", eps[0]) }
			}
			procs := []*proc{start(0), start(1)}
			if mode == "dial" {
				g = startGateway(t, "--route", "/="+eps[0]+","+eps[1])
				connected(0, 0)
				connected(0, 1)
			} else {
				cfg := writeFile(t, "nanogate.toml", fmt.Sprintf("[[route]]\npath = \"/\"\n[[route.endpoint]]\nurl = %q\nmode = \"listen\"\n", eps[0]))
				g = startGateway(t, "--config", cfg)
				g.waitFrom(t, 0, "two workers", startTimeout, func(l string) bool {
					return strings.Contains(l, `msg="worker connected"`) && hasField(l, "workers", "2")
				})
			}
			load := startWrk(t, g.url+"/hello")
			stop := func(p *proc) {
				t.Helper()
				p.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-p.done:
				case <-time.After(10 * time.Second):
					t.Fatal("a worker did not drain within 10s of SIGTERM")
				}
			}
			restarts := 0
			for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); restarts++ {
				i := restarts % 2
				mark := g.out.len()
				if mode == "dial" {
					stop(procs[i]) // the new one binds the same address
					procs[i] = start(i)
				} else {
					next := start(i) // the new one joins first
					connected(mark, i)
					stop(procs[i])
					procs[i] = next
					continue
				}
				connected(mark, i)
			}
			load.clean(t, fmt.Sprintf("%d restarts", restarts))
			if restarts < 2 {
				t.Fatalf("only %d restarts", restarts)
			}
			t.Logf("%s: %d worker restarts under load, no request lost", mode, restarts)
		})
	}
}

// TestUpgradeUnderLoad: new gateways take the listening socket over from
// the running one, one after another, under wrk load: no connection is
// refused or reset, no request fails, and each old gateway exits.
func TestUpgradeUnderLoad(t *testing.T) {
	t.Parallel()
	cfg, g := startUpgradable(t, "upgrade")
	load := startWrk(t, g.url+"/hello")
	upgrades := 0
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline) && upgrades < 8; upgrades++ {
		waitServing(t, g, g.out.len()) // the gateway in charge takes requests before the next upgrade
		next := startGateway(t, "--config", cfg)
		if next.addr != g.addr {
			t.Fatalf("the new gateway listens on %s, not on the inherited %s", next.addr, g.addr)
		}
		next.waitFrom(t, 0, "took over", startTimeout, func(l string) bool {
			return strings.Contains(l, `msg="took over the listener from the previous gateway"`)
		})
		waitExit(t, g)
		waitUpgradeReady(t, next)
		g = next
	}
	load.clean(t, fmt.Sprintf("%d upgrades", upgrades))
	if upgrades < 5 {
		t.Fatalf("only %d upgrades", upgrades)
	}
	t.Logf("%d gateway upgrades under load, no request lost", upgrades)
}

// TestUpgradeHandsOverIdleConnections: a keep-alive connection idle during
// an upgrade is passed to the new gateway, which serves its next request:
// the client never sees its connection closed.
func TestUpgradeHandsOverIdleConnections(t *testing.T) {
	t.Parallel()
	cfg, old := startUpgradable(t, "handover")
	conn, err := net.Dial("tcp", old.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func(uri string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", uri)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s on the kept connection: %v", uri, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET %s: %d, close %v", uri, resp.StatusCode, resp.Close)
		}
	}
	get("/hello?before")
	next := startGateway(t, "--config", cfg)
	waitExit(t, old)
	next.waitFrom(t, 0, "the connection taken over", startTimeout, func(l string) bool {
		return strings.Contains(l, `msg="connections taken over from the previous gateway"`) && hasField(l, "count", "1")
	})
	get("/hello?after") // the old process is gone: the new one serves it
	next.waitFrom(t, 0, "the request in the new gateway's access log", startTimeout, func(l string) bool {
		return strings.Contains(l, "/hello?after")
	})
}

// startUpgradable starts a test worker and a gateway with an upgrade
// socket in front of it, and waits until the gateway takes upgrades; it
// returns the configuration file a new gateway starts with.
func startUpgradable(t *testing.T, name string) (cfg string, g *gateway) {
	t.Helper()
	ep := ipcURL(t, name)
	startWorker(t, "--bind", ep)
	cfg = writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
upgrade_socket = %q
[[route]]
path = "/"
endpoints = [%q]
`, filepath.Join(shortDir(t), "up.sock"), ep))
	g = startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, ep)
	waitUpgradeReady(t, g)
	return cfg, g
}

// waitUpgradeReady waits until g listens on its upgrade socket.
func waitUpgradeReady(t *testing.T, g *gateway) {
	t.Helper()
	g.waitFrom(t, 0, "upgrade socket ready", startTimeout, func(l string) bool {
		return strings.Contains(l, `msg="upgrade socket ready`)
	})
}

// waitExit waits for a gateway that handed over to a new one to exit.
func waitExit(t *testing.T, g *gateway) {
	t.Helper()
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the old gateway did not exit after the hand-off")
	}
}
