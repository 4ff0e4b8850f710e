package main

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nonblocking reports whether c's socket has O_NONBLOCK, the flag that
// the runtime's poller (and so every deadline) relies on.
func nonblocking(t *testing.T, c syscall.Conn) bool {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fl int
	if cerr := rc.Control(func(fd uintptr) { fl, err = unix.FcntlInt(fd, unix.F_GETFL, 0) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.O_NONBLOCK != 0
}

// TestHandOffKeepsSocketsNonblocking: passing the listener and a client
// connection leaves the old process's sockets non-blocking. They were
// switched to blocking mode (os.File.Fd on a File from net): a connection
// whose hand-off failed then ignored its deadlines and held a thread. (The
// listener's check cannot fail here: inherit, in this same process, sets
// the flag back, as the new process does; it guards the order of steps.)
func TestHandOffKeepsSocketsNonblocking(t *testing.T) {
	t.Parallel()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := filepath.Join(shortDir(t), "up.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	up, err := listenUpgrades(path, ln, log)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	inherited, ready, err := inherit(path)
	if err != nil || inherited == nil {
		t.Fatalf("inherit: %v, %v", inherited, err)
	}
	defer inherited.Close()
	defer ready.Close()
	if _, err := ready.Write([]byte("ready\n")); err != nil {
		t.Fatal(err)
	}
	var successor *net.UnixConn
	select {
	case successor = <-up.handed:
		defer successor.Close()
	case <-time.After(handoffTimeout):
		t.Fatal("no hand-off")
	}
	if !nonblocking(t, ln) {
		t.Error("the listener passed over is in blocking mode in the old process")
	}

	// A client connection, passed to a successor that has gone: the
	// send fails and the connection stays here, so it must still obey
	// its deadlines.
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	ready.Close() // the new process is gone
	send := passConns(successor)
	for i := 0; send(f) == nil; i++ { // the first writes may still land in the socket buffer
		if i == 100 {
			t.Fatal("sending to a closed peer never failed")
		}
	}
	f.Close()
	if !nonblocking(t, c) {
		t.Error("a client connection whose hand-off failed is in blocking mode")
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	read := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); read <- err }()
	select {
	case err := <-read:
		if !os.IsTimeout(err) {
			t.Errorf("read: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		client.Close() // unblocks the read
		<-read
		t.Error("the read deadline did not interrupt the read")
	}
}
