//go:build !nozmq

package zmq

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq4 "github.com/pebbe/zmq4"
)

// QueueLen bounds a loop's send queue (messages and Do calls together).
const QueueLen = 4096

// recvBurst bounds the messages read from one socket before the loop looks
// at its other sockets and its send queue, so that one busy peer cannot
// starve the rest.
const recvBurst = 256

// Loop owns a set of ZeroMQ sockets on one goroutine (Run's). Make it with
// NewLoop, add sockets with Socket, then Run it; Close stops it.
type Loop struct {
	name   string
	ctx    *zmq4.Context
	wakeRx *zmq4.Socket // read by the loop
	wakeMu sync.Mutex   // guards wakeTx, which any goroutine may send on
	wakeTx *zmq4.Socket // nil once closed
	woken  atomic.Bool  // a wake-up is on its way; coalesces bursts

	queue   chan job
	sockets map[*zmq4.Socket]*Socket
	order   []*Socket
	onError SendErrorFunc

	started atomic.Bool
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when Run has shut down
	once    sync.Once

	sent, received, sendErrors, full atomic.Uint64
}

// job is one queued send (s != nil) or one Do (fn != nil).
type job struct {
	s     *Socket
	parts [][]byte
	fn    func()
}

// Socket is one ZeroMQ socket of a Loop. Bind and Connect it before Run;
// after that only the loop's goroutine touches it (SendNow, or Loop.Send
// from elsewhere).
type Socket struct {
	loop    *Loop
	kind    Kind
	s       *zmq4.Socket
	handler Handler
	known   func(id []byte) bool // StreamSocket's (stream.go); nil for other sockets
}

var kinds = map[Kind]zmq4.Type{
	Router: zmq4.ROUTER, Dealer: zmq4.DEALER, Stream: zmq4.STREAM,
	Push: zmq4.PUSH, Pull: zmq4.PULL, Pub: zmq4.PUB, Sub: zmq4.SUB,
	Req: zmq4.REQ, Rep: zmq4.REP,
}

var loopSeq atomic.Uint64

// NewLoop makes a loop with its own libzmq context, named in errors.
// onError, if not nil, is told of sends that libzmq refused.
func NewLoop(name string, onError SendErrorFunc) (*Loop, error) {
	ctx, err := zmq4.NewContext()
	if err != nil {
		return nil, fmt.Errorf("zmq %s: context: %w", name, err)
	}
	l := &Loop{
		name:    name,
		ctx:     ctx,
		queue:   make(chan job, QueueLen),
		sockets: make(map[*zmq4.Socket]*Socket),
		onError: onError,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	wake := fmt.Sprintf("inproc://nanogate-wake-%d", loopSeq.Add(1))
	if l.wakeRx, err = ctx.NewSocket(zmq4.PAIR); err == nil {
		if err = l.wakeRx.Bind(wake); err == nil {
			if l.wakeTx, err = ctx.NewSocket(zmq4.PAIR); err == nil {
				err = l.wakeTx.Connect(wake)
			}
		}
	}
	if err != nil {
		l.shutdown()
		return nil, fmt.Errorf("zmq %s: wake-up pair: %w", name, err)
	}
	return l, nil
}

// Socket makes a socket of kind k with options o. h receives its messages
// on the loop's goroutine; a nil h means the socket only sends (PUSH, PUB).
func (l *Loop) Socket(k Kind, o Options, h Handler) (*Socket, error) {
	if l.started.Load() {
		return nil, ErrStarted
	}
	t, ok := kinds[k]
	if !ok {
		return nil, fmt.Errorf("zmq %s: unknown socket kind %d", l.name, k)
	}
	s, err := l.ctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("zmq %s: %v socket: %w", l.name, k, err)
	}
	if err := setOptions(s, k, o); err != nil {
		s.Close()
		return nil, fmt.Errorf("zmq %s: %v socket: %w", l.name, k, err)
	}
	sock := &Socket{loop: l, kind: k, s: s, handler: h}
	l.sockets[s] = sock
	l.order = append(l.order, sock)
	return sock, nil
}

