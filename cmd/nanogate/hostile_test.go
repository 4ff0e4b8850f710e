package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
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
	ep := ipcURL(t, "hostile")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
max_body_bytes = "16MiB"
max_body_memory = "64MiB"
[log]
access = false
[[route]]
path = "/"
endpoints = [%q]
`, ep))
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
	if refused < 490 || after > 100 {
		t.Fatalf("%d of 500 refused, RSS %.1f MiB (want about 492 and under 100 MiB)", refused, after)
	}
}
