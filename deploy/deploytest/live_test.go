package deploytest

// The live runs: each topology the deploy files describe, run from this
// tree with the arguments the files give. Only the places a test cannot
// use are moved: the socket directory to a temporary one, the listen and
// admin addresses to loopback port 0 (given with --listen and --admin,
// after the file's own arguments, so they win).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for a process's line or state.
const startTimeout = 15 * time.Second

var built struct {
	once sync.Once
	dir  string
	bins map[string]string // base name -> path
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary returns the program the deploy files run as name (nanogate,
// demo-worker), built as the Makefile builds it.
func binary(t testing.TB, name string) string {
	t.Helper()
	builds := makeBuilds(t) // outside Do: a Fatal inside would mark it done
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "nanogate-deploytest-")
		if built.err != nil {
			return
		}
		built.bins = map[string]string{}
		for out, pkg := range builds {
			bin := filepath.Join(built.dir, filepath.Base(out))
			cmd := exec.Command("go", "build", "-o", bin, pkg)
			cmd.Dir = rootDir
			if b, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
			built.bins[filepath.Base(out)] = bin
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	bin, ok := built.bins[filepath.Base(name)]
	if !ok {
		t.Fatalf("%s: not a program the Makefile builds (%v)", name, keys(built.bins))
	}
	return bin
}

// liveRun is one topology.
type liveRun struct {
	config       string     // the gateway's TOML, as shipped
	gateway      []string   // the gateway's arguments
	workers      [][]string // each worker's program and arguments
	ready, live  string     // the probe paths
	stop, reload string     // signal names
}

func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no processes")
	}
	objs := kubeObjects(t)
	k := readKubePod(t, objs)
	images := dockerImagesByStage(t)

	c := readCompose(t)
	var composeWorkers [][]string
	for _, w := range c.workers {
		composeWorkers = append(composeWorkers, append([]string{images[w.target].binary}, w.command...))
	}
	u := readUnits(t)
	var reload string
	for _, v := range u.gateway.all("Service", "ExecReload") {
		if args := u.gateway.command(t, v); filepath.Base(args[0]) == "kill" {
			reload = strings.TrimPrefix(args[1], "-")
		}
	}
	runs := map[string]liveRun{
		"compose": {
			config:  readFile(t, c.config),
			gateway: c.args,
			workers: composeWorkers,
			ready:   k.readyPath, live: k.livePath,
			stop:   str(t, composeFile, c.gateway.raw["stop_signal"]),
			reload: "SIGHUP", // compose.yaml's comment: docker compose kill -s SIGHUP
		},
		"kubernetes": {
			config:  k.configText,
			gateway: k.gateway.args,
			workers: [][]string{append([]string{images[c.workers[0].target].binary}, k.worker.args...)},
			ready:   k.readyPath, live: k.livePath,
			stop: "SIGTERM", // what the kubelet sends after preStop
			// no reload: nothing sends SIGHUP in a pod (configmap.yaml)
		},
		"systemd": {
			config:  readFile(t, u.config),
			gateway: u.args[1:],
			workers: u.workers,
			ready:   k.readyPath, live: k.livePath,
			stop:   u.gateway.get(t, "Service", "KillSignal"),
			reload: reload,
		},
	}
	for name, r := range runs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r.run(t)
		})
	}
}

