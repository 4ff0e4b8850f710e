package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExample(t *testing.T) {
	c, err := Load("example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "example.toml" || c.Listen != "127.0.0.1:8080" {
		t.Errorf("File, Listen = %q, %q", c.File, c.Listen)
	}
	// The example writes every default; it must equal Default().
	if d := Default(); c.Server != d.Server || c.Log != d.Log {
		t.Errorf("example server/log = %+v %+v, want the defaults %+v %+v", c.Server, c.Log, d.Server, d.Log)
	}
	want := []Route{{
		Name: "api", Path: "/api/", Timeout: 30 * time.Second, Contexts: 64, MaxReplyBytes: 64 << 20, Format: FormatHTTP, StreamIdleTimeout: time.Minute, MaxMessageBytes: 1 << 20, EjectFailures: 5, EjectTime: time.Second, EjectMaxTime: 30 * time.Second, HealthInterval: 5 * time.Second, Line: 44,
		Endpoints: []Endpoint{{URL: "ipc:///tmp/nanogate-api.sock"}, {URL: "tcp://*:5555", Listen: true, Priority: 1},
			{URL: "tls+tcp://10.0.0.5:5557", Priority: 1}},
	}, {
		Name: "static.example.com/", Host: "static.example.com", Path: "/", Timeout: 30 * time.Second, Contexts: 64, MaxReplyBytes: 64 << 20, Format: FormatHTTP, StreamIdleTimeout: time.Minute, MaxMessageBytes: 1 << 20, EjectFailures: 5, EjectTime: time.Second, EjectMaxTime: 30 * time.Second, Line: 85,
		Endpoints: []Endpoint{{URL: "ipc:///tmp/nanogate-static-1.sock"}, {URL: "ipc:///tmp/nanogate-static-2.sock"}},
	}, {
		Name: "~^/v[12]/users/[0-9]+$", Regex: "^/v[12]/users/[0-9]+$", Timeout: 30 * time.Second, Contexts: 64, MaxReplyBytes: 64 << 20, Format: FormatHTTP, StreamIdleTimeout: time.Minute, MaxMessageBytes: 1 << 20, EjectFailures: 5, EjectTime: time.Second, EjectMaxTime: 30 * time.Second,
		Compat: CompatModNano, NoForwardedHeaders: true, Line: 89,
		Endpoints: []Endpoint{{URL: "tcp://127.0.0.1:5556"}},
	}, {
		Name: "/live/", Path: "/live/", Timeout: 30 * time.Second, Contexts: 64, MaxReplyBytes: 64 << 20, Format: FormatFrames, EjectFailures: 5, EjectTime: time.Second, EjectMaxTime: 30 * time.Second,
		WebSocket: true, Origins: []string{"https://example.com"}, StreamIdleTimeout: time.Minute, MaxMessageBytes: 1 << 20, Line: 97,
		Endpoints: []Endpoint{{URL: "ipc:///tmp/nanogate-live.sock"}},
	}, {
		Name: "/condure/", Path: "/condure/", Timeout: 30 * time.Second, Contexts: 64, MaxReplyBytes: 64 << 20, Format: FormatZHTTP, EjectFailures: 5, EjectTime: time.Second, EjectMaxTime: 30 * time.Second,
		StreamIdleTimeout: time.Minute, MaxMessageBytes: 1 << 20, Line: 111,
		ZHTTP: ZHTTPRoute{Stream: "ipc:///tmp/nanogate-zhttp", ID: "nanogate", KeepAlive: 45 * time.Second, SessionTimeout: time.Minute},
	}}
	if !reflect.DeepEqual(c.Routes, want) {
		t.Errorf("routes:\n%+v\nwant:\n%+v", c.Routes, want)
	}
}

