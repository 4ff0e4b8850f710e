package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/config"
)

const kubeDir = "deploy/kubernetes"

// kubeObjects reads every manifest in deploy/kubernetes by kind; each kind
// may appear once. The kustomization must list exactly the other files.
func kubeObjects(t testing.TB) map[string]map[string]any {
	t.Helper()
	entries, err := os.ReadDir(path(kubeDir))
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	var files []string
	var resources []string
	for _, e := range entries {
		rel := kubeDir + "/" + e.Name()
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			t.Fatalf("%s: not a YAML manifest; the test reads only those", rel)
		}
		for _, doc := range decodeYAML(t, rel) {
			kind := str(t, rel, field(t, rel, doc, "kind"))
			field(t, rel, doc, "apiVersion")
			if kind == "Kustomization" {
				resources = stringList(t, rel, field(t, rel, doc, "resources"))
				continue
			}
			files = append(files, e.Name())
			if _, dup := objs[kind]; dup {
				t.Fatalf("%s: a second %s; the test expects one of each kind", rel, kind)
			}
			objs[kind] = doc
		}
	}
	slices.Sort(files)
	slices.Sort(resources)
	if !slices.Equal(files, resources) {
		t.Errorf("%s/kustomization.yaml lists %v; the directory has %v", kubeDir, resources, files)
	}
	return objs
}

// kubeContainer is a container of the pod template.
type kubeContainer struct {
	raw     map[string]any
	name    string
	image   string
	args    []string
	sidecar bool // an init container with restartPolicy Always
	ports   map[string]int
}

func podContainers(t testing.TB, where string, spec any) []kubeContainer {
	t.Helper()
	var out []kubeContainer
	for _, group := range []string{"initContainers", "containers"} {
		raw, ok := mapping(t, where, spec)[group]
		if !ok {
			continue
		}
		for _, c := range list(t, where, raw) {
			m := mapping(t, where, c)
			k := kubeContainer{raw: m, ports: map[string]int{}}
			k.name = str(t, where, field(t, where, m, "name"))
			k.image = str(t, where, field(t, where, m, "image"))
			if a, ok := m["args"]; ok {
				k.args = stringList(t, where, a)
			}
			if _, ok := m["command"]; ok {
				t.Errorf("%s: container %s sets command: it would replace the image's ENTRYPOINT", where, k.name)
			}
			if group == "initContainers" {
				rp, _ := m["restartPolicy"].(string)
				if rp != "Always" {
					t.Errorf("%s: init container %s: want restartPolicy Always (a native sidecar); an init container that exits blocks the gateway", where, k.name)
				}
				k.sidecar = true
			}
			if ps, ok := m["ports"]; ok {
				for _, p := range list(t, where, ps) {
					name := str(t, where, field(t, where, p, "name"))
					k.ports[name] = integer(t, where, field(t, where, p, "containerPort"))
				}
			}
			out = append(out, k)
		}
	}
	return out
}

// resolvePort turns a probe's or Service's port (a number or a container
// port's name) into a number.
func resolvePort(t testing.TB, where string, c kubeContainer, v any) int {
	t.Helper()
	switch v := v.(type) {
	case int:
		return v
	case string:
		n, ok := c.ports[v]
		if !ok {
			t.Fatalf("%s: port %q is not a named port of container %s (%v)", where, v, c.name, c.ports)
		}
		return n
	}
	t.Fatalf("%s: port %v: want a number or a name", where, v)
	return 0
}

