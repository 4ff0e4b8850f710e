package config

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FormatBlastBeat routes requests to BlastBeat dealers: ZeroMQ DEALER
// sockets, named by their identity, that connect to a ROUTER the gateway
// binds at the route's endpoint (docs/blastbeat.md).
const FormatBlastBeat = "blastbeat"

// BlastBeat holds what BlastBeat's [blastbeat] section sets for every
// route of format "blastbeat" (TOML: the [blastbeat] table).
type BlastBeat struct {
	// PingFreq is how often each node is pinged (BlastBeat's ping-freq);
	// a node unheard for three periods gets no new session until it
	// answers again. Zero: 1s.
	PingFreq time.Duration
	// MaxHops caps the retry messages one request may take
	// (BlastBeat's max-hops); past it the client gets 502. Zero: 10.
	MaxHops int
}

// BlastBeatRoute is the BlastBeat part of a route of format "blastbeat".
// Its one endpoint is the ROUTER address, zmq+tcp://HOST:PORT or
// zmq+ipc://PATH; the gateway binds it, and routes naming the same
// address share one ROUTER and its nodes.
type BlastBeatRoute struct {
	// Nodes are the node names (the dealers' ZeroMQ identities) that take
	// the route's requests, the one with the fewest live requests first.
	// Required.
	Nodes []string
	// Packet is "uwsgi" (the request head as a uwsgi packet, as
	// BlastBeat sends it) or "headers" (the raw HTTP head). Zero: "uwsgi".
	Packet string
	// Vhost is BlastBeat's virtual host name, HOST[:PORT]: the uwsgi
	// packet's SERVER_NAME and SERVER_PORT. Zero: Host, or "localhost".
	Vhost string
}

// Packet values of a BlastBeat route.
const (
	PacketUwsgi   = "uwsgi"
	PacketHeaders = "headers"
)

// checkBlastBeatRoute records the problems of a route of format
// "blastbeat"; its endpoints are checked here instead of as mangos URLs.
func checkBlastBeatRoute(p *problems, path string, r *Route) {
	b := &r.BlastBeat
	if len(b.Nodes) == 0 {
		p.addf(join(path, "nodes"), `format "blastbeat" needs nodes = ["NAME", ...], the dealers' identities`)
	}
	for i, n := range b.Nodes {
		if n == "" || len(n) > 255 {
			p.addf(at(join(path, "nodes"), i), "%q is not a ZeroMQ identity (1 to 255 bytes)", n)
		}
	}
	switch b.Packet {
	case "":
		b.Packet = PacketUwsgi
	case PacketUwsgi, PacketHeaders:
	default:
		p.addf(join(path, "packet"), "unknown packet %q (want %q or %q)", b.Packet, PacketUwsgi, PacketHeaders)
	}
	if b.Vhost == "" {
		b.Vhost = r.Host
		if b.Vhost == "" {
			b.Vhost = "localhost"
		}
	}
	if r.Compat != "" {
		p.addf(join(path, "compat"), `mod_nano workers speak format "http", not "blastbeat"`)
	}
	if len(r.Endpoints) > 1 {
		p.addf(at(join(path, "endpoint"), 1), "a blastbeat route has one endpoint, the ROUTER its dealers connect to")
	}
	for j, e := range r.Endpoints {
		checkZMQBind(p, at(join(path, "endpoint"), j)+".url", e.URL)
	}
}

// checkZMQBind checks a ROUTER address the gateway binds.
func checkZMQBind(p *problems, field, u string) {
	scheme, addr, ok := strings.Cut(u, "://")
	switch {
	case !ok:
		p.addf(field, `%q has no "://" (want zmq+tcp://HOST:PORT or zmq+ipc://PATH)`, u)
	case scheme == "zmq+ipc" || scheme == "zmq+inproc":
		if addr == "" {
			p.addf(field, "%q has an empty address", u)
		}
	case scheme == "zmq+tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			p.addf(field, "%q: want zmq+tcp://HOST:PORT (HOST may be * or 0.0.0.0 for every interface)", u)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			p.addf(field, "%q: port %q is not a number from 0 to 65535", u, port)
		}
	default:
		p.addf(field, "unsupported scheme %q (want zmq+tcp, zmq+ipc or zmq+inproc)", scheme)
	}
}

// ZMQAddress is a blastbeat endpoint's address as libzmq spells it
// (zmq+tcp://h:1 is tcp://h:1).
func ZMQAddress(u string) string { return strings.TrimPrefix(u, "zmq+") }

