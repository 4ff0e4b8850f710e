package deploytest

import (
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	gatewayUnit = "deploy/nanogate.service"
	workerUnit  = "deploy/nanogate-demo-worker@.service"
)

// installs maps the destination of each `install ... SRC DST` line in a
// unit's header comment to its source: where the unit's binaries and
// configuration come from.
func installs(u unit) map[string]string {
	out := map[string]string{}
	for _, c := range u.comments {
		f := strings.Fields(c)
		if len(f) < 3 || f[0] != "install" {
			continue
		}
		src, dst := f[len(f)-2], f[len(f)-1]
		if strings.HasSuffix(dst, "/") {
			dst += filepath.Base(src)
		}
		out[dst] = src
	}
	return out
}

// makeBuilds maps the Makefile's build outputs (bin/nanogate) to their
// packages.
func makeBuilds(t testing.TB) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`build -o \$\(BIN\)/(\S+) (\./\S+)`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(readFile(t, "Makefile"), -1) {
		out["bin/"+m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatal("Makefile: no `build -o $(BIN)/NAME ./PKG`")
	}
	return out
}

// installedFrom checks that the unit installs its binary from a Makefile
// output built from pkg.
func installedFrom(t testing.TB, u unit, binary, pkg string) {
	t.Helper()
	src, ok := installs(u)[binary]
	if !ok {
		t.Fatalf("%s: runs %s, which its install lines do not install", u.name, binary)
	}
	if got := makeBuilds(t)[src]; got != pkg {
		t.Errorf("%s: installs %s from %s, which the Makefile builds from %q, not %s", u.name, binary, src, got, pkg)
	}
}

// unitFacts is what the live test needs of the systemd units.
type unitFacts struct {
	gateway, worker unit
	args            []string   // the gateway's ExecStart
	config          string     // the shipped TOML installed at --config
	workers         [][]string // one worker ExecStart per instance the comments enable
}

func readUnits(t testing.TB) unitFacts {
	t.Helper()
	f := unitFacts{gateway: parseUnit(t, gatewayUnit), worker: parseUnit(t, workerUnit)}
	f.args = f.gateway.command(t, f.gateway.get(t, "Service", "ExecStart"))
	installedFrom(t, f.gateway, f.args[0], "./cmd/nanogate")
	cfgPath, ok := flagValue(f.args, "config")
	if !ok {
		t.Fatalf("%s: ExecStart %q has no --config", gatewayUnit, f.args)
	}
	src, ok := installs(f.gateway)[cfgPath]
	if !ok {
		t.Fatalf("%s: its install lines do not install %s", gatewayUnit, cfgPath)
	}
	f.config = src
	cfg := loadConfig(t, src)

	wargs := f.worker.command(t, f.worker.get(t, "Service", "ExecStart"))
	installedFrom(t, f.worker, wargs[0], "./backend-sdk/go/cmd/demo-worker")
	bind, _ := flagValue(wargs, "bind")
	if !strings.Contains(bind, "%i") {
		t.Fatalf("%s: --bind %q: want the instance name %%i in it, one socket per instance", workerUnit, bind)
	}
	// The instances the comment enables must bind exactly what the
	// gateway's configuration dials.
	var enabled, binds []string
	for _, c := range f.worker.comments {
		if rest, ok := strings.CutPrefix(c, "systemctl enable --now "); ok {
			for _, name := range strings.Fields(rest) {
				if inst, ok := strings.CutPrefix(name, "nanogate-demo-worker@"); ok {
					enabled = append(enabled, inst)
				}
			}
		}
	}
	for _, inst := range enabled {
		args := slices.Clone(wargs)
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "%i", inst)
		}
		f.workers = append(f.workers, args)
		b, _ := flagValue(args, "bind")
		binds = append(binds, b)
	}
	slices.Sort(binds)
	if want := dialEndpoints(cfg); !slices.Equal(binds, want) {
		t.Errorf("%s: the instances its comment enables (%v) bind %v; %s dials %v", workerUnit, enabled, binds, src, want)
	}
	return f
}