// TestKubernetes checks the manifests against each other, the ConfigMap's
// configuration, the images and the programs' source.
func TestKubernetes(t *testing.T) {
	objs := kubeObjects(t)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if objs[kind] == nil {
			t.Fatalf("%s: no %s", kubeDir, kind)
		}
	}
	const dep = kubeDir + " Deployment"
	d := objs["Deployment"]
	tmpl := field(t, dep, d, "spec", "template")
	podLabels := labels(t, dep, field(t, dep, tmpl, "metadata", "labels"))
	checkSelects(t, dep+" spec.selector", field(t, dep, d, "spec", "selector", "matchLabels"), podLabels)
	replicas := integer(t, dep, field(t, dep, d, "spec", "replicas"))
	spec := field(t, dep, tmpl, "spec")

	k := readKubePod(t, objs)
	gw, worker, cfg, p := k.gateway, k.worker, k.cfg, k.ports

	// Ports: the container's named ports are listen and admin.
	if gw.ports["http"] != p.listen || gw.ports["admin"] != p.admin || len(gw.ports) != 2 {
		t.Errorf("%s: gateway ports %v, want http %d and admin %d (listen and [admin] listen of the ConfigMap)", dep, gw.ports, p.listen, p.admin)
	}
	// Probes on the admin port, at paths the admin listener serves.
	served := adminPaths(t)
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		where := dep + " " + probe
		get := field(t, where, gw.raw, probe, "httpGet")
		if port := resolvePort(t, where, gw, field(t, where, get, "port")); port != p.admin {
			t.Errorf("%s: port %d, want the admin port %d", where, port, p.admin)
		}
		if pth := str(t, where, field(t, where, get, "path")); !served[pth] {
			t.Errorf("%s: path %s is not served by the admin listener (%s serves %v)", where, pth, adminSource, keys(served))
		}
	}
	if k.readyPath == k.livePath {
		t.Errorf("%s: readiness and liveness probe the same path %s: a missing worker would restart the gateway", dep, k.livePath)
	}

	// Stop: preStop sleeps (the image has no shell to run `sleep`), and the
	// grace period covers the sleep and the drain.
	pre := mapping(t, dep, field(t, dep, gw.raw, "lifecycle", "preStop"))
	sleep := 0
	switch {
	case pre["sleep"] != nil:
		sleep = integer(t, dep, field(t, dep, pre, "sleep", "seconds"))
	case pre["exec"] != nil:
		t.Errorf("%s: preStop exec: the distroless image has no shell or sleep; use the sleep action", dep)
	default:
		t.Errorf("%s: preStop: want a sleep, so that endpoints are removed before the drain", dep)
	}
	grace := integer(t, dep, field(t, dep, spec, "terminationGracePeriodSeconds"))
	drain := sleep + int(cfg.Server.ShutdownTimeout.Seconds()+0.999)
	if grace <= drain {
		t.Errorf("%s: terminationGracePeriodSeconds %d is not above preStop %ds + shutdown_timeout %v: the kubelet would kill the drain",
			dep, grace, sleep, cfg.Server.ShutdownTimeout)
	}

	// The worker: a native sidecar, so that it outlives the gateway's drain.
	if !worker.sidecar {
		t.Errorf("%s: the worker is an ordinary container: it would get SIGTERM with the gateway, before the drain ends", dep)
	}
	if len(gw.ports) == 0 || gw.sidecar {
		t.Errorf("%s: the gateway must be an ordinary container with ports", dep)
	}

	// Security: the images' user, non-root, read-only.
	images := dockerImagesByStage(t)
	uid := integer(t, dep, field(t, dep, spec, "securityContext", "runAsUser"))
	for _, img := range images {
		if img.user != uid {
			t.Errorf("%s: runAsUser %d, the image %s runs as %d", dep, uid, img.stage.name, img.user)
		}
	}
	if nonRoot, _ := field(t, dep, spec, "securityContext", "runAsNonRoot").(bool); !nonRoot {
		t.Errorf("%s: want runAsNonRoot: true", dep)
	}
	for _, c := range []kubeContainer{gw, worker} {
		where := dep + " container " + c.name
		if ro, _ := field(t, where, c.raw, "securityContext", "readOnlyRootFilesystem").(bool); !ro {
			t.Errorf("%s: want readOnlyRootFilesystem: true (the programs write only sockets)", where)
		}
		checkResources(t, where, c)
	}

	checkService(t, objs["Service"], gw, podLabels, p)
	checkPDB(t, objs["PodDisruptionBudget"], podLabels, replicas)
	checkScrapeAnnotations(t, dep, field(t, dep, tmpl, "metadata"), p, served)
}

// kubePod is the Deployment's pod read together with its ConfigMap.
type kubePod struct {
	gateway, worker     kubeContainer
	cfg                 *config.Config
	configText          string
	ports               ports
	readyPath, livePath string
}

