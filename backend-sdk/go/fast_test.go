package worker

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// sameFast: the fast parser accepts exactly what parseRequest accepts (and
// so http.ReadRequest, FuzzParseVsNetHTTP), and reads the same request.
func sameFast(t *testing.T, msg []byte) {
	t.Helper()
	want, wb, werr := parseRequest(bytes.Clone(msg))
	p := acquireParser()
	defer releaseParser(p)
	r := FastRequest{p: p}
	err := r.parse(msg)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q:\nfast parse: %v\nparseRequest: %v", msg, err, werr)
	}
	if err != nil {
		return
	}
	if string(r.Method()) != want.Method || string(r.RequestURI()) != want.RequestURI || string(r.Proto()) != want.Proto {
		t.Fatalf("%q: request line %q %q %q, want %q %q %q", msg, r.Method(), r.RequestURI(), r.Proto(),
			want.Method, want.RequestURI, want.Proto)
	}
	var body []byte
	if wb != nil {
		body, _ = io.ReadAll(wb)
	}
	if !bytes.Equal(r.Body(), body) {
		t.Fatalf("%q: body %q, want %q", msg, r.Body(), body)
	}
	if isOriginForm(r.RequestURI()) && (string(r.Path()) != want.URL.Path || string(r.Query()) != want.URL.RawQuery) {
		t.Fatalf("%q: path %q query %q, want %q %q", msg, r.Path(), r.Query(), want.URL.Path, want.URL.RawQuery)
	}
	for k, vs := range want.Header {
		got := r.Header(k)
		if got == nil && k == "Cache-Control" {
			continue // implied by "Pragma: no-cache"
		}
		if string(got) != vs[0] {
			t.Fatalf("%q: Header(%q) = %q, want %q", msg, k, got, vs[0])
		}
	}
	if want.URL.Host == "" && string(r.Header("Host")) != want.Host {
		t.Fatalf("%q: Host %q, want %q", msg, r.Header("Host"), want.Host)
	}
	n := 0
	r.VisitHeaders(func(name, _ []byte) {
		if _, ok := want.Header[string(name)]; !ok && string(name) != "Host" && string(name) != "Transfer-Encoding" {
			t.Fatalf("%q: VisitHeaders gave %q, not in the net/http header", msg, name)
		}
		n++
	})
	if n != len(p.fields) {
		t.Fatalf("%q: VisitHeaders visited %d fields of %d", msg, n, len(p.fields))
	}
}

func TestFastParse(t *testing.T) {
	for name, msg := range goldenRequests(t) {
		t.Run(name, func(t *testing.T) { sameFast(t, msg) })
	}
	for _, msg := range parseCases {
		sameFast(t, []byte(msg))
	}
	for _, msg := range []string{
		"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab",
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab",                            // short body
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",       // conflicting
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length:  2 \r\n\r\nab",     // agreeing
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", // not de-chunked
		"POST /a HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nab",                   // ignored before 1.1
		"GET http://x.test/p?q=1 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a HTTP/2.0\r\nHost: a\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /a HTTP/1.1\r\nhost: a\r\nx-forwarded-for: 1.2.3.4, 10.0.0.1\r\n\r\n",
	} {
		sameFast(t, []byte(msg))
	}
}

// FuzzFastVsParse: the fast parser is parseRequest, for every message.
func FuzzFastVsParse(f *testing.F) {
	addParseSeeds(f)
	f.Fuzz(sameFast)
}

