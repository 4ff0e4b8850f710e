//go:build nozmq

package zmq

func (*Loop) StreamSocket(Options, Handler) (*Socket, error) { return nil, ErrUnavailable }
