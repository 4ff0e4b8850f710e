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
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
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
		onlyF    = flag.String("only", "", "comma-separated contender `names` (fasthttp is always added as the reference)")
		scenF    = flag.String("scenario", "hello", "hello, big, echo, idle or all")
		outF     = flag.String("out", "bench/results", "results `dir` (relative paths: from the repo root)")
		idleF    = flag.String("idle", "10000,50000,100000", "comma-separated idle connection `counts`")
		idleLoad = flag.Duration("idle-load", 10*time.Second, "length of the load run beside the idle connections")
		micro    = flag.Bool("micro", false, "also run the Go micro-benchmarks of session, frontend, bridge and the worker SDK")
		list     = flag.Bool("list", false, "list the contenders and exit")
		wenv     = flag.String("worker-env", "", "space-separated `KEY=VALUE`s added to each Go SDK worker's environment, e.g. \"GOGC=400 GOMAXPROCS=1\" (bench/README.md); none by default")
	)
	flag.Parse()
	if *list {
		for _, c := range contenders {
			fmt.Println(c.name)
		}
		return 0
	}
	conns, err1 := parseInts(*connsF)
	idle, err2 := parseInts(*idleF)
	scens, err3 := parseScenarios(*scenF)
	only, err4 := parseOnly(*onlyF)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 2
	}
	if *rounds < 1 || *duration < time.Second {
		fmt.Fprintln(os.Stderr, "harness: --rounds must be >= 1 and --duration >= 1s (wrk's unit)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	repo, err := findRepo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 2
	}
	out := *outF
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo, out)
	}
	fdLimit, err := setup(slices.Max(idle))
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
	e := &env{repo: repo, root: root, modNanoSO: os.Getenv("MOD_NANO_SO"), fdLimit: fdLimit, workerEnv: strings.Fields(*wenv)}
	if e.echoLua, err = writeEchoLua(root); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	logf("building contenders (go build, cc) in %s", root)
	e.buildAll(neededBinaries(only))
	for name, err := range e.buildErr {
		logf("build %s FAILED: %v", name, err)
	}
	lo := loadOpts{conns: conns, duration: *duration, warmup: *warmup, rounds: *rounds, only: only}
	idleO := idleOpts{counts: idle, load: *idleLoad, warmup: *warmup, only: only, fdLimit: fdLimit}
	logf("estimated wall time: %v", estimate(scens, lo, idleO).Round(time.Second))
	for _, name := range scens {
		if ctx.Err() != nil {
			break
		}
		r := report{Scenario: name, Started: time.Now(), Command: command(), Machine: machineInfo()}
		var md string
		var svg []byte
		if name == "idle" {
			r.Idle = runIdle(ctx, e, idleO)
			md, svg = idleMarkdown(r, idleO), idleChart(r, idle).svg()
		} else {
			sc := scenarios[name]
			r.Contenders = runLoad(ctx, e, sc, lo)
			for _, cr := range r.Contenders {
				r.Summary = append(r.Summary, summarize(cr, conns)...)
			}
			md, svg = loadMarkdown(r, sc, lo), loadChart(r, conns).svg()
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

// neededBinaries lists the binaries of the selected contenders.
func neededBinaries(only map[string]bool) map[string]bool {
	need := map[string]bool{}
	for _, c := range contenders {
		if len(only) == 0 || only[c.name] {
			for _, b := range c.needs {
				need[b] = true
			}
		}
	}
	return need
}

// estimate is the wall time the measured runs alone take, plus a guess for
// starts and warm-ups.
func estimate(scens []string, lo loadOpts, io idleOpts) time.Duration {
	var d time.Duration
	for _, s := range scens {
		n := 0
		for _, c := range contenders {
			if (len(lo.only) == 0 || lo.only[c.name]) && (!c.helloOnly || s == "hello") {
				n++
			}
		}
		if s == "idle" {
			k := 0
			for _, name := range idleContenders {
				if len(io.only) == 0 || io.only[name] {
					k++
				}
			}
			for _, cnt := range io.counts {
				d += time.Duration(k) * (io.load + io.warmup + 6*time.Second + time.Duration(cnt/10000)*time.Second)
			}
			continue
		}
		d += time.Duration(n) * (lo.warmup + 2*time.Second)
		d += time.Duration(n*lo.rounds*len(lo.conns)) * (lo.duration + 200*time.Millisecond)
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

func parseScenarios(s string) ([]string, error) {
	switch s {
	case "all":
		return []string{"hello", "big", "echo", "idle"}, nil
	case "hello", "big", "echo", "idle":
		return []string{s}, nil
	}
	return nil, fmt.Errorf("--scenario %q: want hello, big, echo, idle or all", s)
}

// parseOnly validates the names; fasthttp is added as the reference of the
// ratio column.
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
	if !only["fasthttp"] {
		only["fasthttp"] = true
		logf("--only: fasthttp added as the reference of the ratio column")
	}
	return only, nil
}
