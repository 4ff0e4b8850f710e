package config

import (
	"strings"
	"testing"
)

// ok is a valid route, for cases that break something else.
const ok = "[[route]]\nendpoints = [\"ipc:///tmp/ok.sock\"]\n"

// TestErrors checks every validation error: the whole message, so the file,
// line and field prefix are exact.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		// Top level and [server].
		{"listen no port", "listen = \"8080\"\n" + ok,
			`t.toml:1: listen: "8080" is not host:port (as in 127.0.0.1:8080 or :8080)`},
		{"listen bad port", "listen = \":http\"\n" + ok,
			`t.toml:1: listen: ":http": port "http" is not a number from 0 to 65535`},
		{"listen type", "listen = 8080\n" + ok,
			`t.toml:1: listen: want a string, got integer 8080`},
		{"duration syntax", ok + "[server]\nread_timeout = \"30\"\n",
			`t.toml:4: server.read_timeout: "30" is not a duration (want Go syntax like "30s" or "1m30s")`},
		{"duration zero", ok + "[server]\nwrite_timeout = \"0s\"\n",
			`t.toml:4: server.write_timeout: must be > 0, got "0s" (omit the key for the default)`},
		{"duration negative", ok + "[server]\nidle_timeout = \"-1s\"\n",
			`t.toml:4: server.idle_timeout: must be > 0, got "-1s" (omit the key for the default)`},
		{"duration integer", ok + "[server]\nidle_timeout = 30\n",
			`t.toml:4: server.idle_timeout: want a duration string like "30s", got integer 30`},
		{"size unit", ok + "[server]\nmax_body_bytes = \"8Mb\"\n",
			`t.toml:4: server.max_body_bytes: "8Mb" is not a size (want an integer, or a string like "8MiB" with unit B, KB, MB, GB, KiB, MiB or GiB)`},
		{"size zero", ok + "[server]\nmax_header_bytes = 0\n",
			`t.toml:4: server.max_header_bytes: must be > 0, got 0 (omit the key for the default)`},
		{"size overflow", ok + "[server]\nmax_body_bytes = \"9999999999999GiB\"\n",
			`t.toml:4: server.max_body_bytes: "9999999999999GiB" is too large`},
		{"size float", ok + "[server]\nmax_body_bytes = 1.5\n",
			`t.toml:4: server.max_body_bytes: want a size like 8192 or "8MiB", got float 1.5`},
		{"max_conns negative", ok + "[server]\nmax_conns = -1\n",
			`t.toml:4: server.max_conns: must be >= 0 (0: the default), got -1`},
		{"reuse_port not a bool", ok + "[server]\nreuse_port = \"yes\"\n",
			`t.toml:4: server.reuse_port: want true or false, got string "yes"`},
		{"server not a table", "server = 1\n" + ok,
			`t.toml:1: server: want a table [server], got integer 1`},
		{"log level", ok + "[log]\nlevel = \"loud\"\n",
			`t.toml:4: log.level: unknown level "loud" (want debug, info, warn, error)`},
		{"log format", ok + "[log]\nformat = \"xml\"\n",
			`t.toml:4: log.format: unknown format "xml" (want text, json)`},

		// Routes.
		{"no route", "listen = \":8080\"\n",
			`t.toml:1: route: at least one [[route]] is required`},
		{"route not tables", "route = 1\n",
			`t.toml:1: route: want an array of tables [[route]], got integer 1`},
		{"no endpoint", "[[route]]\npath = \"/a/\"\n",
			`t.toml:1: route[0].endpoint: at least one endpoint is required ([[route.endpoint]] or endpoints = [...])`},
		{"path slash", "[[route]]\npath = \"api\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].path: "api" must start with "/"`},
		{"path and regex", "[[route]]\npath = \"/a\"\nregex = \"^/a\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:3: route[0].regex: path and regex are mutually exclusive`},
		{"regex compile", "[[route]]\nregex = \"(\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].regex: invalid regexp "(": missing closing ): "("`},
		{"host port", "[[route]]\nhost = \"example.com:80\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].host: "example.com:80" must not include a port (ports are ignored when matching)`},
		{"host wildcard", "[[route]]\nhost = \"*.example.com\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].host: "*.example.com" is not a host name (exact names only, no wildcards)`},
		{"timeout zero", "[[route]]\ntimeout = \"0s\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].timeout: must be > 0, got "0s" (omit the key for the default)`},
		{"contexts zero", "[[route]]\ncontexts = 0\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].contexts: must be > 0, got 0 (omit the key for the default 64)`},
		{"max_reply_bytes", "[[route]]\nmax_reply_bytes = \"1TB\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].max_reply_bytes: "1TB" is not a size (want an integer, or a string like "8MiB" with unit B, KB, MB, GB, KiB, MiB or GiB)`},
		{"retry type", "[[route]]\nretry_idempotent = \"yes\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].retry_idempotent: want true or false, got string "yes"`},
		{"compat", "[[route]]\ncompat = \"apache\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].compat: unknown value "apache" (want "" or "mod_nano")`},
		{"compat and headers", "[[route]]\ncompat = \"mod_nano\"\nforwarded_headers = true\nendpoints = [\"ipc://a\"]\n",
			`t.toml:3: route[0].forwarded_headers: true contradicts compat = "mod_nano", which adds no headers`},
		{"same host and path", ok + "[[route]]\nhost = \"\"\npath = \"/\"\nendpoints = [\"ipc://b\"]\n",
			`t.toml:5: route[1].path: same host and path as route[0] (line 1)`},
		{"same host case-insensitive", "[[route]]\nhost = \"A.com\"\nendpoints = [\"ipc://a\"]\n[[route]]\nhost = \"a.COM\"\nendpoints = [\"ipc://b\"]\n",
			`t.toml:4: route[1].path: same host and path as route[0] (line 1)`},
		{"same host and regex", "[[route]]\nregex = \"^/a\"\nendpoints = [\"ipc://a\"]\n[[route]]\nregex = \"^/a\"\nendpoints = [\"ipc://b\"]\n",
			`t.toml:5: route[1].regex: same host and regex as route[0] (line 1)`},
		{"same name", "[[route]]\nname = \"x\"\nendpoints = [\"ipc://a\"]\n[[route]]\npath = \"/b/\"\nname = \"x\"\nendpoints = [\"ipc://b\"]\n",
			`t.toml:6: route[1].name: "x" is also the name of route[0] (line 1)`},

		// Endpoints.
		{"scheme", "[[route]]\npath = \"/a/\"\n[[route.endpoint]]\nurl = \"htp://x\"\n",
			`t.toml:4: route[0].endpoint[0].url: unsupported scheme "htp" (want ipc, tcp, tls+tcp, ws, wss, inproc)`},
		{"no scheme", "[[route]]\nendpoints = [\"/tmp/a.sock\"]\n",
			`t.toml:2: route[0].endpoints[0]: "/tmp/a.sock" has no "://" (want SCHEME://ADDRESS with scheme ipc, tcp, tls+tcp, ws, wss, inproc)`},
		{"missing url", "[[route]]\n[[route.endpoint]]\nmode = \"dial\"\n",
			`t.toml:2: route[0].endpoint[0].url: missing URL (want SCHEME://ADDRESS with scheme ipc, tcp, tls+tcp, ws, wss, inproc)`},
		{"empty ipc", "[[route]]\nendpoints = [\"ipc://\"]\n",
			`t.toml:2: route[0].endpoints[0]: "ipc://" has an empty address`},
		{"empty inproc", "[[route]]\nendpoints = [\"inproc://\"]\n",
			`t.toml:2: route[0].endpoints[0]: "inproc://" has an empty address`},
		{"tcp no port", "[[route]]\nendpoints = [\"tcp://10.0.0.1\"]\n",
			`t.toml:2: route[0].endpoints[0]: "tcp://10.0.0.1": want tcp://HOST:PORT`},
		{"tcp bad port", "[[route]]\nendpoints = [\"tls+tcp://h:99999\"]\n",
			`t.toml:2: route[0].endpoints[0]: "tls+tcp://h:99999": port "99999" is not a number from 0 to 65535`},
		{"tcp dial no host", "[[route]]\nendpoints = [\"tcp://*:5555\"]\n",
			`t.toml:2: route[0].endpoints[0]: "tcp://*:5555": the gateway dials it, so it needs a host (or set mode = "listen")`},
		{"tcp dial port 0", "[[route]]\nendpoints = [\"tcp://h:0\"]\n",
			`t.toml:2: route[0].endpoints[0]: "tcp://h:0": cannot dial port 0`},
		{"ws no host", "[[route]]\nendpoints = [\"ws:///nano\"]\n",
			`t.toml:2: route[0].endpoints[0]: "ws:///nano": want ws://HOST[:PORT]/PATH`},
		{"ws listen no port", "[[route]]\n[[route.endpoint]]\nurl = \"ws://h/nano\"\nmode = \"listen\"\n",
			`t.toml:3: route[0].endpoint[0].url: "ws://h/nano": the gateway listens on it, so it needs a port`},
		{"mode", "[[route]]\n[[route.endpoint]]\nurl = \"ipc://a\"\nmode = \"bind\"\n",
			`t.toml:4: route[0].endpoint[0].mode: unknown mode "bind" (want dial, listen)`},
		{"priority", "[[route]]\n[[route.endpoint]]\nurl = \"ipc://a\"\npriority = -1\n",
			`t.toml:4: route[0].endpoint[0].priority: must be >= 0, got -1`},
		{"url twice", "[[route]]\nendpoints = [\"ipc://a\",\n  \"ipc://a\"]\n",
			`t.toml:3: route[0].endpoints[1]: "ipc://a" is listed twice in this route`},
		{"shorthand after tables", "[[route]]\nendpoints = [\"ipc://a\", \"htp://b\"]\n[[route.endpoint]]\nurl = \"ipc://c\"\n",
			`t.toml:2: route[0].endpoints[1]: unsupported scheme "htp" (want ipc, tcp, tls+tcp, ws, wss, inproc)`},
		{"shorthand element type", "[[route]]\nendpoints = [\"ipc://a\", 5]\n",
			`t.toml:2: route[0].endpoints[1]: want a URL string, got integer 5`},
		{"listen twice", "[[route]]\npath = \"/a/\"\n[[route.endpoint]]\nurl = \"tcp://*:5555\"\nmode = \"listen\"\n" +
			"[[route]]\npath = \"/b/\"\n[[route.endpoint]]\nurl = \"tcp://*:5555\"\nmode = \"listen\"\n",
			`t.toml:9: route[1].endpoint[0].url: route[0] (line 1) already listens on "tcp://*:5555"`},
		{"inline endpoint table", "[[route]]\nendpoint = [\n  {url = \"ipc://a\"},\n  {url = \"htp://b\"},\n]\n",
			`t.toml:4: route[0].endpoint[1].url: unsupported scheme "htp" (want ipc, tcp, tls+tcp, ws, wss, inproc)`},

		// Format frames and WebSocket.
		{"frames with upgrade_socket", "[server]\nupgrade_socket = \"/run/u.sock\"\n[sessions]\ninbound = \"ipc://in\"\n[[route]]\nformat = \"frames\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:6: route[0].format: "frames" cannot be served with server.upgrade_socket yet: two gateways cannot share the [sessions] inbound address, and the streams of the old one would lose it`},
		{"frames without inbound", "[[route]]\nformat = \"frames\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:2: route[0].format: "frames" needs [sessions] inbound, the address workers push frames to (e.g. "ipc:///tmp/nanogate-inbound.sock")`},
		{"unknown format", ok + "format = \"spdy\"\n",
			`t.toml:3: route[0].format: unknown format "spdy" (want "http", "frames", "blastbeat" or "zhttp")`},
		{"health path relative", ok + "health_path = \"healthz\"\n",
			`t.toml:3: route[0].health_path: "healthz" is not a path (want one starting with "/", without spaces, as in "/healthz")`},
		{"health interval zero", ok + "health_path = \"/healthz\"\nhealth_interval = \"0s\"\n",
			`t.toml:4: route[0].health_interval: must be > 0, got "0s" (omit the key for the default)`},
		{"health on frames", "[sessions]\ninbound = \"ipc://in\"\n[[route]]\nformat = \"frames\"\nendpoints = [\"ipc://w\"]\nhealth_path = \"/h\"\n",
			`t.toml:6: route[0].health_path: active checks need format = "http" (a frames worker answers on another socket)`},
		{"websocket on http", ok + "websocket = true\n",
			`t.toml:3: route[0].websocket: needs format = "frames" (the http format has one reply per request)`},
		{"frames over ws", "[sessions]\ninbound = \"ipc://in\"\n[[route]]\nformat = \"frames\"\nendpoints = [\"ws://h:1/x\"]\n",
			`t.toml:5: route[0].endpoints[0]: "ws://h:1/x": frames travel over tcp:// or ipc:// only`},
		{"inbound scheme", "[sessions]\ninbound = \"inproc://x\"\n" + ok,
			`t.toml:2: sessions.inbound: "inproc://x": frames travel over tcp:// or ipc:// only`},
		{"bad origin", ok + "origins = [\"example.com\"]\n",
			`t.toml:3: route[0].origins[0]: "example.com" is not an origin (want SCHEME://HOST[:PORT], as in "https://example.com", or "*")`},
		{"frames with mod_nano", "[sessions]\ninbound = \"ipc://in\"\n[[route]]\nformat = \"frames\"\ncompat = \"mod_nano\"\nendpoints = [\"ipc://a\"]\n",
			`t.toml:5: route[0].compat: mod_nano workers speak format "http", not "frames"`},
		{"stream idle zero", ok + "stream_idle_timeout = \"0s\"\n",
			`t.toml:3: route[0].stream_idle_timeout: must be > 0, got "0s" (omit the key for the default)`},

		// Unknown keys and TOML itself.
		{"unknown top", "lisen = \":80\"\n" + ok,
			`t.toml:1: lisen: unknown key (known keys here: listen, server, log, sessions, admin, route, blastbeat)`},
		{"unknown endpoint key", "[[route]]\n[[route.endpoint]]\nurl = \"ipc://a\"\nprio = 1\n",
			`t.toml:4: route[0].endpoint[0].prio: unknown key (known keys here: url, mode, priority, tls_ca, tls_cert, tls_key, tls_server_name)`},
		{"unknown table", ok + "[servr]\nread_timeout = \"1s\"\n",
			`t.toml:3: servr: unknown key (known keys here: listen, server, log, sessions, admin, route, blastbeat)`},
		{"unknown quoted key", ok + "[server]\n\"read.timeout\" = \"1s\"\n",
			`t.toml:4: server."read.timeout": unknown key (known keys here: read_timeout, write_timeout, idle_timeout, max_header_bytes, max_body_bytes, max_conns, reuse_port, shutdown_timeout, tls_cert, tls_key, upgrade_socket, max_body_memory, frontend)`},
		{"toml syntax", ok + "listen = = 1\n",
			`t.toml:3: toml: unexpected character U+003D '=' at start of value`},
		{"toml redefinition", ok + "[[route]]\nendpoints = [\"ipc://b\"]\n[route]\n",
			`t.toml:5: route: toml: table route already exists as an array of tables`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.toml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted it:\n%s", tc.doc)
			}
			if c != nil {
				t.Errorf("Parse returned a Config with an error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestValidateInCode covers Configs built without a file: no file or line
// in the errors, Go zero values filled, negatives caught.
func TestValidateInCode(t *testing.T) {
	c := Default()
	if err := c.Validate(); err == nil || err.Error() != "route: at least one [[route]] is required" {
		t.Fatalf("Validate() of Default() = %v", err)
	}
	c.Routes = []Route{{Endpoints: []Endpoint{{URL: "ipc://a"}}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	r := c.Routes[0]
	if r.Path != "/" || r.Name != "/" || r.Timeout != defaultRouteTimeout || r.Contexts != 64 || r.MaxReplyBytes != 64<<20 {
		t.Errorf("route defaults not filled: %+v", r)
	}

	c = &Config{Listen: "nope", Routes: []Route{{Timeout: -1, Compat: CompatModNano,
		Endpoints: []Endpoint{{URL: "tcp://h:1", Priority: -2}}}}}
	c.Server.MaxBodyBytes = -1
	want := strings.Join([]string{
		`listen: "nope" is not host:port (as in 127.0.0.1:8080 or :8080)`,
		`server.max_body_bytes: must be > 0, got -1`,
		`route[0].timeout: must be > 0, got -1ns`,
		`route[0].endpoint[0].priority: must be >= 0, got -2`,
	}, "\n")
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if !c.Routes[0].NoForwardedHeaders {
		t.Errorf("compat = mod_nano did not turn forwarded headers off")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1": 1, "8192": 8192, "10B": 10, "2KB": 2000, "3MB": 3e6, "4GB": 4e9,
		"1KiB": 1024, "8MiB": 8 << 20, "8 MiB": 8 << 20, "2GiB": 2 << 30,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "8mib", "8Mb", " 8", "8MiB ", "1TB", "99999999999999999999"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestEndpointNotArray(t *testing.T) {
	_, err := Parse("t.toml", []byte("[[route]]\n[route.endpoint]\nurl = \"ipc://a\"\n"))
	want := "t.toml:2: route[0].endpoint: want an array of tables [[route.endpoint]], got table"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
