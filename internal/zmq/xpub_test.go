//go:build !nozmq

package zmq

import (
	"testing"
	"time"
)

// An XPUB hears a SUB's subscription; once heard, what it publishes
// reaches that SUB (a PUB's first messages before it are dropped).
func TestXPubHearsSubscription(t *testing.T) {
	sub := newLoop(t, "sub")
	got := make(chan [][]byte, 1)
	ss, err := sub.Socket(Sub, Options{Subscribe: [][]byte{[]byte("gw ")}}, func(p [][]byte) { got <- p })
	if err != nil {
		t.Fatal(err)
	}
	url := "ipc://" + t.TempDir() + "/xpub" // inproc does not cross the loops' contexts
	if err := ss.Bind(url); err != nil {
		t.Fatal(err)
	}
	pub := newLoop(t, "xpub")
	subs := make(chan [][]byte, 1)
	ps, err := pub.Socket(XPub, Options{}, func(p [][]byte) { subs <- p })
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Connect(url); err != nil {
		t.Fatal(err)
	}
	startLoop(t, sub)
	startLoop(t, pub)
	select {
	case p := <-subs:
		if len(p) != 1 || string(p[0]) != "\x01gw " {
			t.Fatalf("subscription %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription heard")
	}
	if err := pub.Send(ps, []byte("gw hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if string(p[0]) != "gw hello" {
			t.Fatalf("%q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing published")
	}
}
