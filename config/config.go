// Package config parses and validates the nanogate TOML configuration.
//
// It is pure: no network, no flags, no environment. cmd/nanogate reads the
// file and flags and hands the bytes or values here.
//
// Every error names the file, the line and the field, in the form editors
// and compilers use:
//
//	nanogate.toml:14: route[1].endpoint[0].url: unsupported scheme "htp" (want ipc, tcp, tls+tcp, ws, wss, inproc)
//
// All problems are reported together (joined with errors.Join, one per line,
// sorted by line), and unknown keys are errors: a typo is never ignored.
//
// Zero values work: every field documents what its zero means, and
// [Config.Validate] fills zero fields with those defaults. In the TOML file an
// omitted key means the same as a zero field; writing an explicit 0 for a
// duration, a size or contexts is an error, because "timeout = \"0s\"" more
// likely means "no timeout" than "the default 30s", and we should not guess.
// See example.toml for the reference file.
package config

import (
	"log/slog"
	"os"
	"time"
)

// Defaults, applied by [Config.Validate] to zero fields.
const (
	defaultListen        = "127.0.0.1:8080"
	defaultReadTimeout   = 30 * time.Second
	defaultWriteTimeout  = 30 * time.Second
	defaultIdleTimeout   = 90 * time.Second
	defaultMaxHeader     = 8192
	defaultMaxBody       = 8 << 20
	defaultRouteTimeout  = 30 * time.Second
	defaultContexts      = 64
	defaultMaxReplyBytes = 64 << 20
	defaultStreamIdle    = 60 * time.Second
	defaultShutdown      = 30 * time.Second
)

// Route formats: what a route's messages to its workers look like
// (docs/PROTOCOL.md).
const (
	FormatHTTP   = "http"   // one request message, one reply: mod_nano's
	FormatFrames = "frames" // session frames: streaming both ways, WebSocket, push
)

// CompatModNano is the only non-empty value of [Route.Compat].
const CompatModNano = "mod_nano"

// Config is the whole gateway configuration.
type Config struct {
	// Listen is the HTTP listen address, host:port. Zero: "127.0.0.1:8080".
	Listen string
	Server Server
	Log    Log
	// Sessions configures what routes of format "frames" share.
	Sessions Sessions
	// Admin is the operator's listener: metrics, health, status page.
	Admin Admin
	// Routes in file order. A valid Config has at least one.
	Routes []Route
	// BlastBeat configures the routes of format "blastbeat" (config/blastbeat.go).
	BlastBeat BlastBeat

	// File is the name errors are reported against ("nanogate.toml" in
	// "nanogate.toml:14: ..."). Zero: "" for a Config built in code; errors
	// then carry the field only.
	File string
	// Warnings are the lines of a BlastBeat .ini that nanogate ignores
	// (ParseBlastBeat); `nanogate check` prints them and the gateway logs them.
	Warnings []string

	// where maps field paths to file lines. It is filled by Parse and
	// describes Routes as parsed: routes appended later get no lines,
	// routes reordered later get wrong ones.
	where *index
}

// Server holds the limits of the HTTP front end.
type Server struct {
	// ReadTimeout bounds reading one request, headers and body. Zero: 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response. Zero: 30s.
	WriteTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection waiting for its next
	// request. Zero: 90s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line plus headers; over it the client
	// gets 431. Zero: 8192.
	MaxHeaderBytes int
	// MaxBodyBytes caps a request body; over it the client gets 413.
	// Zero: 8 MiB.
	MaxBodyBytes int64
	// MaxConns caps concurrent client connections (fasthttp's Concurrency:
	// one goroutine serves one connection). Zero: 256*1024, fasthttp's default.
	MaxConns int
	// ReusePort sets SO_REUSEPORT on the listener, so that several gateway
	// processes serve one address: the kernel spreads new connections over
	// them. It lets a new version start before the old one drains, and a
	// host use more connections than one process's open-file limit.
	// Zero: false, a second process on the address fails to start.
	ReusePort bool
	// MaxBodyMemory bounds the request bodies being received at once, by
	// their announced lengths: past it a request gets 503 and Retry-After
	// before anything is allocated for its body, so that clients that
	// announce large bodies and stall cannot take the memory. It applies
	// while no route is of format frames (those stream bodies and hold
	// one piece each). Zero: 256 MiB.
	MaxBodyMemory int64
	// UpgradeSocket is a unix socket path through which a new gateway
	// takes over this one's listening socket (SCM_RIGHTS): start the new
	// binary with the same configuration, and the old one drains and
	// exits, with no connection refused or reset on the way. Not with
	// routes of format frames yet (Validate says so): two gateways cannot
	// share the [sessions] inbound address. Zero: none.
	UpgradeSocket string
	// TLSCert and TLSKey are PEM files: with both set, the listener serves
	// HTTPS (TLS 1.2 and later), and SIGHUP reads them again. Zero: plain
	// HTTP.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the drain on SIGTERM: requests in flight get
	// this long to finish, then the process exits (a second SIGTERM exits
	// at once). Zero: 30s.
	ShutdownTimeout time.Duration
	// Frontend accepts the clients' connections: "fasthttp" (a TCP
	// listener) or "zmq" (a ZeroMQ ZMQ_STREAM socket, frontend/zmqstream;
	// the same HTTP/1.1 server over it; not with reuse_port or
	// upgrade_socket). Zero: "fasthttp".
	Frontend string
}

