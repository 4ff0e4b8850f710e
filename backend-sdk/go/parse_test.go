package worker

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// netHTTPParse is the reference for parseRequest: the implementation it
// replaced, http.ReadRequest and this package's checks on its result.
func netHTTPParse(msg []byte) (*http.Request, *body, error) {
	src := bytes.NewReader(msg)
	br := bufio.NewReaderSize(src, 4096)
	r, err := http.ReadRequest(br)
	headLen := len(msg) - src.Len() - br.Buffered()
	if err != nil {
		return nil, nil, malformed(err)
	}
	if r.ProtoMajor != 1 {
		return nil, nil, errVersion
	}
	if len(r.TransferEncoding) > 0 {
		return nil, nil, errTransferEncoding
	}
	rest := msg[headLen:]
	if _, framed := r.Header["Content-Length"]; framed {
		if r.ContentLength != int64(len(rest)) {
			return nil, nil, errBodyLength
		}
	} else {
		r.ContentLength = int64(len(rest))
	}
	b := setBody(r, rest)
	r.RemoteAddr = remoteAddr(r.Header["X-Forwarded-For"])
	return r, b, nil
}

// sameParse fails t unless parseRequest and netHTTPParse agree on msg: the
// same error text, or requests equal in every field that ReadRequest sets.
func sameParse(t *testing.T, msg []byte) {
	t.Helper()
	want, wb, werr := netHTTPParse(bytes.Clone(msg))
	got, gb, gerr := parseRequest(msg)
	if werr != nil || gerr != nil {
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Fatalf("message %q\nerror %v\nnet/http: %v", msg, gerr, werr)
		}
		return
	}
	type view struct {
		Method, RequestURI, Proto, Host, RemoteAddr string
		ProtoMajor, ProtoMinor                      int
		ContentLength                               int64
		Close, NoBody, HasBody                      bool
		TransferEncoding                            []string
		Trailer, Header                             http.Header
		URL                                         url.URL
		Body                                        string
	}
	see := func(r *http.Request, b *body) view {
		bodyBytes, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return view{r.Method, r.RequestURI, r.Proto, r.Host, r.RemoteAddr, r.ProtoMajor, r.ProtoMinor,
			r.ContentLength, r.Close, r.Body == http.NoBody, b != nil, r.TransferEncoding,
			r.Trailer, r.Header, *r.URL, string(bodyBytes)}
	}
	if g, w := see(got, gb), see(want, wb); !reflect.DeepEqual(g, w) {
		t.Fatalf("message %q\ngot      %+v\nnet/http %+v", msg, g, w)
	}
	if got.TLS != nil || got.Form != nil || got.GetBody != nil || got.Response != nil {
		t.Fatalf("message %q: unexpected fields set", msg)
	}
}