// checkBlastBeat records the problems of the [blastbeat] settings and of
// blastbeat routes that depend on the rest of the configuration.
func (c *Config) checkBlastBeat(p *problems) {
	if c.BlastBeat.PingFreq == 0 {
		c.BlastBeat.PingFreq = time.Second
	}
	if c.BlastBeat.MaxHops == 0 {
		c.BlastBeat.MaxHops = 10
	}
	positive(p, "blastbeat.ping_freq", c.BlastBeat.PingFreq)
	positive(p, "blastbeat.max_hops", c.BlastBeat.MaxHops)
	for i, r := range c.Routes {
		if r.Format == FormatBlastBeat && c.Server.UpgradeSocket != "" {
			p.addf(join(at("route", i), "format"), `"blastbeat" cannot be served with server.upgrade_socket yet: two gateways cannot bind one ROUTER address`)
		}
	}
}

// decodeBlastBeat reads the [blastbeat] table of a TOML file.
func (d decoder) blastbeat(m map[string]any, b *BlastBeat) {
	d.keys("blastbeat", m, "ping_freq", "max_hops")
	b.PingFreq, _ = d.duration(m, "blastbeat", "ping_freq")
	b.MaxHops, _ = d.integer(m, "blastbeat", "max_hops")
}

// blastbeatRoute reads a route's BlastBeat keys.
func (d decoder) blastbeatRoute(path string, m map[string]any, b *BlastBeatRoute) {
	b.Nodes = d.strs(m, path, "nodes")
	b.Packet, _ = d.str(m, path, "packet")
	b.Vhost, _ = d.str(m, path, "vhost")
}

// IsBlastBeatINI reports whether data is a BlastBeat .ini file rather
// than nanogate's TOML, whose [blastbeat] table looks alike: a
// [blastbeat:HOST] section (not TOML), or a [blastbeat] section with
// BlastBeat's bind or zmq key.
func IsBlastBeatINI(data []byte) bool {
	main := false
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] == '[' {
			name := string(bytes.TrimSpace(bytes.Trim(line, "[]")))
			if strings.HasPrefix(name, "blastbeat:") {
				return true
			}
			main = name == "blastbeat"
			continue
		}
		if k, _, ok := bytes.Cut(line, []byte("=")); main && ok {
			if k := string(bytes.TrimSpace(k)); k == "bind" || k == "zmq" {
				return true
			}
		}
	}
	return false
}

// LoadBlastBeat reads a BlastBeat .ini file (see ParseBlastBeat).
func LoadBlastBeat(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseBlastBeat(path, data)
}

