package frontend

import (
	"bufio"
	"github.com/nanogate/nanogate/gateway"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func mustRegexp(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// newCtx parses raw the way the server does, so RawHeaders is populated.
func newCtx(tb testing.TB, raw string) *fasthttp.RequestCtx {
	tb.Helper()
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	req.Header.DisableNormalizing()
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		tb.Fatal(err)
	}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
	return &ctx
}

const benchRequest = "POST /api/items?id=7 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\n" +
	"Accept: */*\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"hello\":\"x\"}"

const benchReply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\n" +
	"Content-Length: 11\r\n\r\nhello world"

// TestHandlerZeroAllocs is the allocation budget of our own request path:
// framing scan, route lookup, ids, encoding, reply parsing and copying into
// the fasthttp response, with the upstream faked.
func TestHandlerZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	s := New(Config{Logger: slog.New(slog.DiscardHandler), Routes: []Route{
		{Name: "root", Path: "/", Upstream: reply(benchReply)},
		{Name: "api", Path: "/api/", Forward: true, Upstream: reply(benchReply)},
	}})
	ctx := newCtx(t, benchRequest)
	s.handle(ctx) // warm the pools
	allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		ctx.ResetUserValues() // fasthttp's reset between requests: the scratch goes back
		s.handle(ctx)
	})
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Body()) != "hello world" {
		t.Fatalf("handler answered %d %q", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per request on the frontend path, want 0", allocs)
	}
}

// nopObserver counts calls, so that the observer is really called.
type nopObserver struct{ n int }

func (o *nopObserver) Served(gateway.Exchange) { o.n++ }

// TestHandlerZeroAllocsObserved: calling an Observer (metrics, access
// log) adds no allocation to the request path.
func TestHandlerZeroAllocsObserved(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	o := &nopObserver{}
	s := New(Config{Logger: slog.New(slog.DiscardHandler), Observer: o, Routes: []Route{
		{Name: "api", Path: "/api/", Forward: true, Upstream: reply(benchReply)},
	}})
	ctx := newCtx(t, benchRequest)
	s.handle(ctx)
	allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		s.handle(ctx)
	})
	if o.n < 1000 {
		t.Fatalf("observer called %d times", o.n)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per observed request, want 0", allocs)
	}
}

func BenchmarkHandler(b *testing.B) {
	s := New(Config{Logger: slog.New(slog.DiscardHandler), Routes: []Route{
		{Name: "api", Path: "/api/", Forward: true, Upstream: reply(benchReply)},
	}})
	ctx := newCtx(b, benchRequest)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		s.handle(ctx)
	}
}
