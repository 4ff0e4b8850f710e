package blastbeat

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nanogate/nanogate/hub"
)

// onePicker hands out one binding, for a stream made without a socket.
type onePicker struct{ b *binding }

func (p onePicker) Pick(hub.Worker) hub.Worker { return p.b }

// FuzzReceive: whatever multipart message a dealer sends, the router
// never panics, and a frame reaches the one live request only when the
// message is [its node, its sid, a known type, body].
func FuzzReceive(f *testing.F) {
	sid := [16]byte{0: 1, 15: 2}
	for _, s := range []string{
		"n1|" + string(sid[:]) + "|headers|HTTP/1.1 200 OK\r\n\r\n",
		"n1|" + string(sid[:]) + "|body|hi",
		"n2|" + string(sid[:]) + "|body|hi",
		"n1|" + string(sid[:]) + "|body",
		"n1|0123456789abcdef|body|x",
		"n1||pong|",
		"n1|" + string(sid[:]) + "|@x:websocket|x",
		"ghost|" + string(sid[:]) + "|end|",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parts := bytes.Split(data, []byte("|"))
		if len(parts) >= 3 && (string(parts[2]) == "ping" || string(parts[2]) == "retry") {
			return // these answer on the socket, which this test has not
		}
		h, _ := hub.New(hub.Config{})
		r := &Router{cfg: Config{MaxHops: 10}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), hub: h,
			nodes: map[string]*node{}, sids: map[[16]byte]*binding{}}
		v := r.Vhost("h", []string{"n1", "n2"}, Uwsgi)
		n1 := r.nodes["n1"]
		b := &binding{r: r, vhost: v, done: make(chan struct{}), sid: sid, num: 1, bbsid: bbSID(sid, 1), bound: true}
		n1.pin(b)
		r.sids[b.bbsid] = b
		st, err := h.Open(onePicker{b}, sid, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close(false)
		r.receive(parts)
		_, _, err = st.Next(time.Nanosecond)
		delivered := err == nil
		own := len(parts) == 4 && string(parts[0]) == "n1" && bytes.Equal(parts[1], b.bbsid[:]) && dealerTypes[string(parts[2])] != 0
		if delivered && !own {
			t.Fatalf("%q reached the request", parts)
		}
		if own && !delivered {
			t.Fatalf("%q did not reach its request: %v", parts, err)
		}
	})
}
