package deploytest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	dockerfile       = "deploy/Dockerfile"
	dockerignore     = "deploy/Dockerfile.dockerignore" // BuildKit's per-Dockerfile ignore file
	imageConfigPath  = "/etc/nanogate/nanogate.toml"    // where every deployment puts the configuration
	distrolessPrefix = "gcr.io/distroless/"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is a FROM and what follows it up to the next FROM.
type stage struct {
	image, name string
	ins         []instruction
}

// parseDockerfile reads a Dockerfile: comments and blank lines dropped,
// lines ending in a backslash joined with the next, ARGs before the first
// FROM substituted into FROM lines (their defaults: what `docker build`
// uses without --build-arg).
func parseDockerfile(t testing.TB, rel string) []stage {
	t.Helper()
	f, err := os.Open(path(rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		ins      []instruction
		pending  string
		start, n int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue // inside a continuation too, as Docker does
		}
		if pending == "" {
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			pending += body + " "
			continue
		}
		pending += line
		cmd, args, _ := strings.Cut(pending, " ")
		ins = append(ins, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		pending = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if pending != "" {
		t.Fatalf("%s:%d: continuation runs past the end", rel, start)
	}
	globalArgs := map[string]string{}
	var stages []stage
	for _, in := range ins {
		switch {
		case in.cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case in.cmd == "FROM":
			fields := strings.Fields(in.args)
			s := stage{image: os.Expand(fields[0], func(k string) string { return globalArgs[k] })}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			} else if len(fields) != 1 {
				t.Fatalf("%s:%d: FROM %s: want IMAGE [AS NAME]", rel, in.line, in.args)
			}
			stages = append(stages, s)
		case len(stages) == 0:
			t.Fatalf("%s:%d: %s before the first FROM", rel, in.line, in.cmd)
		default:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return stages
}

// all returns the stage's instructions of one kind.
func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// one returns the stage's only instruction of a kind, failing if there is
// none or more than one (Docker would use the last: a second is a mistake).
func (s stage) one(t testing.TB, cmd string) instruction {
	t.Helper()
	all := s.all(cmd)
	if len(all) != 1 {
		t.Fatalf("%s stage %q: %d %s instructions, want 1", dockerfile, s.name, len(all), cmd)
	}
	return all[0]
}

// execForm decodes the JSON form of CMD and ENTRYPOINT. The runtime
// images have no shell, so the shell form would not run.
func execForm(t testing.TB, in instruction) []string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(in.args), &args); err != nil {
		t.Fatalf("%s:%d: %s %s: want the exec form, a JSON array (the image has no shell): %v", dockerfile, in.line, in.cmd, in.args, err)
	}
	return args
}

// copyInstr is a COPY: its options, sources and destination.
type copyInstr struct {
	from, chown string
	srcs        []string
	dst         string
	line        int
}

func copies(t testing.TB, s stage) []copyInstr {
	t.Helper()
	var out []copyInstr
	for _, in := range s.all("COPY") {
		c := copyInstr{line: in.line}
		var rest []string
		for _, f := range strings.Fields(in.args) {
			switch {
			case strings.HasPrefix(f, "--from="):
				c.from = strings.TrimPrefix(f, "--from=")
			case strings.HasPrefix(f, "--chown="):
				c.chown = strings.TrimPrefix(f, "--chown=")
			case strings.HasPrefix(f, "--"):
				t.Fatalf("%s:%d: COPY option %s: the test does not know it", dockerfile, in.line, f)
			default:
				rest = append(rest, f)
			}
		}
		if len(rest) < 2 {
			t.Fatalf("%s:%d: COPY %s: want SRC... DST", dockerfile, in.line, in.args)
		}
		c.srcs, c.dst = rest[:len(rest)-1], rest[len(rest)-1]
		out = append(out, c)
	}
	return out
}

// goBuilds maps each `go build -o OUT PKG` in the stage's RUN lines to the
// package it builds.
var goBuildRE = regexp.MustCompile(`go build\s[^&;]*?-o\s+(\S+)\s+(\./\S+)`)

func goBuilds(s stage) map[string]string {
	out := map[string]string{}
	for _, in := range s.all("RUN") {
		for _, m := range goBuildRE.FindAllStringSubmatch(in.args, -1) {
			out[m[1]] = m[2]
		}
	}
	return out
}

// env returns the value the stage's ENV sets for key, or "".
func (s stage) env(key string) string {
	v := ""
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			if k, val, ok := strings.Cut(kv, "="); ok && k == key {
				v = val
			}
		}
	}
	return v
}

// runtimeImage describes a runtime stage once checked: the binary its
// ENTRYPOINT runs and the package it was built from.
type runtimeImage struct {
	stage   stage
	binary  string // ENTRYPOINT[0]
	pkg     string // ./cmd/nanogate
	cmdArgs []string
	user    int
}

