package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// idleResult is one contender holding one number of idle connections.
type idleResult struct {
	Name       string     `json:"name"`
	Target     int        `json:"target"` // connections asked for
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	Held       int        `json:"held"`        // connections open after one request each
	DialErrors int        `json:"dial_errors"` // failed opens or first requests
	FirstErr   string     `json:"first_error,omitempty"`
	SourceIPs  int        `json:"source_ips"`
	Procs      int        `json:"front_procs"` // server processes sharing the address (nanogate reuse_port, nginx workers)
	Holders    int        `json:"holders"`     // client processes holding the connections
	Before     treeSample `json:"before"`      // after warm-up, before opening
	During     treeSample `json:"during"`      // with the connections held, before the load
	KiBPerConn metric     `json:"kib_per_conn"`
	StillOpen  int        `json:"still_open"` // held connections still open after the load
	Load       wrkResult  `json:"load"`       // hello (idle-ws: ws echo) at 64 conns beside the idle ones
	LoadErr    string     `json:"load_error,omitempty"`
	Logs       []logNote  `json:"logs,omitempty"` // warnings and errors the contender logged
	// Parts splits Before and During by process (idle-ws: gateway and
	// worker), each with its descendants.
	Parts []partMem `json:"parts,omitempty"`
}

// partMem is one process of a contender, before and with the idle
// connections.
type partMem struct {
	Label      string `json:"label"` // "nanogate", "worker1"
	BeforeKiB  int64  `json:"before_rss_kib"`
	DuringKiB  int64  `json:"during_rss_kib"`
	KiBPerConn metric `json:"kib_per_conn"`
}

// idleOpts are the flags of the idle scenario, or of idle-ws.
type idleOpts struct {
	// name is "idle" (keep-alive HTTP connections, each after one GET
	// /hello) or "idle-ws" (WebSocket connections, each after one echo);
	// see scenario.
	name   string
	counts []int
	load   time.Duration
	warmup time.Duration
	only   map[string]bool
	split  bool // also measure each process of the contender (Parts)
	// fdLimit is RLIMIT_NOFILE, which the holders (the client side) and
	// each contender process (the server side) share: see frontProcs.
	fdLimit int
}

// idleFDMargin is the descriptors beside the idle connections: the load,
// upstream and worker sockets, logs, the runtime.
const idleFDMargin = 1024

// idleLoadConns is the busy load run while the idle connections are held.
const idleLoadConns = 64

// scenario is the load scenario of the connections: its probe and
// warm-up check the contender, its first exchange opens each idle
// connection, and its load runs beside them.
func (o idleOpts) scenario() scenario {
	if o.name == "idle-ws" {
		return scenarios["ws"]
	}
	return scenarios["hello"]
}

// runIdle starts each idle contender fresh for each count, opens that many
// keep-alive connections (one request each, then held) or WebSocket
// connections (one echo each), measures the RSS they cost, then runs the
// hello (ws echo) load beside them.
func runIdle(ctx context.Context, e *env, o idleOpts) []idleResult {
	var out []idleResult
	for _, c := range scenarioContenders(o.name, o.only) {
		name := c.name
		for _, n := range o.counts {
			r := idleOnce(ctx, e, c, n, o)
			out = append(out, r)
			if r.Status == statusOK {
				logf("%s %-16s %6d held %6d  %.2f KiB/conn  still open %d  load %.0f %s p99 %.2f ms %s",
					o.name, name, n, r.Held, float64(r.KiBPerConn), r.StillOpen, r.Load.RPS, o.scenario().units().rate, r.Load.P99ms, r.LoadErr)
			} else {
				logf("%s %-16s %6d FAILED: %s", o.name, name, n, r.Reason)
			}
			if ctx.Err() != nil {
				return out
			}
		}
	}
	return out
}

func idleOnce(ctx context.Context, e *env, c contender, n int, o idleOpts) (r idleResult) {
	r = idleResult{Name: c.name, Target: n, Status: statusOK, KiBPerConn: metric(math.NaN())}
	sc := o.scenario()
	z := sizing{maxConns: idleLoadConns, idle: n, procs: frontProcs(n, o.fdLimit)}
	r.Procs = z.procs
	s, err := bringUp(ctx, e, c, sc, z, loadOpts{warmup: o.warmup})
	if err != nil {
		r.Status, r.Reason = statusFailed, err.Error()
		return r
	}
	var hs holders
	defer func() {
		// The server side closes first, so that the client's ports do
		// not linger in TIME_WAIT for the next count.
		r.Logs = s.stop()
		hs.stop()
	}()
	time.Sleep(time.Second)
	r.Before = sampleTree(s.pids())
	parts := s.sampleParts()
	shares := holdShares(n, o.fdLimit)
	r.Holders = len(shares)
	wsPath := ""
	if sc.ws {
		wsPath = sc.path
	}
	hs, open, err := startHolders(ctx, s.addr, shares, wsPath)
	if err != nil {
		r.Status, r.Reason = statusFailed, "holding connections: "+err.Error()
		return r
	}
	r.Held, r.DialErrors, r.FirstErr, r.SourceIPs = open.Held, open.Errors, open.First, open.Sources
	time.Sleep(2 * time.Second) // let the servers settle their buffers
	r.During = sampleTree(s.pids())
	if err := s.alive(); err != nil {
		r.Status, r.Reason = statusFailed, "while holding connections: "+err.Error()
		return r
	}
	if r.Held > 0 {
		r.KiBPerConn = metric(float64(r.During.RSSKiB-r.Before.RSSKiB) / float64(r.Held))
	}
	if o.split {
		r.Parts = splitParts(parts, s.sampleParts(), r.Held)
	}
	r.Load, err = sc.drive(ctx, e, s.addr, idleLoadConns, o.load)
	if err != nil {
		r.LoadErr = err.Error()
	} else if err := s.alive(); err != nil {
		r.LoadErr = "during the load: " + err.Error()
	}
	if r.StillOpen, err = hs.countOpen(ctx); err != nil {
		r.Status, r.Reason = statusFailed, "counting open connections: "+err.Error()
	}
	return r
}

