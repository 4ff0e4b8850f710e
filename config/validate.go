package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
)

// schemes are the mangos transports an endpoint may use.
const schemes = "ipc, tcp, tls+tcp, ws, wss, inproc"

// validate fills defaults and records every problem of c in p.
func (c *Config) validate(p *problems) {
	c.setDefaults()
	checkHostPort(p, "listen", c.Listen)
	s := &c.Server
	positive(p, "server.read_timeout", s.ReadTimeout)
	positive(p, "server.write_timeout", s.WriteTimeout)
	positive(p, "server.idle_timeout", s.IdleTimeout)
	positive(p, "server.max_header_bytes", s.MaxHeaderBytes)
	positive(p, "server.max_body_bytes", s.MaxBodyBytes)
	positive(p, "server.shutdown_timeout", s.ShutdownTimeout)
	positive(p, "server.max_body_memory", s.MaxBodyMemory)
	switch {
	case (s.TLSCert == "") != (s.TLSKey == ""):
		p.addf("server.tls_cert", "tls_cert and tls_key go together (HTTPS needs both)")
	case s.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey); err != nil {
			p.addf("server.tls_cert", "%v", err)
		}
	}
	if s.MaxConns < 0 {
		p.addf("server.max_conns", "must be >= 0 (0: the default), got %d", s.MaxConns)
	}

	if len(c.Routes) == 0 {
		p.addf("route", "at least one [[route]] is required")
	}
	if c.Admin.Listen != "" {
		checkHostPort(p, "admin.listen", c.Admin.Listen)
		if c.Admin.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			p.addf("admin.listen", "%q is the public listen address; the admin listener needs its own, private one", c.Admin.Listen)
		}
	}
	if c.Sessions.Inbound != "" {
		checkSPURL(p, "sessions.inbound", c.Sessions.Inbound, true)
	}
	c.checkBlastBeat(p)
	c.checkFrontend(p)
	c.checkZHTTP(p)
	type match struct{ host, path, regex string }
	routes := map[match]int{}
	names := map[string]int{}
	listens := map[string]int{} // listen URL -> route index
	for i := range c.Routes {
		r := &c.Routes[i]
		path := at("route", i)
		checkRoute(p, path, r)
		m := match{r.Host, r.Path, r.Regex}
		if j, ok := routes[m]; ok {
			if r.Regex != "" {
				p.addf(join(path, "regex"), "same host and regex as route[%d]%s", j, c.lineNote(j))
			} else {
				p.addf(join(path, "path"), "same host and path as route[%d]%s", j, c.lineNote(j))
			}
		} else {
			routes[m] = i
			// Derived names of routes with the same match repeat the
			// error above, so names are compared only here.
			if j, ok := names[r.Name]; ok {
				p.addf(join(path, "name"), "%q is also the name of route[%d]%s", r.Name, j, c.lineNote(j))
			}
		}
		if _, ok := names[r.Name]; !ok {
			names[r.Name] = i
		}
		if r.Format == FormatFrames && c.Server.UpgradeSocket != "" {
			p.addf(join(path, "format"), `"frames" cannot be served with server.upgrade_socket yet: two gateways cannot share the [sessions] inbound address, and the streams of the old one would lose it`)
		}
		if r.Format == FormatFrames && c.Sessions.Inbound == "" {
			p.addf(join(path, "format"), `"frames" needs [sessions] inbound, the address workers push frames to (e.g. "ipc:///tmp/nanogate-inbound.sock")`)
		}
		for k, e := range r.Endpoints {
			if !e.Listen {
				continue
			}
			if j, ok := listens[e.URL]; ok && j != i {
				p.addf(at(join(path, "endpoint"), k)+".url", "route[%d]%s already listens on %q", j, c.lineNote(j), e.URL)
			} else {
				listens[e.URL] = i
			}
		}
	}
}

// lineNote is " (line N)" for route i of a file, else "".
func (c *Config) lineNote(i int) string {
	if c.File == "" || c.Routes[i].Line == 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d)", c.Routes[i].Line)
}