// TestDockerfile checks both images: what is built, how it runs, and for
// the gateway, that EXPOSE names the ports of the configuration it ships.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, dockerfile)
	images := checkStages(t, stages)

	gw, ok := images["./cmd/nanogate"]
	if !ok {
		t.Fatalf("%s: no stage runs the gateway built from ./cmd/nanogate", dockerfile)
	}
	if last := stages[len(stages)-1]; last.name != gw.stage.name {
		t.Errorf("%s: the last stage (the default target) is %q, not the gateway's %q", dockerfile, last.name, gw.stage.name)
	}
	g := readProgram(t, gatewayMain)
	checkFlags(t, dockerfile+" gateway CMD", gw.cmdArgs, g.flags)
	cfgPath, ok := flagValue(gw.cmdArgs, "config")
	if !ok || cfgPath != imageConfigPath {
		t.Fatalf("%s: gateway CMD %q: want --config %s", dockerfile, gw.cmdArgs, imageConfigPath)
	}
	// The configuration COPY'd to that path, from the build context.
	var shipped string
	for _, c := range copies(t, gw.stage) {
		if c.from == "" && c.dst == cfgPath && len(c.srcs) == 1 {
			shipped = c.srcs[0]
		}
	}
	if shipped == "" {
		t.Fatalf("%s: the gateway stage copies no file to %s", dockerfile, cfgPath)
	}
	cfg := loadConfig(t, shipped)
	p := portsOf(t, shipped, cfg, true)
	var exposed []int
	for _, in := range gw.stage.all("EXPOSE") {
		for _, f := range strings.Fields(in.args) {
			n, err := strconv.Atoi(strings.TrimSuffix(f, "/tcp"))
			if err != nil {
				t.Fatalf("%s:%d: EXPOSE %s: %v", dockerfile, in.line, f, err)
			}
			exposed = append(exposed, n)
		}
	}
	slices.Sort(exposed)
	if want := sortedInts(p.listen, p.admin); !slices.Equal(exposed, want) {
		t.Errorf("%s: EXPOSE %v, want %v (listen and [admin] listen of %s)", dockerfile, exposed, want, shipped)
	}
	checkSocketDir(t, shipped, cfg)

	w, ok := images["./backend-sdk/go/cmd/demo-worker"]
	if !ok {
		t.Fatalf("%s: no stage runs the demo worker built from ./backend-sdk/go/cmd/demo-worker", dockerfile)
	}
	wp := readProgram(t, workerMain)
	checkFlags(t, dockerfile+" demo-worker CMD", w.cmdArgs, wp.flags)
	bind, _ := flagValue(w.cmdArgs, "bind")
	if !strings.HasPrefix(bind, "ipc://"+socketDir+"/") {
		t.Errorf("%s: demo-worker CMD binds %q, outside %s", dockerfile, bind, socketDir)
	}
}

// checkStages checks the builder and every runtime stage, and returns the
// runtime images by the package their ENTRYPOINT was built from.
func checkStages(t testing.TB, stages []stage) map[string]runtimeImage {
	builders := map[string]stage{}
	images := map[string]runtimeImage{}
	for _, s := range stages {
		if strings.HasPrefix(s.image, "golang:") {
			checkBuilder(t, s)
			builders[s.name] = s
			continue
		}
		img := checkRuntime(t, s, builders)
		images[img.pkg] = img
	}
	if len(builders) == 0 {
		t.Fatalf("%s: no golang builder stage", dockerfile)
	}
	return images
}

// checkBuilder: a golang image at least as new as go.mod asks, cgo off
// (the runtime image has no libc), and packages that exist.
func checkBuilder(t testing.TB, s stage) {
	tag := strings.TrimPrefix(s.image, "golang:")
	want := goDirective(t)
	if !versionAtLeast(tag, want) {
		t.Errorf("%s: builder %s is older than go.mod's go %s", dockerfile, s.image, want)
	}
	if s.env("CGO_ENABLED") != "0" {
		t.Errorf("%s: builder stage %q: want ENV CGO_ENABLED=0, a static binary for a runtime without libc", dockerfile, s.name)
	}
	builds := goBuilds(s)
	if len(builds) == 0 {
		t.Errorf("%s: builder stage %q runs no `go build -o OUT ./PKG`", dockerfile, s.name)
	}
	for out, pkg := range builds {
		if p := readPackageName(t, pkg); p != "main" {
			t.Errorf("%s: go build -o %s %s: package %q, not a command", dockerfile, out, pkg, p)
		}
	}
	for _, c := range copies(t, s) {
		if c.from == "" {
			checkContextSources(t, c)
		}
	}
}