// parseCases are messages that exercise the corners of http.ReadRequest.
var parseCases = []string{
	"",
	"\n",
	"\r\n\r\n",
	"GET",
	"GET /",
	"GET / HTTP/1.1",
	"GET / HTTP/1.1\r",
	"GET / HTTP/1.1\r\n",
	"GET / HTTP/1.1\r\nHost: h",
	"GET / HTTP/1.1\r\nHost: h\r\n",
	"GET / HTTP/1.1\r\nBad",
	"GET / HTTP/1.1\nHost: h\n\nbody",
	"GET / HTTP/1.1\r\n\r\n",
	"GET  HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1 x\r\n\r\n",
	"GET / http/1.1\r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"GET / HTTP/0.9\r\n\r\n",
	"GET / HTTP/1.2\r\n\r\n",
	"GET / HTTP/9.9\r\n\r\n",
	"GET / HTTP/1.10\r\n\r\n",
	"G(T / HTTP/1.1\r\n\r\n",
	" GET / HTTP/1.1\r\n\r\n",
	"GET x HTTP/1.1\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\n\r\n",
	"GET /a\rb HTTP/1.1\r\n\r\n",
	"GET /%zz HTTP/1.1\r\n\r\n",
	"GET /a%20b?c=d%20e#f HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a;b,c HTTP/1.1\r\n\r\n",
	"GET //double/slash HTTP/1.1\r\n\r\n",
	"GET /q? HTTP/1.1\r\n\r\n",
	"GET http://user:pw@example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET HTTP://EXAMPLE.com HTTP/1.1\r\n\r\n",
	"GET mailto:x@y HTTP/1.1\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"CONNECT /rpc HTTP/1.1\r\n\r\n",
	"CONNECT %zz HTTP/1.1\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
	"GET / HTTP/1.1\r\n\tHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\n " + strings.Repeat("x", 80) + "\r\n\r\n",
	"GET / HTTP/1.1\r\n " + strings.Repeat("x", 79) + "\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: h\r\nuser-agent: UA\r\nx-FORWARDED-for: 10.0.0.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/1.1\r\nBad Name: v\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nBad\tName: v\r\n\r\n",
	"GET / HTTP/1.1\r\n: v\r\n\r\n",
	"GET / HTTP/1.1\r\nA: \x00\r\n\r\n",
	"GET / HTTP/1.1\r\nx-a: \x00\r\n\r\n",
	"GET / HTTP/1.1\r\nx a: \x00\r\n\r\n",
	"GET / HTTP/1.1\r\nA: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nA: a\r\r\n\r\n",
	"GET / HTTP/1.1\r\nA: caf\xc3\xa9 \xff\r\n\r\n",
	"GET / HTTP/1.1\r\nA:   spaced \t \r\nB:\r\nC:\t\r\n\r\n",
	"GET / HTTP/1.1\r\nA: a:b:c\r\n\r\n",
	"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nA: 3\r\na: 4\r\n\r\n",
	"GET / HTTP/1.1\r\nA: folded\r\n  continued\r\n\tand more\r\nB: b\r\n\r\n",
	"GET / HTTP/1.1\r\nA: x\r\n \r\n\r\n",
	"GET / HTTP/1.1\r\nA: x\r\n   ",
	"GET / HTTP/1.1\r\nA: x\r\n y",
	"GET / HTTP/1.1\r\nA: x\r\n y\r\n",
	"GET / HTTP/1.1\r\nA\r\n b: c\r\n\r\n",
	"GET / HTTP/1.1\r\nfolded-name: x\r\n y\r\n\r\n",
	"GET / HTTP/1.1\r\nA b: x\r\n y\r\n\r\n",
	"GET / HTTP/1.1\r\nA: x\r\n \x01\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: a, b,  1.2.3.4 \r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 01.2.3.4\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.256\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4.5\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 0.0.0.0\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 2001:DB8::1\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: ::ffff:1.2.3.4\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: fe80::1%eth0\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\xc2\xa0\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4,\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For:\r\n\r\n",
	"GET / HTTP/1.1\r\nx-forwarded-for: 9.9.9.9\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n  , 5.6.7.8\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab",
	"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcd",
	"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 00003\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: 3 \r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: x\r\nContent-Length: x\r\n\r\nabc",
	"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
	"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\nabc",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, Content-Length\r\n\r\n",
	"POST / HTTP/1.1\r\nTrailer: X-Sum\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\nrest",
	"GET / HTTP/0.0\r\nTransfer-Encoding: gzip\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: Keep-Alive, foo\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.1\r\nConnection: upgrade, CLOSE\r\n\r\n",
	"GET / HTTP/1.1\r\nConnection: clos\xc5\xbf\r\n\r\n",
	"GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.1\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
	"GET / HTTP/1.1\r\nPragma: No-Cache\r\n\r\n",
	"GET / HTTP/1.1\r\nPragma: x\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nCache-Control:\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\n" + strings.Repeat("X-Long: "+strings.Repeat("v", 5000)+"\r\n", 3) + "\r\n",
	"GET /" + strings.Repeat("p", 5000) + " HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\n" + strings.Repeat("H: v\r\n", 2000) + "\r\n",
}

func TestParseVsNetHTTP(t *testing.T) {
	for _, msg := range goldenRequests(t) {
		sameParse(t, msg)
	}
	for _, msg := range parseCases {
		sameParse(t, []byte(msg))
	}
	// Lines that straddle the 4 KiB buffer of the reference's bufio.Reader.
	for n := 4080; n < 4100; n++ {
		sameParse(t, []byte("GET / HTTP/1.1\r\nA: "+strings.Repeat("a", n-19)+"\r\n\r\n"))
		sameParse(t, []byte("GET / HTTP/1.1\r\nA: "+strings.Repeat("a", n-19)+"\r\n b\r\n\r\n"))
		sameParse(t, []byte("GET / HTTP/1.1\r\nA: "+strings.Repeat("a", n-19)+"\r\r\n\r\n"))
	}
}

// FuzzParseVsNetHTTP: parseRequest is http.ReadRequest, for every message.
func FuzzParseVsNetHTTP(f *testing.F) {
	addParseSeeds(f)
	f.Fuzz(sameParse)
}

// addParseSeeds seeds a request parser's fuzz target: the golden messages
// and the short cases of parseCases.
func addParseSeeds(f *testing.F) {
	for _, msg := range goldenRequests(f) {
		f.Add(msg)
	}
	for _, msg := range parseCases {
		if len(msg) < 1024 {
			f.Add([]byte(msg))
		}
	}
}

