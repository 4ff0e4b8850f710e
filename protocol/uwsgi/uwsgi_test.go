package uwsgi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type vector struct {
	File string      `json:"file"`
	Vars [][2]string `json:"vars"` // hex key, hex value
}

func loadVectors(t testing.TB) []vector {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Valid []vector }
	if err := json.Unmarshal(b, &v); err != nil || len(v.Valid) == 0 {
		t.Fatalf("vectors: %v (%d)", err, len(v.Valid))
	}
	return v.Valid
}

func unhex(s string) []byte { b, _ := hex.DecodeString(s); return b }

// The golden files were written by a few lines of Python's struct, not by
// this package: decoding them gives their variables, encoding the
// variables gives their bytes.
func TestGoldenVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.File, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", v.File))
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]string
			if err := Each(raw, func(k, val []byte) {
				got = append(got, [2]string{hex.EncodeToString(k), hex.EncodeToString(val)})
			}); err != nil {
				t.Fatalf("Each: %v", err)
			}
			if len(got) != len(v.Vars) {
				t.Fatalf("%d vars, want %d", len(got), len(v.Vars))
			}
			var w Writer
			w.Reset([]byte("prefix"))
			for i, kv := range v.Vars {
				if got[i] != kv {
					t.Fatalf("var %d = %v, want %v", i, got[i], kv)
				}
				w.Var(string(unhex(kv[0])), unhex(kv[1]))
			}
			out, err := w.Finish()
			if err != nil || string(out[:6]) != "prefix" || !bytes.Equal(out[6:], raw) {
				t.Fatalf("Finish = %q, %v; want prefix + %q", out, err, raw)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.uwsgi")
	if len(files) == 0 {
		t.Fatal("no invalid vectors")
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		called := false
		if err := Each(raw, func(k, v []byte) { called = true }); err == nil || called {
			t.Errorf("%s: Each = %v, called %v; want an error and no call", f, err, called)
		}
	}
}

// Header names become CGI names, as BlastBeat's add_uwsgi_item does.
func TestHeader(t *testing.T) {
	var w Writer
	w.Reset(nil)
	w.Header([]byte("Content-type"), []byte("text/x"))
	w.Header([]byte("x-a_b-9"), nil)
	pkt, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Get(pkt, "HTTP_CONTENT_TYPE"); !ok || string(v) != "text/x" {
		t.Fatalf("HTTP_CONTENT_TYPE = %q %v", v, ok)
	}
	if _, ok := Get(pkt, "HTTP_X_A_B_9"); !ok {
		t.Fatalf("HTTP_X_A_B_9 missing in %q", pkt)
	}
}

// Past 65535 bytes the packet is refused and dst comes back as it was.
func TestTooLarge(t *testing.T) {
	var w Writer
	w.Reset([]byte("keep"))
	big := make([]byte, 40000)
	w.Var("A", big)
	w.Var("B", big)
	w.Var("C", nil) // ignored after the error
	out, err := w.Finish()
	if !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
		t.Fatalf("Finish = %q, %v", out, err)
	}
	// Exactly MaxPacket fits: 4 + 2 + 1 + 2 + n.
	w.Reset(nil)
	w.Var("A", make([]byte, MaxPacket-9))
	if out, err := w.Finish(); err != nil || len(out) != MaxPacket || Check(out) != nil {
		t.Fatalf("a full packet: %d bytes, %v", len(out), err)
	}
}

func TestEncodeAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	key, val := []byte("User-Agent"), []byte("curl")
	n := testing.AllocsPerRun(100, func() {
		var w Writer
		w.Reset(buf[:0])
		w.VarString("REQUEST_METHOD", "GET")
		w.Var("PATH_INFO", val)
		w.Header(key, val)
		if _, err := w.Finish(); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet, want 0", n)
	}
}

// A decoder that reads the size field as BlastBeat's README decoder,
// uwsgi_to_dict, does (the end of the variables, counted from the first
// byte), run by Python on our encoding, reads back every variable.
func TestReadmeDecoder(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	var w Writer
	w.Reset(nil)
	w.VarString("REQUEST_METHOD", "GET")
	w.VarString("PATH_INFO", "/a b")
	w.Header([]byte("X-Long"), bytes.Repeat([]byte("x"), 3000))
	pkt, _ := w.Finish()
	cmd := exec.Command(py, "-c", `
import sys
def uwsgi_to_dict(pkt):
    # BlastBeat's reading (its README): the u16 little-endian at bytes 1-2
    # is the end of the variables, counted from the packet's first byte.
    end = int.from_bytes(pkt[1:3], 'little')
    env, pos = {}, 4
    while pos < end:
        n = int.from_bytes(pkt[pos:pos+2], 'little')
        key, pos = pkt[pos+2:pos+2+n], pos+2+n
        n = int.from_bytes(pkt[pos:pos+2], 'little')
        env[key], pos = pkt[pos+2:pos+2+n], pos+2+n
    return env
env = uwsgi_to_dict(sys.stdin.buffer.read())
for k in sorted(env): print(k.decode(), len(env[k]), env[k][:4].decode())
`)
	cmd.Stdin = bytes.NewReader(pkt)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "HTTP_X_LONG 3000 xxxx\nPATH_INFO 4 /a b\nREQUEST_METHOD 3 GET\n"
	if string(out) != want {
		t.Fatalf("python read\n%s\nwant\n%s", out, want)
	}
}

// FuzzEach: Each never panics or reads past the packet, Check and Each
// agree, and what Each reads re-encodes to the same bytes.
func FuzzEach(f *testing.F) {
	for _, v := range loadVectors(f) {
		raw, _ := os.ReadFile(filepath.Join("testdata", v.File))
		f.Add(raw)
	}
	files, _ := filepath.Glob("testdata/invalid/*.uwsgi")
	for _, p := range files {
		raw, _ := os.ReadFile(p)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var w Writer
		w.Reset(nil)
		err := Each(pkt, func(k, v []byte) { w.Var(string(k), v) })
		if (err == nil) != (Check(pkt) == nil) {
			t.Fatalf("Each %v, Check %v", err, Check(pkt))
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "uwsgi: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		out, ferr := w.Finish()
		if ferr != nil || !bytes.Equal(out, pkt) {
			t.Fatalf("re-encoded %q, %v; want %q", out, ferr, pkt)
		}
	})
}
