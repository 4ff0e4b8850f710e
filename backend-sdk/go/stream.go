package worker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// ErrStreamEnded is returned by reads and writes on a stream that the
// gateway has ended (an end frame: the client went away, or the stream was
// cut or timed out).
var ErrStreamEnded = errors.New("worker: stream ended by the gateway")

const (
	defaultMaxStreams = 1024

	// What may wait for a handler on one stream: request body pieces, or
	// WebSocket messages, in bytes and in frames.
	maxQueuedBytes = 1 << 20
	bodyQueueItems = 1024
	wsQueueItems   = 64
)

// replyOverloaded answers a request over MaxStreams, as fasthttp sheds
// load: at once, rather than queueing it.
var replyOverloaded = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Retry-After: 1\r\n" +
	"Content-Length: 20\r\n\r\n" +
	"Service Unavailable\n")

// StreamServer serves an http.Handler on a route of format frames
// (docs/PROTOCOL.md): responses are streamed (Flush sends), request bodies
// arrive as the client sends them, and a handler may take the request over
// as a WebSocket (AcceptWebSocket). Requests come in on a PULL socket; the
// frames of each reply go to the gateway's inbound address that the
// request names. Set the fields before the first Listen or Dial.
type StreamServer struct {
	// Handler answers the requests. Zero: http.DefaultServeMux.
	Handler http.Handler

	// MaxStreams is how many streams run at once, each in its own
	// goroutine; a request beyond it is answered 503 with Retry-After.
	// Zero: 1024.
	MaxStreams int

	// Logger receives bad frames, handler panics and connection events.
	// Zero: slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	pulls    []*sp.Pull
	streams  map[streamKey]*stream
	stopping bool // Shutdown or Close began: no new stream
	closed   bool // sockets closed
	base     context.Context
	cancel   context.CancelFunc
	out      outbound
	wg       sync.WaitGroup // the handlers

	stallLimit time.Duration // zero: defaultStallLimit; tests shorten it
}

// streamKey names a stream: the session and the request within it.
type streamKey struct {
	sid [16]byte
	num uint32
}

// Listen binds a PULL socket at url (tcp:// or ipc://) for the gateway to
// dial (endpoint mode "dial"). Serving starts at once.
func (s *StreamServer) Listen(url string) error { return s.attach(url, true) }

// Dial connects a PULL socket to a gateway endpoint in mode "listen", and
// reconnects whenever the connection drops. Serving starts at once.
func (s *StreamServer) Dial(url string) error { return s.attach(url, false) }

func (s *StreamServer) attach(url string, listen bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.stopping {
		return ErrServerClosed
	}
	pull, err := sp.NewPull(sp.LinkConfig{URL: url, Listen: listen, Logger: s.logger()}, s.deliver)
	if err != nil {
		return fmt.Errorf("worker: stream server: %w", err)
	}
	s.pulls = append(s.pulls, pull)
	return nil
}

func (s *StreamServer) initLocked() {
	if s.streams == nil {
		s.streams = make(map[streamKey]*stream)
		s.base, s.cancel = context.WithCancel(context.Background())
		// sp.Push logs its peers as workers; here the peer is the gateway.
		s.out.log = s.logger().With("socket", "gateway inbound")
	}
}

// Shutdown stops taking new streams (a request that arrives meanwhile is
// given back to the gateway with a retry frame, for another worker), waits
// for the running handlers to return and their frames to be written, then
// closes the sockets. If ctx ends first it closes as Close does and returns
// ctx.Err().
func (s *StreamServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.initLocked()
	s.stopping = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { // ends with the last handler, even after ctx is done
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = s.Close()
		return ctx.Err()
	}
	s.out.flush() // the handlers' last frames are written before the close
	return s.closeSockets()
}

// Close ends every stream at once (their contexts are cancelled, their
// reads and writes fail with ErrServerClosed) and closes the sockets;
// frames not yet written are lost. It does not wait for the handlers.
func (s *StreamServer) Close() error {
	s.mu.Lock()
	s.initLocked()
	s.stopping = true
	live := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		live = append(live, st)
	}
	s.mu.Unlock()
	s.cancel()
	for _, st := range live {
		st.end(ErrServerClosed)
	}
	return s.closeSockets()
}

// closeSockets closes the PUSH sockets first, so that no reader waits on a
// send, then the PULL sockets, which waits for their readers.
func (s *StreamServer) closeSockets() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	pulls := s.pulls
	s.mu.Unlock()
	s.out.close()
	for _, p := range pulls {
		_ = p.Close()
	}
	return nil
}

