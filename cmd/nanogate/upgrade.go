package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Upgrading the gateway binary without a failed request ([server]
// upgrade_socket). The running gateway listens on a unix socket; a new one
// started with the same configuration connects to it and asks for the
// listening socket, which the old one passes over with SCM_RIGHTS. Both
// then accept on one socket (the kernel gives each connection to one of
// them); once the new one serves, the old one closes its copy — the
// socket itself lives on in the new process, so no connection waiting in
// its accept queue is reset, as a closed SO_REUSEPORT listener resets its
// queue — and passes its client connections over too, each as soon as it
// waits for its next request (frontend.Server.HandOff): the new process
// serves the client's next request on the same connection. TLS
// connections, and those still busy at the end of the hand-off time, get
// "Connection: close" on their next response instead.
//
// The exchange, one line each way then the descriptor:
//
//	new → old   "handoff\n"
//	old → new   "listener\n" with the listening socket as SCM_RIGHTS
//	new → old   "ready\n"      (the new process accepts on it now)
//	old → new   "c" with one client connection as SCM_RIGHTS, repeated;
//	            then the old process closes the connection
//
// A new process that fails before "ready" leaves the old one serving.

// handoffTimeout bounds each step of the exchange.
const handoffTimeout = 10 * time.Second

// inherit asks a running gateway at path for its listening socket. It
// returns nil and no error when none answers there (the first start),
// and the connection on which to say "ready" once serving.
func inherit(path string) (net.Listener, *net.UnixConn, error) {
	c, err := net.DialTimeout("unix", path, handoffTimeout)
	if err != nil {
		return nil, nil, nil // no gateway to take over from
	}
	uc := c.(*net.UnixConn)
	fail := func(err error) (net.Listener, *net.UnixConn, error) {
		uc.Close()
		return nil, nil, fmt.Errorf("upgrade from the gateway at %s: %w", path, err)
	}
	uc.SetDeadline(time.Now().Add(handoffTimeout))
	if _, err := uc.Write([]byte("handoff\n")); err != nil {
		return fail(err)
	}
	buf, oob := make([]byte, 16), make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return fail(err)
	}
	if string(buf[:n]) != "listener\n" {
		return fail(fmt.Errorf("unexpected answer %q", buf[:n]))
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fail(fmt.Errorf("no descriptor with the answer (%v)", err))
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fail(fmt.Errorf("no descriptor with the answer (%v)", err))
	}
	f := os.NewFile(uintptr(fds[0]), "inherited listener")
	defer f.Close() // FileListener dups it
	ln, err := net.FileListener(f)
	if err != nil {
		return fail(err)
	}
	uc.SetDeadline(time.Time{})
	return ln, uc, nil
}

// upgrader serves the upgrade socket of a running gateway: it hands the
// listener to the first new process that asks and reports it on handed.
type upgrader struct {
	ln     *net.UnixListener
	handed chan *net.UnixConn // the new process's connection, once it said "ready"
	log    *slog.Logger
	done   chan struct{} // closed when serve has returned

	mu  sync.Mutex
	cur *net.UnixConn // the exchange in progress, which Close cuts
}

// listenUpgrades binds path. A file left by a dead gateway is removed;
// one that a live gateway answers on is not (two gateways started at once
// with one configuration: the second serves on its own, without the
// upgrade socket, and says so).
func listenUpgrades(path string, tcp *net.TCPListener, log *slog.Logger) (*upgrader, error) {
	// The gateway this one took over from lets the path go right after
	// the hand-off: a short wait covers that moment.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("server.upgrade_socket %s: another gateway answers there", path)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server.upgrade_socket %s: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("server.upgrade_socket %s: %w", path, err)
	}
	u := &upgrader{ln: ln, handed: make(chan *net.UnixConn, 1), log: log, done: make(chan struct{})}
	go u.serve(tcp)
	log.Info("upgrade socket ready: a new gateway started with this configuration takes over", "path", path)
	return u, nil
}

