package sp

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// FuzzFrames feeds arbitrary bytes to the frame reader and the backtrace
// splitter, the two parsers that read what a peer sends: they must never
// panic, never report a size over the limit, and never split a backtrace
// outside the message.
func FuzzFrames(f *testing.F) {
	f.Add([]byte("\x01\x00\x00\x00\x00\x00\x00\x00\x08\x80\x00\x00\x01ping"), true)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00\x07\x80\x00\x00\x01ping"), false)
	f.Add([]byte("\x01\xff\xff\xff\xff\xff\xff\xff\xff"), true)
	f.Fuzz(func(t *testing.T, data []byte, ipc bool) {
		const max = 1 << 10
		br := bytes.NewReader(data)
		fr := frameReader{r: br, ipc: ipc, max: max}
		for {
			size, err := fr.next()
			if err != nil {
				return
			}
			if size < 0 || size > max {
				t.Fatalf("size %d outside [0, %d]", size, max)
			}
			msg := make([]byte, size)
			if _, err := io.ReadFull(br, msg); err != nil {
				return
			}
			n, err := backtraceLen(msg)
			if err != nil {
				continue
			}
			if n < 4 || n > len(msg) || n%4 != 0 || msg[n-4]&0x80 == 0 {
				t.Fatalf("backtrace of %d bytes in %x", n, msg)
			}
			for i := 0; i < n-4; i += 4 {
				if binary.BigEndian.Uint32(msg[i:])&(1<<31) != 0 {
					t.Fatalf("backtrace ends early at %d in %x", i, msg)
				}
			}
		}
	})
}
