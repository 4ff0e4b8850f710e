package zhttp

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/protocol/tnetstring"
	"github.com/nanogate/nanogate/session"
)

func golden(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The golden packets (testdata/packets.py builds them from spec 33's
// fields with our Python tnetstring module) read as they mean.
func TestParseGolden(t *testing.T) {
	var p Packet
	if err := Parse(golden(t, "stream-request.tnet"), &p); err != nil {
		t.Fatal(err)
	}
	if string(p.From) != "gw" || len(p.IDs) != 1 || string(p.IDs[0].ID) != "7" || p.IDs[0].Seq != 0 ||
		!p.Multi || !p.Stream || p.Credits != 4096 || string(p.Method) != "GET" ||
		string(p.URI) != "http://gw.test/items?page=2" || len(p.Headers) != 1 ||
		string(p.Headers[0].Name) != "Host" || string(p.Headers[0].Value) != "gw.test" || p.Type != Data {
		t.Fatalf("stream request: %+v", p)
	}
	if err := Parse(golden(t, "req-response.tnet"), &p); err != nil {
		t.Fatal(err)
	}
	if p.Code != 200 || string(p.Reason) != "OK" || string(p.Body) != "stored\n" || p.IDs[0].Seq != -1 || p.More {
		t.Fatalf("req response: %+v", p)
	}
	head, err := AppendHead(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\n"; string(head) != want {
		t.Fatalf("head %q, want %q", head, want)
	}
	// The REQ-mode request: its body rides in the packet.
	var r Packet
	if err := Parse(golden(t, "req-request.tnet"), &r); err != nil {
		t.Fatal(err)
	}
	if string(r.Method) != "POST" || len(r.Headers) != 2 || string(r.Body) != "a=1&b=2" || len(r.From) != 0 ||
		string(r.IDs[0].ID) != "r1" || r.IDs[0].Seq != -1 || !r.Multi {
		t.Fatalf("req request: %+v", r)
	}
}

// The golden packets are what testdata/packets.py writes, so they are
// ours and can be made again.
func TestGoldenFromScript(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	cmd := exec.Command(py, filepath.Join("testdata", "packets.py"), dir)
	cmd.Env = append(os.Environ(), "PYTHONPATH=../../cmd/nanogate/testdata/condure")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("packets.py: %v\n%s", err, out)
	}
	made, _ := filepath.Glob(filepath.Join(dir, "*.tnet"))
	have, _ := filepath.Glob(filepath.Join("testdata", "*.tnet"))
	if len(made) == 0 || len(made) != len(have) {
		t.Fatalf("packets.py made %d packets, testdata has %d", len(made), len(have))
	}
	for _, f := range made {
		want, _ := os.ReadFile(f)
		if got := golden(t, filepath.Base(f)); !bytes.Equal(got, want) {
			t.Errorf("%s: %q, packets.py writes %q", filepath.Base(f), got, want)
		}
	}
}

// What Append writes, Parse reads back field for field, and the bytes are
// stable (Condure's field order is not required: dictionaries are
// unordered).
func TestAppendRoundTrip(t *testing.T) {
	p := Packet{
		From: []byte("nanogate"), IDs: []ID{{ID: []byte("ab-1"), Seq: 0}}, Multi: true,
		Method: []byte("POST"), URI: []byte("http://h/x?y"), Headers: []Header{{[]byte("Host"), []byte("h")}},
		HasHeaders: true, Body: []byte("a\x00b"), Credits: 1 << 20, More: true, Stream: true,
		PeerAddress: []byte("127.0.0.1"), PeerPort: 4000,
	}
	b := Append(nil, &p)
	var q Packet
	if err := Parse(b, &q); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("\n%+v\n%+v", p, q)
	}
	// Several ids go out as a list of {id, seq}; types by name.
	p = Packet{From: []byte("h"), IDs: []ID{{[]byte("1"), 3}, {[]byte("2"), -1}}, Type: KeepAlive}
	b = Append(nil, &p)
	if want := "T76:4:from,1:h,2:id,35:19:2:id,1:1,3:seq,1:3#}9:2:id,1:2,}]4:type,10:keep-alive,}"; string(b) != want {
		t.Fatalf("got  %q\nwant %q", b, want)
	}
	if err := Parse(b, &q); err != nil || len(q.IDs) != 2 || q.IDs[0].Seq != 3 || q.IDs[1].Seq != -1 || q.Type != KeepAlive {
		t.Fatalf("%+v %v", q, err)
	}
	// user-data is echoed byte for byte.
	if err := Parse([]byte("T32:2:id,1:1,9:user-data,8:1:a,1:1#]}"), &q); err != nil {
		t.Fatal(err)
	}
	out := Append(nil, &Packet{IDs: q.IDs, UserData: q.UserData})
	if !bytes.Contains(out, []byte("9:user-data,8:1:a,1:1#]")) {
		t.Fatalf("%q", out)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", ErrNotT},
		{"{}", ErrNotT},
		{"T0:]", ErrNotDict},
		{pkt(""), ErrNoID},
		{"T5:hello", tnetstring.ErrShort},
		{pkt("2:id,1:1,3:seq,"), tnetstring.ErrOddDict},
		{pkt("2:id,1:1,3:seq,2:-1#"), ErrNegative},
		{pkt("2:id,1:1,4:type,3:bad,"), ErrUnknownType},
		{pkt("2:id,1:1,4:code,1:x,"), tnetstring.ErrType},
		{pkt("2:id,1:1,7:headers,10:7:1:a,1:b,]"), ErrBadHeader},
		{pkt("2:id,1:1,7:headers,7:4:1:a,]]"), ErrBadHeader},
		{pkt("2:id,4:1:1#]"), ErrBadField},
	} {
		var p Packet
		if err := Parse([]byte(c.in), &p); !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.in, err, c.want)
		}
	}
	// More than MaxIDs ids.
	ids := make([]ID, MaxIDs+1)
	for i := range ids {
		ids[i] = ID{ID: []byte("x"), Seq: -1}
	}
	var p Packet
	if err := Parse(Append(nil, &Packet{IDs: ids}), &p); !errors.Is(err, ErrTooManyIDs) {
		t.Fatalf("too many ids: %v", err)
	}
}