// TestSystemd checks the units against the configuration they install,
// the Makefile's binaries and the programs' source.
func TestSystemd(t *testing.T) {
	f := readUnits(t)
	u := f.gateway
	cfg := loadConfig(t, f.config)
	p := portsOf(t, f.config, cfg, false)
	g := readProgram(t, gatewayMain)
	checkFlags(t, gatewayUnit+" ExecStart", f.args, g.flags)
	cfgPath, _ := flagValue(f.args, "config")

	if typ := u.get(t, "Service", "Type"); typ != "exec" && typ != "simple" {
		t.Errorf("%s: Type=%s: the gateway runs in the foreground and does not notify; want exec or simple", gatewayUnit, typ)
	}
	// `nanogate check CONFIG` before a start or a reload.
	for _, key := range []string{"ExecStartPre", "ExecReload"} {
		for _, v := range u.all("Service", key) {
			args := u.command(t, v)
			if args[0] != f.args[0] {
				continue
			}
			if len(args) != 3 || !g.subcommands[args[1]] || args[2] != cfgPath {
				t.Errorf("%s: %s=%s: want %s SUBCOMMAND %s with a subcommand of %s (%v)", gatewayUnit, key, v, f.args[0], cfgPath, gatewayMain, keys(g.subcommands))
			}
		}
	}

	// Stop and reload signals, and the time the drain gets.
	stop := u.get(t, "Service", "KillSignal")
	checkHandles(t, gatewayUnit+" KillSignal", g, stop, "stop")
	reloaded := ""
	for _, v := range u.all("Service", "ExecReload") {
		args := u.command(t, v)
		if filepath.Base(args[0]) == "kill" {
			if len(args) != 3 || args[2] != "$MAINPID" || !strings.HasPrefix(args[1], "-") {
				t.Fatalf("%s: ExecReload=%s: want kill -SIGNAL $MAINPID", gatewayUnit, v)
			}
			reloaded = strings.TrimPrefix(args[1], "-")
		}
	}
	if reloaded == "" {
		t.Fatalf("%s: no ExecReload= sends a signal", gatewayUnit)
	}
	checkHandles(t, gatewayUnit+" ExecReload", g, reloaded, "reload")
	if signalName(reloaded) == signalName(stop) {
		t.Errorf("%s: reload and stop both send %s", gatewayUnit, stop)
	}
	timeout, err := systemdDuration(u.get(t, "Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("%s: TimeoutStopSec: %v", gatewayUnit, err)
	}
	if timeout <= cfg.Server.ShutdownTimeout {
		t.Errorf("%s: TimeoutStopSec %v is not above shutdown_timeout %v of %s: systemd would kill the drain", gatewayUnit, timeout, cfg.Server.ShutdownTimeout, f.config)
	}
	exitConfig, ok := g.consts["exitConfig"]
	if !ok {
		t.Fatalf("%s: no const exitConfig", gatewayMain)
	}
	if !slices.Contains(strings.Fields(u.get(t, "Service", "RestartPreventExitStatus")), strconv.Itoa(exitConfig)) {
		t.Errorf("%s: RestartPreventExitStatus does not name %d, the gateway's exit status for a bad configuration: it would restart in a loop", gatewayUnit, exitConfig)
	}

	// The sockets' directory, and who may use it.
	if dir := "/run/" + u.get(t, "Service", "RuntimeDirectory"); dir != socketDir {
		t.Errorf("%s: RuntimeDirectory is %s, the configuration's sockets are in %s", gatewayUnit, dir, socketDir)
	}
	checkSocketDir(t, f.config, cfg)
	checkUmask(t, u)
	mode, err := strconv.ParseUint(u.get(t, "Service", "RuntimeDirectoryMode"), 8, 32)
	if err != nil || mode&0o2070 != 0o2070 {
		t.Errorf("%s: RuntimeDirectoryMode=%s: want group rwx and setgid (02770), so that workers of other users bind there and the gateway connects", gatewayUnit, u.get(t, "Service", "RuntimeDirectoryMode"))
	}

	// Hardening.
	user := u.get(t, "Service", "User")
	if user == "root" || user == "0" {
		t.Errorf("%s: User=%s", gatewayUnit, user)
	}
	for k, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"} {
		if got := u.get(t, "Service", k); got != want {
			t.Errorf("%s: %s=%s, want %s", gatewayUnit, k, got, want)
		}
	}
	// The admin listener stays on the host; a port below 1024 needs a
	// capability the unit does not grant.
	if host, _, _ := net.SplitHostPort(cfg.Admin.Listen); !net.ParseIP(host).IsLoopback() {
		t.Errorf("%s: [admin] listen %s is not loopback: it serves pprof and internals", f.config, cfg.Admin.Listen)
	}
	if p.listen < 1024 && !strings.Contains(strings.Join(u.all("Service", "AmbientCapabilities"), " "), "CAP_NET_BIND_SERVICE") {
		t.Errorf("%s: port %d needs AmbientCapabilities=CAP_NET_BIND_SERVICE", gatewayUnit, p.listen)
	}
	// No socket activation: the gateway binds its own listener.
	for _, s := range []string{"Unit", "Service"} {
		if v := u.all(s, "Sockets"); len(v) > 0 {
			t.Errorf("%s: Sockets=%v: the gateway does not take sockets from systemd", gatewayUnit, v)
		}
	}
	if m, _ := filepath.Glob(path(deployDir + "/*.socket")); len(m) > 0 {
		t.Errorf("%v: the gateway does not support socket activation", m)
	}

	checkWorkerUnit(t, f, user, u.get(t, "Service", "Group"))
}

