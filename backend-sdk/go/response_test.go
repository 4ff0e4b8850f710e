package worker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// serveString runs h on a request for method and returns the encoded reply.
func serveString(t testing.TB, method string, h http.HandlerFunc) string {
	t.Helper()
	s := &Server{Handler: h}
	s.Logger, _ = newLogger()
	m := s.serveMessage(context.Background(), request(method, "/", "", nil))
	defer m.Free()
	return string(m.Body)
}

// TestResponseEncoding pins the exact bytes of the reply for the
// ResponseWriter rules.
func TestResponseEncoding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		h      http.HandlerFunc
		want   string
	}{{
		name: "nothing written means 200 and an empty body",
		h:    func(http.ResponseWriter, *http.Request) {},
		want: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	}, {
		name: "Write implies 200, Content-Type sniffed",
		h:    func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>hi") },
		want: "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 8\r\n\r\n<html>hi",
	}, {
		name: "headers sorted, repeated values on their own lines, in order",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Zeta", "z")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Alpha", "a")
			w.WriteHeader(201)
			w.Write([]byte("made"))
		},
		want: "HTTP/1.1 201 Created\r\nAlpha: a\r\nContent-Type: text/plain\r\nSet-Cookie: b=2\r\nSet-Cookie: a=1\r\n" +
			"Zeta: z\r\nContent-Length: 4\r\n\r\nmade",
	}, {
		name: "the first WriteHeader wins and freezes the header",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(404)
			w.WriteHeader(500)
			w.Header().Set("Late", "ignored")
			w.Write([]byte("x"))
		},
		want: "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 1\r\n\r\nx",
	}, {
		name: "framing headers of the handler are replaced",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "999")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Connection", "close")
			w.Header()["content-length"] = []string{"5"}
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set(http.TrailerPrefix+"X-Sum", "1")
			w.Header().Set("Content-Type", "a/b")
			w.Write([]byte("ab"))
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 2\r\n\r\nab",
	}, {
		name: "a nil Content-Type suppresses sniffing, as in net/http",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil
			w.Write([]byte("<html>"))
		},
		want: "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>",
	}, {
		name: "no sniffing of an encoded body",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("\x1f\x8b"))
		},
		want: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n\x1f\x8b",
	}, {
		name: "header splitting is neutralised, invalid names dropped",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Evil", "a\r\nSet-Cookie: owned\x00\x7f")
			w.Header()["Bad Name"] = []string{"v"}
			w.Header()["Bad:Name"] = []string{"v"}
			w.Header()[""] = []string{"v"}
			w.Header().Set("X-Tab", "a\tb")
		},
		want: "HTTP/1.1 200 OK\r\nX-Evil: a  Set-Cookie: owned  \r\nX-Tab: a\tb\r\nContent-Length: 0\r\n\r\n",
	}, {
		name: "204 has neither body nor Content-Length",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-A", "1")
			w.WriteHeader(204)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic("Write after 204 did not fail")
			}
		},
		want: "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
	}, {
		name: "304 has no body",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(304)
			w.Write([]byte("x"))
		},
		want: "HTTP/1.1 304 Not Modified\r\nEtag: \"v1\"\r\n\r\n",
	}, {
		name: "interim 1xx codes are dropped",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(100)
			w.WriteHeader(103)
			w.WriteHeader(202)
		},
		want: "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
	}, {
		name: "an unknown code gets a made-up reason",
		h:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) },
		want: "HTTP/1.1 299 Status 299\r\nContent-Length: 0\r\n\r\n",
	}, {
		name: "an invalid code is a panic, hence a 500",
		h:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(1000) },
		want: string(replyInternalError),
	}, {
		name:   "HEAD: the length of what was written, no body",
		method: "HEAD",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(strings.Repeat("<html>", 200)))
			w.(http.Flusher).Flush()
			w.Write([]byte("more"))
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 1204\r\n\r\n",
	}, {
		name:   "HEAD: a declared length is kept when nothing is written",
		method: "HEAD",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "12345")
			w.Header().Set("Content-Type", "video/mp4")
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 12345\r\n\r\n",
	}, {
		name: "a declared length is not trusted when a body is written",
		h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "12345")
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("short"))
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nshort",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			if got := serveString(t, method, tc.h); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestResponsePoolIsolation: a pooled writer carries nothing into the next
// request.
func TestResponsePoolIsolation(t *testing.T) {
	serveString(t, "GET", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-First", "1")
		w.WriteHeader(418)
		w.Write([]byte("first body"))
	})
	got := serveString(t, "GET", func(http.ResponseWriter, *http.Request) {})
	if want := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"; got != want {
		t.Errorf("second reply %q, want %q", got, want)
	}
}

// TestBodyAfterReturn: a body read after the handler has returned (from a
// goroutine it left behind) sees EOF, not the next request's bytes.
func TestBodyAfterReturn(t *testing.T) {
	var kept io.Reader
	s := &Server{Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { kept = r.Body })}
	m := s.serveMessage(context.Background(), request("POST", "/", "", []byte("secret")))
	m.Free()
	if n, err := kept.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("late read: %d, %v", n, err)
	}
}

// TestRequestContext: the request's context ends when the handler returns.
func TestRequestContext(t *testing.T) {
	var ctx context.Context
	serveString(t, "GET", func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() })
	if ctx.Err() == nil {
		t.Error("request context still live after the handler returned")
	}
}

// TestEncodeAllocs is the allocation budget of the reply encoding: with a
// warm writer (the pooled case) appendHeader and appendTo allocate nothing.
func TestEncodeAllocs(t *testing.T) {
	w := acquireResponse(false)
	defer releaseResponse(w)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Add("Set-Cookie", "a=1; Path=/")
	h.Add("Set-Cookie", "b=2; Path=/")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Request-Id", "5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910")
	w.Write([]byte(`{"hello":"world"}`))
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(1000, func() {
		w.head, w.keys, w.info = appendHeader(w.head[:0], h, w.keys)
		dst = w.appendTo(dst[:0])
	}); n != 0 {
		t.Errorf("encoding allocates %v times per reply, want 0", n)
	}
	if !strings.HasSuffix(string(dst), "Content-Length: 17\r\n\r\n{\"hello\":\"world\"}") {
		t.Errorf("encoded %q", dst)
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	b.ReportAllocs()
	for b.Loop() {
		w := acquireResponse(false)
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Add("Set-Cookie", "a=1")
		h.Add("Set-Cookie", "b=2")
		w.Write(body)
		w.finishHeader()
		m := w.message()
		m.Free()
		releaseResponse(w)
	}
}

// BenchmarkServeMessage is the whole per-request cost of this package:
// parse the message, run a small handler, encode the reply.
func BenchmarkServeMessage(b *testing.B) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})}
	msg := request("GET", "/api/hello?x=1", "User-Agent: bench\r\nAccept: */*\r\n", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.serveMessage(ctx, msg).Free()
	}
}
