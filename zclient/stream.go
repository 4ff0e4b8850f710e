// Package zclient puts ZHTTP handlers, the programs written for Condure
// (fanout/condure), behind nanogate: the gateway holds Condure's
// "zclient" sockets and speaks ZHTTP (rfc.zeromq.org spec 33; packets in
// protocol/zhttp) to the handlers, which run unchanged.
//
// Stream mode (Stream, Condure's --zclient-stream BASE):
//
//	BASE-out         PUSH    the first packet of each request: any handler's PULL takes it
//	BASE-out-stream  ROUTER  later packets, to the handler named by the "from" of its answers
//	BASE-in          SUB     handlers PUBlish "<instance id> T<tnetstring>"; the gateway
//	                         subscribes to its own id and a space
//
// (tcp://host:N uses ports N, N+1, N+2.) The gateway binds all three, as
// Condure does; with Connect it connects instead (--zclient-connect).
//
// Each request is a stream of the hub (package hub): the front end's
// frames path serves it unchanged, and this package translates frames to
// packets and back. A request's handler is not known until it answers
// (the first packet went out on PUSH), so each request is its own
// hub.Worker, a conn; the handler that answers owns it from then on.
//
// REQ mode (Req, Condure's --zclient-req BASE): one DEALER; one packet
// carries the whole request, one packet the whole response; handlers use
// REP (or ROUTER).
//
// Ownership: a Stream owns its Loop (the sockets, on the loop's goroutine)
// and a ticker goroutine (keep-alives, session timeouts); Close stops both
// and waits. Frames from the front end are sent from its goroutines
// through Loop.Do (bounded: a full queue fails the request, never waits
// without bound).
package zclient

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// StreamConfig shapes a Stream.
type StreamConfig struct {
	// Base is Condure's --zclient-stream: ipc://PATH (PATH-out,
	// PATH-out-stream, PATH-in) or tcp://HOST:N (ports N, N+1, N+2).
	Base string
	// Connect connects the sockets instead of binding them
	// (--zclient-connect).
	Connect bool
	// InstanceID is the gateway's "from" and the prefix handlers publish
	// to; zero: "nanogate" (Condure's --id, whose default is "condure").
	InstanceID string
	// Hub carries the streams; required.
	Hub *hub.Hub
	// KeepAlive is how often a handler hears a keep-alive for each of its
	// live requests; zero: 45s (Condure's KEEP_ALIVE_TIMEOUT_MS).
	KeepAlive time.Duration
	// SessionTimeout ends a request whose handler sent nothing for this
	// long (the client gets 502, or a cut body); zero: 60s (Condure's
	// ZHTTP_SESSION_TIMEOUT).
	SessionTimeout time.Duration
	// WebSocket carries upgrade requests as ZHTTP WebSocket sessions (the
	// route accepts upgrades); zero: an upgrade is an ordinary request.
	WebSocket bool
	// MaxStreams bounds the requests in flight; past it the client gets
	// 503. Zero: 10000 (Condure's --stream-maxconn).
	MaxStreams int
	Logger     *slog.Logger // zero: slog.Default()
}

// Stream is the gateway's side of ZHTTP stream mode. It is a hub.Picker,
// and Open makes it a route's Streams.
type Stream struct {
	cfg  StreamConfig
	id   []byte // instance id
	hub  *hub.Hub
	log  *slog.Logger
	loop *zmq.Loop
	push *zmq.Socket
	out  *zmq.Socket // ROUTER
	in   *zmq.Socket // SUB

	shards [64]shard
	live   atomic.Int64
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup

	drops
}

type shard struct {
	mu sync.Mutex
	m  map[[16]byte]*conn
}

// Endpoints derives Condure's three addresses from a base.
func Endpoints(base string) (out, outStream, in string, err error) {
	switch {
	case strings.HasPrefix(base, "ipc://"):
		return base + "-out", base + "-out-stream", base + "-in", nil
	case strings.HasPrefix(base, "tcp://"):
		i := strings.LastIndexByte(base, ':')
		port, perr := strconv.Atoi(base[i+1:])
		if i < len("tcp://") || perr != nil || port <= 0 || port > 65533 {
			return "", "", "", fmt.Errorf("zhttp base %q: tcp://HOST:PORT with a port of at most 65533 (three ports from it)", base)
		}
		h := base[:i+1]
		return h + strconv.Itoa(port), h + strconv.Itoa(port+1), h + strconv.Itoa(port+2), nil
	}
	return "", "", "", fmt.Errorf("zhttp base %q: must be ipc:// or tcp://", base)
}

