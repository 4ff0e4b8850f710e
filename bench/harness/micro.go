package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// microPkgs are the packages whose Go benchmarks `make bench` runs too.
var microPkgs = []string{"./session", "./frontend", "./bridge", "./backend-sdk/go"}

// runMicro runs the Go micro-benchmarks and writes their output, failures
// included, to DATE-micro.md in out.
func runMicro(ctx context.Context, repo, out string, started time.Time) error {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem"}, microPkgs...)
	logf("go %v", args)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	runErr := cmd.Run()
	status := "ok"
	if runErr != nil {
		status = "FAILED: " + runErr.Error()
	}
	md := fmt.Sprintf("## Go micro-benchmarks (%s)\n\n%s, `go %s` in the repo root.  \nMachine: %s.\n\n```\n%s```\n",
		status, started.Format("2006-01-02 15:04"), joinArgs(args), machineInfo(), buf.String())
	fmt.Println(md)
	path := filepath.Join(out, started.Format("2006-01-02")+"-micro.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s", path)
	return runErr
}

func joinArgs(args []string) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "^$" {
			a = "'^$'"
		}
		b.WriteString(a)
	}
	return b.String()
}
