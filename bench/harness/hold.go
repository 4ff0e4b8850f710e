package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// One process holds at most RLIMIT_NOFILE descriptors, and the hard limit
// may be below the idle count (20000 in some containers, where raising it
// needs CAP_SYS_RESOURCE). So the client side of the idle scenarios runs in
// children, "harness hold-idle ADDR N FIRST [WSPATH]", each holding a share
// (WebSocket connections to WSPATH when it is given), and
// the contender runs as many front processes as its share needs (nanogate
// with reuse_port, nginx with more workers): see frontProcs.

// holdCmd is the first argument that makes the harness a holder.
const holdCmd = "hold-idle"

// holdReport is a holder's answer: a first line once its connections are
// open, then one per "count" line it reads.
type holdReport struct {
	Held    int    `json:"held"`
	Errors  int    `json:"errors"`
	First   string `json:"first,omitempty"`
	Sources int    `json:"sources"`
	Open    int    `json:"open"` // connections still open, answering "count"
}

// holdMain runs a holder: args are ADDR N FIRST [WSPATH] (the first source
// address is 127.0.0.FIRST; WSPATH: WebSocket connections to that path).
func holdMain(args []string) int {
	if len(args) != 3 && len(args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: harness "+holdCmd+" ADDR N FIRST [WSPATH]")
		return 2
	}
	wsPath := ""
	if len(args) == 4 {
		wsPath = args[3]
	}
	n, err1 := strconv.Atoi(args[1])
	first, err2 := strconv.Atoi(args[2])
	if err := errors.Join(err1, err2); err != nil || n < 1 || first < 1 || first > 254 {
		fmt.Fprintln(os.Stderr, "harness "+holdCmd+": bad N or FIRST:", args)
		return 2
	}
	if err := hold(context.Background(), os.Stdin, os.Stdout, args[0], n, byte(first), wsPath); err != nil {
		fmt.Fprintln(os.Stderr, "harness "+holdCmd+":", err)
		return 1
	}
	return 0
}

// hold opens n idle connections to addr (WebSockets to wsPath, when not
// empty), reports them on w, answers each "count" line of r, and closes
// them when r ends.
func hold(ctx context.Context, r io.Reader, w io.Writer, addr string, n int, first byte, wsPath string) error {
	conns, open := openIdle(ctx, addr, n, first, wsPath)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	enc := json.NewEncoder(w)
	err := enc.Encode(holdReport{Held: len(conns), Errors: open.errors, First: open.first, Sources: open.sources})
	sc := bufio.NewScanner(r)
	for err == nil && sc.Scan() {
		if sc.Text() != "count" {
			return fmt.Errorf("unknown command %q", sc.Text())
		}
		err = enc.Encode(holdReport{Held: len(conns), Open: countOpen(conns)})
	}
	return errors.Join(err, sc.Err())
}

// holder is a running hold-idle child.
type holder struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *json.Decoder
	done chan struct{}
}

// holders are the children holding one count's idle connections.
type holders []*holder

// holdShares splits n connections over the fewest processes that fit
// under fdLimit, each with its own source addresses.
func holdShares(n, fdLimit int) []int {
	per := max(1, fdLimit-idleFDMargin)
	k := (n + per - 1) / per
	shares := make([]int, k)
	for i := range shares {
		shares[i] = n / k
		if i < n%k {
			shares[i]++
		}
	}
	return shares
}

// startHolders starts one holder per share and waits for each to report.
// The sum of their reports is returned; on error every holder is stopped.
func startHolders(ctx context.Context, addr string, shares []int, wsPath string) (holders, holdReport, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, holdReport{}, err
	}
	// Each holder dials from source addresses of its own.
	firsts := make([]int, len(shares))
	next, perSource := 2, portsPerSource() // 127.0.0.1 is wrk's
	for i, n := range shares {
		firsts[i] = next
		next += (n + perSource - 1) / perSource
	}
	var sum holdReport
	if next > 255 {
		return nil, sum, fmt.Errorf("%d source addresses needed, 127.0.0.2-254 available", next-2)
	}
	var hs holders
	for i, n := range shares {
		h, err := startHolder(self, addr, n, firsts[i], wsPath)
		if err != nil {
			hs.stop()
			return nil, sum, err
		}
		hs = append(hs, h)
	}
	reports, err := hs.ask(ctx, "")
	if err != nil {
		hs.stop()
		return nil, sum, err
	}
	for i, r := range reports {
		sum.Held += r.Held
		sum.Errors += r.Errors
		sum.Sources += r.Sources
		if sum.First == "" && r.First != "" {
			sum.First = fmt.Sprintf("holder %d: %s", i, r.First)
		}
	}
	return hs, sum, nil
}

func startHolder(self, addr string, n, first int, wsPath string) (*holder, error) {
	args := []string{holdCmd, addr, strconv.Itoa(n), strconv.Itoa(first)}
	if wsPath != "" {
		args = append(args, wsPath)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	// Its own process group: Ctrl-C reaches the harness, which stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start holder: %w", err)
	}
	h := &holder{cmd: cmd, in: in, out: json.NewDecoder(out), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(h.done)
	}()
	return h, nil
}

// ask sends line (if any) to every holder and reads one report from each.
// A holder that dies or does not answer in time is an error.
func (hs holders) ask(ctx context.Context, line string) ([]holdReport, error) {
	out := make([]holdReport, len(hs))
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if line != "" {
				if _, err := io.WriteString(h.in, line+"\n"); err != nil {
					errs[i] = fmt.Errorf("holder %d: %w", i, err)
					return
				}
			}
			if err := h.out.Decode(&out[i]); err != nil {
				errs[i] = fmt.Errorf("holder %d (pid %d): %w", i, h.cmd.Process.Pid, err)
			}
		}()
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		hs.stop() // unblocks the decoders
		<-waited
		return nil, ctx.Err()
	}
	return out, errors.Join(errs...)
}

// countOpen asks every holder how many of its connections are still open.
func (hs holders) countOpen(ctx context.Context) (int, error) {
	reports, err := hs.ask(ctx, "count")
	n := 0
	for _, r := range reports {
		n += r.Open
	}
	return n, err
}

// stop closes the holders' stdin, which closes their connections and ends
// them; one that does not end within 10s is killed by pid.
func (hs holders) stop() {
	for _, h := range hs {
		h.in.Close()
	}
	for _, h := range hs {
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			_ = h.cmd.Process.Kill()
			<-h.done
		}
	}
}

// frontProcs is how many processes serve n idle connections under
// fdLimit each. The kernel hashes connections over SO_REUSEPORT sockets,
// not evenly: the 15% spare covers the spread (a few hundred at 100k).
func frontProcs(n, fdLimit int) int {
	per := max(1, fdLimit-idleFDMargin)
	if n <= per {
		return 1
	}
	return (n*115/100 + per - 1) / per
}
