//go:build nozmq

package zmq

func (*Loop) StreamSocket(Options, Handler, func([]byte) bool) (*Socket, error) {
	return nil, ErrUnavailable
}
