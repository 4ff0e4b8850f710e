package deploytest

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/config"
	"go.yaml.in/yaml/v3"
)

// The directory of this package is deploy/deploytest; paths in the tests
// are relative to the repository root.
const (
	rootDir   = "../.."
	deployDir = "deploy"
)

// socketDir is where every shipped configuration keeps its ipc sockets:
// the image's, the pod's and the unit's shared directory. The tests check
// each file against it, and the live runs move it to a temporary one.
const socketDir = "/run/nanogate"

// path turns a repository-relative path into one the test can open.
func path(rel string) string { return filepath.Join(rootDir, filepath.FromSlash(rel)) }

func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loadConfig reads a shipped TOML file with the gateway's own loader: it
// must pass the checks the gateway makes at start.
func loadConfig(t testing.TB, rel string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path(rel))
	if err != nil {
		t.Fatalf("%s does not load as the gateway would: %v", rel, err)
	}
	return cfg
}

// parseConfig is loadConfig for TOML held in another file (a ConfigMap).
func parseConfig(t testing.TB, name, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("%s does not load as the gateway would: %v", name, err)
	}
	return cfg
}

// ports are the listen and admin ports of a configuration.
type ports struct{ listen, admin int }

// portsOf returns cfg's ports and fails the test if either address is not
// reachable from outside the container or pod (loopback there is private
// to it), when external is set.
func portsOf(t testing.TB, name string, cfg *config.Config, external bool) ports {
	t.Helper()
	if cfg.Admin.Listen == "" {
		t.Fatalf("%s: no [admin] listen: nothing would answer the probes or Prometheus", name)
	}
	var p ports
	for _, a := range []struct {
		field, addr string
		port        *int
	}{{"listen", cfg.Listen, &p.listen}, {"admin.listen", cfg.Admin.Listen, &p.admin}} {
		host, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			t.Fatalf("%s: %s %q: %v", name, a.field, a.addr, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 {
			t.Fatalf("%s: %s %q: want a fixed port", name, a.field, a.addr)
		}
		*a.port = n
		if external && !allInterfaces(host) {
			t.Errorf("%s: %s %q: host %q is the container's own; want every interface (0.0.0.0)", name, a.field, a.addr, host)
		}
	}
	if p.listen == p.admin {
		t.Errorf("%s: listen and admin share port %d", name, p.listen)
	}
	return p
}

func allInterfaces(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::" || host == "*"
}

// ipcPaths are the socket paths of every ipc:// address in cfg: the
// inbound address and every endpoint.
func ipcPaths(cfg *config.Config) []string {
	var out []string
	add := func(u string) {
		if p, ok := strings.CutPrefix(u, "ipc://"); ok {
			out = append(out, p)
		}
	}
	add(cfg.Sessions.Inbound)
	for _, r := range cfg.Routes {
		for _, e := range r.Endpoints {
			add(e.URL)
		}
	}
	return out
}

// checkSocketDir fails unless every ipc socket of cfg is in socketDir, the
// directory the image creates, the pod mounts and the unit owns.
func checkSocketDir(t testing.TB, name string, cfg *config.Config) {
	t.Helper()
	paths := ipcPaths(cfg)
	if len(paths) == 0 {
		t.Errorf("%s: no ipc:// address; the deploy files share %s for them", name, socketDir)
	}
	for _, p := range paths {
		if filepath.Dir(p) != socketDir {
			t.Errorf("%s: socket %s is outside %s, the directory the deployment shares and may write", name, p, socketDir)
		}
	}
}

// dialEndpoints are the URLs of the endpoints in mode dial: the workers
// bind them.
func dialEndpoints(cfg *config.Config) []string {
	var out []string
	for _, r := range cfg.Routes {
		for _, e := range r.Endpoints {
			if !e.Listen {
				out = append(out, e.URL)
			}
		}
	}
	slices.Sort(out)
	return out
}

// decodeYAML decodes every document of a YAML file.
func decodeYAML(t testing.TB, rel string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, rel)))
	var docs []map[string]any
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		docs = append(docs, m)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML document", rel)
	}
	return docs
}

// flagValue returns the value of --name in args ("--name V" or
// "--name=V", one or two dashes).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		n, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || n != name {
			continue
		}
		if hasValue {
			return v, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// checkFlags fails for every flag in args that the program's source does
// not define.
func checkFlags(t testing.TB, where string, args []string, defined map[string]bool) {
	t.Helper()
	if len(defined) == 0 {
		t.Fatalf("%s: no flags found in the source to check against", where)
	}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !defined[n] {
			t.Errorf("%s: flag %s is not defined by the program (it has %v)", where, a, keys(defined))
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// field walks nested maps of a decoded YAML document: field(t, where, m,
// "spec", "template") is m["spec"]["template"]. A missing step fails the
// test.
func field(t testing.TB, where string, m any, steps ...string) any {
	t.Helper()
	cur := m
	for i, k := range steps {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is not a mapping", where, strings.Join(steps[:i], "."))
		}
		v, ok := mm[k]
		if !ok {
			t.Fatalf("%s: %s is missing", where, strings.Join(steps[:i+1], "."))
		}
		cur = v
	}
	return cur
}

func mapping(t testing.TB, where string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: %v is not a mapping", where, v)
	}
	return m
}

func str(t testing.TB, where string, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s: %v is not a string", where, v)
	}
	return s
}

func integer(t testing.TB, where string, v any) int {
	t.Helper()
	n, ok := v.(int)
	if !ok {
		t.Fatalf("%s: %v is not an integer", where, v)
	}
	return n
}

func list(t testing.TB, where string, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: %v is not a list", where, v)
	}
	return l
}

func stringList(t testing.TB, where string, v any) []string {
	t.Helper()
	var out []string
	for _, x := range list(t, where, v) {
		out = append(out, str(t, where, x))
	}
	return out
}
