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
	// Stopping counts the notable lines logged once the harness began to
	// stop the stack (a worker that sees its gateway go, first); they are
	// kept here, not in the tables. Stopped holds the first few.
	Stopping int      `json:"stopping,omitempty"`
	Stopped  []string `json:"stopped,omitempty"`
}

// reNotable matches slog's, nginx's, Apache's and Go's log levels and the
// words of a crash.
var reNotable = regexp.MustCompile(`(?i)\b(warn|warning|error|err|fatal|panic|crit|alert|emerg)\b`)

const maxExamples = 3

// logSizes returns the size of every *.log of dir, by name: where each
// stood when the harness began to stop the stack.
func logSizes(dir string) map[string]int64 {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sizes := make(map[string]int64, len(paths))
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			sizes[filepath.Base(p)] = st.Size()
		}
	}
	return sizes
}

// collectLogs reads every *.log of dir and returns the files that have
// notable lines. Lines past a file's size in stopAt (nil: none) were
// logged while the stack was being stopped, and go to Stopping.
func collectLogs(dir string, stopAt map[string]int64) []logNote {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var out []logNote
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		n := logNote{File: filepath.Base(p)}
		limit, bounded := stopAt[n.File]
		var off int64
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.Lines++
			line := sc.Text()
			stopping := bounded && off >= limit
			off += int64(len(line)) + 1
			if !reNotable.MatchString(line) {
				continue
			}
			if stopping {
				n.Stopping++
				if len(n.Stopped) < maxExamples {
					n.Stopped = append(n.Stopped, strings.TrimSpace(line))
				}
				continue
			}
			n.Notable++
			if len(n.Examples) < maxExamples {
				n.Examples = append(n.Examples, strings.TrimSpace(line))
			}
		}
		f.Close()
		if n.Notable > 0 || n.Stopping > 0 {
			out = append(out, n)
		}
	}
	return out
}
