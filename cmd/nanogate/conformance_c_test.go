package main

// The C library's conformance worker (backend-sdk/c/conformance_worker.c
// over nanogate_worker.c), built once per test run with warnings as errors,
// in the conformance suite (conformance_test.go); and what only the C
// library has to show: its drain deadline.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

var cConformance struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// buildCLib compiles the C library's sources in backend-sdk/c into out.
func buildCLib(out string, sources ...string) ([]byte, error) {
	args := []string{"-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out}
	for _, s := range sources {
		args = append(args, filepath.Join("..", "..", "backend-sdk", "c", s))
	}
	return exec.Command("cc", append(args, "-lnanomsg")...).CombinedOutput()
}

// startCConformance starts the C conformance worker bound to endpoint with
// extra flags, and waits for its "ready".
func startCConformance(t testing.TB, endpoint string, flags ...string) *proc {
	t.Helper()
	cConformance.once.Do(func() {
		cConformance.bin = filepath.Join(buildDir, "conformance-worker-c")
		cConformance.out, cConformance.err = buildCLib(cConformance.bin, "conformance_worker.c", "nanogate_worker.c")
	})
	if cConformance.err != nil {
		t.Fatalf("cc conformance_worker.c: %v\n%s", cConformance.err, cConformance.out)
	}
	p := startProc(t, "conformance-worker-c", cConformance.bin, append([]string{"--bind", endpoint}, flags...)...)
	p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
	return p
}

func init() {
	conformanceWorkers["c"] = func(t testing.TB, endpoint string) *proc {
		t.Helper()
		return startCConformance(t, endpoint)
	}
}

// TestCWorkerDrainDeadline: a handler still running when the drain time
// (--drain-ms, ng_options.drain_ms) is over does not hold the worker: it
// exits with status 0, and that request fails (502) instead of hanging.
func TestCWorkerDrainDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway and a C worker")
	}
	endpoint := ipcURL(t, "drain-c")
	const drain = 300 * time.Millisecond
	w := startCConformance(t, endpoint, "--drain-ms", strconv.Itoa(int(drain/time.Millisecond)))
	g := startGateway(t, "--route", "/="+endpoint, "--admin", "127.0.0.1:0")
	line := g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString)
	g.waitConnected(t, 0, endpoint)
	s := &conformanceStack{lang: "c", g: g, w: w, admin: "http://" + adminAddr.FindStringSubmatch(line)[1], client: newClient(t)}

	done := make(chan string, 1)
	go func() {
		resp, err := s.client.Get(g.url + "/sleep?ms=20000")
		if err != nil {
			done <- err.Error()
			return
		}
		resp.Body.Close()
		done <- fmt.Sprint(resp.StatusCode)
	}()
	if !pollUntil(5*time.Second, func() bool { return s.inFlight(t) >= 1 }) {
		t.Fatal("the request never reached the worker")
	}
	start := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("worker still running 10 s after SIGTERM, with a drain time of 300 ms")
	}
	if w.err != nil {
		t.Errorf("worker exited with %v, want status 0", w.err)
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	w.waitFrom(t, 0, "the drain timeout's log line", startTimeout, func(l string) bool {
		return l == "nanogate_worker: stopped with 1 handlers still running"
	})
	select {
	case got := <-done:
		if got != "502" {
			t.Errorf("the request cut by the drain deadline got %s, want 502", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("the request cut by the drain deadline got no answer")
	}
}
