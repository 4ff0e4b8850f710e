package zclient

import (
	"time"

	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// ticker sends keep-alives and ends silent requests until Close. It looks
// ten times per keep-alive period (at most every second), so each handler
// hears about each of its requests within a tenth of the period of when
// it is due, batched as Condure does.
func (s *Stream) ticker() {
	every := min(s.cfg.KeepAlive/10, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

// tick ends the requests whose handler has been silent past the session
// timeout, and sends a keep-alive to each handler for its requests that
// heard nothing from the gateway for a keep-alive period: one packet per
// handler and up to zhttp.MaxIDs requests, with each id's own seq.
func (s *Stream) tick(now time.Time) {
	type batch struct {
		to    []byte
		conns []*conn
	}
	byTo := map[string]*batch{}
	s.each(func(c *conn) {
		if now.UnixNano()-c.heard.Load() > int64(s.cfg.SessionTimeout) {
			s.count(dropSilent, string(c.id), "no packet within the session timeout")
			c.fail(errSilent, true)
			return
		}
		c.mu.Lock()
		due := c.to != nil && !c.finished && !c.handoff && now.UnixNano()-c.said >= int64(s.cfg.KeepAlive)
		if due {
			b := byTo[string(c.to)]
			if b == nil {
				b = &batch{to: c.to}
				byTo[string(c.to)] = b
			}
			b.conns = append(b.conns, c)
		}
		c.mu.Unlock()
	})
	for _, b := range byTo {
		for len(b.conns) > 0 {
			n := min(len(b.conns), zhttp.MaxIDs)
			s.keepAlive(b.to, b.conns[:n], now)
			b.conns = b.conns[n:]
		}
	}
}

// keepAlive sends one keep-alive naming every request of conns, all of
// handler to. Each id takes its next seq; every request's lock is held
// until the packet is queued, so that no other packet of the same request
// can take a later seq and leave first.
func (s *Stream) keepAlive(to []byte, conns []*conn, now time.Time) {
	p := &zhttp.Packet{From: s.id, Type: zhttp.KeepAlive, Multi: true}
	for _, c := range conns {
		c.mu.Lock() // only the ticker ever holds two conns' locks: no cycle
		p.IDs = append(p.IDs, zhttp.ID{ID: c.id, Seq: c.outSeq})
		c.outSeq++
		c.said = now.UnixNano()
	}
	defer func() {
		for _, c := range conns {
			c.mu.Unlock()
		}
	}()
	msg := packet(p)
	s.do(func() {
		err := s.out.SendNow(to, nil, msg)
		if err == nil {
			for _, c := range conns {
				c.mu.Lock()
				c.reached = true
				c.mu.Unlock()
			}
			return
		}
		s.count(dropUnreachable, string(to), err.Error())
		full := zmq.IsAgain(err) // a lost keep-alive breaks each request's sequence
		for _, c := range conns {
			c.mu.Lock()
			gone := c.reached || full
			c.mu.Unlock()
			if gone {
				c.fail(errHandlerGone, false)
			}
		}
	})
}
