package admin

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"time"
)

// Snapshot is the gateway's state for the status page, taken by the caller
// on every view. The counters are in it rather than behind an interface of
// their own: the caller reads them where it reads the rest (metrics.Totals
// and the pools' Stats), and the page stays one func to fake in a test.
type Snapshot struct {
	Version string
	Listen  string    // the public address
	Started time.Time // zero: when New ran
	Routes  []RouteState

	Requests      map[string]uint64 // answered since start, by status class ("2xx")
	Rejections    map[string]uint64 // answered by the gateway itself, by reason ("no_worker")
	LiveStreams   int               // open streams of frames routes
	DroppedFrames map[string]uint64 // frames from workers the hub dropped, by reason
}

// RouteState is one route and its endpoints.
type RouteState struct {
	Name      string
	Match     string // how requests reach it, as the caller words it: "host example.com, prefix /api/"
	Format    string // "http" or "frames"
	Endpoints []EndpointState
}

// EndpointState is one worker address of a route.
type EndpointState struct {
	URL       string
	Listen    bool   // the gateway binds and workers dial in; else it dials them
	Workers   int    // connected now; zero is shown as disconnected
	InFlight  int    // requests in flight now; on a frames route, open streams
	Requests  uint64 // sent to it so far; not shown on a frames route
	Failures  uint64 // of those, failed there
	Ejected   bool   // sitting out after failing requests (passive health)
	Ejections uint64 // times it was
}

//go:embed status.html
var statusHTML string

var statusPage = template.Must(template.New("status").Parse(statusHTML))

// view is what the template renders: the snapshot and what the server
// adds to it.
type view struct {
	Snapshot
	Uptime   time.Duration
	Now      time.Time
	Refresh  int      // seconds
	Problems []string // from Config.Ready; none: ready
}

// status renders the page whole before writing it, so that a template
// error is a 500 and not half a page under a 200.
func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	var snap Snapshot
	if s.snapshot != nil {
		snap = s.snapshot()
	}
	if snap.Started.IsZero() {
		snap.Started = s.started
	}
	now := time.Now()
	v := view{Snapshot: snap, Uptime: now.Sub(snap.Started).Round(time.Second), Now: now,
		Refresh: s.refresh, Problems: s.problems()}
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, v); err != nil {
		plain(w, http.StatusInternalServerError, "status page: "+err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
