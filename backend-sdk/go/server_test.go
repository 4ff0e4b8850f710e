package worker

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
)

// TestTransports runs the protocol cases over every transport, on real
// sockets, with a REQ socket set up as the gateway sets up its own.
func TestTransports(t *testing.T) {
	for _, ep := range append(endpoints, wsEndpoint) {
		t.Run(ep.name, func(t *testing.T) {
			url := ep.url(t)
			logger, logs := newLogger()
			startServer(t, &Server{Handler: testMux(), Logger: logger}, url)
			sock := dialClient(t, url)

			t.Run("GET", func(t *testing.T) { testGet(t, sock) })
			t.Run("POST5MiB", func(t *testing.T) { testPostBinary(t, sock) })
			t.Run("SetCookie", func(t *testing.T) { testSetCookie(t, sock) })
			t.Run("Statuses", func(t *testing.T) { testStatuses(t, sock) })
			t.Run("HEAD", func(t *testing.T) { testHead(t, sock) })
			t.Run("Garbage", func(t *testing.T) { testGarbage(t, sock, logs) })
			t.Run("Panic", func(t *testing.T) { testPanic(t, sock, logs) })
		})
	}
}

func testGet(t *testing.T, sock mangos.Socket) {
	r := roundTrip(t, sock, request("GET", "/info?x=1&y=%20", "User-Agent: curl/8.0\r\n", nil))
	if r.Status != 200 || string(r.Reason) != "OK" || string(r.Proto) != "HTTP/1.1" {
		t.Fatalf("status line: %q", r.raw)
	}
	want := "method=GET uri=/info?x=1&y=%20 host=example.test remote=203.0.113.7:0 proto=HTTP/1.1 len=0 " +
		"session=0123456789abcdef0000000000000000 id=req-42 ua=curl/8.0"
	if string(r.Body) != want {
		t.Errorf("handler saw\n%s\nwant\n%s", r.Body, want)
	}
	if got := r.header("Content-Type"); len(got) != 1 || got[0] != "text/plain; charset=utf-8" {
		t.Errorf("sniffed Content-Type = %q", got)
	}
	if got := r.header("Content-Length"); len(got) != 1 || got[0] != fmt.Sprint(len(want)) {
		t.Errorf("Content-Length = %q, want %d", got, len(want))
	}
}

func testPostBinary(t *testing.T, sock mangos.Socket) {
	body := make([]byte, 5<<20)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(body); i += 997 {
		body[i] = 0 // NUL bytes throughout, whatever the random bytes were
	}
	copy(body, "\x00\r\n\r\nHTTP/1.1 200 OK\r\n\r\n") // framing lookalikes
	r := roundTrip(t, sock, request("POST", "/echo", "Content-Type: application/octet-stream\r\n", body))
	if r.Status != 200 {
		t.Fatalf("status %d: %q", r.Status, r.Body)
	}
	if !bytes.Equal(r.Body, body) {
		t.Fatalf("echoed body differs: got %d bytes, want %d", len(r.Body), len(body))
	}
	if got := r.header("X-Content-Length"); len(got) != 1 || got[0] != fmt.Sprint(len(body)) {
		t.Errorf("handler saw ContentLength %q", got)
	}
}

func testSetCookie(t *testing.T, sock mangos.Socket) {
	r := roundTrip(t, sock, request("GET", "/cookies", "", nil))
	want := []string{"a=1; Path=/", "b=2; Path=/", "c=3; Path=/; HttpOnly"}
	if got := r.header("Set-Cookie"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Set-Cookie = %q, want %q", got, want)
	}
}

func testStatuses(t *testing.T, sock mangos.Socket) {
	for _, tc := range []struct {
		code   int
		reason string
		header string // one more header to find
		body   string
	}{
		{201, "Created", "", "status 201"},
		{204, "No Content", "", ""},
		{301, "Moved Permanently", "Location: /elsewhere", "status 301"},
		{404, "Not Found", "", "status 404"},
		{500, "Internal Server Error", "", "status 500"},
		{599, "Status 599", "", "status 599"},
	} {
		r := roundTrip(t, sock, request("GET", fmt.Sprint("/status/", tc.code), "", nil))
		if r.Status != tc.code || string(r.Reason) != tc.reason || string(r.Body) != tc.body {
			t.Errorf("%d: got %d %q body %q", tc.code, r.Status, r.Reason, r.Body)
		}
		if got := r.header("X-Status"); len(got) != 1 || got[0] != fmt.Sprint(tc.code) {
			t.Errorf("%d: X-Status = %q", tc.code, got)
		}
		if name, value, ok := strings.Cut(tc.header, ": "); ok {
			if got := r.header(name); len(got) != 1 || got[0] != value {
				t.Errorf("%d: %s = %q", tc.code, name, got)
			}
		}
		cl := r.header("Content-Length")
		if tc.code == 204 && len(cl) != 0 {
			t.Errorf("204 with Content-Length %q (RFC 9110 section 8.6)", cl)
		}
		if tc.code != 204 && (len(cl) != 1 || cl[0] != fmt.Sprint(len(tc.body))) {
			t.Errorf("%d: Content-Length = %q", tc.code, cl)
		}
	}
}

