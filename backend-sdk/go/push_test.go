package worker

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// fakeInbound is a gateway's inbound PULL socket that collects frames.
func fakeInbound(t *testing.T, url string) chan []byte {
	t.Helper()
	got := make(chan []byte, 64)
	quiet, _ := newLogger()
	pull, err := sp.NewPull(sp.LinkConfig{URL: url, Listen: true, Logger: quiet}, sp.Borrowing(func(msg []byte) {
		got <- bytes.Clone(msg)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pull.Close() })
	return got
}

// TestPusher: what a Pusher sends is the golden push frame, byte for
// byte, on ipc and on tcp; Close loses nothing that Send accepted.
func TestPusher(t *testing.T) {
	for name, url := range map[string]string{
		"ipc": "ipc://" + filepath.Join(t.TempDir(), "inbound.sock"),
		"tcp": "tcp://127.0.0.1:" + freePort(t),
	} {
		t.Run(name, func(t *testing.T) {
			got := fakeInbound(t, url)
			p, err := NewPusher(url)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Text(testSID, "hello from a push"); err != nil {
				t.Fatal(err)
			}
			if err := p.Binary(testSID, []byte{0, 1, 2}); err != nil {
				t.Fatal(err)
			}
			if err := p.CloseSession(testSID, 4000, "kicked"); err != nil {
				t.Fatal(err)
			}
			if err := p.Send(testSID, frames.Close, 7, nil); err != nil {
				t.Fatal(err)
			}
			p.Close() // right after the sends, as a command that exits
			if m := recv(t, got, "the text push"); !bytes.Equal(m, golden(t, "push-text.frame")) {
				t.Errorf("text push %q, want push-text.frame", m)
			}
			for _, want := range []string{
				testSID + " websocket-binary 0\n\x00\x01\x02",
				testSID + " websocket-close 0\n4000 kicked",
				testSID + " close 7\n",
			} {
				if m := recv(t, got, "a push"); string(m) != want {
					t.Errorf("push %q, want %q", m, want)
				}
			}
			if err := p.Text(testSID, "late"); err != ErrPusherClosed {
				t.Errorf("Send after Close: %v", err)
			}
		})
	}
}

// TestPusherReconnects: a Pusher whose gateway restarted sends on a new
// connection.
func TestPusherReconnects(t *testing.T) {
	url := "ipc://" + filepath.Join(t.TempDir(), "inbound.sock")
	quiet, _ := newLogger()
	got := make(chan []byte, 4)
	collect := func(msg []byte) { got <- bytes.Clone(msg) }
	first, err := sp.NewPull(sp.LinkConfig{URL: url, Listen: true, Logger: quiet}, sp.Borrowing(collect))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPusher(url)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Text(testSID, "one"); err != nil {
		t.Fatal(err)
	}
	recv(t, got, "the first push")
	first.Close()
	second, err := sp.NewPull(sp.LinkConfig{URL: url, Listen: true, Logger: quiet}, sp.Borrowing(collect))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := p.Text(testSID, "two"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got, "the second push"); string(m) != testSID+" websocket 0\ntwo" {
		t.Errorf("second push %q", m)
	}
}

// TestPusherRefuses: bad addresses and session ids fail before sending.
func TestPusherRefuses(t *testing.T) {
	if _, err := NewPusher("ws://127.0.0.1:1/x"); err == nil {
		t.Error("ws:// accepted")
	}
	p, err := NewPusher("ipc://" + filepath.Join(t.TempDir(), "none.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, sid := range []string{"", "0123456789ABCDEFFEDCBA9876543210", testSID + "0", "0123456789abcdeffedcba987654321g"} {
		if err := p.Text(sid, "x"); err == nil {
			t.Errorf("session id %q accepted", sid)
		}
	}
	if err := p.Send(testSID, 0, 0, nil); err == nil {
		t.Error("frame type 0 accepted")
	}
}