func (r liveRun) run(t *testing.T) {
	dir := t.TempDir()
	move := func(s string) string {
		return strings.ReplaceAll(s, "ipc://"+socketDir+"/", "ipc://"+dir+"/")
	}
	cfgText := move(r.config)
	if cfgText == r.config {
		t.Fatalf("the configuration has no socket in %s to move", socketDir)
	}
	cfgFile := filepath.Join(dir, "nanogate.toml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string(nil), r.gateway...)
	replaced := false
	for i := range args {
		if strings.TrimLeft(args[i], "-") == "config" && i+1 < len(args) {
			args[i+1], replaced = cfgFile, true
		}
	}
	if !replaced {
		t.Fatalf("gateway arguments %q: no --config FILE", r.gateway)
	}
	args = append(args, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	gw := startProc(t, "nanogate", binary(t, "nanogate"), args...)
	listen := gw.waitAttr(t, "nanogate listening", "addr")
	admin := gw.waitAttr(t, "admin listening", "addr")

	// No worker yet: not ready, but alive.
	if code, body := httpGet(t, "http://"+admin+r.ready); code != http.StatusServiceUnavailable {
		t.Errorf("readiness %s with no worker: %d %q, want 503", r.ready, code, body)
	}
	if code, body := httpGet(t, "http://"+admin+r.live); code != http.StatusOK {
		t.Errorf("liveness %s with no worker: %d %q, want 200", r.live, code, body)
	}

	for i, w := range r.workers {
		wargs := make([]string, len(w)-1)
		for j, a := range w[1:] {
			wargs[j] = move(a)
		}
		startProc(t, fmt.Sprintf("worker %d", i+1), binary(t, w[0]), wargs...)
	}
	// Every endpoint gets its worker, then the gateway is ready.
	gw.waitCount(t, "worker connected", len(r.workers))
	deadline := time.Now().Add(startTimeout)
	for {
		code, body := httpGet(t, "http://"+admin+r.ready)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness %s with every worker connected: %d %q", r.ready, code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := httpGet(t, "http://"+listen+"/api/hello"); code != http.StatusOK || !strings.Contains(body, "hello from worker") {
		t.Errorf("GET /api/hello through the gateway: %d %q", code, body)
	}

	// Reload, then stop: the signals the files send.
	if r.reload != "" {
		gw.signal(t, r.reload)
		gw.waitAttr(t, "configuration reloaded", "msg")
	}
	gw.signal(t, r.stop)
	cfg := parseConfig(t, "moved", cfgText)
	select {
	case <-gw.done:
	case <-time.After(cfg.Server.ShutdownTimeout + 5*time.Second):
		t.Fatalf("the gateway did not exit within shutdown_timeout %v of %s", cfg.Server.ShutdownTimeout, r.stop)
	}
	if gw.err != nil {
		t.Errorf("the gateway exited on %s: %v, want status 0", r.stop, gw.err)
	}
	gw.waitAttr(t, "shutting down", "signal")
}

// signal sends the named signal.
func (p *proc) signal(t testing.TB, name string) {
	t.Helper()
	sigs := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGHUP": syscall.SIGHUP, "SIGINT": syscall.SIGINT}
	s, ok := sigs[signalName(name)]
	if !ok {
		t.Fatalf("signal %q: unknown to the test", name)
	}
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// proc is a process a test started; it is killed by its PID when the test
// ends, and its output is kept for waiting on lines and for the failure
// report.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	more chan struct{} // closed and replaced when output arrives
	done chan struct{}
	err  error // Wait's result, set before done closes
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	close(p.more)
	p.more = make(chan struct{})
	return len(b), nil
}

func startProc(t testing.TB, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, more: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill() // an error means it has exited already
		<-p.done
		if t.Failed() {
			t.Logf("--- %s %s\n%s", name, strings.Join(args, " "), p.lines())
		}
	})
	return p
}

func (p *proc) lines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until match accepts the complete lines so far, and fails
// the test if the process exits first or the time is up.
func (p *proc) waitFor(t testing.TB, what string, match func(lines []string) bool) {
	t.Helper()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		text, more := p.out.String(), p.more
		p.mu.Unlock()
		if i := strings.LastIndexByte(text, '\n'); i >= 0 && match(strings.Split(text[:i], "\n")) {
			return
		}
		select {
		case <-more:
		case <-p.done:
			if i := strings.LastIndexByte(p.lines(), '\n'); i >= 0 && match(strings.Split(p.lines()[:i], "\n")) {
				return
			}
			t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		case <-timer.C:
			t.Fatalf("%s: no %s within %v", p.name, what, startTimeout)
		}
	}
}

// waitAttr waits for a log line with message msg and returns its
// attribute key.
func (p *proc) waitAttr(t testing.TB, msg, key string) string {
	t.Helper()
	var v string
	p.waitFor(t, fmt.Sprintf("log line %q", msg), func(lines []string) bool {
		for _, l := range lines {
			if attrs, ok := logLine(l); ok && attrs["msg"] == msg {
				v = attrs[key]
				return true
			}
		}
		return false
	})
	if v == "" {
		t.Fatalf("%s: log line %q has no %s", p.name, msg, key)
	}
	return v
}

// waitCount waits for n log lines with message msg.
func (p *proc) waitCount(t testing.TB, msg string, n int) {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("%d log lines %q", n, msg), func(lines []string) bool {
		seen := 0
		for _, l := range lines {
			if attrs, ok := logLine(l); ok && attrs["msg"] == msg {
				seen++
			}
		}
		return seen >= n
	})
}

// logLine reads a line of log/slog's JSON or text handler into its
// attributes, as strings.
func logLine(line string) (map[string]string, bool) {
	out := map[string]string{}
	if strings.HasPrefix(line, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			return nil, false
		}
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
		return out, true
	}
	for rest := line; rest != ""; {
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, false
		}
		if strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				return nil, false
			}
			out[k], _ = strconv.Unquote(q)
			rest = strings.TrimPrefix(v[len(q):], " ")
			continue
		}
		val, next, _ := strings.Cut(v, " ")
		out[k], rest = val, next
	}
	return out, len(out) > 0
}

func TestLogLine(t *testing.T) {
	for _, line := range []string{
		`time=2026-12-01T19:24:23.870Z level=INFO msg="nanogate listening" addr=127.0.0.1:18080 reuse_port=false`,
		`{"time":"2026-12-01T19:24:23.870Z","level":"INFO","msg":"nanogate listening","addr":"127.0.0.1:18080"}`,
	} {
		attrs, ok := logLine(line)
		if !ok || attrs["msg"] != "nanogate listening" || attrs["addr"] != "127.0.0.1:18080" {
			t.Errorf("logLine(%s) = %v, %v", line, attrs, ok)
		}
	}
	if _, ok := logLine("not a log line"); ok {
		t.Error("logLine accepted a line without attributes")
	}
}
