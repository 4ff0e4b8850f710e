package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// stack is one running contender: every process that serves its requests
// (proxy or gateway, and its upstream or workers), the address clients
// use, and a private temp dir for configs, sockets and logs.
type stack struct {
	name  string
	addr  string // host:port of the HTTP front
	dir   string
	procs []*proc // in start order
}

// sizing is what a contender is configured for.
type sizing struct {
	maxConns int // most concurrent client connections a load run opens
	idle     int // idle connections to hold (idle scenario), 0 otherwise
	procs    int // front processes sharing the address (idle past the fd limit); 0 or 1: one
}

func newStack(root, name string) (*stack, error) {
	dir, err := os.MkdirTemp(root, name+"-")
	if err != nil {
		return nil, err
	}
	// Apache's and nginx's children drop root: they must reach sockets
	// and temp paths in here.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	return &stack{name: name, dir: dir}, nil
}

// run starts one process of the stack, logging to DIR/LABEL.log.
func (s *stack) run(label string, argv []string, env ...string) (*proc, error) {
	p, err := startProc(s.name+"/"+label, filepath.Join(s.dir, label+".log"), argv, env)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// alive returns an error naming the first process of the stack that has
// exited, with the end of its output.
func (s *stack) alive() error {
	for _, p := range s.procs {
		if gone, err := p.exited(); gone {
			return fmt.Errorf("%s %v; log: %s", p.name, err, logTail(p.log, 4))
		}
	}
	return nil
}

// pids returns the pid of each process the harness started; their
// descendants are found through /proc.
func (s *stack) pids() []int {
	out := make([]int, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.pid()
	}
	return out
}

// stop stops the processes in reverse start order (a gateway or proxy
// before its workers or upstream), keeps what their logs said of
// warnings and errors (apart, what they said while being stopped), and
// removes the temp dir.
func (s *stack) stop() []logNote {
	stopAt := logSizes(s.dir)
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(5 * time.Second)
	}
	s.procs = nil
	notes := collectLogs(s.dir, stopAt)
	_ = os.RemoveAll(s.dir)
	return notes
}

// freeAddr returns a loopback host:port that was free a moment ago. The
// port is released before the contender binds it; a clash shows up as a
// start failure, not as a wrong measurement.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// port returns the port of a host:port.
func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}