// readKubePod finds the gateway and worker containers (by the images
// compose builds), loads the ConfigMap's TOML mounted at the gateway's
// --config, and checks that the worker binds the endpoint the gateway
// dials in the volume both mount.
func readKubePod(t testing.TB, objs map[string]map[string]any) kubePod {
	t.Helper()
	const dep = kubeDir + " Deployment"
	spec := field(t, dep, objs["Deployment"], "spec", "template", "spec")
	compose := readCompose(t)
	var k kubePod
	var gwFound, workerFound bool
	for _, c := range podContainers(t, dep, spec) {
		switch c.image {
		case compose.gateway.image:
			k.gateway, gwFound = c, true
		case compose.workers[0].image:
			k.worker, workerFound = c, true
		default:
			t.Fatalf("%s: container %s runs %s, not an image compose builds", dep, c.name, c.image)
		}
	}
	if !gwFound || !workerFound {
		t.Fatalf("%s: want a gateway (%s) and a worker (%s) container", dep, compose.gateway.image, compose.workers[0].image)
	}
	checkFlags(t, dep+" gateway args", k.gateway.args, readProgram(t, gatewayMain).flags)
	checkFlags(t, dep+" worker args", k.worker.args, readProgram(t, workerMain).flags)

	// The configuration: --config is a key of the ConfigMap mounted there.
	cfgPath, ok := flagValue(k.gateway.args, "config")
	if !ok {
		t.Fatalf("%s: gateway args %q have no --config", dep, k.gateway.args)
	}
	cm := objs["ConfigMap"]
	cmName := str(t, kubeDir, field(t, kubeDir, cm, "metadata", "name"))
	volumes := map[string]map[string]any{}
	for _, v := range list(t, dep, field(t, dep, spec, "volumes")) {
		m := mapping(t, dep, v)
		volumes[str(t, dep, m["name"])] = m
	}
	mounts := func(c kubeContainer) map[string]string { // mountPath -> volume
		out := map[string]string{}
		if vm, ok := c.raw["volumeMounts"]; ok {
			for _, m := range list(t, dep, vm) {
				out[str(t, dep, field(t, dep, m, "mountPath"))] = str(t, dep, field(t, dep, m, "name"))
			}
		}
		return out
	}
	gwMounts := mounts(k.gateway)
	vol, ok := gwMounts[filepath.Dir(cfgPath)]
	if !ok {
		t.Fatalf("%s: nothing mounted at %s for --config %s", dep, filepath.Dir(cfgPath), cfgPath)
	}
	if ref, _ := volumes[vol]["configMap"].(map[string]any); ref == nil || ref["name"] != cmName {
		t.Fatalf("%s: volume %s at %s is not ConfigMap %s", dep, vol, filepath.Dir(cfgPath), cmName)
	}
	key := filepath.Base(cfgPath)
	data := mapping(t, kubeDir+" ConfigMap", field(t, kubeDir+" ConfigMap", cm, "data"))
	k.configText = str(t, kubeDir, data[key])
	k.cfg = parseConfig(t, kubeDir+" ConfigMap "+key, k.configText)
	k.ports = portsOf(t, "ConfigMap "+key, k.cfg, true)
	checkSocketDir(t, "ConfigMap "+key, k.cfg)

	// Sockets: one emptyDir at socketDir in both; the worker binds what
	// the gateway dials.
	sv, ok1 := gwMounts[socketDir]
	wv, ok2 := mounts(k.worker)[socketDir]
	if !ok1 || !ok2 || sv != wv {
		t.Errorf("%s: gateway and worker must mount one volume at %s (gateway %q, worker %q)", dep, socketDir, sv, wv)
	} else if volumes[sv]["emptyDir"] == nil {
		t.Errorf("%s: volume %s at %s: want an emptyDir, private to the pod", dep, sv, socketDir)
	}
	bind, _ := flagValue(k.worker.args, "bind")
	if want := dialEndpoints(k.cfg); !slices.Equal([]string{bind}, want) {
		t.Errorf("%s: the worker binds %q; the ConfigMap dials %v", dep, bind, want)
	}
	k.readyPath = str(t, dep, field(t, dep, k.gateway.raw, "readinessProbe", "httpGet", "path"))
	k.livePath = str(t, dep, field(t, dep, k.gateway.raw, "livenessProbe", "httpGet", "path"))
	return k
}

func labels(t testing.TB, where string, v any) map[string]string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		t.Fatalf("%s: labels %v: want a non-empty mapping", where, v)
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = str(t, where, v)
	}
	return out
}

