// Command harness benchmarks nanogate against direct servers and other
// proxies on one machine, with wrk as the load generator. See
// bench/README.md for the contenders, the flags and how to read the tables.
//
//	go run ./bench/harness --scenario all --conns 64,256 --duration 10s --rounds 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == holdCmd {
		os.Exit(holdMain(os.Args[2:]))
	}
	os.Exit(run())
}

// run returns the exit status; deferred cleanup (stop every process,
// remove the temp dir) runs before main exits, on errors and on Ctrl-C.
func run() int {
	var (
		connsF   = flag.String("conns", "64,256", "comma-separated `list` of wrk connection counts")
		duration = flag.Duration("duration", 10*time.Second, "length of each measured wrk run")
		warmup   = flag.Duration("warmup", 2*time.Second, "wrk warm-up per contender after start (0: none)")
		rounds   = flag.Int("rounds", 3, "rounds; each round runs every contender once per conns value")
		onlyF    = flag.String("only", "", "comma-separated contender `names` of any scenario (--list); each scenario runs those it has, with its reference, or all of its own when none is named")
		scenF    = flag.String("scenario", "hello", "comma-separated `list` of hello, big, echo, idle, ws, stream, idle-ws, sdk; or all")
		outF     = flag.String("out", "bench/results", "results `dir` (relative paths: from the repo root)")
		idleF    = flag.String("idle", "10000,50000,100000", "comma-separated idle connection `counts`")
		idleLoad = flag.Duration("idle-load", 10*time.Second, "length of the load run beside the idle connections")
		idleWSF  = flag.String("idle-ws", "10000", "comma-separated idle WebSocket connection `counts` (idle-ws)")
		uploadF  = flag.Int("upload-mib", payload.UploadSize>>20, "size of the stream scenario's upload, `MiB`")
		micro    = flag.Bool("micro", false, "also run the Go micro-benchmarks of session, frontend, bridge and the worker SDK")
		list     = flag.Bool("list", false, "list the contenders and exit")
		baseline = flag.String("baseline", "", "git `revision`: also run nanogate-ipc-1w with the gateway and hello worker built from it (hello, big, echo), to compare with the work tree in the same run")
		wenv     = flag.String("worker-env", "", "space-separated `KEY=VALUE`s added to each Go SDK worker's environment, e.g. \"GOGC=400 GOMAXPROCS=1\" (bench/README.md); none by default")
	)
	flag.Parse()
	repo, err := findRepo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 2
	}
	baseRev := ""
	if *baseline != "" {
		out, err := exec.Command("git", "-C", repo, "rev-parse", "--short=7", "--verify", *baseline+"^{commit}").Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "harness: --baseline %q: not a commit of the repository\n", *baseline)
			return 2
		}
		baseRev = strings.TrimSpace(string(out))
		addBaseline(baseRev)
	}
	if *list {
		for _, f := range families {
			for i, c := range f.contenders {
				ref := ""
				if i == 0 && f.scenarios[0] != "idle-ws" {
					ref = " (reference of the ratio)"
				}
				fmt.Printf("%-18s %s%s\n", c.name, strings.Join(scenariosOf(c.name), " "), ref)
			}
		}
		return 0
	}
	conns, err1 := parseInts(*connsF)
	idle, err2 := parseInts(*idleF)
	scens, err3 := parseScenarios(*scenF)
	only, err4 := parseOnly(*onlyF)
	idleWS, err5 := parseInts(*idleWSF)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 2
	}
	if baseRev != "" && only["nanogate-ipc-1w"] {
		only[baselineContender(baseRev).name] = true // the baseline runs beside what it is the baseline of
	}
	if *rounds < 1 || *duration < time.Second || *uploadF < 1 {
		fmt.Fprintln(os.Stderr, "harness: --rounds must be >= 1, --duration >= 1s (wrk's unit) and --upload-mib >= 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := *outF
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo, out)
	}
	fdLimit, err := setup(max(slices.Max(idle), slices.Max(idleWS)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	root, err := os.MkdirTemp("", "nanogate-bench-")
	if err == nil {
		err = os.Chmod(root, 0o755) // proxies' children run as www-data
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	defer os.RemoveAll(root)
	defer stopAll() // runs first: processes go before their temp dir

	start := time.Now()
	e := &env{repo: repo, root: root, modNanoSO: os.Getenv("MOD_NANO_SO"), fdLimit: fdLimit,
		workerEnv: strings.Fields(*wenv), baseline: baseRev}
	if e.echoLua, err = writeEchoLua(root); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	source := sourceState(repo)
	logf("building contenders (go build, cc) from %s in %s", source, root)
	e.buildAll(neededBinaries(scens, only))
	for name, err := range e.buildErr {
		logf("build %s FAILED: %v", name, err)
	}
	lo := loadOpts{conns: conns, duration: *duration, warmup: *warmup, rounds: *rounds, only: only}
	idleO := idleOpts{name: "idle", counts: idle, load: *idleLoad, warmup: *warmup, only: only, fdLimit: fdLimit}
	idleWSO := idleO
	idleWSO.name, idleWSO.counts, idleWSO.split = "idle-ws", idleWS, true
	so := streamOpts{rounds: *rounds, warmup: *warmup > 0, upload: int64(*uploadF) << 20, only: only}
	logf("estimated wall time: %v", estimate(scens, lo, idleO, idleWSO, so).Round(time.Second))
	for _, name := range scens {
		if ctx.Err() != nil {
			break
		}
		r := report{Scenario: name, Started: time.Now(), Command: command(), Source: source, Machine: machineInfo()}
		var md string
		var svg []byte
		switch name {
		case "idle", "idle-ws":
			o := idleO
			if name == "idle-ws" {
				o = idleWSO
			}
			r.Idle = runIdle(ctx, e, o)
			md, svg = idleMarkdown(r, o), idleChart(r, o.scenario(), o.counts).svg()
		case "stream":
			r.Stream = runStream(ctx, e, so)
			r.Stream.Summary = summarizeStream(r.Stream.Contenders)
			md, svg = streamMarkdown(r, so), streamChart(r).svg()
		default:
			sc := scenarios[name]
			r.Contenders = runLoad(ctx, e, sc, lo)
			for _, cr := range r.Contenders {
				r.Summary = append(r.Summary, summarize(cr, conns)...)
			}
			md, svg = loadMarkdown(r, sc, lo), loadChart(r, sc, conns).svg()
			if name == "sdk" {
				md += sdkTable(r, conns) // sdk.go
			}
		}
		r.WallSeconds = time.Since(r.Started).Seconds()
		if ctx.Err() != nil {
			logf("interrupted: %s results not written", name)
			break
		}
		fmt.Println(md)
		files, err := writeFiles(out, r, md, svg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			return 1
		}
		logf("wrote %s", strings.Join(files, ", "))
	}
	if *micro && ctx.Err() == nil {
		if err := runMicro(ctx, repo, out, start); err != nil {
			logf("micro-benchmarks FAILED: %v", err)
		}
	}
	if ctx.Err() != nil {
		logf("interrupted after %v; every process stopped", time.Since(start).Round(time.Second))
		return 130
	}
	logf("total wall time %v", time.Since(start).Round(time.Second))
	return 0
}

// setup raises the open-file limit (children inherit it) and makes the
// harness a child subreaper, so that it can reap what a contender's leader
// leaves behind. It returns the open-file limit in force.
func setup(maxIdle int) (int, error) {
	limit := uint64(1 << 20)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			limit = n
		}
	}
	rl := syscall.Rlimit{Cur: limit, Max: limit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		// Raising the hard limit needs CAP_SYS_RESOURCE (some containers
		// drop it even for root): go up to the hard limit instead.
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		logf("setrlimit(NOFILE, %d): %v; open-file limit is %d (hard limit)", limit, err, rl.Cur)
	}
	if need := uint64(maxIdle + idleFDMargin); rl.Cur < need {
		logf("open-file limit %d is below the %d the largest idle count needs: idle connections are held by several client processes, and served by several nanogate processes (reuse_port) or nginx workers", rl.Cur, need)
	}
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return 0, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	return int(min(rl.Cur, 1<<30)), nil
}

