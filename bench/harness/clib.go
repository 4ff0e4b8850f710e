package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// binCLib is bench/contenders/clib-hello on the C worker library
// (backend-sdk/c/nanogate_worker.c), built with cc.
const binCLib = "clib-hello"

// buildCLib compiles it as docs/sdk-c.md says to build a C worker.
func (e *env) buildCLib(out string) error {
	lib := filepath.Join(e.repo, "backend-sdk/c")
	src := filepath.Join(e.repo, "bench/contenders/clib-hello/main.c")
	for _, f := range []string{src, filepath.Join(lib, "nanogate_worker.c")} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing", f)
		}
	}
	return e.command("cc", "-O2", "-Wall", "-Wextra", "-pthread", "-I", lib, "-o", out,
		src, filepath.Join(lib, "nanogate_worker.c"), "-lnanomsg")
}

// startGatewayCLib is nanogate-ipc-1w with the C library's hello worker
// (it answers "hello world" to every path, hence helloOnly). Its 64 threads
// are the requests it serves at once; the rest wait in the gateway's
// connection, and a CPU-bound hello needs no more.
func startGatewayCLib(e *env, s *stack, z sizing) error {
	url, sock, err := endpointURL(s, "ipc", "clib")
	if err != nil {
		return err
	}
	if _, err := s.run("clib-worker", []string{e.bins[binCLib], url}, "NANOGATE_THREADS=64"); err != nil {
		return err
	}
	if err := waitFile(sock, 10*time.Second); err != nil {
		return err
	}
	return startGateway(e, s, z, binGateway, []string{url})
}
