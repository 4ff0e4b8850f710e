package main

// The Go SDK's conformance worker (backend-sdk/go/cmd/conformance-worker),
// built once per test run, in the conformance suite (conformance_test.go).

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var goConformance struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

func init() {
	conformanceWorkers["go"] = func(t testing.TB, endpoint string) *proc {
		t.Helper()
		goConformance.once.Do(func() {
			goConformance.bin = filepath.Join(buildDir, "conformance-worker-go")
			goConformance.out, goConformance.err = exec.Command("go", "build", "-o", goConformance.bin,
				"github.com/nanogate/nanogate/backend-sdk/go/cmd/conformance-worker").CombinedOutput()
		})
		if goConformance.err != nil {
			t.Fatalf("go build conformance-worker: %v\n%s", goConformance.err, goConformance.out)
		}
		p := startProc(t, "conformance-worker-go", goConformance.bin, "--bind", endpoint)
		p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
		return p
	}
}
