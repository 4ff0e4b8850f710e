package deploytest

// What the deploy files rely on, read from the Go source of the programs
// they run: flags, subcommands, signals, exit statuses and the admin
// listener's paths. A deploy file is checked against these, never against
// a second copy written here.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The commands the deploy files run: their package directory and the
// function that defines their flags and subcommands.
const (
	gatewayMain = "cmd/nanogate/main.go"
	workerMain  = "backend-sdk/go/cmd/demo-worker/main.go"
	adminSource = "admin/admin.go"
)

// entryFunc is the function of each command that parses its arguments;
// flags defined elsewhere (nanogate push's, in push.go) are not the
// command's own.
var entryFunc = map[string]string{gatewayMain: "run", workerMain: "main"}

// program is what the source of one command defines.
type program struct {
	flags       map[string]bool // flag names, without dashes, defined in the entry function
	subcommands map[string]bool // string cases the entry function switches on
	signals     map[string]bool // arguments of signal.Notify anywhere in the package: "SIGTERM"
	consts      map[string]int  // integer constants of the package: exitConfig = 2
}

func parseGo(t testing.TB, rel string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path(rel), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// readProgram collects the facts of the command whose main file is rel,
// from every non-test file of its package.
func readProgram(t testing.TB, rel string) program {
	t.Helper()
	entry, ok := entryFunc[rel]
	if !ok {
		t.Fatalf("%s: no entry function known", rel)
	}
	files, err := filepath.Glob(path(filepath.Dir(rel)) + "/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no Go files (%v)", filepath.Dir(rel), err)
	}
	p := program{flags: map[string]bool{}, subcommands: map[string]bool{}, signals: map[string]bool{}, consts: map[string]int{}}
	entries := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f := parseGo(t, filepath.Dir(rel)+"/"+filepath.Base(name))
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Notify" || len(n.Args) < 2 {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "signal" {
					return true
				}
				for _, a := range n.Args[1:] {
					if s, ok := a.(*ast.SelectorExpr); ok {
						p.signals[s.Sel.Name] = true // syscall.SIGTERM, os.Interrupt
					}
				}
			case *ast.FuncDecl:
				if n.Name.Name == entry && n.Recv == nil {
					entries++
					collectFlags(n.Body, p.flags)
					collectCases(n.Body, p.subcommands)
				}
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.INT {
							v, _ := strconv.Atoi(lit.Value)
							p.consts[name.Name] = v
						}
					}
				}
			}
			return true
		})
	}
	if entries != 1 {
		t.Fatalf("%s: %d functions named %s, want 1", filepath.Dir(rel), entries, entry)
	}
	return p
}

// collectFlags adds the names of the flags body defines.
func collectFlags(body *ast.BlockStmt, into map[string]bool) {
	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if name, ok := flagDefinition(sel.Sel.Name, call.Args); ok {
					into[name] = true
				}
			}
		}
		return true
	})
}

// flagDefinition recognises fs.String("config", ...), flag.Bool("stream",
// ...) and fs.Var(&v, "route", ...): the flag package's definers, whose
// name is the first string argument (the second for the *Var forms).
func flagDefinition(method string, args []ast.Expr) (string, bool) {
	i := 0
	switch method {
	case "String", "Bool", "Int", "Int64", "Uint", "Uint64", "Float64", "Duration", "Func", "BoolFunc":
	case "Var", "StringVar", "BoolVar", "IntVar", "Int64Var", "UintVar", "Uint64Var", "Float64Var", "DurationVar", "TextVar":
		i = 1
	default:
		return "", false
	}
	if len(args) <= i {
		return "", false
	}
	lit, ok := args[i].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// collectCases adds the string literals of the case clauses in body.
func collectCases(body *ast.BlockStmt, into map[string]bool) {
	ast.Inspect(body, func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok {
			return true
		}
		for _, e := range cc.List {
			if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				into[s] = true
			}
		}
		return true
	})
}

// adminPaths are the paths the admin listener's mux serves:
// mux.HandleFunc("GET /livez", ...) gives "/livez".
func adminPaths(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	ast.Inspect(parseGo(t, adminSource), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		if _, p, ok := strings.Cut(pattern, " "); ok { // "GET /livez"
			pattern = p
		}
		out[strings.TrimSuffix(pattern, "{$}")] = true
		return true
	})
	if len(out) == 0 {
		t.Fatalf("%s: found no mux patterns", adminSource)
	}
	return out
}

// signalName maps what a deploy file writes (SIGTERM, TERM, 15) to the
// name in package syscall.
func signalName(s string) string {
	switch s = strings.ToUpper(strings.TrimSpace(s)); s {
	case "15":
		return "SIGTERM"
	case "1":
		return "SIGHUP"
	case "2":
		return "SIGINT"
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	return s
}

// checkHandles fails unless the program's signal.Notify names sig.
func checkHandles(t testing.TB, where string, p program, sig, role string) {
	t.Helper()
	if len(p.signals) == 0 {
		t.Fatalf("%s: the program's source has no signal.Notify", where)
	}
	if name := signalName(sig); !p.signals[name] {
		t.Errorf("%s: %s signal %s is not one the program handles (signal.Notify: %v)", where, role, sig, keys(p.signals))
	}
}

// TestSourceFacts pins that the facts are found at all, so that a change
// of shape in the source (a flag moved to another file) fails here, by
// name, rather than making every check below vacuous.
func TestSourceFacts(t *testing.T) {
	g := readProgram(t, gatewayMain)
	for _, f := range []string{"config", "admin", "listen"} {
		if !g.flags[f] {
			t.Errorf("%s: flag --%s not found; found %v", gatewayMain, f, keys(g.flags))
		}
	}
	if g.flags["session"] {
		t.Errorf("%s: flags of `nanogate push` counted as the gateway's", gatewayMain)
	}
	if !g.subcommands["check"] {
		t.Errorf("%s: subcommand check not found; found %v", gatewayMain, keys(g.subcommands))
	}
	if _, ok := g.consts["exitConfig"]; !ok {
		t.Errorf("%s: const exitConfig not found", gatewayMain)
	}
	if !g.signals["SIGTERM"] || !g.signals["SIGHUP"] {
		t.Errorf("%s: signal.Notify names %v, want SIGTERM (stop) and SIGHUP (reload)", gatewayMain, keys(g.signals))
	}
	w := readProgram(t, workerMain)
	if !w.flags["bind"] || !w.flags["stream"] {
		t.Errorf("%s: flags --bind and --stream not found; found %v", workerMain, keys(w.flags))
	}
	if !w.signals["SIGTERM"] {
		t.Errorf("%s: signal.Notify names %v, want SIGTERM", workerMain, keys(w.signals))
	}
	a := adminPaths(t)
	for _, p := range []string{"/livez", "/readyz", "/metrics"} {
		if !a[p] {
			t.Errorf("%s: path %s not found; found %v", adminSource, p, keys(a))
		}
	}
}
