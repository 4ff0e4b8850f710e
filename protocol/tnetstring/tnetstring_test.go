package tnetstring

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Vectors written for these tests by the specification's rules
// (tnetstrings.info: LEN ':' DATA and a type tag); the nested ones were
// checked with our Python module, cmd/nanogate/testdata/condure/tnetstring.py
// (TestPythonModule below).
var valid = []struct {
	in   string
	want any
}{
	{"0:,", []byte{}},
	{"5:hello,", []byte("hello")},
	{"3:a\x00b,", []byte("a\x00b")},
	{"1:0#", int64(0)},
	{"3:-12#", int64(-12)},
	{"19:9223372036854775807#", int64(math.MaxInt64)},
	{"20:-9223372036854775808#", int64(math.MinInt64)},
	{"4:true!", true},
	{"5:false!", false},
	{"0:~", nil},
	{"3:1.5^", 1.5},
	{"0:]", []any{}},
	{"0:}", map[string]any{}},
	{"8:1:1#1:2#]", []any{int64(1), int64(2)}},
	{"19:1:a,5:hello,1:b,0:~}", map[string]any{"a": []byte("hello"), "b": nil}},
	{"02:hi,", []byte("hi")}, // leading zero, as Python's reader accepts
	{"35:5:ports,23:4:8080#4:8443#6:unix:0,]}", map[string]any{"ports": []any{int64(8080), int64(8443), []byte("unix:0")}}},
}

var invalid = []struct {
	in   string
	want error
}{
	{"", ErrShort},
	{"5", ErrShort},
	{"5:hell,", ErrShort},
	{":,", ErrLength},
	{"-1:,", ErrLength},
	{"a:,", ErrLength},
	{"1234567890:x,", ErrTooLong},
	{"5:hello?", ErrTag},
	{"5:hello", ErrShort},
	{"1:x#", ErrInt},
	{"1:-#", ErrInt},
	{"0:#", ErrInt},
	{"20:99999999999999999999#", ErrIntRange},
	{"19:9223372036854775808#", ErrIntRange},
	{"4:True!", ErrBool},
	{"1:x~", ErrNull},
	{"1:x^", ErrFloat},
	{"4:1:1#}", ErrKey},
	{"4:1:a,}", ErrOddDict},
	{"3:1:a]", ErrShort},
	{"3:0:,]x", ErrTrailing},
}

func TestValid(t *testing.T) {
	for _, c := range valid {
		v, err := ParseAll([]byte(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got, err := Decode(v)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, c := range invalid {
		_, err := ParseAll([]byte(c.in))
		if !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.in, err, c.want)
		}
	}
}

// Nesting past MaxDepth is refused, not followed down the stack.
func TestTooDeep(t *testing.T) {
	v := "0:]"
	for range MaxDepth + 1 {
		v = appendListOf(v)
	}
	if _, err := ParseAll([]byte(v)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err %v", err)
	}
}

func appendListOf(inner string) string {
	b, m := Open(nil)
	b = append(b, inner...)
	return string(Close(b, m, List))
}

// Encoding then decoding gives the value back, and the bytes are the
// specification's.
func TestAppend(t *testing.T) {
	b, m := Open([]byte("T"))
	b = AppendStr(b, "id")
	b = AppendString(b, []byte("1"))
	b = AppendStr(b, "seq")
	b = AppendInt(b, 0)
	b = AppendStr(b, "more")
	b = AppendBool(b, true)
	b = AppendStr(b, "none")
	b = AppendNull(b)
	b = AppendStr(b, "list")
	b2, m2 := Open(b)
	b2 = AppendInt(b2, -7)
	b2 = AppendFloat(b2, 0.25)
	b = Close(b2, m2, List)
	b = Close(b, m, Dict)
	want := "T66:2:id,1:1,3:seq,1:0#4:more,4:true!4:none,0:~4:list,12:2:-7#4:0.25^]}"
	if string(b) != want {
		t.Fatalf("got  %q\nwant %q", b, want)
	}
	// A container longer than 9 bytes moves its elements by more than one.
	long := appendListOf(strings.Repeat("0:,", 400))
	if !strings.HasPrefix(long, "1200:0:,") || !strings.HasSuffix(long, "0:,]") {
		t.Fatalf("long list %q...", long[:20])
	}
}

// The packets in testdata (nanogate's own, written by
// ../zhttp/testdata/packets.py: see there) parse whole.
func TestGoldenPackets(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.tnet")
	if len(files) == 0 {
		t.Fatal("no golden packets")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ParseAll(b[1:]) // after ZHTTP's "T"
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		x, err := Decode(v)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if _, ok := x.(map[string]any)["id"]; !ok {
			t.Errorf("%s: no id in %v", f, x)
		}
	}
}

// The Python module our ZHTTP handlers import in the tests
// (cmd/nanogate/testdata/condure/tnetstring.py) reads what this package
// writes and writes the same bytes back, and refuses what it refuses.
func TestPythonModule(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	var in bytes.Buffer
	for _, c := range valid {
		v, _ := ParseAll([]byte(c.in))
		x, _ := Decode(v)
		b, err := AppendAny(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(AppendString(nil, b))
	}
	script := `
import sys, tnetstring
data = sys.stdin.buffer.read()
out = b''
while data:
    item, data = tnetstring.pop(data)
    out += tnetstring.dumps(tnetstring.dumps(tnetstring.loads(item)))
for bad in (b'5:hell,', b'4:True!', b'4:1:1#}', b'5:hello?'):
    try:
        tnetstring.loads(bad)
        out += b'ACCEPTED ' + bad
    except ValueError:
        pass
sys.stdout.buffer.write(out)
`
	cmd := exec.Command(py, "-c", script)
	cmd.Env = append(os.Environ(), "PYTHONPATH=../../cmd/nanogate/testdata/condure")
	cmd.Stdin = bytes.NewReader(in.Bytes())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	if !bytes.Equal(out, in.Bytes()) {
		t.Fatalf("python wrote\n%q\nwant\n%q", out, in.Bytes())
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range valid {
		f.Add([]byte(c.in))
	}
	for _, c := range invalid {
		f.Add([]byte(c.in))
	}
	files, _ := filepath.Glob("testdata/*.tnet")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b[1:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseAll(b)
		if err != nil {
			return
		}
		x, err := Decode(v)
		if err != nil {
			t.Fatalf("ParseAll accepted %q, Decode refused: %v", b, err)
		}
		// What reads back is what was written.
		enc, err := AppendAny(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := ParseAll(enc)
		if err != nil {
			t.Fatalf("re-encoded %q: %v", enc, err)
		}
		y, _ := Decode(v2)
		if !equalFloatAware(x, y) {
			t.Fatalf("%q -> %#v -> %q -> %#v", b, x, enc, y)
		}
	})
}

// equalFloatAware is reflect.DeepEqual, but NaN equals NaN.
func equalFloatAware(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
	}
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalFloatAware(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k := range a {
			if !equalFloatAware(a[k], b[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
