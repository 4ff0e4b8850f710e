package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A BlastBeat .ini with every key of BlastBeat's example file loads as it
// is: what nanogate serves becomes routes, the rest comes back as warnings
// naming file and line.
func TestBlastBeatINI(t *testing.T) {
	data, err := os.ReadFile("testdata/blastbeat.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !IsBlastBeatINI(data) {
		t.Fatal("not recognised as a BlastBeat file")
	}
	for _, toml := range []string{"[blastbeat]\nping_freq = \"1s\"\n", "[[route]]\nendpoints = [\"ipc://a\"]\n", "bind = 1\n[blastbeat]\n"} {
		if IsBlastBeatINI([]byte(toml)) {
			t.Errorf("%q taken for a BlastBeat file", toml)
		}
	}
	if !IsBlastBeatINI([]byte("[blastbeat]\nzmq = tcp://h:1\n")) {
		t.Error("a [blastbeat] section with zmq not taken for a BlastBeat file")
	}
	c, warns, err := ParseBlastBeat("bb.ini", data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:18080" || c.Server.IdleTimeout != 45*time.Second || c.Server.MaxConns != 500 ||
		c.BlastBeat.PingFreq != 2*time.Second || c.BlastBeat.MaxHops != 7 {
		t.Fatalf("globals: listen %q idle %v conns %d ping %v hops %d", c.Listen, c.Server.IdleTimeout,
			c.Server.MaxConns, c.BlastBeat.PingFreq, c.BlastBeat.MaxHops)
	}
	var got []string
	for _, r := range c.Routes {
		got = append(got, fmt.Sprintf("%s %s %s %v %s %v %v line %d", r.Host, r.Path, r.BlastBeat.Vhost, r.BlastBeat.Nodes,
			r.Endpoints[0].URL, r.StreamIdleTimeout, r.WebSocket, r.Line))
		if r.Format != FormatBlastBeat || r.BlastBeat.Packet != PacketUwsgi {
			t.Errorf("route %s: format %q packet %q", r.Name, r.Format, r.BlastBeat.Packet)
		}
	}
	want := []string{
		"www.example / www.example:18080 [app1 app2] zmq+tcp://127.0.0.1:15000 45s true line 31",
		"127.0.0.1 / www.example:18080 [app1 app2] zmq+tcp://127.0.0.1:15000 45s true line 31",
		"other.example / other.example [app3] zmq+ipc:///tmp/nanogate-bb-other.sock 5s true line 41",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	joined := strings.Join(warns, "\n")
	for _, w := range []string{
		"bb.ini:6: [blastbeat] bind: ignored: nanogate listens on one address",
		"bb.ini:7: [blastbeat] bind: ignored",
		"bb.ini:14: [blastbeat] stats-freq: ignored",
		"bb.ini:15: [blastbeat] uid: ignored",
		"bb.ini:22: [blastbeat] writequeue-buffer: ignored",
		"bb.ini:24: [blastbeat:secure.example:8443]: ignored: BlastBeat serves this virtual host only on its own address 127.0.0.1:8443",
		"bb.ini:34: [blastbeat:www.example:18080] sessions: ignored",
		"bb.ini:38: [blastbeat:www.example:18080] cache: ignored",
		"bb.ini:41: [blastbeat:other.example] 127.0.0.1:18083: ignored: host 127.0.0.1 is already served by [blastbeat:www.example:18080]",
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("no warning %q in\n%s", w, joined)
		}
	}
}

// Errors name the file, the line and the key, all of them at once.
func TestBlastBeatINIErrors(t *testing.T) {
	for _, tc := range []struct{ ini, want string }{
		{"[blastbeat]\nbind = 127.0.0.1:8080\nzmq = tcp://127.0.0.1:5000\nping-freq = often\nfrobnicate = 1\n[blastbeat:a]\nnode = n\nsmell = bad\n",
			"x.ini:4: [blastbeat] ping-freq: \"often\" is not a positive number of seconds\n" +
				"x.ini:5: [blastbeat] frobnicate: unknown BlastBeat option\n" +
				"x.ini:8: [blastbeat:a] smell: unknown BlastBeat virtual host option"},
		{"[blastbeat]\nbind = 127.0.0.1:8080\nzmq = tcp://127.0.0.1:5000\n\n[blastbeat:a]\nalias = b\n",
			"x.ini:5: route[0].nodes: format \"blastbeat\" needs nodes"},
		{"[blastbeat]\nbind = 127.0.0.1:8080\nzmq = udp://127.0.0.1:5000\n[blastbeat:a]\nnode = n\n",
			"x.ini:3: route[0].endpoint[0].url: unsupported scheme \"zmq+udp\""},
		{"[blastbeat]\nbind = nowhere\n[blastbeat:a]\nnode = n\n",
			"x.ini:3: [blastbeat] zmq: missing"},
		{"[blastbeat:a]\nnode = n\nthis line\n",
			"x.ini:1: [blastbeat]: missing"},
	} {
		_, _, err := ParseBlastBeat("x.ini", []byte(tc.ini))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ini\n%s\nerror %v\nwant %q", tc.ini, err, tc.want)
		}
	}
}

