package sp

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// listen binds addr. A stale IPC socket file left by a dead process is
// removed first, as libnanomsg does, but only when nothing answers on it.
func listen(a Addr) (net.Listener, error) {
	ln, err := net.Listen(a.Network, a.Address)
	if err == nil || !a.IPC || !errors.Is(err, syscall.EADDRINUSE) {
		return ln, err
	}
	if c, derr := net.Dial("unix", a.Address); derr == nil {
		c.Close()
		return nil, err // someone is serving there
	}
	if rerr := os.Remove(a.Address); rerr != nil {
		return nil, err
	}
	return net.Listen(a.Network, a.Address)
}