// Sessions configures the routes of format "frames".
type Sessions struct {
	// Inbound is the address the gateway binds a PULL socket on, where
	// workers and any other process push frames to sessions (tcp:// or
	// ipc://). Required when a route has format "frames". Zero: none.
	Inbound string
}

// Admin configures the operator's listener.
type Admin struct {
	// Listen is its host:port: /metrics (Prometheus), /livez, /readyz, a
	// status page at /, and /debug/pprof/. Put it on a private address
	// (127.0.0.1:9090): it tells internals. Zero: none.
	Listen string
}

// Log selects the gateway's log output.
type Log struct {
	// Level is the minimum level logged. Zero: slog.LevelInfo.
	Level slog.Level
	// JSON selects slog's JSON handler. Zero: false, the text handler.
	JSON bool
	// NoAccess turns the access log off (a line per request, at info, on
	// the same output and in the same format as the log). It is the
	// negation of the file's access key, so that the zero value keeps the
	// default. Zero: false, the access log is on.
	NoAccess bool
}

// Route sends the requests that match Host and Path (or Regex) to Endpoints.
type Route struct {
	// Name appears in logs and in `nanogate check`. Zero: Host followed by
	// Path, or by "~" and Regex ("example.com/api/", "/", "~^/v[12]/").
	Name string
	// Host matches the request host exactly, case-insensitively, ignoring
	// the request's port. Validate lowercases it. Zero: any host.
	Host string
	// Path is a path prefix; the longest matching prefix wins. Zero: "/"
	// when Regex is empty too.
	Path string
	// Regex is an alternative to Path, like mod_nano's LocationMatch: a Go
	// regexp matched against the path, unanchored (write ^ to anchor).
	// Path and Regex are mutually exclusive. Zero: none.
	Regex string
	// Timeout is the per-request deadline to the worker; past it the client
	// gets 504. Zero: 30s.
	Timeout time.Duration
	// Contexts is the number of REQ contexts, that is requests in flight,
	// per endpoint; with none free the client gets 503 and Retry-After.
	// Zero: 64.
	Contexts int
	// MaxReplyBytes caps a worker's reply (mangos OptionMaxRecvSize).
	// Zero: 64 MiB.
	MaxReplyBytes int64
	// RetryIdempotent resends GET, HEAD, OPTIONS and TRACE requests (the
	// safe methods of RFC 9110 section 9.2.1) once, to another endpoint,
	// when the worker's connection drops. Zero: false, never resend (a
	// resent POST runs twice).
	RetryIdempotent bool
	// NoForwardedHeaders stops the gateway adding X-Forwarded-For,
	// X-Forwarded-Proto, X-Request-Id and X-Nanogate-Session. It is the
	// negation of the file's forwarded_headers, so that the Go zero value
	// keeps the default. Validate sets it when Compat is "mod_nano".
	// Zero: false, the headers are added.
	NoForwardedHeaders bool
	// Compat is "" or CompatModNano: send requests exactly as mod_nano did,
	// adding no headers. Zero: "".
	Compat string
	// NoEject turns off the ejection of failing endpoints (passive
	// health). It is the negation of the file's eject, so that the zero
	// value keeps the default. Zero: false, failing endpoints are ejected.
	NoEject bool
	// EjectFailures is how many failures in a row (worker lost, no reply
	// in time, a reply that is not HTTP) eject an endpoint. Zero: 5.
	EjectFailures int
	// EjectTime is the first ejection's length; it doubles with each
	// ejection in a row, up to EjectMaxTime. Zero: 1s.
	EjectTime time.Duration
	// EjectMaxTime caps an ejection. Zero: 30s.
	EjectMaxTime time.Duration
	// HealthPath is a path the worker answers with a 2xx while healthy:
	// each endpoint gets GET HealthPath every HealthInterval (active
	// health checks; format http). Zero: none, passive ejection only.
	HealthPath string
	// HealthInterval is the time between probes of one endpoint. Zero: 5s
	// when HealthPath is set.
	HealthInterval time.Duration
	// Format is FormatHTTP or FormatFrames. Zero: FormatHTTP.
	Format string
	// WebSocket accepts WebSocket upgrades on the route; it needs
	// FormatFrames. Zero: false, an upgrade is an ordinary request.
	WebSocket bool
	// Origins lists the Origin values a WebSocket handshake may carry
	// ("https://example.com"); "*" allows any. Zero: only an Origin whose
	// host is the request's Host, or no Origin at all (not a browser).
	Origins []string
	// StreamIdleTimeout ends a stream (a streamed response or a WebSocket)
	// that carries no frame for this long, either way. Zero: 60s.
	StreamIdleTimeout time.Duration
	// MaxMessageBytes caps one WebSocket message from a client; over it
	// the client gets close 1009. Zero: 1 MiB.
	MaxMessageBytes int64
	// Endpoints the route balances over. A valid Route has at least one.
	Endpoints []Endpoint
	// BlastBeat is the BlastBeat part of a route of format "blastbeat".
	BlastBeat BlastBeatRoute
	// ZHTTP is the ZHTTP part of a route of format "zhttp" (config/zhttp.go).
	ZHTTP ZHTTPRoute
	// Line is the line of the route's [[route]] header. Zero: not from a file.
	Line int
}

