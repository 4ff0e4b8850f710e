package session

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden vectors under testdata/")

var testSession = ID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}

// requestCases are the golden request vectors shared with the SDKs: each is
// written to testdata/<name>.request exactly as the gateway sends it.
var requestCases = []struct {
	name string
	req  Request
}{
	{"get", Request{
		Method: []byte("GET"), URI: []byte("/api/hello?x=1&y=%20"), Proto: []byte("HTTP/1.1"),
		Header:  []byte("Host: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n"),
		Forward: true, ClientIP: []byte("127.0.0.1"), RequestID: []byte("5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910"), Session: testSession,
	}},
	{"post-binary", Request{
		Method: []byte("POST"), URI: []byte("/upload"), Proto: []byte("HTTP/1.1"),
		Header: []byte("Host: h\r\nContent-Type: application/octet-stream\r\nContent-Length: 7\r\n\r\n"),
		Body:   []byte("a\x00b\r\n\x00\xff"), Framed: true,
		Forward: true, ClientIP: []byte("::1"), RequestID: []byte("r-1"), Session: testSession,
	}},
	{"post-dechunked", Request{
		// The client sent Transfer-Encoding: chunked; the body arrives
		// decoded and is re-framed with Content-Length.
		Method: []byte("POST"), URI: []byte("/chunked"), Proto: []byte("HTTP/1.1"),
		Header: []byte("Host: h\r\nTransfer-Encoding: chunked\r\nX-Trace: 1\r\n\r\n"),
		Body:   []byte("hello world"), Framed: true,
		Forward: true, ClientIP: []byte("10.0.0.7"), RequestID: []byte("r-2"), Session: testSession,
	}},
	{"post-empty", Request{
		Method: []byte("POST"), URI: []byte("/empty"), Proto: []byte("HTTP/1.1"),
		Header: []byte("Host: h\r\nContent-Length: 0\r\n\r\n"), Framed: true,
		Forward: true, ClientIP: []byte("127.0.0.1"), RequestID: []byte("r-3"), Session: testSession,
	}},
	{"spoofed-headers", Request{
		// A client cannot set the session or request id nor the scheme;
		// its X-Forwarded-For lines are combined and the address appended.
		Method: []byte("GET"), URI: []byte("/"), Proto: []byte("HTTP/1.1"),
		Header: []byte("Host: h\r\nX-Nanogate-Session: 00000000000000000000000000000000\r\n" +
			"x-forwarded-for: 192.0.2.1\r\nX-Request-Id: mine\r\nX-Forwarded-Proto: https\r\n" +
			"X-Forwarded-For: 192.0.2.2\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"),
		Forward: true, ClientIP: []byte("127.0.0.1"), RequestID: []byte("r-4"), Session: testSession,
	}},
	{"mod_nano", Request{
		// compat = "mod_nano": nothing added, nothing removed but framing.
		Method: []byte("GET"), URI: []byte("/index.html"), Proto: []byte("HTTP/1.0"),
		Header: []byte("Host: h\nX-Forwarded-For: 192.0.2.1\n\n"),
	}},
}

func TestAppendRequestGolden(t *testing.T) {
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendRequest(nil, &tc.req)
			path := filepath.Join("testdata", tc.name+".request")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./session -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs from %s\n got: %q\nwant: %q", path, got, want)
			}
		})
	}
}

func TestAppendRequestHeaders(t *testing.T) {
	msg := string(AppendRequest(nil, &requestCases[4].req))
	for _, want := range []string{
		"X-Forwarded-For: 192.0.2.1, 192.0.2.2, 127.0.0.1\r\n",
		"X-Request-Id: r-4\r\n",
		"X-Forwarded-Proto: http\r\n",
		"X-Nanogate-Session: 0123456789abcdeffedcba9876543210\r\n",
		"Cookie: a=1\r\nCookie: b=2\r\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	for _, bad := range []string{"00000000000000000000000000000000", "mine", "https"} {
		if strings.Contains(msg, bad) {
			t.Errorf("client's spoofed value %q reached the worker:\n%s", bad, msg)
		}
	}
	if n := strings.Count(msg, "\r\n\r\n"); n != 1 {
		t.Errorf("want exactly one header end, got %d", n)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name   string
		reply  string
		head   bool
		status int
		reason string
		body   string
		err    error
	}{
		{"mod_nano no length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", false, 200, "OK", "hello", nil},
		{"length", "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc", false, 201, "Created", "abc", nil},
		{"http/1.0 bare LF", "HTTP/1.0 404 Not Found\nX: y\n\nnope", false, 404, "Not Found", "nope", nil},
		{"no headers", "HTTP/1.1 500 Boom\r\n\r\n", false, 500, "Boom", "", nil},
		{"no reason", "HTTP/1.1 200\r\n\r\nx", false, 200, "", "x", nil},
		{"binary body", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\x00\r\n\xff", false, 200, "OK", "\x00\r\n\xff", nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n", false, 200, "OK", "hello world", nil},
		{"head with length", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, 200, "OK", "", nil},
		{"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, 304, "Not Modified", "", nil},
		{"repeated equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false, 200, "OK", "x", nil},

		{"empty", "", false, 0, "", "", ErrStatusLine},
		{"garbage", "hello there, I am not HTTP", false, 0, "", "", ErrStatusLine},
		{"http/2", "HTTP/2 200 OK\r\n\r\n", false, 0, "", "", ErrStatusLine},
		{"letters in code", "HTTP/1.1 2x0 OK\r\n\r\n", false, 0, "", "", ErrStatusLine},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\n", false, 0, "", "", ErrStatusCode},
		{"no header end", "HTTP/1.1 200 OK\r\nContent-Length: 1", false, 0, "", "", ErrNoHeaderEnd},
		{"bad header", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, 0, "", "", ErrHeaderLine},
		{"space in name", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", false, 0, "", "", ErrHeaderLine},
		{"folded", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", false, 0, "", "", ErrHeaderLine},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", false, 0, "", "", ErrContentLength},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 0, "", "", ErrContentLength},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, 0, "", "", ErrBodyLength},
		{"long body", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nabc", false, 0, "", "", ErrBodyLength},
		{"204 with body", "HTTP/1.1 204 No Content\r\n\r\nabc", false, 0, "", "", ErrBodyLength},
		{"gzip encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", false, 0, "", "", ErrEncoding},
		{"chunked and length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", false, 0, "", "", ErrContentLength},
		{"truncated chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", false, 0, "", "", ErrChunked},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", false, 0, "", "", ErrChunked},
		{"no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false, 0, "", "", ErrChunked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			err := r.Parse([]byte(tc.reply), tc.head)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if r.Status != tc.status || string(r.Reason) != tc.reason || string(r.Body) != tc.body {
				t.Fatalf("got %d %q body %q, want %d %q body %q", r.Status, r.Reason, r.Body, tc.status, tc.reason, tc.body)
			}
		})
	}
}