// checkRuntime: a distroless base, hence no RUN and exec-form commands;
// a non-root user who owns the socket directory; a stop signal the program
// handles; a HEALTHCHECK that can run without a shell.
func checkRuntime(t testing.TB, s stage, builders map[string]stage) runtimeImage {
	if !strings.HasPrefix(s.image, distrolessPrefix) || !strings.Contains(s.image, "/static") {
		t.Errorf("%s: stage %q: base %s, want distroless static (README.md says why)", dockerfile, s.name, s.image)
	}
	if runs := s.all("RUN"); len(runs) > 0 {
		t.Errorf("%s:%d: RUN in runtime stage %q: distroless has no shell", dockerfile, runs[0].line, s.name)
	}
	img := runtimeImage{stage: s}
	entry := execForm(t, s.one(t, "ENTRYPOINT"))
	img.cmdArgs = execForm(t, s.one(t, "CMD"))
	img.binary = entry[0]
	if len(entry) != 1 {
		t.Errorf("%s: stage %q: ENTRYPOINT %q: arguments belong in CMD, which compose and Kubernetes replace", dockerfile, s.name, entry)
	}
	user := s.one(t, "USER").args
	uid, err := strconv.Atoi(strings.Split(user, ":")[0])
	if err != nil || uid == 0 {
		t.Errorf("%s: stage %q: USER %s: want a numeric non-root uid (Kubernetes runAsNonRoot can check only a number)", dockerfile, s.name, user)
	}
	img.user = uid
	ownsSockets := false
	for _, c := range copies(t, s) {
		switch {
		case c.from != "" && c.dst == img.binary:
			b, ok := builders[c.from]
			if !ok {
				t.Fatalf("%s:%d: COPY --from=%s: no such builder stage", dockerfile, c.line, c.from)
			}
			img.pkg = goBuilds(b)[c.srcs[0]]
		case c.from != "" && strings.TrimSuffix(c.dst, "/") == filepath.Dir(socketDir):
			// COPY DIR/ /run/ copies DIR's entries: DIR must hold an
			// entry for the socket directory, created in the builder.
			if c.chown != user {
				t.Errorf("%s:%d: the socket directory is copied with --chown=%s, not USER %s", dockerfile, c.line, c.chown, user)
			}
			src := strings.TrimSuffix(c.srcs[0], "/")
			if b, ok := builders[c.from]; !ok || !mkdirs(b, src+"/"+filepath.Base(socketDir)) {
				t.Errorf("%s:%d: the builder does not create %s/%s for %s", dockerfile, c.line, src, filepath.Base(socketDir), socketDir)
			}
			ownsSockets = true
		case c.from == "":
			checkContextSources(t, c)
		}
	}
	if img.pkg == "" {
		t.Fatalf("%s: stage %q: ENTRYPOINT %s is not copied from a `go build -o` of the builder", dockerfile, s.name, img.binary)
	}
	if !ownsSockets {
		t.Errorf("%s: stage %q: does not create %s owned by USER %s", dockerfile, s.name, socketDir, user)
	}

	var source string
	switch img.pkg {
	case "./cmd/nanogate":
		source = gatewayMain
	case "./backend-sdk/go/cmd/demo-worker":
		source = workerMain
	default:
		t.Fatalf("%s: stage %q runs %s: the test knows no source for it", dockerfile, s.name, img.pkg)
	}
	checkHandles(t, dockerfile+" stage "+s.name, readProgram(t, source), s.one(t, "STOPSIGNAL").args, "STOPSIGNAL")

	// HEALTHCHECK NONE (README.md: no shell or curl in distroless; the
	// orchestrators probe /livez and /readyz), or one in exec form whose
	// program is in the image.
	hc := s.one(t, "HEALTHCHECK").args
	if hc != "NONE" {
		i := strings.Index(hc, "CMD ")
		if i < 0 {
			t.Fatalf("%s: stage %q: HEALTHCHECK %s: want NONE or CMD [...]", dockerfile, s.name, hc)
		}
		args := execForm(t, instruction{cmd: "HEALTHCHECK", args: hc[i+4:]})
		if args[0] != img.binary {
			t.Errorf("%s: stage %q: HEALTHCHECK runs %s, which the image does not have", dockerfile, s.name, args[0])
		}
	}
	return img
}

// mkdirs reports whether a RUN of the stage runs `mkdir -p` on dir.
func mkdirs(s stage, dir string) bool {
	for _, in := range s.all("RUN") {
		for _, part := range strings.Split(in.args, "&&") {
			f := strings.Fields(part)
			if len(f) >= 2 && f[0] == "mkdir" && slices.Contains(f[1:], dir) {
				return true
			}
		}
	}
	return false
}

