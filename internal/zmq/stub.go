//go:build nozmq

package zmq

// Built with -tags nozmq: the same API, and NewLoop refuses.

type Loop struct{}
type Socket struct{}

func NewLoop(string, SendErrorFunc) (*Loop, error)           { return nil, ErrUnavailable }
func (*Loop) Socket(Kind, Options, Handler) (*Socket, error) { return nil, ErrUnavailable }
func (*Loop) Send(*Socket, ...[]byte) error                  { return ErrUnavailable }
func (*Loop) Do(func()) error                                { return ErrUnavailable }
func (*Loop) Run() error                                     { return ErrUnavailable }
func (*Loop) Close() error                                   { return nil }
func (*Loop) Stats() Stats                                   { return Stats{} }
func (*Loop) Done() <-chan struct{}                          { c := make(chan struct{}); close(c); return c }
func (*Socket) Kind() Kind                                   { return 0 }
func (*Socket) Bind(string) error                            { return ErrUnavailable }
func (*Socket) Connect(string) error                         { return ErrUnavailable }
func (*Socket) Endpoint() string                             { return "" }
func (*Socket) SendNow(...[]byte) error                      { return ErrUnavailable }
func IsHostUnreachable(error) bool                           { return false }
func IsAgain(error) bool                                     { return false }