// The same mapping in nanogate's TOML.
func TestBlastBeatTOML(t *testing.T) {
	c, err := Parse("bb.toml", []byte(`
[blastbeat]
ping_freq = "500ms"
max_hops = 3

[[route]]
host = "www.example"
format = "blastbeat"
nodes = ["app1", "app2"]
packet = "headers"
endpoints = ["zmq+tcp://127.0.0.1:15000"]

[[route]]
host = "other.example"
format = "blastbeat"
vhost = "other.example:81"
nodes = ["app3"]
endpoints = ["zmq+ipc:///tmp/bb.sock"]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if c.BlastBeat.PingFreq != 500*time.Millisecond || c.BlastBeat.MaxHops != 3 || r.BlastBeat.Packet != PacketHeaders ||
		r.BlastBeat.Vhost != "www.example" || ZMQAddress(r.Endpoints[0].URL) != "tcp://127.0.0.1:15000" ||
		c.Routes[1].BlastBeat.Vhost != "other.example:81" || c.Routes[1].BlastBeat.Packet != PacketUwsgi {
		t.Fatalf("parsed %+v %+v", c.BlastBeat, c.Routes)
	}
	_, err = Parse("bb.toml", []byte(`
[[route]]
format = "blastbeat"
packet = "xml"
endpoints = ["tcp://127.0.0.1:15000", "zmq+tcp://h"]
`))
	for _, want := range []string{
		`bb.toml:2: route[0].nodes: format "blastbeat" needs nodes`,
		`bb.toml:4: route[0].packet: unknown packet "xml"`,
		`bb.toml:5: route[0].endpoints[0]: unsupported scheme "tcp"`,
		`bb.toml:5: route[0].endpoints[1]: a blastbeat route has one endpoint`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant %q", err, want)
		}
	}
}

// Load tells a BlastBeat file by its content, and `nanogate check` prints
// its warnings and the nodes of each route.
func TestBlastBeatLoadAndPrint(t *testing.T) {
	c, err := Load("testdata/blastbeat.ini")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.WriteRoutes(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"warning: testdata/blastbeat.ini:14: [blastbeat] stats-freq: ignored",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^www\.example:18080 +www\.example +/ +30s +64 +zmq\+tcp://127\.0\.0\.1:15000 +bind, nodes app1,app2 +0$`).MatchString(out) {
		t.Errorf("no www.example route line in\n%s", out)
	}
	if len(c.Warnings) != 11 || !strings.Contains(c.Warnings[9], ":39:") || !strings.Contains(c.Warnings[10], ":41:") {
		t.Errorf("%d warnings:\n%s", len(c.Warnings), strings.Join(c.Warnings, "\n"))
	}
}

// FuzzParseBlastBeat: any file is loaded or refused with lines that name
// it, never a panic; a loaded one validates again.
func FuzzParseBlastBeat(f *testing.F) {
	data, _ := os.ReadFile("testdata/blastbeat.ini")
	f.Add(data)
	f.Add([]byte("[blastbeat]\nbind = :1\nzmq = tcp://h:1\n[blastbeat:a:1]\nnode = n\nalias = b\n"))
	f.Add([]byte("[blastbeat:]\n=\n[\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := ParseBlastBeat("f.ini", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.ini:") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded, then: %v", err)
		}
	})
}
