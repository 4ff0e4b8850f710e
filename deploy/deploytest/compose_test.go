package deploytest

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	composeFile    = "deploy/compose.yaml"
	prometheusFile = "deploy/prometheus.yml"
)

// composeService is what the tests read of one compose service.
type composeService struct {
	name    string
	raw     map[string]any
	image   string
	target  string // build target: a stage of deploy/Dockerfile
	command []string
}

// composeFacts are compose.yaml read and checked against the Dockerfile:
// which service runs the gateway, which run workers, what each runs.
type composeFacts struct {
	gateway composeService
	workers []composeService
	config  string // the gateway's TOML: the file mounted at --config
	args    []string
	others  []composeService
	volumes map[string]any // top-level named volumes
}

func readCompose(t testing.TB) composeFacts {
	t.Helper()
	doc := decodeYAML(t, composeFile)[0]
	images := dockerImagesByStage(t)
	var c composeFacts
	c.volumes, _ = doc["volumes"].(map[string]any)
	services, _ := doc["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatalf("%s: no services", composeFile)
	}
	for _, name := range keys(services) {
		raw, ok := services[name].(map[string]any)
		if !ok {
			t.Fatalf("%s: service %s is not a mapping", composeFile, name)
		}
		s := composeService{name: name, raw: raw}
		s.image, _ = raw["image"].(string)
		if cmd, ok := raw["command"]; ok {
			s.command = stringList(t, composeFile+" "+name+".command", cmd)
		}
		b, built := raw["build"]
		if !built {
			c.others = append(c.others, s)
			continue
		}
		where := composeFile + " " + name + ".build"
		ctx := str(t, where, field(t, where, b, "context"))
		df := str(t, where, field(t, where, b, "dockerfile"))
		// Compose resolves context against the file's directory and
		// dockerfile against the context.
		if got := filepath.ToSlash(filepath.Join(deployDir, ctx, df)); got != dockerfile {
			t.Errorf("%s: builds %s, not %s", where, got, dockerfile)
		}
		if filepath.Clean(filepath.Join(deployDir, ctx)) != "." {
			t.Errorf("%s: context %s is not the repository root, which the Dockerfile's COPY go.mod needs", where, ctx)
		}
		s.target = str(t, where, field(t, where, b, "target"))
		img, ok := images[s.target]
		if !ok {
			t.Fatalf("%s: target %q is not a stage of %s (stages: %v)", where, s.target, dockerfile, keys(images))
		}
		if s.command == nil {
			s.command = img.cmdArgs
		}
		switch img.pkg {
		case "./cmd/nanogate":
			if c.gateway.name != "" {
				t.Fatalf("%s: two gateway services, %s and %s: the test expects one", composeFile, c.gateway.name, name)
			}
			c.gateway = s
		case "./backend-sdk/go/cmd/demo-worker":
			c.workers = append(c.workers, s)
		default:
			t.Fatalf("%s: service %s runs %s", composeFile, name, img.pkg)
		}
	}
	if c.gateway.name == "" || len(c.workers) == 0 {
		t.Fatalf("%s: want a gateway and workers built from %s; gateway %q, %d workers", composeFile, dockerfile, c.gateway.name, len(c.workers))
	}
	c.args = c.gateway.command
	cfgPath, ok := flagValue(c.args, "config")
	if !ok {
		t.Fatalf("%s: gateway command %q has no --config", composeFile, c.args)
	}
	for _, m := range volumeMounts(t, c.gateway) {
		if m.target == cfgPath && m.bind {
			c.config = filepath.ToSlash(filepath.Join(deployDir, m.source))
		}
	}
	if c.config == "" {
		t.Fatalf("%s: gateway: nothing mounted at --config %s", composeFile, cfgPath)
	}
	return c
}

// dockerImagesByStage maps each runtime stage of the Dockerfile to what it
// runs, checking the Dockerfile on the way.
func dockerImagesByStage(t testing.TB) map[string]runtimeImage {
	t.Helper()
	out := map[string]runtimeImage{}
	for _, img := range checkStages(t, parseDockerfile(t, dockerfile)) {
		out[img.stage.name] = img
	}
	return out
}

type mount struct {
	source, target string
	bind           bool // a host path, else a named volume
}

