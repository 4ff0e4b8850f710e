package frontend

import (
	"strings"
	"testing"
)

// TestHardening: header line count, HTTP versions and percent-encoding,
// each answered before a worker sees anything.
func TestHardening(t *testing.T) {
	up, messages := recorder("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	addr := startServer(t, Config{Routes: []Route{{Upstream: up}}, MaxHeaderBytes: 16 << 10})
	lines := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("X-H")
			b.WriteString(strings.Repeat("a", i%7))
			b.WriteString(": 1\r\n")
		}
		return b.String()
	}
	for _, c := range []struct {
		name, raw string
		status    int
		proto     string // what the worker must see, when it sees the request
	}{
		{"100 header lines", "GET / HTTP/1.1\r\nHost: a\r\n" + lines(99) + "\r\n", 200, "HTTP/1.1"},
		{"101 header lines", "GET / HTTP/1.1\r\nHost: a\r\n" + lines(100) + "\r\n", 431, ""},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 200, "HTTP/1.0"},
		{"HTTP/1.5 as 1.1", "GET / HTTP/1.5\r\nHost: a\r\n\r\n", 200, "HTTP/1.1"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, ""},
		{"HTTP/9.9", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505, ""},
		{"percent ok", "GET /a%41%2f?q=%7E HTTP/1.1\r\nHost: a\r\n\r\n", 200, "HTTP/1.1"},
		{"percent bad", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
		{"percent cut", "GET /a?q=%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
	} {
		before := len(messages())
		resp, body, _, _ := exchange(t, addr, c.raw)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, resp.StatusCode, body, c.status)
			continue
		}
		got := messages()
		switch {
		case c.proto == "" && len(got) != before:
			t.Errorf("%s: the worker got a request it must not see: %q", c.name, got[len(got)-1])
		case c.proto != "" && (len(got) != before+1 || !strings.Contains(strings.SplitN(got[len(got)-1], "\r\n", 2)[0], " "+c.proto)):
			t.Errorf("%s: worker saw %q, want %s", c.name, got[before:], c.proto)
		}
	}
}