// TestMinimal shows every default of a one-route file.
func TestMinimal(t *testing.T) {
	c, err := Parse("m.toml", []byte("[[route]]\nendpoints = [\"ipc://a\"]\n[log]\nlevel = \"DEBUG\"\nformat = \"json\"\n[server]\nreuse_port = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Server{ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second,
		MaxHeaderBytes: 8192, MaxBodyBytes: 8 << 20, ReusePort: true, ShutdownTimeout: 30 * time.Second, MaxBodyMemory: 256 << 20,
		Frontend: FrontendFastHTTP}
	if c.Server != want || c.Listen != "127.0.0.1:8080" {
		t.Errorf("server = %+v, listen %q", c.Server, c.Listen)
	}
	if c.Log != (Log{Level: slog.LevelDebug, JSON: true}) {
		t.Errorf("log = %+v", c.Log)
	}
	r := c.Routes[0]
	if r.Name != "/" || r.Path != "/" || r.NoForwardedHeaders || r.RetryIdempotent || r.Line != 1 ||
		!reflect.DeepEqual(r.Endpoints, []Endpoint{{URL: "ipc://a"}}) {
		t.Errorf("route = %+v", r)
	}
}

// TestBothEndpointForms: tables first, then the shorthand.
func TestBothEndpointForms(t *testing.T) {
	doc := "[[route]]\nendpoints = [\"ipc://b\"]\nforwarded_headers = false\n[[route.endpoint]]\nurl = \"ipc://a\"\npriority = 2\n"
	c, err := Parse("b.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{{URL: "ipc://a", Priority: 2}, {URL: "ipc://b"}}
	if got := c.Routes[0].Endpoints; !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints = %+v, want %+v", got, want)
	}
	if !c.Routes[0].NoForwardedHeaders {
		t.Errorf("forwarded_headers = false not applied")
	}
}

// TestManyErrors: every problem is reported at once, in line order, the
// unknown keys among them.
func TestManyErrors(t *testing.T) {
	doc := `listen = "8080"
[server]
read_timeout = "soon"
colour = "blue"
[[route]]
path = "/api/"
[[route.endpoint]]
url = "htp://x"
[[route]]
path = "/api/"
endpoints = ["ipc://b"]
`
	_, err := Parse("nanogate.toml", []byte(doc))
	want := []string{
		`nanogate.toml:1: listen: "8080" is not host:port (as in 127.0.0.1:8080 or :8080)`,
		`nanogate.toml:3: server.read_timeout: "soon" is not a duration (want Go syntax like "30s" or "1m30s")`,
		`nanogate.toml:4: server.colour: unknown key (known keys here: read_timeout, write_timeout, idle_timeout, max_header_bytes, max_body_bytes, max_conns, reuse_port, shutdown_timeout, tls_cert, tls_key, upgrade_socket, max_body_memory, frontend)`,
		`nanogate.toml:8: route[0].endpoint[0].url: unsupported scheme "htp" (want ipc, tcp, tls+tcp, ws, wss, inproc)`,
		`nanogate.toml:10: route[1].path: same host and path as route[0] (line 5)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if u, ok := err.(interface{ Unwrap() []error }); !ok || len(u.Unwrap()) != len(want) {
		t.Errorf("want %d joined errors, got %#v", len(want), err)
	}
}

// TestOneErrorPerField: a value that failed to decode is not reported again
// as missing, nor is anything under it.
func TestOneErrorPerField(t *testing.T) {
	_, err := Parse("t.toml", []byte("route = [1]\n"))
	if want := "t.toml:1: route[0]: want a table, got integer 1"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.toml")
	if _, err := Load(path); !os.IsNotExist(err) {
		t.Errorf("Load of a missing file = %v", err)
	}
	if err := os.WriteFile(path, []byte("[[route]]\nendpoints = [\"htp://x\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + `:2: route[0].endpoints[0]: unsupported scheme "htp"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want prefix %s", err, want)
	}
}

func TestWriteRoutes(t *testing.T) {
	c, err := Parse("w.toml", []byte(`[[route]]
name = "api"
path = "/api/"
timeout = "5s"
contexts = 8
endpoints = ["ipc:///tmp/api.sock"]
[[route.endpoint]]
url = "tcp://*:5555"
mode = "listen"
priority = 1
[[route]]
host = "Example.com"
regex = "^/x"
endpoints = ["inproc://x"]
`))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteRoutes(&b); err != nil {
		t.Fatal(err)
	}
	want := `ROUTE            HOST         MATCH  TIMEOUT  CONTEXTS  ENDPOINT             MODE    PRIORITY
api              *            /api/  5s       8         tcp://*:5555         listen  1
                                                        ipc:///tmp/api.sock  dial    0
example.com~^/x  example.com  ~^/x   30s      64        inproc://x           dial    0
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
