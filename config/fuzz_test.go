package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, every error line names the file, and an
// accepted config validates again unchanged.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("example.toml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(example),
		"",
		ok,
		"[[route]]\nendpoint = [{url = \"ipc://a\"}, {url = \"tcp://h:1\", mode = \"listen\"}]\n",
		"[[route]]\n[[route.endpoint]]\nurl = \"htp://x\"\n[route.endpoint.x]\ny = 1\n",
		"route = [{path = \"/a\", endpoints = [\"ipc://a\"]}]\n[server]\nmax_body_bytes = \"8 MiB\"\n",
		"a.b.c = [[1], [{d = 2}]]\n\"q.k\" = 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.toml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.toml:") {
					t.Fatalf("error line without file and line: %q", line)
				}
			}
			return
		}
		if len(c.Routes) == 0 {
			t.Fatal("accepted a config without routes")
		}
		before := *c
		before.Routes = append([]Route(nil), c.Routes...)
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate after Parse: %v", err)
		}
		for i := range c.Routes {
			if c.Routes[i].Name != before.Routes[i].Name || c.Routes[i].Timeout != before.Routes[i].Timeout {
				t.Fatalf("Validate is not idempotent: %+v then %+v", before.Routes[i], c.Routes[i])
			}
		}
	})
}
