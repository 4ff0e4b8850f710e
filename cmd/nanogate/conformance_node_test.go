package main

// The Node SDK's conformance worker (backend-sdk/node/examples/
// conformance.js, a plain (req, res) request listener) in the conformance
// suite (conformance_test.go).

import "testing"

func init() {
	conformanceWorkers["node"] = func(t testing.TB, endpoint string) *proc {
		t.Helper()
		return startNode(t, "conformance.js", "--bind", endpoint)
	}
}