func setOptions(s *zmq4.Socket, k Kind, o Options) error {
	var errs []error
	set := func(err error) { errs = append(errs, err) }
	set(s.SetLinger(time.Duration(o.Linger) * time.Millisecond))
	if o.Identity != nil {
		set(s.SetIdentity(string(o.Identity)))
	}
	for _, p := range o.Subscribe {
		set(s.SetSubscribe(string(p)))
	}
	if o.SndHWM > 0 {
		set(s.SetSndhwm(o.SndHWM))
	}
	if o.RcvHWM > 0 {
		set(s.SetRcvhwm(o.RcvHWM))
	}
	if o.MaxMsgSize > 0 {
		set(s.SetMaxmsgsize(o.MaxMsgSize))
	}
	if o.RouterMandatory {
		set(s.SetRouterMandatory(1))
	}
	if o.RouterHandover {
		set(s.SetRouterHandover(true))
	}
	if o.Immediate {
		set(s.SetImmediate(true))
	}
	return errors.Join(errs...)
}

// Kind reports the socket's type.
func (s *Socket) Kind() Kind { return s.kind }

// Bind binds the socket to url (tcp://, ipc://, inproc://); before Run.
func (s *Socket) Bind(url string) error {
	if s.loop.started.Load() {
		return ErrStarted
	}
	if err := s.s.Bind(url); err != nil {
		return fmt.Errorf("zmq %s: bind %v %s: %w", s.loop.name, s.kind, url, err)
	}
	return nil
}

// Connect connects the socket to url; libzmq reconnects by itself. Before Run.
func (s *Socket) Connect(url string) error {
	if s.loop.started.Load() {
		return ErrStarted
	}
	if err := s.s.Connect(url); err != nil {
		return fmt.Errorf("zmq %s: connect %v %s: %w", s.loop.name, s.kind, url, err)
	}
	return nil
}

// Endpoint is the address the socket last bound or connected, with a
// port chosen by the system filled in (tcp://127.0.0.1:0).
func (s *Socket) Endpoint() string {
	e, _ := s.s.GetLastEndpoint()
	return e
}

// SendNow sends a multipart message at once, without waiting: from the
// loop's goroutine only (a Handler or a Do function). It returns libzmq's
// error, e.g. EAGAIN at the high-water mark or EHOSTUNREACH for an unknown
// identity on a RouterMandatory socket; nothing of a refused message is
// sent (ZeroMQ messages are atomic).
func (s *Socket) SendNow(parts ...[]byte) error {
	flag := zmq4.SNDMORE | zmq4.DONTWAIT
	for i, p := range parts {
		if i == len(parts)-1 {
			flag = zmq4.DONTWAIT
		}
		if _, err := s.s.SendBytes(p, flag); err != nil {
			return fmt.Errorf("zmq %s: send %v: %w", s.loop.name, s.kind, err)
		}
	}
	s.loop.sent.Add(1)
	return nil
}

// IsHostUnreachable reports whether err is a send to an identity the
// socket does not know (the peer has gone).
func IsHostUnreachable(err error) bool {
	return errors.Is(err, zmq4.Errno(syscall.EHOSTUNREACH))
}

// IsAgain reports whether err is a send refused at the high-water mark.
func IsAgain(err error) bool { return errors.Is(err, zmq4.Errno(syscall.EAGAIN)) }

// Send queues a multipart message for s; any goroutine may call it. The
// parts belong to the loop from then on. It never waits: ErrFull when the
// queue is full, ErrClosed once the loop stops. A send that libzmq later
// refuses goes to the loop's SendErrorFunc.
func (l *Loop) Send(s *Socket, parts ...[]byte) error {
	return l.enqueue(job{s: s, parts: parts})
}

// Do runs fn on the loop's goroutine, after the sends queued before it.
// It never waits for fn: ErrFull or ErrClosed when fn will not run.
func (l *Loop) Do(fn func()) error { return l.enqueue(job{fn: fn}) }

func (l *Loop) enqueue(j job) error {
	select {
	case <-l.closing:
		return ErrClosed
	default:
	}
	select {
	case l.queue <- j:
	default:
		l.full.Add(1)
		return ErrFull
	}
	l.wake()
	return nil
}

