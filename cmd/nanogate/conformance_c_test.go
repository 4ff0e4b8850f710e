package main

// The C library's conformance worker (backend-sdk/c/conformance_worker.c
// over nanogate_worker.c), built once per test run with warnings as errors,
// in the conformance suite (conformance_test.go).

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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

func init() {
	conformanceWorkers["c"] = func(t testing.TB, endpoint string) *proc {
		t.Helper()
		cConformance.once.Do(func() {
			cConformance.bin = filepath.Join(buildDir, "conformance-worker-c")
			cConformance.out, cConformance.err = buildCLib(cConformance.bin, "conformance_worker.c", "nanogate_worker.c")
		})
		if cConformance.err != nil {
			t.Fatalf("cc conformance_worker.c: %v\n%s", cConformance.err, cConformance.out)
		}
		p := startProc(t, "conformance-worker-c", cConformance.bin, "--bind", endpoint)
		p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
		return p
	}
}