// Endpoint is one worker address of a route.
type Endpoint struct {
	// URL is SCHEME://ADDRESS with scheme ipc, tcp, tls+tcp, ws, wss or
	// inproc, as mangos spells them: "ipc:///tmp/api.sock",
	// "tcp://10.0.0.5:5555", "ws://10.0.0.5:8081/nano".
	URL string
	// Listen makes the gateway bind URL and workers dial in, so workers
	// come and go without a config change. Zero: false, the gateway dials
	// a worker that binds (mod_nano's model).
	Listen bool
	// Priority groups endpoints: the lowest number is preferred, and higher
	// numbers take over only when every endpoint of the lower groups has
	// failed. Lower-is-better matches DNS SRV priorities and mod_nano's
	// nanoChannel priority. Must be >= 0. Zero: 0, the first group.
	Priority int
	// TLS is for tls+tcp:// and wss:// endpoints (PEM files). Dialled:
	// CA verifies the worker (zero: the system's roots), Cert and Key
	// authenticate the gateway to it (zero: none). Listened on: Cert and
	// Key are required, and CA, when set, requires workers to show a
	// certificate it signed. ServerName is the name checked in the
	// worker's certificate; zero: the URL's host.
	TLS EndpointTLS
}

// EndpointTLS holds the TLS files of a tls+tcp:// or wss:// endpoint.
type EndpointTLS struct {
	CA, Cert, Key, ServerName string
}

// Default returns the configuration with every default applied and no
// routes. It does not pass Validate until a route is added.
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

// Load reads the file at path and parses it with [Parse], naming the file
// by path in errors; a BlastBeat .ini file (one with a [blastbeat]
// section) is read with [ParseBlastBeat] instead.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if IsBlastBeatINI(data) {
		c, warns, err := ParseBlastBeat(path, data)
		if c != nil {
			c.Warnings = warns
		}
		return c, err
	}
	return Parse(path, data)
}

// Parse decodes data, a TOML document named name in errors, applies the
// defaults and validates the result. It reports every problem it finds,
// joined, each as "name:line: field: message".
func Parse(name string, data []byte) (*Config, error) {
	c, p := decode(name, data)
	if c == nil {
		return nil, p.err()
	}
	c.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate fills every zero field with its default (see the field comments)
// and checks the whole configuration, returning all problems joined. It is
// idempotent. Parse calls it; call it yourself on a Config built in code,
// for example from command-line flags.
func (c *Config) Validate() error {
	p := &problems{file: c.File, where: c.where}
	c.validate(p)
	return p.err()
}

// setDefaults fills the zero fields of c outside its routes.
func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	s := &c.Server
	if s.ReadTimeout == 0 {
		s.ReadTimeout = defaultReadTimeout
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = defaultWriteTimeout
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = defaultIdleTimeout
	}
	if s.MaxHeaderBytes == 0 {
		s.MaxHeaderBytes = defaultMaxHeader
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = defaultMaxBody
	}
	if s.MaxBodyMemory == 0 {
		s.MaxBodyMemory = 256 << 20
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = defaultShutdown
	}
	if s.Frontend == "" {
		s.Frontend = FrontendFastHTTP
	}
}

// setDefaults fills the zero fields of r.
func (r *Route) setDefaults() {
	if r.Path == "" && r.Regex == "" {
		r.Path = "/"
	}
	if r.Name == "" {
		if r.Regex != "" {
			r.Name = r.Host + "~" + r.Regex
		} else {
			r.Name = r.Host + r.Path
		}
	}
	if r.Timeout == 0 {
		r.Timeout = defaultRouteTimeout
	}
	if r.Contexts == 0 {
		r.Contexts = defaultContexts
	}
	if r.MaxReplyBytes == 0 {
		r.MaxReplyBytes = defaultMaxReplyBytes
	}
	if r.Compat == CompatModNano {
		r.NoForwardedHeaders = true
	}
	if r.Format == "" {
		r.Format = FormatHTTP
	}
	if r.EjectFailures == 0 {
		r.EjectFailures = 5
	}
	if r.EjectTime == 0 {
		r.EjectTime = time.Second
	}
	if r.EjectMaxTime == 0 {
		r.EjectMaxTime = 30 * time.Second
	}
	if r.HealthInterval == 0 && r.HealthPath != "" {
		r.HealthInterval = 5 * time.Second
	}
	if r.StreamIdleTimeout == 0 {
		r.StreamIdleTimeout = defaultStreamIdle
	}
	if r.MaxMessageBytes == 0 {
		r.MaxMessageBytes = 1 << 20
	}
}
