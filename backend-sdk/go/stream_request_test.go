package worker

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/protocol/frames"
)

// TestParseStreamRequest: the framing fields of a request frame announce
// the body that follows; the rest is the http format's request.
func TestParseStreamRequest(t *testing.T) {
	head := func(extra string) []byte {
		return []byte("POST /up?x=1 HTTP/1.1\r\nHost: h\r\n" + extra +
			"X-Forwarded-For: 10.0.0.1, 192.0.2.9\r\nX-Nanogate-Inbound: tcp://spoofed:1\r\n" +
			"X-Nanogate-Inbound: ipc:///tmp/in.sock\r\n\r\n")
	}
	for _, tc := range []struct {
		name    string
		msg     []byte
		length  int64
		hasBody bool
		te      string
		early   string
	}{
		{"none", head(""), 0, false, "", ""},
		{"length", head("Content-Length: 12\r\n"), 12, true, "", ""},
		{"zero", head("content-length: 0\r\n"), 0, false, "", ""},
		{"repeated", head("Content-Length: 5\r\nContent-Length: 5\r\n"), 5, true, "", ""},
		{"chunked", head("Transfer-Encoding: chunked\r\n"), -1, true, "chunked", ""},
		{"buffered", append(head("Content-Length: 5\r\n"), "hello"...), 5, true, "", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseStreamRequest(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			r := h.r
			if h.length != tc.length || h.hasBody != tc.hasBody || string(h.early) != tc.early ||
				r.ContentLength != tc.length || strings.Join(r.TransferEncoding, ",") != tc.te {
				t.Errorf("length %d/%d, body %v, early %q, te %q", h.length, r.ContentLength, h.hasBody, h.early, r.TransferEncoding)
			}
			if tc.length > 0 && r.Header.Get("Content-Length") == "" || r.Header.Get("Transfer-Encoding") != "" {
				t.Errorf("framing header fields: %v", r.Header)
			}
			if h.inbound != "ipc:///tmp/in.sock" {
				t.Errorf("inbound %q: the gateway's own (last) one is wanted", h.inbound)
			}
			if r.Method != "POST" || r.URL.Path != "/up" || r.URL.RawQuery != "x=1" || r.Host != "h" || r.RemoteAddr != "192.0.2.9:0" {
				t.Errorf("request %s %v host %s remote %s", r.Method, r.URL, r.Host, r.RemoteAddr)
			}
		})
	}
	for name, extra := range map[string]string{
		"both":        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
		"conflicting": "Content-Length: 5\r\nContent-Length: 6\r\n",
		"bad length":  "Content-Length: five\r\n",
		"gzip":        "Transfer-Encoding: gzip\r\n",
		"two codings": "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
	} {
		if _, err := parseStreamRequest(head(extra)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, msg := range []string{"", "GET / HTTP/1.1\r\nHost: h\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\n bad: fold\r\n\r\n"} {
		if _, err := parseStreamRequest([]byte(msg)); err == nil {
			t.Errorf("%q accepted", msg)
		}
	}
}

// FuzzParseStreamRequest: any bytes are refused or give a consistent
// request.
func FuzzParseStreamRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := parseStreamRequest(msg)
		if err != nil {
			return
		}
		switch {
		case h.r == nil || h.r.Header == nil || h.r.URL == nil:
			t.Fatal("incomplete request")
		case h.length < -1, h.length == -1 && !h.hasBody, h.length > 0 && !h.hasBody:
			t.Fatalf("length %d with body %v", h.length, h.hasBody)
		case len(h.early) > 0 && !h.hasBody:
			t.Fatal("early body bytes without a body")
		}
	})
}

// TestBodyWriteTo: io.Copy takes the pieces through WriteTo, whole and in
// order; a body that ends short of its Content-Length is an error, as with
// Read; a closed body fails.
func TestBodyWriteTo(t *testing.T) {
	body := func(want int64, pieces ...string) *streamBody {
		q := newQueue(16, 1<<20)
		for _, p := range pieces {
			q.put(frames.Body, []byte(p), nil, nil, time.Second)
		}
		q.put(frames.Body, nil, nil, nil, time.Second) // the end
		return &streamBody{q: q, want: want}
	}
	var out bytes.Buffer
	b := body(11, "hello", " ", "world")
	if n, err := io.Copy(&out, b); err != nil || n != 11 || out.String() != "hello world" {
		t.Fatalf("io.Copy = %d, %v, %q", n, err, out.String())
	}
	out.Reset()
	if n, err := io.Copy(&out, body(20, "short")); err != io.ErrUnexpectedEOF || n != 5 {
		t.Fatalf("short body: %d, %v; want 5, unexpected EOF", n, err)
	}
	b = body(-1, "x")
	b.Close()
	if _, err := io.Copy(&out, b); err != errBodyClosed {
		t.Fatalf("closed body: %v", err)
	}
}