// TestParseOriginForm: the fast path of parseTarget gives the URL that
// url.ParseRequestURI gives, whatever byte the path or the query holds.
func TestParseOriginForm(t *testing.T) {
	for c := range 256 {
		b := string([]byte{byte(c)})
		for _, target := range []string{"/a" + b + "b", "/a" + b, "/a?" + b, "/" + b + "?q", "/a?b" + b + "?", b + "/"} {
			want, werr := url.ParseRequestURI(target)
			got, gerr := parseTarget(false, target)
			if (werr != nil) != (gerr != nil) || werr == nil && !reflect.DeepEqual(*got, *want) {
				t.Errorf("%q: got %+v, %v; url.ParseRequestURI: %+v, %v", target, got, gerr, want, werr)
			}
			if fast, ok := parseOriginForm(target); ok && (werr != nil || !reflect.DeepEqual(fast, *want)) {
				t.Errorf("%q: fast path %+v, url.ParseRequestURI %+v, %v", target, fast, want, werr)
			}
		}
	}
	for _, target := range []string{"/", "/q?", "/q??", "/q?a?", "//x/y", "/a/b/c.json?x=1&y=%20#f", "*", "/a#b"} {
		want, _ := url.ParseRequestURI(target)
		got, _ := parseTarget(false, target)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, url.ParseRequestURI %+v", target, got, want)
		}
	}
}

// TestValidValue: the word-at-a-time check is the byte-at-a-time one.
func TestValidValue(t *testing.T) {
	slow := func(v []byte) bool {
		for _, c := range v {
			if !valueChars[c] {
				return false
			}
		}
		return true
	}
	v := []byte(strings.Repeat("0123456789abcdef", 2))
	for i := range v {
		for c := range 256 {
			w := bytes.Clone(v)
			w[i] = byte(c)
			for n := i + 1; n <= len(w); n += 7 {
				if got, want := validValue(w[:n]), slow(w[:n]); got != want {
					t.Fatalf("validValue(%q) = %v", w[:n], got)
				}
			}
		}
	}
}

// TestParseHeaderAliasing: the values of a header name are a slice of
// their own, so that a handler that appends to one does not overwrite
// another.
func TestParseHeaderAliasing(t *testing.T) {
	r, _, err := parseRequest([]byte("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nA: 3\r\nC: 4\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	r.Header["B"] = append(r.Header["B"], "x")
	r.Header["A"] = append(r.Header["A"], "y")
	want := http.Header{"A": {"1", "3", "y"}, "B": {"2", "x"}, "C": {"4"}}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("header %v, want %v", r.Header, want)
	}
}

// TestParseAllocs is the allocation budget of parsing a typical gateway
// request: the head string, the URL, the header map and its values, the
// request itself.
func TestParseAllocs(t *testing.T) {
	msg := request("GET", "/api/hello?x=1", "User-Agent: bench\r\nAccept: */*\r\n", nil)
	var r http.Request
	n := testing.AllocsPerRun(1000, func() {
		if _, err := parseInto(&r, msg); err != nil {
			t.Fatal(err)
		}
	})
	if n > 4 {
		t.Errorf("parsing allocates %v times, want at most 4", n)
	}
	if r.RemoteAddr != "203.0.113.7:0" || r.Host != "example.test" || r.Header.Get("Accept") != "*/*" {
		t.Errorf("parsed %+v", r)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	for _, m := range []struct{ name, uri, header string }{
		{"small", "/api/hello?x=1", "User-Agent: bench\r\nAccept: */*\r\n"},
		{"browser", "/static/app.js?v=3", "user-agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
			"accept: */*\r\naccept-language: en-US,en;q=0.5\r\naccept-encoding: gzip, deflate, br, zstd\r\n" +
			"referer: https://example.test/\r\ncookie: session=0123456789abcdef; theme=dark\r\n" +
			"sec-fetch-dest: script\r\nsec-fetch-mode: no-cors\r\nsec-fetch-site: same-origin\r\n" +
			"if-none-match: \"abc123\"\r\npriority: u=2\r\n"},
	} {
		msg := request("GET", m.uri, m.header, nil)
		for _, impl := range []struct {
			name  string
			parse func([]byte) (*http.Request, *body, error)
		}{{"worker", parseRequest}, {"net-http", netHTTPParse}} {
			b.Run(m.name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := impl.parse(msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkServeMessageCancellable is BenchmarkServeMessage with the base
// context of a real server, which each request's context registers with.
func BenchmarkServeMessageCancellable(b *testing.B) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})}
	msg := request("GET", "/api/hello?x=1", "User-Agent: bench\r\nAccept: */*\r\n", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		s.serveMessage(ctx, msg).Free()
	}
}
