package worker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/session"
)

// goldenRequests are the gateway's golden request vectors: the contract
// this package decodes.
func goldenRequests(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("../../session/testdata/*.request")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden vectors in ../../session/testdata (%v)", err)
	}
	vectors := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		vectors[filepath.Base(f)] = b
	}
	return vectors
}

func TestParseGolden(t *testing.T) {
	want := map[string]struct {
		method, uri, host, remote, proto string
		body                             string
	}{
		"get.request":             {"GET", "/api/hello?x=1&y=%20", "example.com", "127.0.0.1:0", "HTTP/1.1", ""},
		"mod_nano.request":        {"GET", "/index.html", "h", "192.0.2.1:0", "HTTP/1.0", ""},
		"post-binary.request":     {"POST", "/upload", "h", "[::1]:0", "HTTP/1.1", "a\x00b\r\n\x00\xff"},
		"post-dechunked.request":  {"POST", "/chunked", "h", "10.0.0.7:0", "HTTP/1.1", "hello world"},
		"post-empty.request":      {"POST", "/empty", "h", "127.0.0.1:0", "HTTP/1.1", ""},
		"spoofed-headers.request": {"GET", "/", "h", "127.0.0.1:0", "HTTP/1.1", ""},
	}
	for name, msg := range goldenRequests(t) {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("a new golden vector: add its expectations here")
			}
			r, _, err := parseRequest(msg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != w.method || r.RequestURI != w.uri || r.Host != w.host ||
				r.RemoteAddr != w.remote || r.Proto != w.proto {
				t.Errorf("got %s %s host=%s remote=%s %s", r.Method, r.RequestURI, r.Host, r.RemoteAddr, r.Proto)
			}
			body, _ := io.ReadAll(r.Body)
			if string(body) != w.body || r.ContentLength != int64(len(w.body)) {
				t.Errorf("body %q (ContentLength %d), want %q", body, r.ContentLength, w.body)
			}
			if w.body == "" && r.Body != http.NoBody {
				t.Errorf("empty body is %T, want http.NoBody", r.Body)
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	r, _, err := parseRequest(goldenRequests(t)["spoofed-headers.request"])
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Values("Cookie"); strings.Join(got, "|") != "a=1|b=2" {
		t.Errorf("repeated Cookie lines: %q", got)
	}
	if got := r.Header.Get("X-Nanogate-Session"); got != "0123456789abcdeffedcba9876543210" {
		t.Errorf("session header %q", got)
	}
	if r.URL.Path != "/" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("URL %v, proto %d.%d", r.URL, r.ProtoMajor, r.ProtoMinor)
	}
	// A body without Content-Length (mod_nano style) is the rest.
	r, _, err = parseRequest([]byte("PUT /x HTTP/1.0\r\nHost: h\r\n\r\nrest of it"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != "rest of it" || r.ContentLength != 10 {
		t.Errorf("unframed body %q, ContentLength %d", b, r.ContentLength)
	}
}

func TestRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		xff  []string
		want string
	}{
		{nil, ""},
		{[]string{"192.0.2.1"}, "192.0.2.1:0"},
		{[]string{"198.51.100.9, 192.0.2.1"}, "192.0.2.1:0"},
		{[]string{"spoofed", "10.0.0.1,  2001:db8::1 "}, "[2001:db8::1]:0"},
		{[]string{"10.0.0.1, not-an-ip"}, ""},
		{[]string{""}, ""},
	} {
		if got := remoteAddr(tc.xff); got != tc.want {
			t.Errorf("remoteAddr(%q) = %q, want %q", tc.xff, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, msg := range []string{
		"",
		"GET / HTTP/1.1",
		"GET / HTTP/1.1\r\nHost: h\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nab",
		"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
		"POST / HTTP/1.1\r\nContent-Length: -2\r\n\r\nab",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nab",
	} {
		if r, _, err := parseRequest([]byte(msg)); err == nil {
			t.Errorf("%q parsed: %s %s", msg, r.Method, r.RequestURI)
		}
	}
}

// FuzzParseRequest: any message either fails to parse or gives a request
// whose body is exactly the message's tail and whose length is announced.
func FuzzParseRequest(f *testing.F) {
	for _, msg := range goldenRequests(f) {
		f.Add(msg)
	}
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("GET http://h/x HTTP/1.1\r\nHost: other\r\nX-Forwarded-For: a, ::1\r\n\r\n"))
	f.Add([]byte("OPTIONS * HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, b, err := parseRequest(msg)
		if err != nil {
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(body)) != r.ContentLength || !bytes.HasSuffix(msg, body) {
			t.Fatalf("body %q, ContentLength %d, message %q", body, r.ContentLength, msg)
		}
		if (b == nil) != (len(body) == 0) {
			t.Fatalf("body reader %v for %d bytes", b, len(body))
		}
	})
}

// FuzzHandle: whatever the message, and whatever the handler does with
// headers and status codes taken from it, the reply is one the gateway's
// own parser accepts; a message that does not parse gets a 400.
func FuzzHandle(f *testing.F) {
	for _, msg := range goldenRequests(f) {
		f.Add(msg)
	}
	f.Add([]byte("HEAD / HTTP/1.1\r\nX-Reply-Status: 304\r\nX-Reply-A: b\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nX-Reply-Status: 204\r\nContent-Length: 2\r\n\r\nhi"))
	f.Add([]byte("GET / HTTP/1.1\r\nX-Reply-Content-Length: 7\r\nX-Reply-Status: 599\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nX-Reply-Status: 101\r\n\r\n"))
	// Discarded: the 400s would pile up in memory over a long run.
	s := &Server{Handler: http.HandlerFunc(mirror), Logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, msg []byte) {
		in := bytes.Clone(msg)
		head := false
		parsed := false
		if r, _, err := parseRequest(in); err == nil {
			parsed = true
			head = r.Method == http.MethodHead
		}
		m := s.serveMessage(context.Background(), msg)
		defer m.Free()
		if !bytes.Equal(in, msg) {
			t.Fatal("serveMessage modified the request message")
		}
		raw := bytes.Clone(m.Body)
		var resp session.Response
		if err := resp.Parse(m.Body, head); err != nil {
			if resp.Status == 0 && bytes.HasPrefix(raw, []byte("HTTP/1.1 101 ")) {
				return // 101 is passed on as is, and the gateway refuses it
			}
			t.Fatalf("the gateway refuses the reply: %v\n%q", err, raw)
		}
		if !parsed && resp.Status != 400 {
			t.Fatalf("unparsable message answered %d", resp.Status)
		}
	})
}

// mirror is the fuzzed handler: it replies with the request's X-Reply-*
// headers (prefix removed), the status in X-Reply-Status, and the body.
func mirror(w http.ResponseWriter, r *http.Request) {
	code := 0
	for k, vs := range r.Header {
		name, ok := strings.CutPrefix(k, "X-Reply-")
		if !ok {
			continue
		}
		if name == "Status" {
			for _, c := range vs[0] {
				code = code*10 + int(c-'0')
				if c < '0' || c > '9' || code > 999 {
					code = 0
					break
				}
			}
			continue
		}
		w.Header()[name] = vs
	}
	if code >= 100 {
		w.WriteHeader(code)
	}
	_, _ = io.Copy(w, r.Body)
}