// NewStream makes, binds (or connects) and starts the three sockets.
func NewStream(c StreamConfig) (*Stream, error) {
	if c.Hub == nil {
		return nil, errors.New("zclient: StreamConfig needs a Hub")
	}
	outURL, streamURL, inURL, err := Endpoints(c.Base)
	if err != nil {
		return nil, err
	}
	if c.InstanceID == "" {
		c.InstanceID = "nanogate"
	}
	c.KeepAlive = orDefault(c.KeepAlive, 45*time.Second)
	c.SessionTimeout = orDefault(c.SessionTimeout, 60*time.Second)
	c.MaxStreams = orDefault(c.MaxStreams, 10000)
	s := &Stream{cfg: c, id: []byte(c.InstanceID), hub: c.Hub, log: c.Logger, stop: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("zhttp", c.Base)
	s.drops.log = s.log
	for i := range s.shards {
		s.shards[i].m = make(map[[16]byte]*conn)
	}
	if s.loop, err = zmq.NewLoop("zhttp "+c.Base, nil); err != nil {
		return nil, err
	}
	// PUSH: Immediate, so that a request with no handler connected fails
	// soon (push1) instead of waiting in a queue for one. ROUTER:
	// mandatory, so that a send to a handler that has gone fails (how a
	// dead handler is noticed); its high-water mark is far above what
	// credits let a request queue, so reaching it means a handler that
	// does not read.
	s.push, err = s.loop.Socket(zmq.Push, zmq.Options{Immediate: true, SndHWM: 1000}, nil)
	if err == nil {
		s.out, err = s.loop.Socket(zmq.Router, zmq.Options{RouterMandatory: true, SndHWM: 10000}, nil)
	}
	if err == nil {
		// SUB: what libzmq may hold of handlers' packets is RcvHWM of
		// them at maxPacket each; past it a PUB drops (a flood costs the
		// flooder, not the gateway's memory).
		s.in, err = s.loop.Socket(zmq.Sub, zmq.Options{Subscribe: [][]byte{append([]byte(c.InstanceID), ' ')},
			RcvHWM: 128, MaxMsgSize: maxPacket}, s.receive)
	}
	for _, b := range []struct {
		sock *zmq.Socket
		url  string
	}{{s.push, outURL}, {s.out, streamURL}, {s.in, inURL}} {
		if err != nil {
			break
		}
		if c.Connect {
			err = b.sock.Connect(b.url)
		} else {
			err = b.sock.Bind(b.url)
		}
	}
	if err != nil {
		s.loop.Close()
		return nil, err
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.loop.Run(); err != nil {
			s.log.Error("zhttp sockets stopped", "err", err)
		}
		s.failAll(errClosed)
	}()
	go func() {
		defer s.wg.Done()
		s.ticker()
	}()
	return s, nil
}

// maxPacket bounds one packet from a handler: a response body piece of
// the whole credit window and its fields. libzmq drops the handler's
// connection past it.
const maxPacket = frames.Window + 64<<10

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Open starts a stream of the hub on a new request (gateway.Route.Streams).
func (s *Stream) Open(sid [16]byte, num uint32) (*hub.Stream, error) { return s.hub.Open(s, sid, num) }

// Pick makes the worker of a new request: a conn, whose handler is
// whichever takes its first packet. Nil (503) when the gateway holds
// MaxStreams requests or is closing.
func (s *Stream) Pick(skip hub.Worker) hub.Worker {
	if s.closed.Load() || s.live.Load() >= int64(s.cfg.MaxStreams) {
		return nil
	}
	return &conn{s: s, done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// Base is the base address the sockets were made from.
func (s *Stream) Base() string { return s.cfg.Base }

// Live is the number of requests in flight.
func (s *Stream) Live() int { return int(s.live.Load()) }

// Close stops the sockets and the ticker; requests in flight see their
// handler lost.
func (s *Stream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.loop.Close()
	s.wg.Wait()
	return nil
}

func (s *Stream) shard(sid [16]byte) *shard { return &s.shards[sid[0]%64] }

// register makes c the live request of its session.
func (s *Stream) register(c *conn) {
	sh := s.shard(c.sid)
	sh.mu.Lock()
	old := sh.m[c.sid]
	sh.m[c.sid] = c
	sh.mu.Unlock()
	if old == nil {
		s.live.Add(1)
	}
}

func (s *Stream) unregister(c *conn) {
	sh := s.shard(c.sid)
	sh.mu.Lock()
	if sh.m[c.sid] == c {
		delete(sh.m, c.sid)
		s.live.Add(-1)
	}
	sh.mu.Unlock()
}

// lookup finds the live request of a packet's id: "<sid hex>-<num>".
func (s *Stream) lookup(id []byte) *conn {
	sid, num, ok := parseID(id)
	if !ok {
		return nil
	}
	sh := s.shard(sid)
	sh.mu.Lock()
	c := sh.m[sid]
	sh.mu.Unlock()
	if c == nil || c.num != num {
		return nil
	}
	return c
}

// each runs f on every live request.
func (s *Stream) each(f func(*conn)) {
	var batch []*conn
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, c := range sh.m {
			batch = append(batch, c)
		}
		sh.mu.Unlock()
	}
	for _, c := range batch {
		f(c)
	}
}

func (s *Stream) failAll(err error) { s.each(func(c *conn) { c.fail(err, false) }) }

// appendID writes a request's id: its session id in hex, a dash, its
// number in the session. Stateless both ways: a handler's packet names
// its request without a table of ids.
func appendID(dst []byte, sid [16]byte, num uint32) []byte {
	const hexdigits = "0123456789abcdef"
	for _, b := range sid {
		dst = append(dst, hexdigits[b>>4], hexdigits[b&15])
	}
	dst = append(dst, '-')
	return strconv.AppendUint(dst, uint64(num), 10)
}

func parseID(id []byte) (sid [16]byte, num uint32, ok bool) {
	h, n, found := bytes.Cut(id, []byte("-"))
	if !found || len(n) == 0 || len(n) > 10 {
		return sid, 0, false
	}
	sid, err := frames.ParseSID(h)
	if err != nil {
		return sid, 0, false
	}
	v, err := strconv.ParseUint(string(n), 10, 32)
	if err != nil {
		return sid, 0, false
	}
	return sid, uint32(v), true
}

// packet encodes p for the wire.
func packet(p *zhttp.Packet) []byte { return zhttp.Append(make([]byte, 0, 256+len(p.Body)), p) }
