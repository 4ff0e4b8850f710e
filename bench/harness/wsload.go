package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// The ws scenario's load generator: wrk speaks no WebSocket, so the harness
// is the client, with github.com/fasthttp/websocket's Dialer. Each
// connection sends the 64-byte text message and waits for its echo, again
// and again, for the duration: one message in flight per connection, as
// wrk keeps one request in flight per connection. Its figures go into a
// wrkResult, so that the rounds, medians, ratios, tables and charts are
// the load scenarios' own: a message is a request, a dropped connection a
// socket error and an echo that differs from what was sent a non-2xx.

// wsDialer opens the load's connections with the library's defaults (4 KiB
// buffers each way, no compression), as the servers have them.
var wsDialer = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}

// wsDialers is how many connections are opened at once.
const wsDialers = 32

// runWSLoad opens conns WebSocket connections to url (ws://host:port/path),
// then runs the echo loop on each for d. Messages and latencies count from
// the moment every connection is open, so the handshakes are not in the
// rate. It fails only when no connection opens.
func runWSLoad(ctx context.Context, url string, conns int, d time.Duration) (wrkResult, error) {
	cs, dialErrs, firstErr := dialWS(ctx, url, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	if len(cs) == 0 {
		return wrkResult{Raw: "no connection opened: " + firstErr}, fmt.Errorf("ws load: no connection opened: %s", firstErr)
	}
	msg := payload.WSMessage()
	var (
		wg       sync.WaitGroup
		sockErrs atomic.Int64
		badEcho  atomic.Int64
		errOnce  sync.Once
		runErr   string
	)
	fail := func(err error) {
		errOnce.Do(func() { runErr = err.Error() })
	}
	lats := make([][]time.Duration, len(cs))
	start := time.Now()
	deadline := start.Add(d)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A server that stops answering must not hold the run past
			// its end by more than a few seconds.
			c.SetReadDeadline(deadline.Add(5 * time.Second))
			c.SetWriteDeadline(deadline.Add(5 * time.Second))
			buf := make([]byte, 2*len(msg))
			own := make([]time.Duration, 0, 1024)
			defer func() { lats[i] = own }()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
					sockErrs.Add(1)
					fail(err)
					return
				}
				mt, n, err := readMessage(c, buf)
				if err != nil {
					sockErrs.Add(1)
					fail(err)
					return
				}
				own = append(own, time.Since(t0))
				if mt != websocket.TextMessage || !bytes.Equal(buf[:n], msg) {
					badEcho.Add(1)
					fail(fmt.Errorf("echo of type %d, %d bytes %q, want text %q", mt, n, clip(buf[:n], 40), clip(msg, 40)))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return wrkResult{}, ctx.Err()
	}
	all := slices.Concat(lats...)
	r := wrkResult{
		Requests:   int64(len(all)),
		Seconds:    elapsed.Seconds(),
		SocketErrs: int64(dialErrs) + sockErrs.Load(),
		Non2xx:     badEcho.Load(),
	}
	r.RPS = float64(r.Requests) / r.Seconds
	r.P50ms, r.P99ms = latencyPercentiles(all)
	r.Raw = fmt.Sprintf("ws load %s: %d of %d connections open, %d messages echoed in %.2fs, %.0f msg/s, "+
		"p50 %.3f ms, p99 %.3f ms, dial errors %d, socket errors %d, bad echoes %d",
		url, len(cs), conns, r.Requests, r.Seconds, r.RPS, r.P50ms, r.P99ms, dialErrs, sockErrs.Load(), r.Non2xx)
	if first := cmp.Or(runErr, firstErr); first != "" {
		r.Raw += "; first error: " + first
	}
	return r, nil
}

// dialWS opens n connections, wsDialers at a time, and returns those that
// opened, the number that failed and the first failure.
func dialWS(ctx context.Context, url string, n int) ([]*websocket.Conn, int, string) {
	return dialAll(ctx, n, wsDialers, n, func(ctx context.Context, _ int) (*websocket.Conn, error) {
		c, _, err := wsDialer.DialContext(ctx, url, nil)
		return c, err
	})
}

// readMessage reads the next whole message into buf, without the
// allocation of Conn.ReadMessage: the client's cost is in every
// contender's share of the two cores. A message longer than buf is an
// error.
func readMessage(c *websocket.Conn, buf []byte) (int, int, error) {
	mt, r, err := c.NextReader()
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for {
		if n == len(buf) {
			return mt, n, fmt.Errorf("message over %d bytes", len(buf))
		}
		m, err := r.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return mt, n, nil
		}
		if err != nil {
			return mt, n, err
		}
	}
}

// latencyPercentiles returns the 50th and 99th percentiles of the round
// trips in ms (nearest rank, as wrk's distribution reports them); NaN-free
// zeros when there is none.
func latencyPercentiles(lats []time.Duration) (p50, p99 float64) {
	if len(lats) == 0 {
		return 0, 0
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	ms := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return float64(s[max(0, i)]) / float64(time.Millisecond)
	}
	return ms(50), ms(99)
}

// echo is the ws probe: a text and a binary message must come back whole
// and with their types.
func (p probe) echo(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, resp, err := wsDialer.DialContext(ctx, "ws://"+addr+p.path, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("websocket %s: %w (status %d)", p.path, err, resp.StatusCode)
		}
		return fmt.Errorf("websocket %s: %w", p.path, err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetReadDeadline(deadline)
	c.SetWriteDeadline(deadline)
	for _, m := range []struct {
		t    int
		data []byte
	}{{websocket.TextMessage, payload.WSMessage()}, {websocket.BinaryMessage, payload.Big()}} {
		if err := c.WriteMessage(m.t, m.data); err != nil {
			return fmt.Errorf("websocket %s: write: %w", p.path, err)
		}
		t, got, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("websocket %s: read: %w", p.path, err)
		}
		if t != m.t || !bytes.Equal(got, m.data) {
			return fmt.Errorf("websocket %s: echo of type %d, %d bytes %q, want type %d, %d bytes %q",
				p.path, t, len(got), clip(got, 40), m.t, len(m.data), clip(m.data, 40))
		}
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return nil
}