// checkRoute normalizes r (lowercase host, defaults) and records its
// problems, naming fields below path ("route[1]", or "" for a flag).
func checkRoute(p *problems, path string, r *Route) {
	r.Host = strings.ToLower(r.Host)
	checkHost(p, join(path, "host"), r.Host)
	if r.Path != "" && r.Regex != "" {
		p.addf(join(path, "regex"), "path and regex are mutually exclusive")
	}
	if r.Path != "" && r.Path[0] != '/' {
		p.addf(join(path, "path"), `%q must start with "/"`, r.Path)
	}
	if r.Regex != "" {
		if _, err := regexp.Compile(r.Regex); err != nil {
			msg := err.Error()
			var se *syntax.Error
			if errors.As(err, &se) { // quote Expr: it may hold a newline
				msg = fmt.Sprintf("%s: %q", se.Code, se.Expr)
			}
			p.addf(join(path, "regex"), "invalid regexp %q: %s", r.Regex, msg)
		}
	}
	r.setDefaults()
	positive(p, join(path, "timeout"), r.Timeout)
	positive(p, join(path, "contexts"), r.Contexts)
	positive(p, join(path, "max_reply_bytes"), r.MaxReplyBytes)
	if r.Compat != "" && r.Compat != CompatModNano {
		p.addf(join(path, "compat"), `unknown value %q (want "" or "mod_nano")`, r.Compat)
	}
	switch r.Format {
	case FormatHTTP:
		if r.WebSocket {
			p.addf(join(path, "websocket"), `needs format = "frames" (the http format has one reply per request)`)
		}
	case FormatFrames:
		if r.Compat != "" {
			p.addf(join(path, "compat"), `mod_nano workers speak format "http", not "frames"`)
		}
	case FormatBlastBeat:
		checkBlastBeatRoute(p, path, r)
	case FormatZHTTP:
		checkZHTTPRoute(p, path, r)
	default:
		p.addf(join(path, "format"), "unknown format %q (want %q, %q, %q or %q)", r.Format, FormatHTTP, FormatFrames, FormatBlastBeat, FormatZHTTP)
	}
	positive(p, join(path, "stream_idle_timeout"), r.StreamIdleTimeout)
	positive(p, join(path, "eject_failures"), r.EjectFailures)
	positive(p, join(path, "eject_time"), r.EjectTime)
	positive(p, join(path, "eject_max_time"), r.EjectMaxTime)
	if r.HealthPath != "" {
		positive(p, join(path, "health_interval"), r.HealthInterval)
		switch {
		case r.HealthPath[0] != '/' || strings.ContainsAny(r.HealthPath, " \t\r\n"):
			p.addf(join(path, "health_path"), "%q is not a path (want one starting with \"/\", without spaces, as in \"/healthz\")", r.HealthPath)
		case r.Format == FormatFrames:
			p.addf(join(path, "health_path"), `active checks need format = "http" (a frames worker answers on another socket)`)
		}
	}
	positive(p, join(path, "max_message_bytes"), r.MaxMessageBytes)
	for j, o := range r.Origins {
		if o != "*" && !strings.Contains(o, "://") {
			p.addf(at(join(path, "origins"), j), `%q is not an origin (want SCHEME://HOST[:PORT], as in "https://example.com", or "*")`, o)
		}
	}
	if len(r.Endpoints) == 0 && r.Format != FormatZHTTP {
		p.addf(join(path, "endpoint"), "at least one endpoint is required ([[route.endpoint]] or endpoints = [...])")
	}
	urls := map[string]bool{}
	for j, e := range r.Endpoints {
		field := at(join(path, "endpoint"), j)
		if r.Format == FormatBlastBeat {
			// checkBlastBeatRoute checked the ROUTER address
		} else if r.Format == FormatFrames {
			checkSPURL(p, field+".url", e.URL, e.Listen)
		} else {
			checkURL(p, field+".url", e.URL, e.Listen)
			checkEndpointTLS(p, field, e)
		}
		if e.Priority < 0 {
			p.addf(field+".priority", "must be >= 0, got %d", e.Priority)
		}
		if urls[e.URL] && e.URL != "" {
			p.addf(field+".url", "%q is listed twice in this route", e.URL)
		}
		urls[e.URL] = true
	}
}

func positive[T int | int64 | time.Duration](p *problems, field string, v T) {
	if v <= 0 {
		p.addf(field, "must be > 0, got %v", v)
	}
}

// checkHostPort checks a listen address: host:port with a numeric port;
// the host may be empty (all interfaces).
func checkHostPort(p *problems, field, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf(field, "%q is not host:port (as in 127.0.0.1:8080 or :8080)", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.addf(field, "%q: port %q is not a number from 0 to 65535", addr, port)
	}
}

// checkHost checks a route host: a DNS name or IP, without port, since
// ports are ignored when matching.
func checkHost(p *problems, field, host string) {
	if host == "" {
		return
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") || net.ParseIP(host[1:len(host)-1]) == nil {
			p.addf(field, "%q is not a host name or [IPv6] address", host)
		}
		return
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		p.addf(field, "%q must not include a port (ports are ignored when matching)", host)
		return
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			p.addf(field, "%q is not a host name (exact names only, no wildcards)", host)
			return
		}
	}
}