// A head as the gateway writes it (format frames) becomes the request
// fields; the gateway's inbound header stays home.
func TestFromHead(t *testing.T) {
	head := "POST /up?x=1 HTTP/1.1\r\nHost: example.com:8000\r\nContent-Length: 5\r\n" +
		"X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: http\r\n" +
		"X-Nanogate-Session: 0123456789abcdeffedcba9876543210\r\nX-Nanogate-Inbound: ipc:///tmp/x\r\n\r\nhello"
	var p Packet
	r, _, err := FromHead(&p, []byte(head), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Method) != "POST" || string(p.URI) != "http://example.com:8000/up?x=1" ||
		string(p.PeerAddress) != "127.0.0.1" || len(p.Headers) != 5 || r.ContentLength != 5 || !r.Framed() ||
		string(r.Body) != "hello" {
		t.Fatalf("%+v %+v", p, r)
	}
	for _, h := range p.Headers {
		if strings.EqualFold(string(h.Name), "X-Nanogate-Inbound") {
			t.Fatal("inbound header passed on")
		}
	}
	for _, bad := range []string{"GET /\r\n\r\n", "GET / HTTP/1.1\r\nHost h\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\n", "GET / SPDY\r\n\r\n"} {
		var p Packet
		if _, _, err := FromHead(&p, []byte(bad), nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A handler cannot forge header lines or a status line.
func TestAppendHeadRefuses(t *testing.T) {
	for _, p := range []Packet{
		{Code: 200, Headers: []Header{{[]byte("X"), []byte("a\r\nSet-Cookie: evil")}}},
		{Code: 200, Headers: []Header{{[]byte("X Y"), []byte("a")}}},
		{Code: 200, Reason: []byte("OK\r\nX: y")},
		{Code: 99},
		{},
	} {
		if _, err := AppendHead(nil, &p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	// A streamed response keeps its framing to the server; a handler's
	// Transfer-Encoding goes.
	p := Packet{Code: 200, More: true, Headers: []Header{{[]byte("Transfer-Encoding"), []byte("chunked")}}}
	head, err := AppendHead(nil, &p)
	if err != nil || string(head) != "HTTP/1.1 200\r\n\r\n" {
		t.Fatalf("%q %v", head, err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.tnet")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte("T76:4:from,1:h,2:id,35:19:2:id,1:1,3:seq,1:3#}9:2:id,1:2,}]4:type,10:keep-alive,}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if Parse(b, &p) != nil {
			return
		}
		// What was read is written back and reads the same.
		out := Append(nil, &p)
		var q Packet
		if err := Parse(out, &q); err != nil {
			t.Fatalf("%q -> %q: %v", b, out, err)
		}
		if len(q.IDs) != len(p.IDs) || q.Code != p.Code || !bytes.Equal(q.Body, p.Body) || q.More != p.More ||
			q.Type != p.Type || len(q.Headers) != len(p.Headers) {
			t.Fatalf("%q -> %q: %+v vs %+v", b, out, p, q)
		}
		// A head the mapping accepts is a head the gateway accepts.
		head, err := AppendHead(nil, &p)
		if err != nil {
			return
		}
		var r session.Response
		if _, err := r.ParseHead(append(head, p.Body...)); err != nil && p.Code >= 200 {
			t.Fatalf("head %q refused downstream: %v", head, err)
		}
	})
}

func FuzzFromHead(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("POST http://x/y HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if _, _, err := FromHead(&p, b, nil); err != nil {
			return
		}
		// The packet it makes is one a handler can read.
		p.IDs = []ID{{ID: []byte("1"), Seq: 0}}
		var q Packet
		if err := Parse(Append(nil, &p), &q); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
	})
}

// pkt makes a packet of the dictionary body d (its elements).
func pkt(d string) string { return "T" + strconv.Itoa(len(d)) + ":" + d + "}" }
