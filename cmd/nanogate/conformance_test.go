package main

// The SDK conformance suite (shared contract: every worker SDK, whatever its
// language, answers the same app the same way behind the real gateway).
//
// Each language registers its conformance worker in its own file,
// conformance_<lang>_test.go, with an init() that adds a starter to
// conformanceWorkers. A starter starts the worker with startProc, bound
// (REP, --bind) to endpoint, waits for its line "ready" and returns it.
// TestConformance runs every case against every registered worker as
// subtests TestConformance/<lang>/<case>.

import (
	"net/http"
	"sort"
	"testing"
)

// conformanceWorkers maps a language to the starter of its conformance
// worker.
var conformanceWorkers = map[string]func(t testing.TB, endpoint string) *proc{}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway and a worker per SDK")
	}
	langs := make([]string, 0, len(conformanceWorkers))
	for lang := range conformanceWorkers {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			endpoint := ipcURL(t, "conf-"+lang)
			conformanceWorkers[lang](t, endpoint)
			g := startGateway(t, "--route", "/="+endpoint)
			g.waitConnected(t, 0, endpoint)
			c := newClient(t)
			t.Run("get", func(t *testing.T) {
				resp, body := get(t, c, g.url+"/hello")
				if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
					t.Fatalf("GET /hello: %d %q", resp.StatusCode, body)
				}
			})
		})
	}
}
