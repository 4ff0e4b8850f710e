package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// decode turns a TOML document into a Config without defaults. It returns
// a nil Config when the document is not TOML; otherwise the problems hold
// type errors, unknown keys and bad values, each with its line.
//
// go-toml decodes into a generic tree and we check the tree against the
// schema ourselves: that way every type error and every unknown key is
// reported (a struct decoder stops at the first), with our field paths.
func decode(name string, data []byte) (*Config, *problems) {
	p := &problems{file: name}
	var tree map[string]any
	if err := toml.Unmarshal(data, &tree); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			field := ""
			for _, k := range de.Key() {
				field = join(field, k)
			}
			p.addAt(line, field, de.Error())
		} else {
			p.addAt(0, "", err.Error())
		}
		return nil, p
	}
	c := &Config{File: name, where: buildIndex(data)}
	p.where = c.where
	d := decoder{p: p, ix: c.where}

	d.keys("", tree, "listen", "server", "log", "sessions", "admin", "route", "blastbeat")
	c.Listen, _ = d.str(tree, "", "listen")
	if m, ok := d.table(tree, "", "server"); ok {
		d.server(m, &c.Server)
	}
	if m, ok := d.table(tree, "", "log"); ok {
		d.log(m, &c.Log)
	}
	if m, ok := d.table(tree, "", "admin"); ok {
		d.keys("admin", m, "listen")
		c.Admin.Listen, _ = d.str(m, "admin", "listen")
	}
	if m, ok := d.table(tree, "", "sessions"); ok {
		d.keys("sessions", m, "inbound")
		c.Sessions.Inbound, _ = d.str(m, "sessions", "inbound")
	}
	if m, ok := d.table(tree, "", "blastbeat"); ok {
		d.blastbeat(m, &c.BlastBeat)
	}
	for i, m := range d.tables(tree, "", "route") {
		c.Routes = append(c.Routes, d.route(at("route", i), m))
	}
	return c, p
}

// indexes matches the "[n]" of field paths.
var indexes = regexp.MustCompile(`\[[0-9]+\]`)

type decoder struct {
	p  *problems
	ix *index
}

func (d decoder) server(m map[string]any, s *Server) {
	const path = "server"
	d.keys(path, m, "read_timeout", "write_timeout", "idle_timeout",
		"max_header_bytes", "max_body_bytes", "max_conns", "reuse_port", "shutdown_timeout",
		"tls_cert", "tls_key", "upgrade_socket", "max_body_memory", "frontend")
	s.ReadTimeout, _ = d.duration(m, path, "read_timeout")
	s.WriteTimeout, _ = d.duration(m, path, "write_timeout")
	s.IdleTimeout, _ = d.duration(m, path, "idle_timeout")
	if n, ok := d.size(m, path, "max_header_bytes"); ok {
		s.MaxHeaderBytes = int(min(n, math.MaxInt)) // 32-bit: capped, not wrapped
	}
	s.MaxBodyBytes, _ = d.size(m, path, "max_body_bytes")
	s.MaxConns, _ = d.integer(m, path, "max_conns")
	s.ReusePort, _ = d.boolean(m, path, "reuse_port")
	s.ShutdownTimeout, _ = d.duration(m, path, "shutdown_timeout")
	s.TLSCert, _ = d.str(m, path, "tls_cert")
	s.TLSKey, _ = d.str(m, path, "tls_key")
	s.UpgradeSocket, _ = d.str(m, path, "upgrade_socket")
	s.MaxBodyMemory, _ = d.size(m, path, "max_body_memory")
	s.Frontend, _ = d.str(m, path, "frontend")
}

func (d decoder) log(m map[string]any, l *Log) {
	const path = "log"
	if on, ok := d.boolean(m, path, "access"); ok {
		l.NoAccess = !on
	}
	d.keys(path, m, "level", "format", "access")
	if s, ok := d.str(m, path, "level"); ok {
		switch strings.ToLower(s) {
		case "debug":
			l.Level = slog.LevelDebug
		case "", "info":
			l.Level = slog.LevelInfo
		case "warn":
			l.Level = slog.LevelWarn
		case "error":
			l.Level = slog.LevelError
		default:
			d.p.addf(join(path, "level"), "unknown level %q (want debug, info, warn, error)", s)
		}
	}
	if s, ok := d.str(m, path, "format"); ok {
		switch strings.ToLower(s) {
		case "", "text":
		case "json":
			l.JSON = true
		default:
			d.p.addf(join(path, "format"), "unknown format %q (want text, json)", s)
		}
	}
}

