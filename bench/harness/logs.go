package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// logNote is what one of a contender's log files said over its life: the
// harness removes the files with the temp dir, so warnings and errors are
// kept in the results instead of vanishing.
type logNote struct {
	File     string   `json:"file"` // stack-relative: "nanogate.log", "error.log"
	Lines    int      `json:"lines"`
	Notable  int      `json:"notable"`            // lines that look like warnings or errors
	Examples []string `json:"examples,omitempty"` // the first few of them
}

// reNotable matches slog's, nginx's, Apache's and Go's log levels and the
// words of a crash.
var reNotable = regexp.MustCompile(`(?i)\b(warn|warning|error|err|fatal|panic|crit|alert|emerg)\b`)

const maxExamples = 3

// collectLogs reads every *.log of dir and returns the files that have
// notable lines.
func collectLogs(dir string) []logNote {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var out []logNote
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		n := logNote{File: filepath.Base(p)}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.Lines++
			if line := sc.Text(); reNotable.MatchString(line) {
				n.Notable++
				if len(n.Examples) < maxExamples {
					n.Examples = append(n.Examples, strings.TrimSpace(line))
				}
			}
		}
		f.Close()
		if n.Notable > 0 {
			out = append(out, n)
		}
	}
	return out
}