// volumeMounts reads a service's volumes in the short syntax
// (SOURCE:TARGET[:MODE]).
func volumeMounts(t testing.TB, s composeService) []mount {
	t.Helper()
	v, ok := s.raw["volumes"]
	if !ok {
		return nil
	}
	var out []mount
	for _, spec := range stringList(t, composeFile+" "+s.name+".volumes", v) {
		parts := strings.Split(spec, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("%s: %s: volume %q: want SOURCE:TARGET[:MODE]", composeFile, s.name, spec)
		}
		out = append(out, mount{source: parts[0], target: parts[1],
			bind: strings.HasPrefix(parts[0], ".") || strings.HasPrefix(parts[0], "/")})
	}
	return out
}

// published is one entry of a service's ports.
type published struct {
	hostIP               string
	hostPort, targetPort int
}

// publishedPorts reads ports in the short syntax: [[IP:]HOST:]CONTAINER.
func publishedPorts(t testing.TB, s composeService) []published {
	t.Helper()
	var out []published
	v, ok := s.raw["ports"]
	if !ok {
		return nil
	}
	for _, spec := range stringList(t, composeFile+" "+s.name+".ports", v) {
		parts := strings.Split(strings.TrimSuffix(spec, "/tcp"), ":")
		var p published
		nums := parts
		switch len(parts) {
		case 3:
			p.hostIP, nums = parts[0], parts[1:]
		case 2, 1:
		default:
			t.Fatalf("%s: %s: port %q: want [[IP:]HOST:]CONTAINER", composeFile, s.name, spec)
		}
		var err error
		if p.targetPort, err = strconv.Atoi(nums[len(nums)-1]); err != nil {
			t.Fatalf("%s: %s: port %q: %v", composeFile, s.name, spec, err)
		}
		if len(nums) == 2 {
			if p.hostPort, err = strconv.Atoi(nums[0]); err != nil {
				t.Fatalf("%s: %s: port %q: %v", composeFile, s.name, spec, err)
			}
		}
		out = append(out, p)
	}
	return out
}

// TestCompose checks the compose file against the Dockerfile, the
// configuration it mounts and the programs' source.
func TestCompose(t *testing.T) {
	c := readCompose(t)
	cfg := loadConfig(t, c.config)
	p := portsOf(t, c.config, cfg, true)
	checkSocketDir(t, c.config, cfg)
	g := readProgram(t, gatewayMain)
	checkFlags(t, composeFile+" gateway command", c.args, g.flags)

	// Published ports: exactly listen and admin; admin only on loopback.
	var targets []int
	for _, pp := range publishedPorts(t, c.gateway) {
		targets = append(targets, pp.targetPort)
		if pp.targetPort == p.admin && pp.hostIP != "127.0.0.1" {
			t.Errorf("%s: admin port %d published on %q: want 127.0.0.1, it serves pprof and internals", composeFile, p.admin, pp.hostIP)
		}
	}
	slices.Sort(targets)
	if want := sortedInts(p.listen, p.admin); !slices.Equal(targets, want) {
		t.Errorf("%s: gateway publishes container ports %v, want %v (listen and [admin] listen of %s)", composeFile, targets, want, c.config)
	}

	// Stop: a signal the gateway drains on, and a grace period past the drain.
	checkHandles(t, composeFile+" gateway", g, str(t, composeFile, field(t, composeFile, c.gateway.raw, "stop_signal")), "stop_signal")
	grace, err := time.ParseDuration(str(t, composeFile, field(t, composeFile, c.gateway.raw, "stop_grace_period")))
	if err != nil {
		t.Fatalf("%s: gateway stop_grace_period: %v", composeFile, err)
	}
	if grace <= cfg.Server.ShutdownTimeout {
		t.Errorf("%s: gateway stop_grace_period %v is not above shutdown_timeout %v of %s: Docker would kill the drain",
			composeFile, grace, cfg.Server.ShutdownTimeout, c.config)
	}

	// Sockets: one named volume at socketDir in the gateway and every
	// worker; each dial endpoint bound by exactly one worker.
	sockets := socketVolume(t, c.gateway)
	w := readProgram(t, workerMain)
	var binds []string
	for _, s := range c.workers {
		if v := socketVolume(t, s); v != sockets {
			t.Errorf("%s: worker %s mounts volume %q at %s, the gateway %q", composeFile, s.name, v, socketDir, sockets)
		}
		checkFlags(t, composeFile+" "+s.name+" command", s.command, w.flags)
		checkHandles(t, composeFile+" "+s.name, w, str(t, composeFile, field(t, composeFile, s.raw, "stop_signal")), "stop_signal")
		b, ok := flagValue(s.command, "bind")
		if !ok {
			t.Errorf("%s: worker %s has no --bind", composeFile, s.name)
		}
		binds = append(binds, b)
	}
	slices.Sort(binds)
	if want := dialEndpoints(cfg); !slices.Equal(binds, want) {
		t.Errorf("%s: workers bind %v; %s dials %v", composeFile, binds, c.config, want)
	}
	if _, ok := c.volumes[sockets]; !ok {
		t.Errorf("%s: volume %q is not declared under volumes", composeFile, sockets)
	}
	if !slices.Contains(anyStrings(c.gateway.raw["depends_on"]), c.workers[0].name) {
		t.Errorf("%s: the gateway does not depend on its workers", composeFile)
	}

	checkPrometheus(t, c, p)
}