// idleOpen reports how opening went.
type idleOpen struct {
	errors  int
	first   string
	sources int
}

// openIdle opens n connections to addr, each sending one GET /hello and
// reading its answer (with wsPath, each a WebSocket at that path that
// echoes one message), and returns those that succeeded. One source
// address reaches one destination with at most the ephemeral port range
// (see /proc/sys/net/ipv4/ip_local_port_range, about 28k by default), so
// the connections are spread over 127.0.0.SRC, SRC+1, …
func openIdle(ctx context.Context, addr string, n int, src byte, wsPath string) ([]net.Conn, idleOpen) {
	perSource := portsPerSource()
	sources := (n + perSource - 1) / perSource
	// Give up once failures are more than noise.
	held, failed, first := dialAll(ctx, n, 256, max(100, n/100), func(ctx context.Context, i int) (net.Conn, error) {
		from := net.IPv4(127, 0, 0, src+byte(i%sources))
		if wsPath != "" {
			return openWS(ctx, addr, wsPath, from)
		}
		return openOne(ctx, addr, from)
	})
	return held, idleOpen{errors: failed, first: first, sources: sources}
}

// openOne dials from src and makes the connection keep-alive with one
// request. IP_BIND_ADDRESS_NO_PORT defers the port choice to connect(), so
// the limit is per (source, destination) and not per source.
func openOne(ctx context.Context, addr string, src net.IP) (net.Conn, error) {
	d := sourceDialer(src)
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err == nil {
		var body strings.Builder
		_, err = bufio.NewReader(resp.Body).WriteTo(&body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || body.String() != payload.Hello) {
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, body.String())
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// sourceDialer dials from src, with the port chosen at connect time.
func sourceDialer(src net.IP) *net.Dialer {
	return &net.Dialer{
		Timeout:   5 * time.Second,
		LocalAddr: &net.TCPAddr{IP: src},
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			})
			return errors.Join(err, serr)
		},
	}
}

// openWS opens a WebSocket from src to path on addr and has one message
// echoed, then keeps only the TCP connection: the library's Conn and its
// 8 KiB of buffers go, so that 10k held connections cost the holder little.
// An idle WebSocket has nothing to read, so countOpen's peek tells it from
// one that the server closed (a close frame, or EOF).
func openWS(ctx context.Context, addr, path string, src net.IP) (net.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: sourceDialer(src).DialContext}
	c, _, err := d.DialContext(ctx, "ws://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	msg := payload.WSMessage()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	err = c.WriteMessage(websocket.TextMessage, msg)
	if err == nil {
		var t int
		var got []byte
		t, got, err = c.ReadMessage()
		if err == nil && (t != websocket.TextMessage || string(got) != string(msg)) {
			err = fmt.Errorf("echo of type %d, %q", t, clip(got, 40))
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Time{})
	c.SetWriteDeadline(time.Time{})
	return c.NetConn(), nil
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h.
const ipBindAddressNoPort = 24

// portsPerSource is a quarter of the ephemeral port range. connect()
// looks for a free port of the source by scanning the range: with two
// thirds of it in use, 256 dialers per process were slow enough at 100k
// connections that about 1% of dials timed out after 5s, and none did with
// a quarter.
func portsPerSource() int {
	lo, hi := 32768, 60999 // Linux default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && h > l {
				lo, hi = l, h
			}
		}
	}
	return max(1000, (hi-lo+1)/4)
}

// countOpen counts the connections the server has not closed: a peek that
// would block means open and idle; EOF or an error means closed.
func countOpen(conns []net.Conn) int {
	var open atomic.Int64
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1)
			for i := w; i < len(conns); i += workers {
				if peekOpen(conns[i], buf) {
					open.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(open.Load())
}

func peekOpen(c net.Conn, buf []byte) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	_ = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = errors.Is(err, syscall.EAGAIN)
		return true // never wait
	})
	return open
}

// labeledRSS is the RSS of one process the harness started, with its
// descendants.
type labeledRSS struct {
	label string // "nanogate", "worker1"
	kib   int64
}

// sampleParts samples each process the harness started in s, in start
// order.
func (s *stack) sampleParts() []labeledRSS {
	out := make([]labeledRSS, len(s.procs))
	for i, p := range s.procs {
		_, label, _ := strings.Cut(p.name, "/")
		out[i] = labeledRSS{label: label, kib: sampleTree([]int{p.pid()}).RSSKiB}
	}
	return out
}

// splitParts pairs the samples before and with the held connections, and
// divides each process's growth by the connections held.
func splitParts(before, during []labeledRSS, held int) []partMem {
	out := make([]partMem, 0, len(before))
	for i, b := range before {
		if i >= len(during) || during[i].label != b.label {
			break
		}
		p := partMem{Label: b.label, BeforeKiB: b.kib, DuringKiB: during[i].kib, KiBPerConn: metric(math.NaN())}
		if held > 0 {
			p.KiBPerConn = metric(float64(p.DuringKiB-p.BeforeKiB) / float64(held))
		}
		out = append(out, p)
	}
	return out
}
