package workertest_test

// The C worker library (backend-sdk/c/nanogate_worker.c) under the address
// and undefined-behaviour sanitizers: test_parser checks the golden
// vectors, then mutations of them go through its --fuzz driver, which
// parses each message from a buffer of exactly its size (a read past the
// message aborts the driver) and answers it with a handler that echoes
// headers, status and body. Every reply must parse with the gateway's own
// parser (session.Response.Parse).
//
// TestLibrary sends a batch of random mutations (the seed is
// logged; NANOGATE_FUZZ_SEED repeats a run). FuzzLibrary is the same check
// under Go's fuzzer, against one driver process per fuzz worker:
//
//	go test ./backend-sdk/c/workertest -run '^$' -fuzz FuzzLibrary -fuzztime 30s

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nanogate/nanogate/session"
)

const testdata = "../../../session/testdata"

// buildDriver compiles test_parser.c with the library, sanitizers on,
// into the test's temporary directory.
func buildDriver(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "test_parser")
	out, err := exec.Command("cc", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
		"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
		"-o", bin, "../test_parser.c", "../nanogate_worker.c", "-lnanomsg").CombinedOutput()
	if err != nil {
		t.Fatalf("cc test_parser.c: %v\n%s", err, out)
	}
	return bin
}

// driver is a running test_parser --fuzz.
type driver struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
}

func startDriver(t testing.TB, bin string) *driver {
	t.Helper()
	d := &driver{cmd: exec.Command(bin, "--fuzz")}
	d.cmd.Stderr = &d.stderr
	var err error
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.stdout = bufio.NewReaderSize(out, 1<<20)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Kill() // an error means it has exited already
		d.cmd.Wait()
	})
	return d
}

// stop closes the driver's input and waits for it to exit.
func (d *driver) stop() error {
	d.stdin.Close()
	return d.cmd.Wait()
}

// result is the driver's answer to one message.
type result struct {
	rc    int32 // ng_parse_request's result
	head  bool  // a HEAD request
	reply []byte
}

func (d *driver) send(msg []byte) error {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(msg)))
	if _, err := d.stdin.Write(n[:]); err != nil {
		return err
	}
	_, err := d.stdin.Write(msg)
	return err
}

func (d *driver) read() (result, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(d.stdout, hdr[:]); err != nil {
		return result{}, err
	}
	r := result{
		rc:   int32(binary.LittleEndian.Uint32(hdr[0:])),
		head: binary.LittleEndian.Uint32(hdr[4:]) != 0,
	}
	r.reply = make([]byte, binary.LittleEndian.Uint32(hdr[8:]))
	_, err := io.ReadFull(d.stdout, r.reply)
	return r, err
}

// checkReply: whatever the message, the reply is one the gateway accepts,
// and a message that parsed gets its handler's answer (not a 400).
func checkReply(msg []byte, r result) error {
	var resp session.Response
	if err := resp.Parse(bytes.Clone(r.reply), r.head); err != nil {
		return fmt.Errorf("the gateway refuses the reply (%v):\n%q", err, r.reply)
	}
	switch {
	case r.rc == 0 && (resp.Status == 400 || resp.Status == 431):
		return fmt.Errorf("parsed, yet answered %d", resp.Status)
	case r.rc != 0 && resp.Status != 400 && resp.Status != 431:
		return fmt.Errorf("refused (%d), yet answered %d", r.rc, resp.Status)
	}
	return nil
}

func seeds(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testdata, "*.request"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden requests in %s: %v", testdata, err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	// Seeds that reach the writer's edges: statuses, HEAD, a failing
	// handler, many headers.
	out = append(out,
		[]byte("HEAD /x HTTP/1.1\r\nX-Status: 204\r\n\r\n"),
		[]byte("GET /x HTTP/1.1\r\nX-Status: 30412\r\n\r\n"),
		[]byte("FAIL /x HTTP/1.1\r\nX-Request-Id: r\r\n\r\n"),
		[]byte("POST /x HTTP/1.1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 3\r\n\r\nabc"),
		bytes.Repeat([]byte("A: 1\r\n"), 130),
	)
	return out
}

