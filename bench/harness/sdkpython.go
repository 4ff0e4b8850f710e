package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// The sdk scenario's Python contenders serve one WSGI callable,
// bench/contenders/python-hello/hello.py, in one worker process of
// pyThreads threads each: under nanogate-wsgi (backend-sdk/python) behind
// nanogate, under Debian's gunicorn (gthread) directly, and under the same
// gunicorn behind nginx.

// pyThreads is the threads of the one Python worker process, nanogate-wsgi's
// default (--threads 32); gunicorn gets as many.
const pyThreads = 32

// python is the interpreter that sees Debian's python3 packages (gunicorn's
// own, /usr/bin/gunicorn, runs on it too).
const python = "/usr/bin/python3"

func pyHelloDir(e *env) string { return filepath.Join(e.repo, "bench/contenders/python-hello") }

// startGatewayPython runs nanogate-wsgi (python3 -m nanogate.wsgi, the
// package from the repository on PYTHONPATH) binding an ipc endpoint, and
// nanogate dialing it.
func startGatewayPython(e *env, s *stack, z sizing) error {
	if err := needTools(python); err != nil {
		return err
	}
	url, sock, _ := endpointURL(s, "ipc", "py")
	argv := []string{python, "-m", "nanogate.wsgi", "hello:app", "--bind", url,
		"--threads", strconv.Itoa(pyThreads), "--log-level", "warning"}
	pythonPath := "PYTHONPATH=" + filepath.Join(e.repo, "backend-sdk/python") + ":" + pyHelloDir(e)
	if _, err := s.run(workerLabel, argv, pythonPath); err != nil {
		return err
	}
	if err := waitFile(sock, 15*time.Second); err != nil {
		return err
	}
	return startGateway(e, s, z, binGateway, []string{url})
}

// startGunicorn runs gunicorn, one gthread worker of pyThreads threads, on
// a free loopback port, and returns its address. Its master and worker are
// one part of the stack (the worker is the master's child). Keep-alive is
// raised from gunicorn's 2 s so that no connection of a run is closed.
func startGunicorn(e *env, s *stack) (string, error) {
	if err := needTools("gunicorn"); err != nil {
		return "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	argv := []string{"gunicorn", "--worker-class", "gthread", "--workers", "1", "--threads", strconv.Itoa(pyThreads),
		"--keep-alive", "75", "--backlog", "4096", "--bind", addr, "--chdir", pyHelloDir(e),
		"--log-level", "warning", "--pid", filepath.Join(s.dir, "gunicorn.pid"), "hello:app"}
	if _, err := s.run(workerLabel, argv); err != nil {
		return "", err
	}
	return addr, waitAccept(s, addr, 15*time.Second)
}

// startGunicornDirect serves the clients from gunicorn itself.
func startGunicornDirect(e *env, s *stack, _ sizing) error {
	addr, err := startGunicorn(e, s)
	s.addr = addr
	return err
}

// startNginxGunicorn runs nginx (the nginx contender's config) in front of
// gunicorn.
func startNginxGunicorn(e *env, s *stack, z sizing) error {
	up, err := startGunicorn(e, s)
	if err != nil {
		return err
	}
	return startNginxFront(e, s, z, up, false, false)
}

// needTools checks that the programs a contender runs are installed, so
// that the table says what is missing instead of a failed start.
func needTools(names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s is not installed (make bench-deps)", n)
		}
	}
	return nil
}
