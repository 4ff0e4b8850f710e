package main

// The Python SDK's conformance worker (backend-sdk/python/examples/
// conformance.py, a plain WSGI app) under nanogate-wsgi, in the conformance
// suite (conformance_test.go). 256 handler threads: the suite's 200
// concurrent /sleep requests each hold one while they sleep.

import "testing"

func init() {
	conformanceWorkers["python"] = func(t testing.TB, endpoint string) *proc {
		t.Helper()
		return startPython(t, "wsgi", "conformance:app", "--bind", endpoint, "--threads", "256")
	}
}