// command is the command line as a user would type it, with the
// environment that changes what runs.
func command() string {
	argv := append([]string{"go run ./bench/harness"}, os.Args[1:]...)
	if so := os.Getenv("MOD_NANO_SO"); so != "" {
		argv = append([]string{"MOD_NANO_SO=" + so}, argv...)
	}
	return strings.Join(argv, " ")
}

// neededBinaries lists the binaries of the contenders the scenarios run.
func neededBinaries(scens []string, only map[string]bool) map[string]bool {
	need := map[string]bool{}
	for _, s := range scens {
		for _, c := range scenarioContenders(s, only) {
			if c.helloOnly && s != "hello" {
				continue
			}
			for _, b := range c.needs {
				need[b] = true
			}
		}
	}
	return need
}

// scenariosOf lists the scenarios that may run contender name.
func scenariosOf(name string) []string {
	var out []string
	for _, f := range families {
		for _, c := range f.contenders {
			if c.name != name {
				continue
			}
			for _, s := range f.scenarios {
				if (s == "idle" && !slices.Contains(idleContenders, name)) ||
					(s == "idle-ws" && !slices.Contains(idleWSContenders, name)) ||
					(c.helloOnly && s != "hello") {
					continue
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// estimate is the wall time the measured runs alone take, plus a guess for
// starts and warm-ups.
func estimate(scens []string, lo loadOpts, io, iws idleOpts, so streamOpts) time.Duration {
	var d time.Duration
	for _, s := range scens {
		n := 0
		for _, c := range scenarioContenders(s, lo.only) {
			if !c.helloOnly || s == "hello" {
				n++
			}
		}
		switch s {
		case "idle", "idle-ws":
			o := io
			if s == "idle-ws" {
				o = iws
			}
			for _, cnt := range o.counts {
				d += time.Duration(n) * (o.load + o.warmup + 6*time.Second + time.Duration(cnt/10000)*time.Second)
			}
		case "stream":
			// About 1 s per GiB moved directly, 3 through the gateway,
			// on 2 cores; plus starts and warm-ups.
			gib := float64(so.upload+downloadReps*payload.StreamSize) / (1 << 30)
			d += time.Duration(n) * 4 * time.Second
			d += time.Duration(float64(n*so.rounds) * 2 * gib * float64(time.Second))
		default:
			d += time.Duration(n) * (lo.warmup + 2*time.Second)
			d += time.Duration(n*lo.rounds*len(lo.conns)) * (lo.duration + 200*time.Millisecond)
		}
	}
	return d
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// allScenarios is what --scenario all runs, in this order.
var allScenarios = []string{"hello", "big", "echo", "idle", "ws", "stream", "idle-ws", "sdk"}

func parseScenarios(s string) ([]string, error) {
	if s == "all" {
		return allScenarios, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allScenarios, f) {
			return nil, fmt.Errorf("--scenario %q: want a comma-separated list of %s; or all", s, strings.Join(allScenarios, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// parseOnly validates the names; scenarioContenders adds each scenario's
// reference of the ratio column.
func parseOnly(s string) (map[string]bool, error) {
	if s == "" {
		return nil, nil
	}
	only := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if _, ok := findContender(name); !ok {
			return nil, fmt.Errorf("--only: unknown contender %q (see --list)", name)
		}
		only[name] = true
	}
	logf("--only: each scenario runs the contenders named that it has, with the reference of its ratio column " +
		"(fasthttp, fasthttp-ws, net/http-stream), or all of its own when none is named")
	return only, nil
}
