package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process the harness started, in a process group of its own
// (Setpgid), so that stopping it reaches its whole tree: nginx's and
// Apache's children, and anything a contender forks.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string        // file receiving stdout and stderr
	done chan struct{} // closed once the leader has been reaped
	err  error         // the leader's exit status, valid after done
}

// procs is every process started and not yet stopped, so that the error
// and signal paths can stop them all.
var procs = struct {
	sync.Mutex
	live map[*proc]bool
}{live: map[*proc]bool{}}

// startProc starts argv with its output in logPath. The child gets
// SIGKILL if the harness dies without running its cleanup (Pdeathsig); the
// ordinary paths stop it with stop.
func startProc(name, logPath string, argv []string, env []string) (*proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child holds its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	procs.Lock()
	procs.live[p] = true
	procs.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the leader is gone, with its status.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		if p.err == nil {
			return true, errors.New("exited with status 0")
		}
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace, reaps the
// leader, then kills and reaps whatever is left in the group (children
// orphaned by the leader's exit are reparented to the harness, a child
// subreaper, see main). It is safe to call more than once.
func (p *proc) stop(grace time.Duration) {
	procs.Lock()
	live := procs.live[p]
	delete(procs.live, p)
	procs.Unlock()
	if !live {
		return
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	reapGroup(pgid)
}

// reapGroup kills and reaps the processes still in process group pgid.
// The leader has been reaped, so none of them is the harness's direct child
// through os/exec: waiting for them by pid steals no exit status.
func reapGroup(pgid int) {
	for range 50 {
		left := groupMembers(pgid)
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range left {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil) // ECHILD: not ours, init reaps it
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupMembers lists the pids whose process group is pgid.
func groupMembers(pgid int) []int {
	var pids []int
	for _, st := range readAllStats() {
		if st.pgrp == pgid {
			pids = append(pids, st.pid)
		}
	}
	return pids
}

// stopAll stops every live process, all at once: the error and signal
// paths want them gone, in no particular order.
func stopAll() {
	procs.Lock()
	var all []*proc
	for p := range procs.live {
		all = append(all, p)
	}
	procs.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(3 * time.Second)
		}()
	}
	wg.Wait()
}

// logTail returns the last lines of a process's output, for error messages.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, " | ")
}
