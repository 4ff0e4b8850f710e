package frames

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vector is one entry of testdata/vectors.json: a file of exact bytes and
// what it parses to; SDKs in other languages read the same file.
type vector struct {
	File    string `json:"file"`
	SID     string `json:"sid"`
	Type    string `json:"type"`
	Stream  uint32 `json:"stream"`
	BodyHex string `json:"body_hex"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Valid []vector `json:"valid"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Valid) == 0 {
		t.Fatal("no vectors")
	}
	return v.Valid
}

func TestGoldenVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.File, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", v.File))
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			body, _ := hex.DecodeString(v.BodyHex)
			if hex.EncodeToString(f.SID[:]) != v.SID || f.Type.String() != v.Type || f.Stream != v.Stream || !bytes.Equal(f.Body, body) {
				t.Fatalf("parsed %x %s %d %q, want %s %s %d %q", f.SID, f.Type, f.Stream, f.Body, v.SID, v.Type, v.Stream, body)
			}
			var sid [16]byte
			hex.Decode(sid[:], []byte(v.SID))
			if got := Append(nil, sid, TypeOf([]byte(v.Type)), v.Stream, body); !bytes.Equal(got, raw) {
				t.Fatalf("Append = %q, want the file's %q", got, raw)
			}
		})
	}
}

func TestInvalidVectors(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.frame")
	if len(files) == 0 {
		t.Fatal("no invalid vectors")
	}
	for _, name := range files {
		raw, _ := os.ReadFile(name)
		if f, err := Parse(raw); err == nil {
			t.Errorf("%s: parsed as %+v, want an error", name, f)
		}
	}
}

func TestParseErrors(t *testing.T) {
	sid := strings.Repeat("ab", 16)
	cases := map[string]error{
		"":                                     ErrShort,
		sid + " x 1":                           ErrShort,
		sid + "_body 1\nx":                     ErrSeparator,
		strings.Repeat("AB", 16) + " body 1\n": ErrSID,
		sid + " bogus 1\n":                     ErrType,
		sid + " body x\n":                      ErrStream,
		sid + " body 4294967296\n":             ErrStream,
		sid + " body 1 \n":                     ErrSeparator,
		sid + " body 1":                        ErrSeparator,
		sid + " averyveryverylongtype 1\n":     ErrSeparator,
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err != want {
			t.Errorf("Parse(%q) = %v, want %v", in, err, want)
		}
	}
	f, err := Parse([]byte(sid + " body 4294967295\n"))
	if err != nil || f.Stream != 1<<32-1 || len(f.Body) != 0 {
		t.Fatalf("largest stream: %+v %v", f, err)
	}
}

func TestTypeNames(t *testing.T) {
	for ty := Type(1); ty < numTypes; ty++ {
		if TypeOf([]byte(ty.String())) != ty {
			t.Errorf("%d: %q does not map back", ty, ty.String())
		}
	}
	if Type(0).String() != "invalid" || TypeOf([]byte("invalid")) != 0 {
		t.Error("the zero type must not be a name")
	}
}

func TestCloseAndCredit(t *testing.T) {
	b := AppendClose(nil, 1009, "message too big")
	if code, reason, ok := ParseClose(b); !ok || code != 1009 || string(reason) != "message too big" {
		t.Fatalf("ParseClose(%q) = %d %q %v", b, code, reason, ok)
	}
	if code, _, ok := ParseClose(nil); !ok || code != 1000 {
		t.Fatal("an empty close is 1000")
	}
	for _, bad := range []string{"x", "10000", " 1000"} {
		if _, _, ok := ParseClose([]byte(bad)); ok {
			t.Errorf("ParseClose(%q) accepted", bad)
		}
	}
	if n, ok := ParseCredit([]byte("1048576")); !ok || n != Window {
		t.Fatal("credit")
	}
	for _, bad := range []string{"", "-1", "12345678901", "1e3"} {
		if _, ok := ParseCredit([]byte(bad)); ok {
			t.Errorf("ParseCredit(%q) accepted", bad)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	var sid [16]byte
	buf := make([]byte, 0, 256)
	msg := Append(nil, sid, WSBinary, 7, []byte("payload"))
	n := testing.AllocsPerRun(1000, func() {
		buf = Append(buf[:0], sid, Chunk, 12345, []byte("hello"))
		if _, err := Parse(msg); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per Append+Parse, want 0", n)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.frame")
	more, _ := filepath.Glob("testdata/invalid/*.frame")
	for _, name := range append(files, more...) {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := Parse(msg)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to the same bytes.
		if got := Append(nil, fr.SID, fr.Type, fr.Stream, fr.Body); !bytes.Equal(got, msg) {
			// A stream with leading zeros is accepted but not canonical.
			again, err := Parse(got)
			if err != nil || again.SID != fr.SID || again.Type != fr.Type || again.Stream != fr.Stream || !bytes.Equal(again.Body, fr.Body) {
				t.Fatalf("round trip: %q -> %q", msg, got)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	var sid [16]byte
	msg := Append(nil, sid, Chunk, 3, []byte("data: tick\n\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}