func checkUmask(t *testing.T, u unit) {
	m, err := strconv.ParseUint(u.get(t, "Service", "UMask"), 8, 32)
	if err != nil || m&0o060 != 0 {
		t.Errorf("%s: UMask=%s: want the group's read and write bits left on (0007): the other side connects to the sockets by group", u.name, u.get(t, "Service", "UMask"))
	}
}

// checkWorkerUnit: the worker may create its socket in the gateway's
// directory and the gateway may connect to it.
func checkWorkerUnit(t *testing.T, f unitFacts, gwUser, gwGroup string) {
	w := f.worker
	wp := readProgram(t, workerMain)
	for _, args := range f.workers {
		checkFlags(t, workerUnit+" ExecStart", args, wp.flags)
	}
	checkHandles(t, workerUnit+" KillSignal", wp, w.get(t, "Service", "KillSignal"), "stop")
	checkUmask(t, w)
	sameUser := !slices.Contains(w.all("Service", "DynamicUser"), "yes") && slices.Contains(w.all("Service", "User"), gwUser)
	if !sameUser && !slices.Contains(strings.Fields(strings.Join(w.all("Service", "SupplementaryGroups"), " ")), gwGroup) {
		t.Errorf("%s: not in group %s: it could neither bind in %s nor reach the gateway's inbound socket", workerUnit, gwGroup, socketDir)
	}
	if !slices.Contains(strings.Fields(strings.Join(w.all("Service", "ReadWritePaths"), " ")), socketDir) {
		t.Errorf("%s: %s is not in ReadWritePaths: ProtectSystem=strict keeps it read-only", workerUnit, socketDir)
	}
	if !slices.Contains(strings.Fields(strings.Join(w.all("Unit", "After"), " ")), filepath.Base(gatewayUnit)) {
		t.Errorf("%s: not After=%s, whose RuntimeDirectory it binds in", workerUnit, filepath.Base(gatewayUnit))
	}
}