// deliver takes one frame from the gateway; it runs on the reader of that
// gateway connection, and msg is valid only during the call.
func (s *StreamServer) deliver(msg *[]byte) (kept bool) {
	f, err := frames.Parse(*msg)
	if err != nil {
		s.logger().Warn("worker: bad frame", "err", err, "size", len(*msg))
		return false
	}
	key := streamKey{f.SID, f.Stream}
	if f.Type == frames.Request {
		s.open(key, f.Body)
		return false
	}
	s.mu.Lock()
	st := s.streams[key]
	s.mu.Unlock()
	if st == nil {
		// Late frames of a stream that ended (credit, a message that
		// crossed the end): expected, and harmless.
		s.logger().Debug("worker: frame for no running stream", "type", f.Type.String(),
			"session", hex.EncodeToString(key.sid[:]), "stream", key.num)
		return false
	}
	switch f.Type {
	case frames.Body:
		if st.wantBody {
			return st.put(f.Type, f.Body, msg)
		}
	case frames.WSText, frames.WSBinary, frames.WSClose:
		return st.put(f.Type, f.Body, msg)
	case frames.Credit:
		if n, ok := frames.ParseCredit(f.Body); ok {
			st.win.add(n)
		} else {
			s.logger().Warn("worker: bad credit frame", "body", string(f.Body))
		}
	case frames.End:
		st.end(ErrStreamEnded)
	}
	// Other types (ping, pong, types of later versions) mean nothing here.
	return false
}

// open starts a stream for a request frame, or answers it at once when it
// cannot run: 503 over MaxStreams, retry while shutting down.
func (s *StreamServer) open(key streamKey, body []byte) {
	h, err := parseStreamRequest(body)
	var push *sp.Push
	if err == nil {
		push, err = s.out.push(h.inbound)
	}
	if errors.Is(err, ErrServerClosed) {
		return // Close is under way
	}
	if err != nil {
		// The gateway checked the client's request: a head it sends and this
		// parser refuses is a bug on one side, and cannot be answered when
		// the inbound address is what is missing. Logged; the gateway's
		// timeout answers the client.
		s.logger().Warn("worker: bad request frame", "err", err,
			"session", hex.EncodeToString(key.sid[:]), "stream", key.num)
		return
	}
	s.mu.Lock()
	s.initLocked()
	limit := s.MaxStreams
	if limit <= 0 {
		limit = defaultMaxStreams
	}
	switch {
	case s.stopping:
		s.mu.Unlock()
		s.answerNow(push, key, frames.Retry, nil)
		return
	case s.streams[key] != nil:
		s.mu.Unlock()
		s.logger().Warn("worker: request frame for a running stream", "session", hex.EncodeToString(key.sid[:]), "stream", key.num)
		return
	case len(s.streams) >= limit:
		s.mu.Unlock()
		s.logger().Warn("worker: too many streams, answering 503", "max_streams", limit)
		s.answerNow(push, key, frames.Headers, replyOverloaded)
		return
	}
	st := newStream(s, key, push, h)
	s.streams[key] = st
	s.wg.Add(1)
	s.mu.Unlock()
	if len(h.early) > 0 {
		st.put(frames.Body, h.early, nil)
		if h.length >= 0 && int64(len(h.early)) >= h.length {
			st.put(frames.Body, nil, nil) // the whole body came with the head
		}
	}
	go s.serve(st, h.r)
}

// answerNow answers a request frame without a stream, from the PULL
// reader: a retry frame, or a canned reply and end. It may wait for the
// connection to the inbound address (sendWait) when it is not up yet, as
// after the first request; the gateway's frames wait meanwhile.
func (s *StreamServer) answerNow(push *sp.Push, key streamKey, t frames.Type, body []byte) {
	hdr := frames.AppendHeader(nil, key.sid, t, key.num)
	err := s.out.send(push, hdr, body)
	if err == nil && t == frames.Headers {
		err = s.out.send(push, frames.AppendHeader(hdr[:0], key.sid, frames.End, key.num), nil)
	}
	if err != nil {
		s.logger().Warn("worker: could not answer a request frame", "type", t.String(), "err", err)
	}
}

// serve runs the handler of one stream, then finishes its reply.
func (s *StreamServer) serve(st *stream, r *http.Request) {
	defer s.wg.Done()
	defer s.forget(st)
	w := &streamWriter{st: st, isHead: r.Method == http.MethodHead}
	r = r.WithContext(st.ctx)
	if st.wantBody {
		r.Body = &streamBody{q: st.in, want: r.ContentLength}
	}
	p := s.run(w, r)
	st.cancel() // as net/http: the context ends when the handler returns
	st.in.close(errAfterReturn)
	if err := w.finish(p); err != nil && !errors.Is(err, ErrStreamEnded) && !errors.Is(err, ErrServerClosed) {
		s.logger().Warn("worker: reply not sent", "err", err, "request_id", r.Header.Get("X-Request-Id"))
	}
}

// errAfterReturn: as with net/http, the body (and a WebSocket's messages)
// are the handler's only while it runs.
var errAfterReturn = errors.New("worker: stream read after its handler returned")

// run calls the handler and returns what it panicked with, nil if it
// returned. A panic is recovered here, per stream, as Server does;
// http.ErrAbortHandler aborts without a log line.
func (s *StreamServer) run(w *streamWriter, r *http.Request) (panicked any) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
			if v != http.ErrAbortHandler {
				s.logger().Error("worker: panic serving stream",
					"request_id", r.Header.Get("X-Request-Id"),
					"method", r.Method, "uri", r.RequestURI,
					"panic", v, "stack", string(debug.Stack()))
			}
		}
	}()
	h := s.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	h.ServeHTTP(w, r)
	return nil
}

func (s *StreamServer) forget(st *stream) {
	s.mu.Lock()
	if s.streams[st.key] == st {
		delete(s.streams, st.key)
	}
	s.mu.Unlock()
}

func (s *StreamServer) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