func (l *Loop) wake() {
	if l.woken.Swap(true) {
		return // a wake-up is already on its way
	}
	l.wakeMu.Lock()
	if l.wakeTx != nil {
		// EAGAIN means the pipe already holds wake-ups: the loop will look.
		_, _ = l.wakeTx.SendBytes([]byte{1}, zmq4.DONTWAIT)
	}
	l.wakeMu.Unlock()
}

// Stats returns the loop's counters.
func (l *Loop) Stats() Stats {
	return Stats{Sent: l.sent.Load(), Received: l.received.Load(), SendErrors: l.sendErrors.Load(), Full: l.full.Load()}
}

// Run owns the sockets until Close: it receives and dispatches messages and
// performs queued sends and Do calls. It returns nil after Close, or the
// error that stopped it; either way every socket is closed.
func (l *Loop) Run() error {
	select {
	case <-l.closing:
		return ErrClosed
	default:
	}
	if l.started.Swap(true) {
		return ErrStarted
	}
	defer close(l.done)
	defer l.shutdown()
	// Stopped by an error as by Close: Send and Do then answer ErrClosed,
	// not ErrFull once the queue nobody drains has filled.
	defer l.once.Do(func() { close(l.closing) })
	poller := zmq4.NewPoller()
	poller.Add(l.wakeRx, zmq4.POLLIN)
	for _, s := range l.order {
		if s.handler != nil {
			poller.Add(s.s, zmq4.POLLIN)
		}
	}
	for {
		polled, err := poller.Poll(-1)
		if err != nil && !isInterrupted(err) {
			return fmt.Errorf("zmq %s: poll: %w", l.name, err)
		}
		for _, p := range polled {
			if p.Socket == l.wakeRx {
				l.drainWakeups()
				continue
			}
			if err := l.receive(l.sockets[p.Socket]); err != nil {
				return err
			}
		}
		if stop := l.flush(); stop {
			return nil
		}
	}
}

func (l *Loop) drainWakeups() {
	for {
		if _, err := l.wakeRx.RecvBytes(zmq4.DONTWAIT); err != nil {
			return
		}
	}
}

// receive hands up to recvBurst waiting messages of s to its handler.
func (l *Loop) receive(s *Socket) error {
	for range recvBurst {
		parts, err := s.recvMessage()
		if err != nil {
			if IsAgain(err) || isInterrupted(err) {
				return nil
			}
			return fmt.Errorf("zmq %s: receive %v: %w", l.name, s.kind, err)
		}
		l.received.Add(1)
		s.handler(parts)
	}
	return nil
}

// flush performs what is queued; it reports whether Close was called.
func (l *Loop) flush() (stop bool) {
	l.woken.Store(false) // a Send after this point wakes the loop again
	for {
		select {
		case j := <-l.queue:
			l.perform(j)
			continue
		default:
		}
		select {
		case <-l.closing:
			return true
		default:
			return false
		}
	}
}

func (l *Loop) perform(j job) {
	if j.fn != nil {
		j.fn()
		return
	}
	if err := j.s.SendNow(j.parts...); err != nil {
		l.sendErrors.Add(1)
		if l.onError != nil {
			l.onError(j.s, j.parts, err)
		}
	}
}

// Close stops Run (if it runs) and closes every socket and the context;
// queued sends not yet performed are discarded. It waits for Run to return.
func (l *Loop) Close() error {
	l.once.Do(func() { close(l.closing) })
	if !l.started.Swap(true) {
		l.shutdown() // never ran: nothing else will
		close(l.done)
		return nil
	}
	l.woken.Store(false)
	l.wake()
	<-l.done
	return nil
}

// Done is closed when the loop has stopped and its sockets are closed.
func (l *Loop) Done() <-chan struct{} { return l.done }

func (l *Loop) shutdown() {
	for _, s := range l.order {
		s.s.Close()
	}
	l.wakeMu.Lock()
	if l.wakeTx != nil {
		l.wakeTx.Close()
		l.wakeTx = nil
	}
	l.wakeMu.Unlock()
	if l.wakeRx != nil {
		l.wakeRx.Close()
	}
	_ = l.ctx.Term()
}