// mutate returns a random variation of one seed.
func mutate(r *rand.Rand, all [][]byte) []byte {
	m := bytes.Clone(all[r.IntN(len(all))])
	special := []byte("\r\n: \t\x00\x7f\xff,0123456789")
	for range 1 + r.IntN(4) {
		pos := 0
		if len(m) > 0 {
			pos = r.IntN(len(m) + 1)
		}
		switch r.IntN(8) {
		case 0: // flip a byte
			if pos < len(m) {
				m[pos] ^= byte(1 << r.IntN(8))
			}
		case 1: // insert a byte that matters to the grammar
			m = append(m[:pos], append([]byte{special[r.IntN(len(special))]}, m[pos:]...)...)
		case 2: // cut the message
			m = m[:pos]
		case 3: // delete a range
			end := min(len(m), pos+r.IntN(16))
			m = append(m[:pos], m[end:]...)
		case 4: // duplicate a range
			end := min(len(m), pos+r.IntN(64))
			m = append(m[:end], append(bytes.Clone(m[pos:end]), m[end:]...)...)
		case 5: // splice in a part of another seed
			o := all[r.IntN(len(all))]
			if len(o) > 0 {
				a := r.IntN(len(o))
				b := min(len(o), a+r.IntN(80))
				m = append(m[:pos], append(bytes.Clone(o[a:b]), m[pos:]...)...)
			}
		case 6: // make the length right again, so that the writer is reached
			m = fixLength(m)
		case 7: // a status for the handler to set
			m = addHeader(m, "X-Status: "+strconv.Itoa(r.IntN(1100)))
		}
	}
	return m
}

// fixLength sets Content-Length to the body's length after the head.
func fixLength(m []byte) []byte {
	end := bytes.Index(m, []byte("\r\n\r\n"))
	if end < 0 {
		return m
	}
	head, body := m[:end+2], m[end+4:]
	var out []byte
	for _, line := range bytes.SplitAfter(head, []byte("\r\n")) {
		if !bytes.HasPrefix(bytes.ToLower(line), []byte("content-length:")) {
			out = append(out, line...)
		}
	}
	out = fmt.Appendf(out, "Content-Length: %d\r\n\r\n", len(body))
	return append(out, body...)
}

func addHeader(m []byte, line string) []byte {
	i := bytes.Index(m, []byte("\r\n"))
	if i < 0 {
		return m
	}
	return append(m[:i+2:i+2], append([]byte(line+"\r\n"), m[i+2:]...)...)
}

// TestLibrary runs test_parser's own checks of the golden vectors, then
// the mutations.
func TestLibrary(t *testing.T) {
	bin := buildDriver(t)
	if out, err := exec.Command(bin, testdata).CombinedOutput(); err != nil {
		t.Fatalf("test_parser %s: %v\n%s", testdata, err, out)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("NANOGATE_FUZZ_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("NANOGATE_FUZZ_SEED: %v", err)
		}
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	t.Logf("%d mutations, NANOGATE_FUZZ_SEED=%d", n, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	all := seeds(t)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = mutate(r, all)
	}
	d := startDriver(t, bin)
	// Write from one goroutine and read here, so that neither pipe fills
	// while the other side waits.
	wrote := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := d.send(m); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- d.stdin.Close()
	}()
	parsed := 0
	for i, m := range msgs {
		res, err := d.read()
		if err != nil {
			d.cmd.Process.Kill()
			d.cmd.Wait()
			t.Fatalf("driver failed on message %d %q: %v\n%s", i, m, err, d.stderr.Bytes())
		}
		if err := checkReply(m, res); err != nil {
			t.Fatalf("message %d %q: %v", i, m, err)
		}
		if res.rc == 0 {
			parsed++
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("driver: %v\n%s", err, d.stderr.Bytes())
	}
	// Both paths were exercised: a mutator that only broke messages, or
	// only left them whole, would test half.
	if parsed < n/20 || parsed > n-n/20 {
		t.Errorf("%d of %d mutations parsed; the mutator should give both outcomes", parsed, n)
	}
	t.Logf("%d of %d parsed", parsed, n)
}

func FuzzLibrary(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	// One driver per process: each fuzz worker is a process that runs
	// this function up to f.Fuzz.
	d := startDriver(f, buildDriver(f))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 1<<20 {
			return
		}
		err := d.send(msg)
		var res result
		if err == nil {
			res, err = d.read()
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				d.cmd.Wait() // the driver died: its stderr is complete
			}
			t.Fatalf("driver failed on %q: %v\n%s", msg, err, d.stderr.String())
		}
		if err := checkReply(msg, res); err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
	})
}