func TestFastRequestAccessors(t *testing.T) {
	msg := request("POST", "/api/items?id=7&x", "content-type: application/json\r\nX-Forwarded-For: 10.9.9.9\r\n", []byte(`{"a":1}`))
	p := acquireParser()
	defer releaseParser(p)
	r := FastRequest{p: p}
	if err := r.parse(msg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{string(r.Method()), "POST"},
		{string(r.Path()), "/api/items"},
		{string(r.Query()), "id=7&x"},
		{string(r.Body()), `{"a":1}`},
		{string(r.Header("Content-Type")), "application/json"},
		{string(r.Header("CONTENT-TYPE")), "application/json"},
		{string(r.Header("X-Request-Id")), "req-42"},
		{string(r.Header("Host")), "example.test"},
		{string(r.ClientIP()), "203.0.113.7"}, // the gateway's entry, not the client's claim
		{fmt.Sprint(r.Header("X-Missing") == nil), "true"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// fastReply runs h on one message through the server's fast path.
func fastReply(t *testing.T, method string, h FastHandlerFunc) *reply {
	t.Helper()
	s := &Server{Fast: h}
	s.Logger, _ = newLogger()
	raw := s.appendFast(nil, t.Context(), request(method, "/x", "", nil))
	return parseReply(t, raw, method == "HEAD")
}

func TestFastResponse(t *testing.T) {
	r := fastReply(t, "GET", func(w *FastResponse, _ *FastRequest) {
		w.AddHeader("Content-Type", "text/plain")
		w.AddHeader("Set-Cookie", "a=1")
		w.AddHeader("Set-Cookie", "b=2")
		w.AddHeader("X-Split", "a\r\nInjected: yes")
		w.AddHeader("Content-Length", "999")
		w.AddHeader("Transfer-Encoding", "chunked")
		w.AddHeader("Bad Name", "x")
		w.WriteString("hello ")
		w.Write([]byte("world"))
	})
	raw := string(r.raw)
	if r.Status != 200 || string(r.Body) != "hello world" || !strings.Contains(raw, "\r\nContent-Length: 11\r\n") ||
		!strings.Contains(raw, "\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n") || !strings.Contains(raw, "\r\nX-Split: a  Injected: yes\r\n") ||
		strings.Contains(raw, "999") || strings.Contains(raw, "chunked") || strings.Contains(raw, "Bad Name") {
		t.Fatalf("reply:\n%s", raw)
	}

	r = fastReply(t, "HEAD", func(w *FastResponse, _ *FastRequest) { w.WriteString("hello world") })
	if r.Status != 200 || len(r.Body) != 0 || !strings.Contains(string(r.raw), "\r\nContent-Length: 11\r\n") {
		t.Fatalf("HEAD reply:\n%s", r.raw)
	}
	r = fastReply(t, "GET", func(w *FastResponse, _ *FastRequest) { w.SetStatus(204); w.WriteString("dropped") })
	if r.Status != 204 || strings.Contains(string(r.raw), "Content-Length") || strings.Contains(string(r.raw), "dropped") {
		t.Fatalf("204 reply:\n%s", r.raw)
	}
	r = fastReply(t, "GET", func(w *FastResponse, _ *FastRequest) { w.SetStatus(799) })
	if r.Status != 799 || !strings.HasPrefix(string(r.raw), "HTTP/1.1 799 Status 799\r\n") {
		t.Fatalf("799 reply:\n%s", r.raw)
	}
	r = fastReply(t, "GET", func(w *FastResponse, _ *FastRequest) { w.WriteString("partial"); panic("boom") })
	if r.Status != 500 || strings.Contains(string(r.raw), "partial") {
		t.Fatalf("panic reply:\n%s", r.raw)
	}
	r = fastReply(t, "GET", func(w *FastResponse, _ *FastRequest) { w.SetStatus(42) })
	if r.Status != 500 {
		t.Fatalf("invalid status reply:\n%s", r.raw)
	}
	s := &Server{Fast: FastHandlerFunc(func(*FastResponse, *FastRequest) { t.Error("handler called for a bad message") })}
	s.Logger, _ = newLogger()
	if r := parseReply(t, s.appendFast(nil, t.Context(), []byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")), false); r.Status != 400 {
		t.Fatalf("bad message: %d", r.Status)
	}
}

// TestFastZeroAllocs: a warm fast path allocates nothing per request.
func TestFastZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	s := &Server{Fast: helloFast()}
	ctx := t.Context()
	for _, msg := range [][]byte{
		request("GET", "/hello?x=1", "User-Agent: bench\r\nAccept: */*\r\n", nil),
		request("POST", "/hello", "Content-Type: application/json\r\n", []byte(`{"a":1}`)), // with Content-Length
	} {
		dst := s.appendFast(nil, ctx, msg)
		if allocs := testing.AllocsPerRun(1000, func() { dst = s.appendFast(dst[:0], ctx, msg) }); allocs != 0 {
			t.Fatalf("%v allocations per request on the fast path, want 0 (%.40q)", allocs, msg)
		}
		if !bytes.HasSuffix(dst, []byte("\r\n\r\nhello world")) {
			t.Fatalf("reply %q", dst)
		}
	}
}

func helloFast() FastHandlerFunc {
	return func(w *FastResponse, r *FastRequest) {
		if string(r.Path()) != "/hello" {
			w.SetStatus(http.StatusNotFound)
			return
		}
		w.AddHeader("Content-Type", "text/plain")
		w.WriteString("hello world")
	}
}

// TestFastOverSocket: a FastHandler served over ipc:// and inproc:// (the
// mangos path), answering the gateway's REQ side.
func TestFastOverSocket(t *testing.T) {
	for _, ep := range []endpoint{ipcEndpoint, inprocEndpoint} {
		t.Run(ep.name, func(t *testing.T) {
			url := ep.url(t)
			startServer(t, &Server{Fast: FastHandlerFunc(func(w *FastResponse, r *FastRequest) {
				w.AddHeader("X-Path", string(r.Path()))
				w.Write(r.Body())
			})}, url)
			raw, err := exchange(dialClient(t, url), request("POST", "/echo", "", []byte("ping")))
			if err != nil {
				t.Fatal(err)
			}
			r := parseReply(t, raw, false)
			if r.Status != 200 || string(r.Body) != "ping" || !strings.Contains(string(r.raw), "X-Path: /echo\r\n") {
				t.Fatalf("reply:\n%s", r.raw)
			}
		})
	}
}

// BenchmarkServeIPCFast is BenchmarkServeIPC with the hello handler as a
// FastHandler.
func BenchmarkServeIPCFast(b *testing.B) {
	benchServeIPC(b, &Server{Fast: helloFast()})
}
