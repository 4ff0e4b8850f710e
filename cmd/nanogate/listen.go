package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// listen opens the HTTP listener. With reusePort, several processes bind
// one address and the kernel hashes each new connection to one of them; a
// process that closes its listener stops getting new ones, while the
// others go on.
func listen(addr string, reusePort bool) (net.Listener, error) {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			return errors.Join(err, serr)
		}
	}
	return lc.Listen(context.Background(), "tcp", addr)
}

// migrateSysctl hands the connections queued on a closing SO_REUSEPORT
// listener to the other listeners of its address (Linux 5.14+), instead of
// resetting them.
const migrateSysctl = "/proc/sys/net/ipv4/tcp_migrate_req"

// resetsQueued reports whether connections still queued on a gateway that
// stops are reset rather than handed to the others sharing its address:
// the sysctl at path is off. Missing (older kernels, other systems): they
// are reset too.
func resetsQueued(path string) bool {
	b, err := os.ReadFile(path)
	return err != nil || strings.TrimSpace(string(b)) != "1"
}
