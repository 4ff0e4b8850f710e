package config

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// index maps field paths ("server.read_timeout", "route[1]",
// "route[1].endpoint[0].url", "route[0].endpoints[2]") to the line where
// the file writes them. The paths are the ones errors print.
type index struct {
	lines map[string]int
	// alias renames a Route.Endpoints path to the path written in the file:
	// endpoints from the shorthand `endpoints = [...]` array are appended
	// after the [[route.endpoint]] tables, so "route[0].endpoint[2].url"
	// may be "route[0].endpoints[0]" in the file.
	alias map[string]string
}

// line returns the line of path or, when the file does not write path
// (a missing key), of its nearest ancestor; the document itself is line 1.
// It returns 0 for an array element the file does not have, such as a
// route appended in code after Parse.
func (ix *index) line(path string) int {
	if ix == nil || ix.lines == nil {
		return 0 // not from a file
	}
	for path != "" {
		if n, ok := ix.lines[path]; ok {
			return n
		}
		if strings.HasSuffix(path, "]") {
			return 0
		}
		path = parent(path)
	}
	return 1
}

// parent trims the last ".key" or "[n]" of path.
func parent(path string) string {
	if i := strings.LastIndexByte(path, '['); i >= 0 && strings.HasSuffix(path, "]") {
		return path[:i]
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// join appends key to path, quoting keys that are not bare TOML keys so a
// quoted "a.b" cannot pass for the path a.b.
func join(path, key string) string {
	bare := key != ""
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			bare = false
			break
		}
	}
	if !bare {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func at(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// buildIndex walks the syntax tree of data, which toml.Unmarshal has
// already accepted, and records the line of every table header, key and
// array element. go-toml's decoder keeps no positions, its unstable parser
// does.
func buildIndex(data []byte) *index {
	ix := &index{lines: map[string]int{}, alias: map[string]string{}}
	var newlines []int
	for i, b := range data {
		if b == '\n' {
			newlines = append(newlines, i)
		}
	}
	lineOf := func(n *unstable.Node) int {
		return sort.SearchInts(newlines, int(n.Raw.Offset)) + 1
	}
	set := func(path string, line int) {
		if _, ok := ix.lines[path]; !ok {
			ix.lines[path] = line
		}
	}
	counts := map[string]int{} // array tables: path -> elements so far

	var keyval func(table string, kv *unstable.Node)
	var value func(path string, v *unstable.Node, line int)
	keyval = func(table string, kv *unstable.Node) {
		path := table
		line := 0
		for it := kv.Key(); it.Next(); {
			k := it.Node()
			if line == 0 {
				line = lineOf(k)
			}
			path = join(path, string(k.Data))
			set(path, line)
		}
		value(path, kv.Value(), line)
	}
	value = func(path string, v *unstable.Node, line int) {
		switch v.Kind {
		case unstable.InlineTable:
			for it := v.Children(); it.Next(); {
				if it.Node().Kind == unstable.KeyValue {
					keyval(path, it.Node())
				}
			}
		case unstable.Array:
			i := 0
			for it := v.Children(); it.Next(); {
				e := it.Node()
				if e.Kind == unstable.Comment {
					continue
				}
				l := line
				if e.Kind != unstable.Array { // arrays carry no Raw range
					l = lineOf(e)
				}
				set(at(path, i), l)
				value(at(path, i), e, l)
				i++
			}
		}
	}

	var p unstable.Parser
	p.Reset(data)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			keyval(table, e)
		case unstable.Table, unstable.ArrayTable:
			table = ""
			var line int
			for it := e.Key(); it.Next(); {
				k := it.Node()
				line = lineOf(k)
				table = join(table, string(k.Data))
				if it.IsLast() && e.Kind == unstable.ArrayTable {
					n := counts[table]
					counts[table] = n + 1
					table = at(table, n)
				} else if n := counts[table]; n > 0 {
					table = at(table, n-1) // [a.b] under [[a]] is in its last element
				}
			}
			set(table, line)
		}
	}
	return ix
}

// problems collects errors with their lines. Only the first problem of a
// field is kept, and none below a field already reported, so a value that
// failed to decode is not reported again by validation as missing.
type problems struct {
	file  string
	where *index
	list  []problem
	seen  map[string]bool
}

type problem struct {
	line int
	text string
}

// addf records a problem of field (a path as in index; "" for the whole
// file at line 0).
func (p *problems) addf(field, format string, args ...any) {
	line := 0
	if p.where != nil {
		if a, ok := p.where.alias[field]; ok {
			field = a
		}
		line = p.where.line(field)
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	for f := field; f != ""; f = parent(f) {
		if p.seen[f] {
			return
		}
	}
	p.seen[field] = true
	p.addAt(line, field, fmt.Sprintf(format, args...))
}

// addAt records a problem at a known line.
func (p *problems) addAt(line int, field, msg string) {
	var b strings.Builder
	if p.file != "" {
		b.WriteString(p.file)
		if line > 0 {
			b.WriteString(":" + strconv.Itoa(line))
		}
		b.WriteString(": ")
	}
	if field != "" {
		b.WriteString(field + ": ")
	}
	b.WriteString(msg)
	p.list = append(p.list, problem{line, b.String()})
}

// err returns the problems sorted by line, joined, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b problem) int { return a.line - b.line })
	errs := make([]error, len(p.list))
	for i, pr := range p.list {
		errs[i] = errors.New(pr.text)
	}
	return errors.Join(errs...)
}
