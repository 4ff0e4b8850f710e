package config

import (
	"reflect"
	"testing"
	"time"
)

func TestParseRouteFlag(t *testing.T) {
	base := Route{Timeout: 30 * time.Second, Contexts: 64, MaxReplyBytes: 64 << 20, Format: FormatHTTP, StreamIdleTimeout: time.Minute, MaxMessageBytes: 1 << 20, EjectFailures: 5, EjectTime: time.Second, EjectMaxTime: 30 * time.Second}
	route := func(name, host, path string, urls ...string) Route {
		r := base
		r.Name, r.Host, r.Path = name, host, path
		for _, u := range urls {
			r.Endpoints = append(r.Endpoints, Endpoint{URL: u})
		}
		return r
	}
	for in, want := range map[string]Route{
		"/api/=ipc:///tmp/api.sock":                 route("/api/", "", "/api/", "ipc:///tmp/api.sock"),
		"/=ipc://a,tcp://10.0.0.2:5555":             route("/", "", "/", "ipc://a", "tcp://10.0.0.2:5555"),
		"/a/=ipc://a, ipc://b":                      route("/a/", "", "/a/", "ipc://a", "ipc://b"),
		"Example.com/api/=ipc://a":                  route("example.com/api/", "example.com", "/api/", "ipc://a"),
		"example.com=ipc://a":                       route("example.com/", "example.com", "/", "ipc://a"),
		"=ipc://a":                                  route("/", "", "/", "ipc://a"),
		"/ws/=ws://10.0.0.3:8081/nano?x=1":          route("/ws/", "", "/ws/", "ws://10.0.0.3:8081/nano?x=1"),
		"[::1]/v1/=tls+tcp://[::1]:5555,inproc://x": route("[::1]/v1/", "[::1]", "/v1/", "tls+tcp://[::1]:5555", "inproc://x"),
	} {
		got, err := ParseRouteFlag(in)
		if err != nil {
			t.Errorf("ParseRouteFlag(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseRouteFlag(%q) =\n%+v\nwant\n%+v", in, got, want)
		}
	}
}

func TestParseRouteFlagErrors(t *testing.T) {
	for in, want := range map[string]string{
		"/api/":               `--route "/api/": want PREFIX=ENDPOINT[,ENDPOINT...], as in /api/=ipc:///tmp/api.sock`,
		"/api/=":              `--route "/api/=": endpoints[0]: missing URL (want SCHEME://ADDRESS with scheme ipc, tcp, tls+tcp, ws, wss, inproc)`,
		"/api/=htp://x":       `--route "/api/=htp://x": endpoints[0]: unsupported scheme "htp" (want ipc, tcp, tls+tcp, ws, wss, inproc)`,
		"/a/=ipc://a,":        "--route \"/a/=ipc://a,\": endpoints[1]: missing URL (want SCHEME://ADDRESS with scheme ipc, tcp, tls+tcp, ws, wss, inproc)",
		"/a/=ipc://a,ipc://a": `--route "/a/=ipc://a,ipc://a": endpoints[1]: "ipc://a" is listed twice in this route`,
		"h:80/a/=ipc://a":     `--route "h:80/a/=ipc://a": host: "h:80" must not include a port (ports are ignored when matching)`,
		"/a/=tcp://:1":        `--route "/a/=tcp://:1": endpoints[0]: "tcp://:1": the gateway dials it, so it needs a host (or set mode = "listen")`,
	} {
		_, err := ParseRouteFlag(in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseRouteFlag(%q) = %v\nwant %s", in, err, want)
		}
	}
}

// TestFlagRoutesValidate: flag routes in a Config built in code, as
// cmd/nanogate builds it for the quick start.
func TestFlagRoutesValidate(t *testing.T) {
	c := Default()
	for _, s := range []string{"/api/=ipc://a", "/api/=ipc://b"} {
		r, err := ParseRouteFlag(s)
		if err != nil {
			t.Fatal(err)
		}
		c.Routes = append(c.Routes, r)
	}
	want := `route[1].path: same host and path as route[0]`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

// TestFlagRouteAfterFile: a route appended after Parse has no line.
func TestFlagRouteAfterFile(t *testing.T) {
	c, err := Parse("n.toml", []byte("\n[[route]]\npath = \"/api/\"\nendpoints = [\"ipc://a\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRouteFlag("/api/=ipc://b")
	if err != nil {
		t.Fatal(err)
	}
	c.Routes = append(c.Routes, r)
	want := `n.toml: route[1].path: same host and path as route[0] (line 2)`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}
