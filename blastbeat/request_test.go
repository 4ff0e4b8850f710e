package blastbeat

import (
	"errors"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/protocol/uwsgi"
)

// head is a request head as the front end makes it.
const head = "GET /hello?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: t\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Nanogate-Inbound: ipc:///x\r\n\r\n"

// The head the front end makes becomes BlastBeat's environ without an
// allocation when the buffer has room; headers over 64 KiB are refused.
func TestAppendUwsgi(t *testing.T) {
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		if _, err := appendUwsgi(buf[:0], []byte(head), "localhost", "8080"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
	pkt, _ := appendUwsgi(nil, []byte("POST /a?b HTTP/1.0\r\nContent-Type: x/y\r\nContent-Length: 3\r\n\r\n"), "h", "80")
	for k, want := range map[string]string{"CONTENT_TYPE": "x/y", "CONTENT_LENGTH": "3", "HTTP_CONTENT_LENGTH": "3",
		"SERVER_PROTOCOL": "HTTP/1.0", "QUERY_STRING": "b"} {
		if v, ok := uwsgi.Get(pkt, k); !ok || string(v) != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if _, ok := uwsgi.Get(pkt, "REMOTE_ADDR"); ok {
		t.Error("REMOTE_ADDR without X-Forwarded-For")
	}
	big := "GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("x", 70000) + "\r\n\r\n"
	if out, err := appendUwsgi([]byte("k"), []byte(big), "h", "80"); !errors.Is(err, uwsgi.ErrTooLarge) || string(out) != "k" {
		t.Errorf("a 70 KB header: %v, %q", err, out[:min(len(out), 8)])
	}
	for _, bad := range []string{"", "GET\r\n\r\n", "GET / HTTP/1.1\r\nno colon\r\n\r\n", "GET / HTTP/1.1\r\nA: b"} {
		if _, err := appendUwsgi(nil, []byte(bad), "h", "80"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if h, p := splitVhost("localhost:8080"); h != "localhost" || p != "8080" {
		t.Errorf("split %q %q", h, p)
	}
	if h, p := splitVhost("[::1]"); h != "[::1]" || p != "80" {
		t.Errorf("split %q %q", h, p)
	}
	if got := string(appendHeaders(nil, []byte(head))); strings.Contains(got, "Inbound") || !strings.HasSuffix(got, "127.0.0.1\r\n\r\n") {
		t.Errorf("appendHeaders = %q", got)
	}
}
