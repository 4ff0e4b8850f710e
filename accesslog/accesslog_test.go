package accesslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanogate/nanogate/gateway"
)

// syncBuffer is a bytes.Buffer safe for the flusher and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func exchange() gateway.Exchange {
	return gateway.Exchange{Route: &gateway.Route{Name: "api"}, Method: []byte("POST"), URI: []byte("/api/x?y=1"),
		Client: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}, RequestID: []byte("r-1"),
		Status: 201, Bytes: 7, Elapsed: 1500 * time.Microsecond}
}

func TestJSONLine(t *testing.T) {
	var out syncBuffer
	l := New(&out, true)
	l.Served(exchange())
	x := exchange()
	x.Route, x.Status, x.Reason = nil, 404, gateway.ReasonNoRoute
	l.Served(x)
	l.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), out.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"msg": "access", "client": "192.0.2.1:4242", "method": "POST", "uri": "/api/x?y=1",
		"status": 201.0, "bytes": 7.0, "ms": 1.5, "route": "api", "id": "r-1"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, rec[k], want, lines[0])
		}
	}
	if !strings.Contains(lines[1], `"reason":"no_route"`) || !strings.Contains(lines[1], `"route":""`) {
		t.Errorf("404 line %s", lines[1])
	}
}

// TestFlushedWithoutClose: a line reaches the writer within the flush
// interval, with no Close (a gateway that runs for days).
func TestFlushedWithoutClose(t *testing.T) {
	var out syncBuffer
	l := New(&out, false)
	defer l.Close()
	l.Served(exchange())
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "msg=access") {
		if time.Now().After(deadline) {
			t.Fatal("line not flushed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "status=201") {
		t.Fatalf("text line %q", out.String())
	}
}

func BenchmarkServed(b *testing.B) {
	for _, json := range []bool{true, false} {
		b.Run(map[bool]string{true: "json", false: "text"}[json], func(b *testing.B) {
			l := New(io.Discard, json)
			defer l.Close()
			x := exchange()
			b.ReportAllocs()
			for b.Loop() {
				l.Served(x)
			}
		})
	}
}

// TestZeroAllocs: a line costs no allocation once the pool is warm.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	l := New(io.Discard, true)
	defer l.Close()
	x := exchange()
	l.Served(x)
	if n := testing.AllocsPerRun(1000, func() { l.Served(x) }); n != 0 {
		t.Fatalf("%v allocations per line, want 0", n)
	}
}

// FuzzLine: whatever a client puts in its URI and method, the JSON line
// parses, holds exactly the fields written, and gives the URI back as
// encoding/json would (invalid UTF-8 as U+FFFD); the text line stays one
// line.
func FuzzLine(f *testing.F) {
	f.Add([]byte("/a?b=c"), []byte("GET"))
	f.Add([]byte("/\x00\"\n\r\t\u2028 ü \xff"), []byte("P\"OST"))
	f.Fuzz(func(t *testing.T, uri, method []byte) {
		x := exchange()
		x.URI, x.Method = uri, method
		line := new(scratch).appendLine(nil, time.Unix(0, 0), &x, true)
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		// encoding/json's own reading of the same bytes is the oracle: it
		// too replaces each invalid byte with U+FFFD.
		asJSON := func(b []byte) any {
			var s string
			m, _ := json.Marshal(string(b))
			json.Unmarshal(m, &s)
			return s
		}
		if len(rec) != 11 || rec["uri"] != asJSON(uri) || rec["method"] != asJSON(method) {
			t.Fatalf("line %q parsed to %v", line, rec)
		}
		text := new(scratch).appendLine(nil, time.Unix(0, 0), &x, false)
		if bytes.Count(text, []byte("\n")) != 1 || text[len(text)-1] != '\n' {
			t.Fatalf("text line %q", text)
		}
	})
}

// TestTimeStamp: the stamp kept per second reads as time.AppendFormat
// would, across seconds, milliseconds and zones.
func TestTimeStamp(t *testing.T) {
	var s scratch
	east := time.FixedZone("E", 5*3600+30*60)
	base := time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC)
	for i := range 5000 {
		now := base.Add(time.Duration(i) * 777 * time.Microsecond)
		if i%7 == 0 {
			now = now.In(east)
		}
		got := string(s.appendTime(nil, now))
		if want := now.Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Fatalf("%v: %q, want %q", now, got, want)
		}
	}
}

// TestMillis: the duration reads as strconv.AppendFloat's shortest form
// of the same number of milliseconds did.
func TestMillis(t *testing.T) {
	for _, us := range []int64{0, 1, 10, 100, 999, 1000, 1001, 1500, 1234, 12000, 99999, 123456789, -1500} {
		d := time.Duration(us) * time.Microsecond
		got := string(appendMillis(nil, d))
		if want := strconv.FormatFloat(float64(us)/1000, 'f', -1, 64); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// TestManyWritersKeepOrder: lines from many goroutines (connections), many
// buffers' worth, all reach the writer whole, each one's in its own order,
// through a writer slow enough that requests must wait for buffers.
func TestManyWritersKeepOrder(t *testing.T) {
	var out syncBuffer
	slow := writerFunc(func(p []byte) (int, error) {
		time.Sleep(time.Millisecond)
		return out.Write(p)
	})
	l := New(slow, false)
	const writers, each = 8, 4000 // about 8 buffers of lines
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			x := exchange()
			x.Conn = uint64(w) // writers spread over the shards
			for i := range each {
				x.RequestID = []byte(strconv.Itoa(w) + "-" + strconv.Itoa(i))
				l.Served(x)
			}
		})
	}
	wg.Wait()
	l.Close()
	next := make([]int, writers)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	for _, line := range lines {
		i := strings.Index(line, " id=")
		var w, n int
		if _, err := fmt.Sscanf(line[i+4:], "%d-%d", &w, &n); err != nil || n != next[w] {
			t.Fatalf("line %q out of order (want %d-%d)", line, w, next[w])
		}
		next[w]++
	}
}

// TestServedAfterClose: a line served after Close is written, not lost
// or blocked on a flusher that is gone.
func TestServedAfterClose(t *testing.T) {
	var out syncBuffer
	l := New(&out, false)
	l.Close()
	for range 2000 { // more than a buffer
		l.Served(exchange())
	}
	if n := strings.Count(out.String(), "msg=access"); n != 2000 {
		t.Fatalf("%d lines after Close, want 2000", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// BenchmarkServedParallel: lines from as many goroutines as processors,
// as a loaded gateway writes them; with -cpu 1,2 it shows what the shared
// buffer's lock costs when processors contend for it.
func BenchmarkServedParallel(b *testing.B) {
	l := New(io.Discard, true)
	defer l.Close()
	b.ReportAllocs()
	var conns atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		x := exchange()
		x.Conn = conns.Add(1) // each goroutine a connection of its own
		for pb.Next() {
			l.Served(x)
		}
	})
}