// checkSelects fails unless the selector picks the pods: each of its
// labels is on the pod template with the same value.
func checkSelects(t testing.TB, where string, selector any, pod map[string]string) {
	t.Helper()
	for k, v := range labels(t, where, selector) {
		if pod[k] != v {
			t.Errorf("%s: selects %s=%s, which the pods do not carry (%v)", where, k, v, pod)
		}
	}
}

func checkService(t *testing.T, svc map[string]any, gw kubeContainer, pod map[string]string, p ports) {
	const where = kubeDir + " Service"
	checkSelects(t, where+" selector", field(t, where, svc, "spec", "selector"), pod)
	var targets []int
	for _, sp := range list(t, where, field(t, where, svc, "spec", "ports")) {
		targets = append(targets, resolvePort(t, where, gw, field(t, where, sp, "targetPort")))
	}
	if !slices.Equal(targets, []int{p.listen}) {
		t.Errorf("%s: targets ports %v, want only the listen port %d (the admin port stays off the Service)", where, targets, p.listen)
	}
}

func checkPDB(t *testing.T, pdb map[string]any, pod map[string]string, replicas int) {
	const where = kubeDir + " PodDisruptionBudget"
	checkSelects(t, where+" selector", field(t, where, pdb, "spec", "selector", "matchLabels"), pod)
	spec := mapping(t, where, field(t, where, pdb, "spec"))
	switch {
	case spec["maxUnavailable"] != nil:
		if n := integer(t, where, spec["maxUnavailable"]); n < 1 || n >= replicas {
			t.Errorf("%s: maxUnavailable %d with %d replicas: want 1 to %d (0 blocks every drain; %d is no budget)", where, n, replicas, replicas-1, replicas)
		}
	case spec["minAvailable"] != nil:
		if n := integer(t, where, spec["minAvailable"]); n < 1 || n >= replicas {
			t.Errorf("%s: minAvailable %d with %d replicas: want 1 to %d", where, n, replicas, replicas-1)
		}
	default:
		t.Errorf("%s: neither maxUnavailable nor minAvailable", where)
	}
}

// checkResources: requests for scheduling, a memory limit, and GOMEMLIMIT,
// if set, below it.
func checkResources(t *testing.T, where string, c kubeContainer) {
	for _, r := range []string{"requests.cpu", "requests.memory", "limits.memory"} {
		a, b, _ := strings.Cut(r, ".")
		field(t, where, c.raw, "resources", a, b)
	}
	limit := quantity(t, where, str(t, where, field(t, where, c.raw, "resources", "limits", "memory")))
	req := quantity(t, where, str(t, where, field(t, where, c.raw, "resources", "requests", "memory")))
	if req > limit {
		t.Errorf("%s: memory request %d above the limit %d", where, req, limit)
	}
	env, _ := c.raw["env"].([]any)
	for _, e := range env {
		m := mapping(t, where, e)
		if m["name"] == "GOMEMLIMIT" {
			if v := quantity(t, where, str(t, where, m["value"])); v >= limit {
				t.Errorf("%s: GOMEMLIMIT %d bytes is not below limits.memory %d: the OOM killer comes before the GC", where, v, limit)
			}
		}
	}
}

// quantity reads a memory size as Kubernetes (512Mi, 1Gi) or Go's
// GOMEMLIMIT (400MiB) write it, in bytes.
func quantity(t testing.TB, where, s string) int64 {
	t.Helper()
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"B", 1}, {"", 1}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err == nil {
				return n * u.mult
			}
		}
	}
	t.Fatalf("%s: memory %q: want an integer with Ki, Mi, Gi (or KiB, MiB, GiB)", where, s)
	return 0
}

// checkScrapeAnnotations: prometheus.io annotations, if present, name the
// admin port and a path it serves.
func checkScrapeAnnotations(t *testing.T, where string, meta any, p ports, served map[string]bool) {
	ann, _ := mapping(t, where, meta)["annotations"].(map[string]any)
	if port, ok := ann["prometheus.io/port"]; ok && port != strconv.Itoa(p.admin) {
		t.Errorf("%s: prometheus.io/port %v, want the admin port %d", where, port, p.admin)
	}
	if pth, ok := ann["prometheus.io/path"].(string); ok && !served[pth] {
		t.Errorf("%s: prometheus.io/path %s is not served by the admin listener", where, pth)
	}
}
