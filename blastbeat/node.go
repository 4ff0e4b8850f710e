package blastbeat

import (
	"log/slog"
	"time"
)

// node is one BlastBeat node: the dealers whose DEALER identity is its
// name (one at a time; a newcomer with the same identity takes over). Its
// fields are guarded by the Router's mu.
type node struct {
	name     string
	id       []byte
	up       bool      // heard within three ping periods: takes new sessions
	lastSeen time.Time // the last message of any type
	pinned   map[*binding]struct{}
}

// seen records a message from the node. As in BlastBeat, any message is a
// sign of life, and a node that was off takes new sessions again.
func (n *node) seen(log *slog.Logger, now time.Time) {
	n.lastSeen = now
	if !n.up {
		n.up = true
		log.Info("blastbeat node available", "node", n.name)
	}
}

// check takes the node out of the choice for new sessions when it has not
// been heard for off (BlastBeat: 3 x ping-freq). Its requests go on: a
// stuck dealer may come back, and a gone one is noticed by lose.
func (n *node) check(log *slog.Logger, now time.Time, off time.Duration) {
	if n.up && now.Sub(n.lastSeen) > off {
		n.up = false
		log.Warn("blastbeat node not answering pings: no new sessions", "node", n.name,
			"unheard", now.Sub(n.lastSeen).Round(time.Millisecond), "sessions", len(n.pinned))
	}
}

// lose is told that the node's dealer is gone (libzmq refused a send to
// its identity): its requests end now, the client getting 502 before the
// response head and a cut connection after it.
func (n *node) lose(log *slog.Logger, why string) {
	if n.up || len(n.pinned) > 0 {
		log.Warn("blastbeat node lost", "node", n.name, "why", why, "sessions", len(n.pinned))
	}
	n.up = false
	for b := range n.pinned {
		b.failLocked()
	}
}

func (n *node) pin(b *binding) {
	n.pinned[b] = struct{}{}
	b.node = n
}

func (n *node) unpin(b *binding) { delete(n.pinned, b) }