// checkURL checks an endpoint URL as mangos will read it. A tcp endpoint
// the gateway listens on may leave the host empty or "*" (all interfaces)
// and may use port 0 (the system picks one; useful in tests, where the
// port is read back from the listener); a dial endpoint needs both.
func checkURL(p *problems, field, u string, listen bool) {
	if u == "" {
		p.addf(field, "missing URL (want SCHEME://ADDRESS with scheme %s)", schemes)
		return
	}
	scheme, addr, ok := strings.Cut(u, "://")
	if !ok {
		p.addf(field, `%q has no "://" (want SCHEME://ADDRESS with scheme %s)`, u, schemes)
		return
	}
	switch scheme {
	case "ipc", "inproc":
		if addr == "" {
			p.addf(field, "%q has an empty address", u)
		}
	case "tcp", "tls+tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			p.addf(field, "%q: want %s://HOST:PORT", u, scheme)
			return
		}
		n, err := strconv.ParseUint(port, 10, 16)
		switch {
		case err != nil:
			p.addf(field, "%q: port %q is not a number from 0 to 65535", u, port)
		case !listen && (host == "" || host == "*"):
			p.addf(field, "%q: the gateway dials it, so it needs a host (or set mode = \"listen\")", u)
		case !listen && n == 0:
			p.addf(field, "%q: cannot dial port 0", u)
		}
	case "ws", "wss":
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			p.addf(field, "%q: want %s://HOST[:PORT]/PATH", u, scheme)
			return
		}
		if _, _, err := net.SplitHostPort(pu.Host); listen && err != nil {
			p.addf(field, "%q: the gateway listens on it, so it needs a port", u)
		}
	default:
		p.addf(field, "unsupported scheme %q (want %s)", scheme, schemes)
	}
}

// checkEndpointTLS checks the TLS files of an endpoint as start would use
// them (LoadTLS), so that `nanogate check` refuses what start would.
func checkEndpointTLS(p *problems, field string, e Endpoint) {
	if !e.isTLS() {
		if e.TLS != (EndpointTLS{}) {
			p.addf(field+".tls_cert", "TLS files on %q, which is not a tls+tcp:// or wss:// endpoint", e.URL)
		}
		return
	}
	if e.Listen && (e.TLS.Cert == "" || e.TLS.Key == "") {
		p.addf(field+".tls_cert", "the gateway listens on %q: it needs tls_cert and tls_key", e.URL)
		return
	}
	if _, err := e.LoadTLS(); err != nil {
		p.addf(field+".tls_cert", "%v", err)
	}
}

func (e Endpoint) isTLS() bool {
	return strings.HasPrefix(e.URL, "tls+tcp://") || strings.HasPrefix(e.URL, "wss://")
}

// LoadTLS builds the endpoint's TLS configuration from its files (TLS 1.2
// and later); nil for an endpoint that is not tls+tcp:// or wss://.
func (e Endpoint) LoadTLS() (*tls.Config, error) {
	if !e.isTLS() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: e.TLS.ServerName}
	if (e.TLS.Cert == "") != (e.TLS.Key == "") {
		return nil, errors.New("tls_cert and tls_key go together")
	}
	if e.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(e.TLS.Cert, e.TLS.Key)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if e.TLS.CA != "" {
		pem, err := os.ReadFile(e.TLS.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca %s: no PEM certificate in it", e.TLS.CA)
		}
		c.RootCAs, c.ClientCAs = pool, pool
		if e.Listen {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	if c.ServerName == "" && !e.Listen {
		if u, err := url.Parse(strings.Replace(e.URL, "tls+tcp://", "tcp://", 1)); err == nil {
			c.ServerName = u.Hostname()
		}
	}
	return c, nil
}

// checkSPURL checks a URL served by nanogate's own SP code (format frames,
// sessions.inbound): tcp:// or ipc:// only.
func checkSPURL(p *problems, field, u string, listen bool) {
	if scheme, _, _ := strings.Cut(u, "://"); scheme != "tcp" && scheme != "ipc" && u != "" {
		p.addf(field, "%q: frames travel over tcp:// or ipc:// only", u)
		return
	}
	checkURL(p, field, u, listen)
}

// ParseRouteFlag parses the quick-start flag value
// "PREFIX=ENDPOINT[,ENDPOINT...]" into a route with defaults applied, each
// endpoint dialed with priority 0. PREFIX is a path prefix, optionally led
// by a host: "/api/", "example.com/api/", or "example.com" for its whole
// site. Errors name the flag: `--route "/api/=htp://x": endpoints[0]: ...`.
func ParseRouteFlag(s string) (Route, error) {
	p := &problems{file: fmt.Sprintf("--route %q", s), where: &index{alias: map[string]string{}}}
	prefix, list, ok := strings.Cut(s, "=")
	if !ok {
		p.addAt(0, "", "want PREFIX=ENDPOINT[,ENDPOINT...], as in /api/=ipc:///tmp/api.sock")
		return Route{}, p.err()
	}
	var r Route
	switch i := strings.IndexByte(prefix, '/'); {
	case i < 0:
		r.Host = prefix
	default:
		r.Host, r.Path = prefix[:i], prefix[i:]
	}
	for j, u := range strings.Split(list, ",") {
		p.where.alias[at("endpoint", j)] = at("endpoints", j)
		p.where.alias[at("endpoint", j)+".url"] = at("endpoints", j)
		r.Endpoints = append(r.Endpoints, Endpoint{URL: strings.TrimSpace(u)})
	}
	checkRoute(p, "", &r)
	if err := p.err(); err != nil {
		return Route{}, err
	}
	return r, nil
}