// ParseBlastBeat reads BlastBeat's own .ini configuration, as its
// src/config.c does, into a nanogate Config: the first [blastbeat] bind
// is the listen address, zmq the ROUTER address, and every
// [blastbeat:HOST[:PORT]] virtual host (and each of its aliases) a route
// of format "blastbeat" for that host with its node lines. Keys nanogate
// has no use for are not errors: each comes back as a warning line
// ("file:line: key: ignored: why"), so that BlastBeat's files load as they
// are. Errors name the file, the line and the key.
func ParseBlastBeat(name string, data []byte) (*Config, []string, error) {
	c := &Config{File: name, where: &index{lines: map[string]int{}, alias: map[string]string{}}}
	p := &problems{file: name}
	var warned []problem // sorted by line at the end, as errors are
	warn := func(line int, key, format string, args ...any) {
		warned = append(warned, problem{line, fmt.Sprintf("%s:%d: %s: ignored: %s", name, line, key, fmt.Sprintf(format, args...))})
	}
	type vhost struct {
		name, zmq     string
		line, zmqLine int
		nodes         []string
		aliases       []string
		ownBind       string // a bind or bind-ssl of its own: BlastBeat serves it there only
		timeout       time.Duration
	}
	var (
		section = ""
		sawMain = false
		zmq     string
		zmqLine int
		timeout time.Duration
		vhosts  []*vhost
		cur     *vhost
		seconds = func(line int, key, v string) time.Duration {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				p.addAt(line, key, fmt.Sprintf("%q is not a positive number of seconds", v))
				return 0
			}
			return time.Duration(n) * time.Second
		}
	)
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		s := strings.TrimSpace(raw)
		if s == "" || s[0] == ';' || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			if !strings.HasSuffix(s, "]") {
				p.addAt(line, "", fmt.Sprintf("%q: a section header ends with ]", s))
				continue
			}
			section = strings.TrimSpace(s[1 : len(s)-1])
			cur = nil
			switch {
			case section == "blastbeat":
				sawMain = true
			case strings.HasPrefix(section, "blastbeat:") && len(section) > len("blastbeat:"):
				cur = &vhost{name: section[len("blastbeat:"):], line: line}
				vhosts = append(vhosts, cur)
			default:
				warn(line, "["+section+"]", "not a BlastBeat section")
			}
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			p.addAt(line, "", fmt.Sprintf("%q is not key = value", s))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		key := "[" + section + "] " + k
		switch {
		case section == "blastbeat":
			switch k {
			case "bind":
				addr, _, _ := strings.Cut(v, " ") // "addr:port [priority]"; the priority is unused in BlastBeat too
				if c.Listen != "" {
					warn(line, key, "nanogate listens on one address, %s", c.Listen)
					continue
				}
				c.Listen = addr
				c.where.lines["listen"] = line
			case "zmq":
				zmq, zmqLine = v, line
			case "ping-freq":
				c.BlastBeat.PingFreq = seconds(line, key, v)
				c.where.lines["blastbeat.ping_freq"] = line
			case "max-hops":
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					p.addAt(line, key, fmt.Sprintf("%q is not a positive number", v))
				}
				c.BlastBeat.MaxHops = n
				c.where.lines["blastbeat.max_hops"] = line
			case "timeout":
				timeout = seconds(line, key, v)
				c.Server.IdleTimeout = timeout
				c.where.lines["server.idle_timeout"] = line
			case "sessions":
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					p.addAt(line, key, fmt.Sprintf("%q is not a positive number", v))
				}
				c.Server.MaxConns = n
				c.where.lines["server.max_conns"] = line
			case "bind-ssl":
				warn(line, key, "HTTPS is [server] tls_cert and tls_key in nanogate's TOML")
			case "uid", "gid":
				warn(line, key, "run nanogate as the user you want (systemd User=, deploy/)")
			case "stats-freq":
				warn(line, key, "statistics are on the admin listener's /metrics")
			case "writequeue-buffer":
				warn(line, key, "a stream holds at most 1.25 MiB for a slow client, then it is cut")
			case "memory", "max-headers":
				warn(line, key, "nanogate bounds memory with [server] max_header_bytes, max_body_bytes, max_body_memory")
			default:
				p.addAt(line, key, "unknown BlastBeat option")
			}
		case cur != nil:
			switch k {
			case "node":
				cur.nodes = append(cur.nodes, v)
			case "alias":
				cur.aliases = append(cur.aliases, v)
			case "zmq":
				cur.zmq, cur.zmqLine = v, line
			case "timeout":
				cur.timeout = seconds(line, key, v)
			case "bind", "bind-ssl":
				if cur.ownBind == "" {
					cur.ownBind = v
				}
			case "certificate", "key":
				// Meaningful with bind-ssl only, which skips the vhost.
			case "cache", "bandwidth", "sessions":
				warn(line, key, "not supported by nanogate")
			default:
				p.addAt(line, key, "unknown BlastBeat virtual host option")
			}
		default:
			warn(line, key, "outside a BlastBeat section")
		}
	}
	if !sawMain {
		p.addAt(1, "[blastbeat]", "missing: BlastBeat's file needs a [blastbeat] section with bind and zmq")
	}
	if c.Listen == "" && sawMain {
		p.addAt(1, "[blastbeat] bind", "missing: the HTTP address to listen on")
	}
	hosts := map[string]string{} // route host -> the vhost that has it
	for _, vh := range vhosts {
		if vh.ownBind != "" {
			warn(vh.line, "[blastbeat:"+vh.name+"]", "BlastBeat serves this virtual host only on its own address %s, which nanogate does not open", vh.ownBind)
			continue
		}
		addr, addrLine := vh.zmq, vh.zmqLine
		if addr == "" {
			addr, addrLine = zmq, zmqLine
		}
		if addr == "" {
			p.addAt(vh.line, "[blastbeat] zmq", "missing: the ROUTER address dealers connect to")
			continue
		}
		for _, h := range append([]string{vh.name}, vh.aliases...) {
			host := strings.ToLower(h)
			if hh, _, err := net.SplitHostPort(h); err == nil {
				host = strings.ToLower(hh)
			}
			if other, dup := hosts[host]; dup {
				if other != vh.name {
					warn(vh.line, "[blastbeat:"+vh.name+"] "+h, "host %s is already served by [blastbeat:%s] (nanogate matches hosts without their port)", host, other)
				}
				continue
			}
			hosts[host] = vh.name
			i := len(c.Routes)
			c.where.lines[at("route", i)] = vh.line
			c.where.lines[at("route", i)+".nodes"] = vh.line
			c.where.lines[at(join(at("route", i), "endpoint"), 0)] = addrLine
			c.Routes = append(c.Routes, Route{
				Name: h, Host: host, Format: FormatBlastBeat, WebSocket: true, Line: vh.line,
				StreamIdleTimeout: cmp.Or(vh.timeout, timeout),
				Endpoints:         []Endpoint{{URL: "zmq+" + addr}},
				BlastBeat:         BlastBeatRoute{Nodes: vh.nodes, Vhost: vh.name},
			})
		}
	}
	slices.SortStableFunc(warned, func(a, b problem) int { return a.line - b.line })
	warns := make([]string, len(warned))
	for i, w := range warned {
		warns[i] = w.text
	}
	if err := p.err(); err != nil {
		return nil, warns, err
	}
	p = &problems{file: name, where: c.where}
	c.validate(p)
	if err := p.err(); err != nil {
		return nil, warns, err
	}
	return c, warns, nil
}