func (d decoder) route(path string, m map[string]any) Route {
	d.keys(path, m, "name", "host", "path", "regex", "timeout", "contexts",
		"max_reply_bytes", "retry_idempotent", "compat", "forwarded_headers",
		"format", "websocket", "origins", "stream_idle_timeout", "max_message_bytes",
		"eject", "eject_failures", "eject_time", "eject_max_time", "health_path", "health_interval",
		"endpoint", "endpoints", "nodes", "packet", "vhost",
		"zhttp_stream", "zhttp_req", "zhttp_connect", "zhttp_id", "zhttp_keep_alive", "zhttp_session_timeout")
	r := Route{Line: d.ix.lines[path]}
	d.blastbeatRoute(path, m, &r.BlastBeat)
	d.zhttpRoute(path, m, &r.ZHTTP)
	r.Name, _ = d.str(m, path, "name")
	r.Host, _ = d.str(m, path, "host")
	r.Path, _ = d.str(m, path, "path")
	r.Regex, _ = d.str(m, path, "regex")
	r.Timeout, _ = d.duration(m, path, "timeout")
	if n, ok := d.integer(m, path, "contexts"); ok {
		if n <= 0 {
			d.p.addf(join(path, "contexts"), "must be > 0, got %d (omit the key for the default %d)", n, defaultContexts)
		}
		r.Contexts = n
	}
	r.MaxReplyBytes, _ = d.size(m, path, "max_reply_bytes")
	r.RetryIdempotent, _ = d.boolean(m, path, "retry_idempotent")
	r.Compat, _ = d.str(m, path, "compat")
	if fw, ok := d.boolean(m, path, "forwarded_headers"); ok {
		r.NoForwardedHeaders = !fw
		if fw && r.Compat == CompatModNano {
			d.p.addf(join(path, "forwarded_headers"), `true contradicts compat = "mod_nano", which adds no headers`)
		}
	}
	if on, ok := d.boolean(m, path, "eject"); ok {
		r.NoEject = !on
	}
	if n, ok := d.integer(m, path, "eject_failures"); ok {
		if n <= 0 {
			d.p.addf(join(path, "eject_failures"), "must be > 0, got %d (eject = false turns ejection off)", n)
		}
		r.EjectFailures = n
	}
	r.EjectTime, _ = d.duration(m, path, "eject_time")
	r.EjectMaxTime, _ = d.duration(m, path, "eject_max_time")
	r.HealthPath, _ = d.str(m, path, "health_path")
	r.HealthInterval, _ = d.duration(m, path, "health_interval")
	r.Format, _ = d.str(m, path, "format")
	r.WebSocket, _ = d.boolean(m, path, "websocket")
	r.Origins = d.strs(m, path, "origins")
	r.StreamIdleTimeout, _ = d.duration(m, path, "stream_idle_timeout")
	r.MaxMessageBytes, _ = d.size(m, path, "max_message_bytes")
	tables := join(path, "endpoint")
	for j, em := range d.tables(m, path, "endpoint") {
		r.Endpoints = append(r.Endpoints, d.endpoint(at(tables, j), em))
	}
	// The shorthand: dial mode, priority 0, after the tables. Problems
	// with these endpoints name the array element the file wrote.
	short := join(path, "endpoints")
	if v, ok := m["endpoints"]; ok {
		list, ok := v.([]any)
		if !ok {
			d.p.addf(short, "want an array of URL strings, got %s", kind(v))
		}
		for j, v := range list {
			u, ok := v.(string)
			if !ok {
				d.p.addf(at(short, j), "want a URL string, got %s", kind(v))
				continue
			}
			canonical := at(tables, len(r.Endpoints))
			d.ix.alias[canonical] = at(short, j)
			d.ix.alias[canonical+".url"] = at(short, j)
			r.Endpoints = append(r.Endpoints, Endpoint{URL: u})
		}
	}
	return r
}

