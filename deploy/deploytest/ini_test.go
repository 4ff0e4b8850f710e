package deploytest

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a systemd unit file read as systemd reads it (systemd.syntax(7)):
// [Section] headers, Key=Value lines, # and ; comments, a backslash at the
// end of a line continuing it. A key may repeat (ExecReload=, and
// SystemCallFilter= lists add up), so values are kept in order.
type unit struct {
	name     string
	sections map[string][]entry
	comments []string // the comment lines, without "#"
}

type entry struct {
	key, value string
	line       int
}

func parseUnit(t testing.TB, rel string) unit {
	t.Helper()
	u := unit{name: rel, sections: map[string][]entry{}}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, rel)))
	section := ""
	var cont string
	n, start := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cont == "" {
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
				u.comments = append(u.comments, strings.TrimSpace(line[1:]))
				continue
			}
			if line == "" {
				continue
			}
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cont += body + " "
			continue
		}
		line, cont = cont+line, ""
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				t.Fatalf("%s:%d: bad section header %q", rel, start, line)
			}
			section = line[1 : len(line)-1]
			if _, dup := u.sections[section]; dup {
				t.Fatalf("%s:%d: section [%s] twice", rel, start, section)
			}
			u.sections[section] = nil
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: %q: want Key=Value inside a section", rel, start, line)
		}
		u.sections[section] = append(u.sections[section], entry{key: strings.TrimSpace(k), value: strings.TrimSpace(v), line: start})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cont != "" {
		t.Fatalf("%s:%d: continuation runs past the end", rel, start)
	}
	return u
}

// all returns every value of section.key, in order.
func (u unit) all(section, key string) []string {
	var out []string
	for _, e := range u.sections[section] {
		if e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}

// get returns the value of a key given once.
func (u unit) get(t testing.TB, section, key string) string {
	t.Helper()
	v := u.all(section, key)
	if len(v) != 1 {
		t.Fatalf("%s: [%s] %s= given %d times, want once", u.name, section, key, len(v))
	}
	return v[0]
}

// command splits an Exec*= value into its arguments. The units use no
// quoting; one that did would be split wrongly here, so it fails.
func (u unit) command(t testing.TB, value string) []string {
	t.Helper()
	if strings.ContainsAny(value, `"'`) {
		t.Fatalf("%s: %q: quoting is not understood by this test", u.name, value)
	}
	args := strings.Fields(value)
	if len(args) == 0 {
		t.Fatalf("%s: empty command", u.name)
	}
	args[0] = strings.TrimLeft(args[0], "-@:+!") // systemd.service(5) prefixes
	return args
}

// systemdDuration reads a time span as systemd.time(7) writes it: "40s",
// "1min 30s", "90" (seconds).
func systemdDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	units := map[string]time.Duration{
		"us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	}
	if s == "" {
		return 0, fmt.Errorf("empty time span")
	}
	var total time.Duration
	rest := strings.ReplaceAll(s, " ", "")
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return 0, fmt.Errorf("time span %q", s)
		}
		n, _ := strconv.Atoi(rest[:i])
		rest = rest[i:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r >= '0' && r <= '9' })
		if j < 0 {
			j = len(rest)
		}
		u, ok := units[rest[:j]]
		if !ok {
			return 0, fmt.Errorf("time span %q: unit %q", s, rest[:j])
		}
		total += time.Duration(n) * u
		rest = rest[j:]
	}
	return total, nil
}

func TestUnitReader(t *testing.T) {
	for in, want := range map[string]time.Duration{"40s": 40 * time.Second, "90": 90 * time.Second, "1min 30s": 90 * time.Second, "2m": 2 * time.Minute} {
		if got, err := systemdDuration(in); err != nil || got != want {
			t.Errorf("systemdDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "10 parsecs", "1.5s"} {
		if _, err := systemdDuration(bad); err == nil {
			t.Errorf("systemdDuration(%q): no error", bad)
		}
	}
}
