package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries the contenders run, built from the working tree at start.
const (
	binGateway = "nanogate"
	binFast    = "fasthttp-hello"
	binNetHTTP = "nethttp-hello"
	binSDK     = "sdk-hello"
	binCWorker = "modnano-worker"
	// ws, stream and idle-ws
	binWSEcho       = "ws-echo"
	binStreamDirect = "stream-direct"
	binSDKStream    = "sdk-stream"
	// --baseline REV: the gateway and the hello worker built from REV
	binGatewayBase = "nanogate@base"
	binSDKBase     = "sdk-hello@base"
)

// env is what a run shares: the repo, its temp root, the built binaries
// and the build errors of those that failed (their contenders fail, the
// others run).
type env struct {
	repo      string
	root      string // temp dir, removed at exit
	bins      map[string]string
	buildErr  map[string]error
	modNanoSO string          // MOD_NANO_SO, "" when unset
	fdLimit   int             // RLIMIT_NOFILE of the harness, inherited by every contender
	echoLua   string          // wrk script for the echo scenario
	workerEnv []string        // extra environment of each Go SDK worker (--worker-env)
	baseline  string          // --baseline: the git revision of the baseline binaries, "" for none
	accessKey map[string]bool // gateway binary → it accepts "[log] access" (knowsAccessKey)
}

// buildAll builds every binary the selected contenders need.
func (e *env) buildAll(need map[string]bool) {
	e.bins, e.buildErr = map[string]string{}, map[string]error{}
	goPkgs := map[string]string{
		binGateway: "./cmd/nanogate",
		binFast:    "./bench/contenders/fasthttp-hello",
		binNetHTTP: "./bench/contenders/nethttp-hello",
		binSDK:     "./bench/contenders/sdk-hello",

		binWSEcho:       "./bench/contenders/ws-echo",
		binStreamDirect: "./bench/contenders/stream-direct",
		binSDKStream:    "./bench/contenders/sdk-stream",

		binBBDealer: "./bench/contenders/blastbeat-dealer", // blastbeat.go
	}
	basePkgs := map[string]string{binGatewayBase: "./cmd/nanogate", binSDKBase: "./bench/contenders/sdk-hello"}
	var baseDir string
	var baseErr error
	for name := range need {
		out := filepath.Join(e.root, "bin", name)
		var err error
		if pkg, ok := goPkgs[name]; ok {
			err = e.command("go", "build", "-o", out, pkg)
		} else if pkg, ok := basePkgs[name]; ok {
			if baseDir == "" && baseErr == nil {
				baseDir, baseErr = e.extractBaseline()
			}
			err = baseErr
			if err == nil {
				err = e.commandIn(baseDir, "go", "build", "-o", out, pkg)
			}
		} else if name == binCWorker {
			err = e.buildCWorker(out)
		} else if name == binCLib {
			err = e.buildCLib(out) // clib.go
		}
		if err != nil {
			e.buildErr[name] = fmt.Errorf("build %s: %w", name, err)
			continue
		}
		e.bins[name] = out
	}
}

// buildCWorker compiles the mod_nano-style worker that the gateway tests
// use too (see backend-sdk/c/README.md).
func (e *env) buildCWorker(out string) error {
	src := filepath.Join(e.repo, "backend-sdk/c/modnano_worker.c")
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("%s is missing", src)
	}
	return e.command("cc", "-O2", "-o", out, src, "-lnanomsg")
}

// extractBaseline writes the tree of the baseline revision into the temp
// dir with git archive (the repository and its work tree are left alone)
// and returns where.
func (e *env) extractBaseline() (string, error) {
	dir := filepath.Join(e.root, "baseline-src")
	tar := filepath.Join(e.root, "baseline.tar")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := e.command("git", "archive", "--format=tar", "-o", tar, e.baseline); err != nil {
		return "", err
	}
	return dir, e.command("tar", "-xf", tar, "-C", dir)
}

// command runs one build step in the repo, with its output in the error.
func (e *env) command(name string, args ...string) error {
	return e.commandIn(e.repo, name, args...)
}

// commandIn runs one build step in dir.
func (e *env) commandIn(dir, name string, args ...string) error {
	if err := os.MkdirAll(filepath.Join(e.root, "bin"), 0o755); err != nil {
		return err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// missing returns the build error that keeps c from running, if any.
func (e *env) missing(c contender) error {
	for _, b := range c.needs {
		if err := e.buildErr[b]; err != nil {
			return err
		}
	}
	return nil
}

// findRepo walks up from the working directory to nanogate's go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/nanogate/nanogate\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the harness inside the nanogate repository")
		}
		dir = parent
	}
}
