package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// probe is the one request that must succeed before a contender is
// measured, with the answer it must give.
type probe struct {
	method string
	path   string
	body   []byte // request body, POST only
	want   []byte // expected response body
	// ws: a WebSocket at path instead, which must echo a text and a
	// binary message with their types.
	ws bool
}

// checkClient does not keep connections: a check must not leave one open
// that the measured run or the idle count would see.
var checkClient = &http.Client{
	Timeout:   3 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// do sends the probe once and compares status and body.
func (p probe) do(ctx context.Context, addr string) error {
	if p.ws {
		return p.echo(ctx, addr)
	}
	var body io.Reader
	if p.body != nil {
		body = bytes.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, "http://"+addr+p.path, body)
	if err != nil {
		return err
	}
	resp, err := checkClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading body: %w", p.method, p.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d, body %q", p.method, p.path, resp.StatusCode, clip(got, 80))
	}
	if !bytes.Equal(got, p.want) {
		return fmt.Errorf("%s %s: body of %d bytes %q, want %d bytes %q",
			p.method, p.path, len(got), clip(got, 40), len(p.want), clip(p.want, 40))
	}
	return nil
}

// waitReady waits until addr accepts a TCP connection and the probe gets
// its expected answer, failing early when a process of the stack exits.
// Workers connect to a gateway after it starts listening, so a 503 is
// retried until the deadline.
func waitReady(ctx context.Context, s *stack, p probe, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		if err := s.alive(); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			if last = p.do(ctx, s.addr); last == nil {
				return nil
			}
		} else {
			last = err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFile waits for path to exist (a worker's ipc socket).
func waitFile(path string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
