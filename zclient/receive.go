package zclient

import (
	"bytes"
	"time"

	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// receive handles one message from a handler's PUB, on the loop's
// goroutine: "<instance id> T<tnetstring>". A packet reaches only the
// requests its ids name, each checked against its seq; nothing a handler
// sends is delivered to a request that is not live.
func (s *Stream) receive(parts [][]byte) {
	if len(parts) != 1 {
		s.count(dropMalformed, "parts", "not one part")
		return
	}
	msg, ok := bytes.CutPrefix(parts[0], s.id)
	if !ok || len(msg) == 0 || msg[0] != ' ' {
		s.count(dropMalformed, "prefix", "not the instance id and a space")
		return
	}
	var p zhttp.Packet
	if err := zhttp.Parse(msg[1:], &p); err != nil {
		s.count(dropMalformed, "packet", err.Error())
		return
	}
	now := time.Now()
	for i := range p.IDs {
		c := s.lookup(p.IDs[i].ID)
		if c == nil {
			s.count(dropUnknown, "id", string(p.IDs[i].ID))
			continue
		}
		c.handle(&p, p.IDs[i].Seq, now)
	}
}

// handle applies one packet of the handler to the request.
func (c *conn) handle(p *zhttp.Packet, seq int64, now time.Time) {
	s := c.s
	c.mu.Lock()
	if seq >= 0 && seq != c.inSeq {
		// Out of order (a lost or duplicated packet): what follows
		// cannot be trusted, so the request ends, as in Condure.
		c.mu.Unlock()
		s.count(dropBadSeq, string(c.id), "expected "+itoa(c.inSeq)+" got "+itoa(seq))
		c.fail(errBadSeq, true)
		return
	}
	if seq >= 0 {
		c.inSeq++
	}
	c.heard.Store(now.UnixNano())
	if len(p.From) > 0 && !bytes.Equal(p.From, c.to) {
		c.to, c.reached = append([]byte(nil), p.From...), false
	}
	c.handoff = false // any packet resumes after a handoff (spec 33)
	var fail error
	switch p.Type {
	case zhttp.Data:
		c.credits += p.Credits
		if c.ws {
			fail = c.wsData(p)
		} else {
			fail = c.data(p)
		}
	case zhttp.Credit:
		c.credits += p.Credits
	case zhttp.KeepAlive, zhttp.Pong:
	case zhttp.Ping:
		if c.to != nil {
			c.sendLocked(&zhttp.Packet{Type: zhttp.Pong})
		}
	case zhttp.HandoffStart:
		// The handler moves the request to another process; that one
		// resumes with any packet from its own address.
		if c.to != nil {
			c.sendLocked(&zhttp.Packet{Type: zhttp.HandoffProceed})
		}
		c.handoff = true
	case zhttp.HandoffProceed:
		// The gateway never starts a handoff: nothing to proceed with.
	case zhttp.Cancel:
		c.finished = true
		fail = errHandlerCancel
	case zhttp.Error:
		c.finished = true
		s.log.Info("zhttp handler error", "id", string(c.id), "condition", string(p.Condition))
		fail = errHandlerError
	case zhttp.Close:
		if !c.ws {
			fail = errUnsupported // a WebSocket packet on an HTTP request
			break
		}
		c.wsClosed(p)
	}
	c.mu.Unlock()
	c.signal()
	if fail != nil {
		c.fail(fail, fail == errBadResponse || fail == errUnsupported)
	}
}

// data delivers a data packet to the front end as frames: the first one
// as headers (and the first piece of body), the rest as body, and end
// when more is absent. c.mu is held.
func (c *conn) data(p *zhttp.Packet) error {
	if c.finished {
		return nil // a packet after the last: nothing to deliver it to
	}
	f := frames.Frame{SID: c.sid, Stream: c.num}
	if !c.started {
		head, err := zhttp.AppendHead(make([]byte, 0, 256+len(p.Body)), p)
		if err != nil {
			c.s.count(dropBadResponse, string(c.id), err.Error())
			c.finished = true
			return errBadResponse
		}
		c.started = true
		f.Type, f.Body = frames.Headers, append(head, p.Body...)
		c.s.hub.Deliver(f)
	} else if len(p.Body) > 0 {
		f.Type, f.Body = frames.Body, p.Body
		c.s.hub.Deliver(f)
	}
	if !p.More {
		c.finished = true
		f.Type, f.Body = frames.End, nil
		c.s.hub.Deliver(f)
	}
	return nil
}