// serve answers upgrade requests until one succeeds or the socket closes.
func (u *upgrader) serve(tcp *net.TCPListener) {
	defer close(u.done)
	for {
		c, err := u.ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		u.mu.Lock()
		u.cur = c
		u.mu.Unlock()
		err = u.handOff(c, tcp)
		u.mu.Lock()
		u.cur = nil
		u.mu.Unlock()
		if err != nil {
			u.log.Warn("upgrade: hand-off failed, this gateway goes on serving", "err", err)
			c.Close()
			continue
		}
		u.ln.Close() // the new process binds the path next
		u.handed <- c
		return
	}
}

func (u *upgrader) handOff(c *net.UnixConn, tcp *net.TCPListener) error {
	c.SetDeadline(time.Now().Add(handoffTimeout))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "handoff\n" {
		return fmt.Errorf("request %q: %v", line, err)
	}
	f, err := tcp.File() // a duplicate descriptor of the same socket
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sendFile(c, "listener\n", f); err != nil {
		return err
	}
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		return fmt.Errorf("the new process did not say ready: %q, %v", line, err)
	}
	return nil
}

// Close stops taking upgrade requests, cuts an exchange in progress, and
// waits for the goroutine that served them.
func (u *upgrader) Close() error {
	err := u.ln.Close()
	u.mu.Lock()
	if u.cur != nil {
		u.cur.Close()
	}
	u.mu.Unlock()
	<-u.done
	return err
}

// After "ready", the old gateway passes its plain TCP client connections
// over the same unix connection, each as it waits for its next request
// (frontend.Server.HandOff): one byte "c" with one descriptor as
// SCM_RIGHTS. The new gateway serves each as if it had accepted it, so a
// keep-alive client, even one that never retries, sees no closed
// connection.

// passConns returns the old gateway's sender of connections over uc.
func passConns(uc *net.UnixConn) func(*os.File) error {
	var mu sync.Mutex // one message at a time: the byte and its descriptor together
	return func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		uc.SetWriteDeadline(time.Now().Add(handoffTimeout))
		return sendFile(uc, "c", f)
	}
}

// sendFile writes msg with f's descriptor as SCM_RIGHTS. It reaches the
// descriptor through SyscallConn, never f.Fd(): for a File made by
// net.Conn.File or net.TCPListener.File, Fd switches the socket to
// blocking mode, and that flag belongs to the socket that this process
// still uses (a dup shares it). A connection whose hand-off then failed
// blocked a thread in read(2), deaf to its deadlines (a thread per idle
// client, up to the runtime's 10000-thread limit); the listener stayed
// blocking until the new process's FileListener set it back, and an
// accept(2) in between held a thread, and ln.Close, until the next client.
func sendFile(uc *net.UnixConn, msg string, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		_, _, werr = uc.WriteMsgUnix([]byte(msg), syscall.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return werr
}

// adoptConns serves, on srv, the connections the old gateway passes over
// uc, until it closes uc. Closing uc stops it; done is closed when it
// has returned.
func adoptConns(uc *net.UnixConn, srv interface{ Adopt(net.Conn) }, log *slog.Logger) (done <-chan struct{}) {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		n := 0
		defer func() { log.Info("connections taken over from the previous gateway", "count", n) }()
		buf, oob := make([]byte, 1), make([]byte, syscall.CmsgSpace(4))
		for {
			// One byte per read: each carries its own descriptor.
			_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
			if err != nil {
				return // the old gateway has finished (or this one stops)
			}
			msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				continue
			}
			for _, m := range msgs {
				fds, err := syscall.ParseUnixRights(&m)
				if err != nil {
					continue
				}
				for _, fd := range fds {
					f := os.NewFile(uintptr(fd), "client connection")
					c, err := net.FileConn(f) // a duplicate of f
					f.Close()
					if err != nil {
						log.Warn("upgrade: a connection passed over is unusable", "err", err)
						continue
					}
					srv.Adopt(c)
					n++
				}
			}
		}
	}()
	return ch
}