// checkContextSources: a COPY from the build context (the repository
// root) names files that exist and that the ignore file lets through.
func checkContextSources(t testing.TB, c copyInstr) {
	ignore := dockerignorePatterns(t)
	for _, src := range c.srcs {
		if src == "." {
			continue
		}
		if _, err := os.Stat(path(src)); err != nil {
			t.Errorf("%s:%d: COPY %s: %v", dockerfile, c.line, src, err)
		}
		if p, ok := ignored(ignore, src); ok {
			t.Errorf("%s:%d: COPY %s: excluded from the context by %q in %s", dockerfile, c.line, src, p, dockerignore)
		}
	}
}

func readPackageName(t testing.TB, pkg string) string {
	dir := path(strings.TrimPrefix(pkg, "./"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: go build %s: %v", dockerfile, pkg, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			return parseGo(t, strings.TrimPrefix(pkg, "./")+"/"+e.Name()).Name.Name
		}
	}
	t.Fatalf("%s: go build %s: no Go files", dockerfile, pkg)
	return ""
}

// goDirective is go.mod's go version.
func goDirective(t testing.TB) string {
	for _, line := range strings.Split(readFile(t, "go.mod"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("go.mod: no go directive")
	return ""
}

// versionAtLeast compares the major.minor of a golang image tag ("1.26",
// "1.26.8-bookworm") with go.mod's go version: the image's toolchain is
// the newest patch release of its minor version.
func versionAtLeast(tag, goMod string) bool {
	minor := func(v string) (int, int, bool) {
		v, _, _ = strings.Cut(v, "-")
		parts := strings.Split(v, ".")
		if len(parts) < 2 {
			return 0, 0, false
		}
		a, err1 := strconv.Atoi(parts[0])
		b, err2 := strconv.Atoi(parts[1])
		return a, b, err1 == nil && err2 == nil
	}
	ta, tb, ok1 := minor(tag)
	ga, gb, ok2 := minor(goMod)
	return ok1 && ok2 && (ta > ga || ta == ga && tb >= gb)
}

func sortedInts(v ...int) []int {
	slices.Sort(v)
	return v
}

// dockerignorePatterns reads the ignore file. Only the forms it uses are
// understood (a path or glob, "**/" before a base-name glob); anything
// else fails, rather than being matched wrongly.
func dockerignorePatterns(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(readFile(t, dockerignore), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") || strings.Contains(strings.TrimPrefix(line, "**/"), "**") {
			t.Fatalf("%s: pattern %q: the test does not understand it", dockerignore, line)
		}
		out = append(out, strings.TrimSuffix(line, "/"))
	}
	return out
}

// ignored reports whether rel, or a directory above it, matches one of the
// patterns, and which.
func ignored(patterns []string, rel string) (string, bool) {
	rel = filepath.ToSlash(filepath.Clean(rel))
	for _, p := range patterns {
		if base, ok := strings.CutPrefix(p, "**/"); ok {
			for _, part := range strings.Split(rel, "/") {
				if m, _ := filepath.Match(base, part); m {
					return p, true
				}
			}
			continue
		}
		for prefix := rel; prefix != "."; prefix = filepath.ToSlash(filepath.Dir(prefix)) {
			if m, _ := filepath.Match(p, prefix); m {
				return p, true
			}
		}
	}
	return "", false
}

// TestDockerignore: the ignore file keeps out what it means to and never a
// file the build needs: go.mod, go.sum, and in every Go package of the
// module its .go files and the files its //go:embed lines name.
func TestDockerignore(t *testing.T) {
	patterns := dockerignorePatterns(t)
	for _, f := range []string{"go.mod", "go.sum"} {
		if p, ok := ignored(patterns, f); ok {
			t.Errorf("%s: %q excludes %s", dockerignore, p, f)
		}
	}
	for _, f := range []string{".git", "bin/nanogate"} {
		if _, ok := ignored(patterns, f); !ok {
			t.Errorf("%s: %s is sent with the build context", dockerignore, f)
		}
	}
	checked := 0
	err := filepath.WalkDir(rootDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == rootDir {
			return err
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		for _, f := range neededFiles(t, p) {
			rel, _ := filepath.Rel(rootDir, f)
			if pat, ok := ignored(patterns, rel); ok {
				t.Errorf("%s: %q excludes %s, which the build needs", dockerignore, pat, filepath.ToSlash(rel))
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files of Go packages", checked)
	}
}

// embedRE matches a //go:embed line.
var embedRE = regexp.MustCompile(`(?m)^//go:embed\s+(.+)$`)

// neededFiles are the .go files of dir and the files they embed.
func neededFiles(t testing.TB, dir string) []string {
	goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	out := slices.Clone(goFiles)
	for _, f := range goFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range embedRE.FindAllStringSubmatch(string(b), -1) {
			for _, pat := range strings.Fields(m[1]) {
				matches, _ := filepath.Glob(filepath.Join(dir, pat))
				if len(matches) == 0 {
					t.Errorf("%s: //go:embed %s matches nothing", f, pat)
				}
				out = append(out, matches...)
			}
		}
	}
	return out
}