// socketVolume is the named volume a service mounts at socketDir.
func socketVolume(t testing.TB, s composeService) string {
	t.Helper()
	for _, m := range volumeMounts(t, s) {
		if m.target == socketDir {
			if m.bind {
				t.Errorf("%s: %s: %s is a host directory, not a named volume", composeFile, s.name, socketDir)
			}
			return m.source
		}
	}
	t.Errorf("%s: %s mounts nothing at %s, where its sockets are", composeFile, s.name, socketDir)
	return ""
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkPrometheus: the compose Prometheus mounts prometheus.yml, which
// scrapes the gateway service at its admin port on a path the admin
// listener serves.
func checkPrometheus(t *testing.T, c composeFacts, p ports) {
	var prom *composeService
	for i, s := range c.others {
		if strings.Contains(s.image, "prometheus") {
			prom = &c.others[i]
		}
	}
	if prom == nil {
		t.Fatalf("%s: no Prometheus service", composeFile)
	}
	mounted := false
	for _, m := range volumeMounts(t, *prom) {
		if m.bind && filepath.ToSlash(filepath.Join(deployDir, m.source)) == prometheusFile {
			mounted = true
			if !slices.Contains(prom.command, "--config.file="+m.target) {
				t.Errorf("%s: prometheus mounts %s at %s but its command %q does not read it", composeFile, prometheusFile, m.target, prom.command)
			}
		}
	}
	if !mounted {
		t.Errorf("%s: prometheus does not mount %s", composeFile, prometheusFile)
	}
	for _, pp := range publishedPorts(t, *prom) {
		if pp.hostPort == p.admin || pp.hostPort == p.listen {
			t.Errorf("%s: prometheus takes host port %d, which the gateway publishes", composeFile, pp.hostPort)
		}
	}

	doc := decodeYAML(t, prometheusFile)[0]
	paths := adminPaths(t)
	want := c.gateway.name + ":" + strconv.Itoa(p.admin)
	found := false
	for _, sc := range list(t, prometheusFile, field(t, prometheusFile, doc, "scrape_configs")) {
		metricsPath := "/metrics" // Prometheus's default
		if mp, ok := mapping(t, prometheusFile, sc)["metrics_path"]; ok {
			metricsPath = str(t, prometheusFile, mp)
		}
		for _, sc2 := range list(t, prometheusFile, field(t, prometheusFile, sc, "static_configs")) {
			for _, target := range stringList(t, prometheusFile, field(t, prometheusFile, sc2, "targets")) {
				if target != want {
					t.Errorf("%s: target %s: want %s, the gateway's service and admin port", prometheusFile, target, want)
					continue
				}
				found = true
				if !paths[metricsPath] {
					t.Errorf("%s: metrics_path %s is not served by the admin listener (%s serves %v)", prometheusFile, metricsPath, adminSource, keys(paths))
				}
			}
		}
	}
	if !found {
		t.Errorf("%s: no scrape target %s", prometheusFile, want)
	}
}