func TestResponseHeadersKeepOrderAndRepeats(t *testing.T) {
	var r Response
	reply := "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nX-A:  spaced \r\nSet-Cookie: a=2; Path=/x\r\n\r\n"
	if err := r.Parse([]byte(reply), false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for h := r.Header; len(h) > 0; {
		name, value, rest, err := NextHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(name)+"="+string(value))
		h = rest
	}
	want := "Set-Cookie=a=1; Path=/|X-A=spaced|Set-Cookie=a=2; Path=/x"
	if strings.Join(got, "|") != want {
		t.Fatalf("headers %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestResponseGolden parses the reply vectors that SDK tests produce too.
func TestResponseGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.response"))
	if len(files) == 0 {
		t.Fatal("no testdata/*.response vectors")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r Response
		if err := r.Parse(b, false); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestIDGen(t *testing.T) {
	g := NewIDGen()
	a, b := g.Make(1, 2), g.Make(1, 2)
	if a != b {
		t.Fatal("same input, different ids")
	}
	seen := map[ID]bool{}
	for i := uint64(0); i < 10000; i++ {
		id := g.Make(i, 7)
		if seen[id] {
			t.Fatalf("collision at %d", i)
		}
		seen[id] = true
	}
	if NewIDGen().Make(1, 2) == a {
		t.Fatal("two generators produced the same id: seeds are not random")
	}
	if got := len(a.AppendHex(nil)); got != 32 {
		t.Fatalf("hex length %d", got)
	}
}

func TestZeroAllocs(t *testing.T) {
	g := NewIDGen()
	buf := make([]byte, 0, 4096)
	req := requestCases[4].req
	reply := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	work := make([]byte, len(reply))
	var r Response
	n := testing.AllocsPerRun(200, func() {
		req.Session = g.Make(3, 4)
		buf = AppendRequest(buf[:0], &req)
		copy(work, reply)
		if err := r.Parse(work, false); err != nil {
			t.Fatal(err)
		}
		for h := r.Header; len(h) > 0; {
			_, _, h, _ = NextHeader(h)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), false)
	f.Add([]byte("HTTP/1.0 200 OK\n\nx"), true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, reply []byte, head bool) {
		orig := append([]byte(nil), reply...)
		var r Response
		if err := r.Parse(reply, head); err != nil {
			return
		}
		if r.Status < 200 || r.Status > 999 {
			t.Fatalf("accepted status %d", r.Status)
		}
		if len(r.Body) > len(orig) {
			t.Fatal("body longer than the reply")
		}
		for h := r.Header; len(h) > 0; {
			var err error
			if _, _, h, err = NextHeader(h); err != nil {
				t.Fatalf("Parse accepted a header block that NextHeader rejects: %v", err)
			}
		}
	})
}

func FuzzAppendRequest(f *testing.F) {
	f.Add([]byte("GET"), []byte("/"), []byte("Host: a\r\nX-Forwarded-For: b\r\n\r\n"), []byte(""))
	f.Add([]byte("POST"), []byte("/x"), []byte("Content-Length: 3\r\n"), []byte("a\x00b"))
	f.Fuzz(func(t *testing.T, method, uri, header, body []byte) {
		if bytes.ContainsAny(method, " \r\n") || bytes.ContainsAny(uri, " \r\n") || len(method) == 0 || len(uri) == 0 {
			return // the front end's parser never hands such a request line over
		}
		req := Request{Method: method, URI: uri, Proto: []byte("HTTP/1.1"), Header: header, Body: body,
			Framed: true, Forward: true, ClientIP: []byte("127.0.0.1"), RequestID: []byte("r")}
		msg := AppendRequest(nil, &req)
		end := bytes.Index(msg, []byte("\r\n\r\n"))
		if end < 0 {
			t.Fatal("no header end")
		}
		if !bytes.HasSuffix(msg, body) || len(msg)-end-4 != len(body) && !bytes.Contains(header, []byte("\r\n\r\n")) {
			t.Fatalf("body not at the end of %q", msg)
		}
	})
}

func TestResponseContentLength(t *testing.T) {
	for reply, want := range map[string]int{
		"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n":                            99, // HEAD
		"HTTP/1.1 200 OK\r\n\r\nrest of message":                                   -1,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n": -1,
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc":                          3,
	} {
		var r Response
		if err := r.Parse([]byte(reply), want == 99); err != nil {
			t.Fatalf("%q: %v", reply, err)
		}
		if r.ContentLength != want {
			t.Errorf("%q: ContentLength %d, want %d", reply, r.ContentLength, want)
		}
	}
}
