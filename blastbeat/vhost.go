package blastbeat

import (
	"github.com/nanogate/nanogate/hub"
)

// Vhost is one BlastBeat virtual host: the nodes its requests go to. It
// is the hub.Picker of its route, and the route's Streams.
type Vhost struct {
	r                      *Router
	name                   string
	serverName, serverPort string // uwsgi's SERVER_NAME and SERVER_PORT
	nodes                  []*node
	packet                 Packet
}

// Vhost returns the virtual host name (BlastBeat's section name,
// "localhost:8080") served by the named nodes. Nodes are shared by every
// virtual host that names them.
func (r *Router) Vhost(name string, nodes []string, p Packet) *Vhost {
	v := &Vhost{r: r, name: name, packet: p}
	v.serverName, v.serverPort = splitVhost(name)
	r.mu.Lock()
	for _, n := range nodes {
		v.nodes = append(v.nodes, r.nodeLocked(n))
	}
	r.mu.Unlock()
	return v
}

// Open starts request num of session sid on the node Pick chooses.
func (v *Vhost) Open(sid [16]byte, num uint32) (*hub.Stream, error) {
	return v.r.hub.Open(v, sid, num)
}

// Pick pins a new request to the available node with the fewest live
// requests (BlastBeat's least-connection choice), or returns nil when no
// node answers pings. skip is not used: a dealer's retry is carried out
// here, not by the hub, so that BlastBeat's max-hops applies.
func (v *Vhost) Pick(skip hub.Worker) hub.Worker {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	n := v.pickLocked(nil)
	if n == nil {
		return nil
	}
	b := &binding{r: v.r, vhost: v, done: make(chan struct{})}
	n.pin(b)
	return b
}

// pickLocked returns the available node with the fewest live requests,
// never not, first in configuration order on a tie; r.mu is held.
func (v *Vhost) pickLocked(not *node) *node {
	var best *node
	for _, n := range v.nodes {
		if n.up && n != not && (best == nil || len(n.pinned) < len(best.pinned)) {
			best = n
		}
	}
	return best
}

// Workers is the number of the virtual host's nodes that take sessions.
func (v *Vhost) Workers() int {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	up := 0
	for _, n := range v.nodes {
		if n.up {
			up++
		}
	}
	return up
}

// Has reports whether the virtual host is served by the node named name.
func (v *Vhost) Has(name string) bool {
	for _, n := range v.nodes {
		if n.name == name {
			return true
		}
	}
	return false
}