func testHead(t *testing.T, sock mangos.Socket) {
	// A handler that writes a body: the length is kept, the body dropped.
	r := roundTrip(t, sock, request("HEAD", "/status/200", "", nil))
	if r.Status != 200 || len(r.Body) != 0 || !bytes.HasSuffix(r.raw, []byte("\r\n\r\n")) {
		t.Errorf("HEAD reply carries a body: %q", r.raw)
	}
	if got := r.header("Content-Length"); len(got) != 1 || got[0] != "10" {
		t.Errorf("HEAD Content-Length = %q, want the 10 bytes GET would get", got)
	}
	// http.ServeContent sets Content-Length and writes nothing for HEAD.
	r = roundTrip(t, sock, request("HEAD", "/file", "", nil))
	if got := r.header("Content-Length"); len(got) != 1 || got[0] != "12" || len(r.Body) != 0 {
		t.Errorf("HEAD /file: Content-Length %q, body %q", got, r.Body)
	}
	r = roundTrip(t, sock, request("GET", "/file", "", nil))
	if string(r.Body) != "twelve bytes" {
		t.Errorf("GET /file: %q", r.raw)
	}
}

func testGarbage(t *testing.T, sock mangos.Socket, logs *logBuffer) {
	for _, msg := range []string{
		"",
		"\x00\x01\x02 not http at all",
		"GET /x HTTP/1.1\r\nHost: h\r\n", // no end of header block
		"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nshort",
		"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	} {
		r := roundTrip(t, sock, []byte(msg))
		if r.Status != 400 {
			t.Errorf("%q: status %d, want 400", msg, r.Status)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"worker: bad request message\" err=") {
		t.Errorf("bad request not logged at warn with its error:\n%s", logs)
	}
	if r := roundTrip(t, sock, request("GET", "/status/201", "", nil)); r.Status != 201 {
		t.Errorf("after garbage: status %d", r.Status)
	}
}

func testPanic(t *testing.T, sock mangos.Socket, logs *logBuffer) {
	r := roundTrip(t, sock, request("GET", "/panic", "", nil))
	if r.Status != 500 || string(r.Body) != "Internal Server Error\n" {
		t.Errorf("panic: %q", r.raw)
	}
	if l := logs.String(); !strings.Contains(l, "panic=boom") || !strings.Contains(l, "request_id=req-42") {
		t.Errorf("panic not logged with the request id:\n%s", l)
	}
	if r := roundTrip(t, sock, request("GET", "/status/201", "", nil)); r.Status != 201 {
		t.Errorf("after a panic: status %d", r.Status)
	}
	before := strings.Count(logs.String(), "panic serving request")
	if r := roundTrip(t, sock, request("GET", "/abort", "", nil)); r.Status != 500 {
		t.Errorf("ErrAbortHandler: status %d", r.Status)
	}
	if after := strings.Count(logs.String(), "panic serving request"); after != before {
		t.Errorf("http.ErrAbortHandler was logged")
	}
}

// TestTLS serves over tls+tcp with Server.TLSConfig, the one transport that
// needs configuration.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	url := "tls+tcp://127.0.0.1:" + freePort(t)
	startServer(t, &Server{Handler: testMux(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}, url)
	sock := newClient(t)
	opts := map[string]any{mangos.OptionTLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	if err := sock.DialOptions(url, opts); err != nil {
		t.Fatal(err)
	}
	testGet(t, sock)
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "worker test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestMaxRecvSize: a request over the limit is not served; mangos drops the
// connection it came on, so a REQ socket that does not resend fails the
// request at once (instead of waiting for its deadline), and the next
// request, on a new connection, is served.
func TestMaxRecvSize(t *testing.T) {
	for _, ep := range []endpoint{ipcEndpoint, tcpEndpoint} {
		t.Run(ep.name, func(t *testing.T) {
			url := ep.url(t)
			startServer(t, &Server{Handler: testMux(), MaxRecvSize: 1 << 20}, url)
			sock := dialClient(t, url)
			fits := bytes.Repeat([]byte{'x'}, 1<<20-200)
			if r := roundTrip(t, sock, request("POST", "/echo", "", fits)); !bytes.Equal(r.Body, fits) {
				t.Fatalf("a request under the limit: status %d", r.Status)
			}
			start := time.Now()
			_, err := exchange(sock, request("POST", "/echo", "", make([]byte, 1<<20+1)))
			if err == nil {
				t.Fatal("a request over MaxRecvSize was served")
			}
			if d := time.Since(start); d > ioTimeout/2 {
				t.Errorf("the oversized request failed after %v (%v), not at once", d, err)
			}
			t.Logf("oversized request: %v after %v", err, time.Since(start).Round(time.Millisecond))
			if r := roundTrip(t, sock, request("GET", "/status/201", "", nil)); r.Status != 201 {
				t.Errorf("after an oversized request: status %d", r.Status)
			}
		})
	}
}

// BenchmarkRoundTrip pins the cost of a whole exchange on real sockets,
// mangos included, from the REQ side: one context per request in flight,
// as the gateway uses them.
func BenchmarkRoundTrip(b *testing.B) {
	for _, ep := range []endpoint{inprocEndpoint, tcpEndpoint} {
		b.Run(ep.name, func(b *testing.B) {
			url := ep.url(b)
			s := &Server{Handler: testMux()}
			s.Logger, _ = newLogger()
			if err := s.Listen(url); err != nil {
				b.Fatal(err)
			}
			go s.Serve()
			defer s.Close()
			sock := newClient(b)
			if err := sock.Dial(url); err != nil {
				b.Fatal(err)
			}
			msg := request("GET", "/status/201", "", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := exchange(sock, msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