// strs reads an array of strings.
func (d decoder) strs(m map[string]any, path, key string) []string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	field := join(path, key)
	list, ok := v.([]any)
	if !ok {
		d.p.addf(field, "want an array of strings, got %s", kind(v))
		return nil
	}
	var out []string
	for j, v := range list {
		s, ok := v.(string)
		if !ok {
			d.p.addf(at(field, j), "want a string, got %s", kind(v))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (d decoder) endpoint(path string, m map[string]any) Endpoint {
	d.keys(path, m, "url", "mode", "priority", "tls_ca", "tls_cert", "tls_key", "tls_server_name")
	var e Endpoint
	e.TLS.CA, _ = d.str(m, path, "tls_ca")
	e.TLS.Cert, _ = d.str(m, path, "tls_cert")
	e.TLS.Key, _ = d.str(m, path, "tls_key")
	e.TLS.ServerName, _ = d.str(m, path, "tls_server_name")
	e.URL, _ = d.str(m, path, "url")
	if s, ok := d.str(m, path, "mode"); ok {
		switch s {
		case "", "dial":
		case "listen":
			e.Listen = true
		default:
			d.p.addf(join(path, "mode"), "unknown mode %q (want dial, listen)", s)
		}
	}
	e.Priority, _ = d.integer(m, path, "priority")
	return e
}

// keys reports every key of m that is not one of known.
func (d decoder) keys(path string, m map[string]any, known ...string) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, k) {
			d.p.addf(join(path, k), "unknown key (known keys here: %s)", strings.Join(known, ", "))
		}
	}
}

func (d decoder) str(m map[string]any, path, key string) (string, bool) {
	v, ok := m[key]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		d.p.addf(join(path, key), "want a string, got %s", kind(v))
	}
	return s, ok
}

func (d decoder) boolean(m map[string]any, path, key string) (bool, bool) {
	v, ok := m[key]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		d.p.addf(join(path, key), "want true or false, got %s", kind(v))
	}
	return b, ok
}

func (d decoder) integer(m map[string]any, path, key string) (int, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		d.p.addf(join(path, key), "want an integer, got %s", kind(v))
		return 0, false
	}
	if n < math.MinInt || n > math.MaxInt {
		d.p.addf(join(path, key), "%d is out of range", n)
		return 0, false
	}
	return int(n), true
}

// duration decodes a Go duration string ("30s", "1m30s"), which must be
// positive when written.
func (d decoder) duration(m map[string]any, path, key string) (time.Duration, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	field := join(path, key)
	s, ok := v.(string)
	if !ok {
		d.p.addf(field, `want a duration string like "30s", got %s`, kind(v))
		return 0, false
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		d.p.addf(field, `%q is not a duration (want Go syntax like "30s" or "1m30s")`, s)
		return 0, false
	}
	if t <= 0 {
		d.p.addf(field, "must be > 0, got %q (omit the key for the default)", s)
		return 0, false
	}
	return t, true
}

// size decodes a byte count, an integer or a string like "8MiB", which
// must be positive when written.
func (d decoder) size(m map[string]any, path, key string) (int64, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	field := join(path, key)
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case string:
		var err error
		if n, err = parseSize(v); err != nil {
			d.p.addf(field, "%v", err)
			return 0, false
		}
	default:
		d.p.addf(field, `want a size like 8192 or "8MiB", got %s`, kind(v))
		return 0, false
	}
	if n <= 0 {
		d.p.addf(field, "must be > 0, got %d (omit the key for the default)", n)
		return 0, false
	}
	return n, true
}

// parseSize parses an integer with an optional unit: B, KB, MB, GB (powers
// of 1000) or KiB, MiB, GiB (powers of 1024), optionally after a space.
// Units are case-sensitive: "Mb" would be megabits elsewhere.
func parseSize(s string) (int64, error) {
	digits := strings.TrimLeft(s, "0123456789")
	num, unit := s[:len(s)-len(digits)], strings.TrimPrefix(digits, " ")
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 {
		return 0, fmt.Errorf(`%q is not a size (want an integer, or a string like "8MiB" with unit B, KB, MB, GB, KiB, MiB or GiB)`, s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// table decodes m[key] as a TOML table.
func (d decoder) table(m map[string]any, path, key string) (map[string]any, bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	t, ok := v.(map[string]any)
	if !ok {
		d.p.addf(join(path, key), "want a table [%s], got %s", join(path, key), kind(v))
	}
	return t, ok
}

// tables decodes m[key] as an array of tables. An element that is not a
// table is reported and returned as nil, so indexes match the file.
func (d decoder) tables(m map[string]any, path, key string) []map[string]any {
	v, ok := m[key]
	if !ok {
		return nil
	}
	field := join(path, key)
	list, ok := v.([]any)
	if !ok {
		header := indexes.ReplaceAllString(field, "") // route[0].endpoint -> route.endpoint
		d.p.addf(field, "want an array of tables [[%s]], got %s", header, kind(v))
		return nil
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		if out[i], ok = e.(map[string]any); !ok {
			d.p.addf(at(field, i), "want a table, got %s", kind(e))
		}
	}
	return out
}

// kind names the TOML type of a decoded value.
func kind(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any:
		return "array"
	case map[string]any:
		return "table"
	default:
		return "date-time"
	}
}
