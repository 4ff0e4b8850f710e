package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rssMiB reads a process's resident set size.
func rssMiB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestStalledUploads: 500 clients announce 8 MiB bodies and send 1 KiB.
// The gateway reserves what max_body_memory allows, refuses the rest with
// 503 before allocating anything, and its memory stays small (it took 4.1
// GB before the budget).
func TestStalledUploads(t *testing.T) {
	t.Parallel()
	runStalledUploads(t, "", 100)
}

// runStalledUploads is TestStalledUploads with more [server] lines and
// its RSS limit in MiB.
func runStalledUploads(t *testing.T, server string, limit float64) {
	ep := ipcURL(t, "hostile")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
%smax_body_bytes = "16MiB"
max_body_memory = "64MiB"
[log]
access = false
[[route]]
path = "/"
endpoints = [%q]
`, server, ep))
	g, _ := startStack(t, ep, nil, "--config", cfg)
	before := rssMiB(t, g.cmd.Process.Pid)
	head := "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 8388608\r\n\r\n" + strings.Repeat("x", 1024)
	refused := 0
	var conns []net.Conn
	for range 500 {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		fmt.Fprint(c, head)
		// A refused one is answered at once; a reserved one stalls, and
		// its read times out.
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			if resp.StatusCode != 503 {
				t.Fatalf("a stalled upload got %d", resp.StatusCode)
			}
			refused++
		}
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	after := rssMiB(t, g.cmd.Process.Pid)
	t.Logf("RSS %.1f MiB before, %.1f MiB with 500 stalled 8 MiB uploads; %d refused with 503", before, after, refused)
	if refused < 490 || after > limit {
		t.Fatalf("%d of 500 refused, RSS %.1f MiB (want about 492 and under %.0f MiB)", refused, after, limit)
	}
}

// TestSlowReaders: 400 clients ask for a 256 KiB reply each and read none
// of it, with a small receive window, so the replies wait in the gateway.
// Each connection holds at most its reply, for at most write_timeout; when
// the clients are gone the memory goes back to the system (memory.go)
// instead of staying with the process.
func TestSlowReaders(t *testing.T) {
	t.Parallel()
	runSlowReaders(t, "", 32)
}

// runSlowReaders is TestSlowReaders with more [server] lines; slack is
// how much over half of what the attack added may stay (MiB).
func runSlowReaders(t *testing.T, server string, slack float64) {
	ep := ipcURL(t, "slow")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
%swrite_timeout = "20s"
[admin]
listen = "127.0.0.1:0"
[log]
access = false
[[route]]
path = "/"
contexts = 512
endpoints = [%q]
`, server, ep))
	g, _ := startStack(t, ep, nil, "--config", cfg)
	pid := g.cmd.Process.Pid
	metricsURL := "http://" + adminAddr.FindStringSubmatch(g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString))[1] + "/metrics"
	before := rssMiB(t, pid)
	body := strings.Repeat("x", 256<<10)
	req := fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	var conns []*net.TCPConn
	for range 400 {
		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		c, err := d.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c.(*net.TCPConn))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	closeAll := func() {
		for _, c := range conns {
			c.SetLinger(0) // a reset: the gateway's writes fail at once
			c.Close()
		}
		conns = nil
	}
	t.Cleanup(closeAll)
	// Every reply sits in the gateway once the 400 requests are counted
	// served: a request is counted when its reply is ready to write.
	served := regexp.MustCompile(`(?m)^nanogate_requests_total\{code="2xx",method="POST",route="/"\} (\d+)$`)
	deadline := time.Now().Add(60 * time.Second) // a loaded machine takes long to carry 200 MiB
	for n := 0; n < 400; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 400 echoes served in 60 s", n)
		}
		resp, err := http.Get(metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := served.FindSubmatch(b); m != nil {
			n, _ = strconv.Atoi(string(m[1]))
		}
	}
	during := rssMiB(t, pid)
	t.Logf("RSS %.1f MiB before, %.1f MiB with 400 slow readers of 256 KiB", before, during)
	closeAll()
	// The memory goes back to the system (memory.go): RSS falls to at most
	// half of what the attack added, or slack over where it started.
	want := before + max(slack, (during-before)/2)
	if during-before < slack {
		// The kernel's send buffers took most replies (their size
		// follows the connection's congestion window, not the reader):
		// there is little to return, and the check below is weak.
		t.Logf("the attack added only %.1f MiB to the gateway", during-before)
	}
	after := rssMiB(t, pid)
	for deadline := time.Now().Add(30 * time.Second); after > want; after = rssMiB(t, pid) {
		if time.Now().After(deadline) {
			t.Fatalf("RSS %.1f MiB 30 s after the attack (%.1f before it, %.1f during): want at most %.1f", after, before, during, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("RSS %.1f MiB after they left", after)
}
