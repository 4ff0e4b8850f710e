package sp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/pieces"
	"go.nanomsg.org/mangos/v3/protocol/pull"
	"go.nanomsg.org/mangos/v3/protocol/push"
)

// collector gathers what a Pull receives and signals each arrival.
type collector struct {
	mu   sync.Mutex
	msgs []string
	got  chan struct{}
}

func newCollector() *collector { return &collector{got: make(chan struct{}, 1024)} }

func (c *collector) handle(msg []byte) {
	c.mu.Lock()
	c.msgs = append(c.msgs, string(msg))
	c.mu.Unlock()
	c.got <- struct{}{}
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-c.got:
		case <-timeout:
			t.Fatalf("received %d messages, want %d", i, n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

func newPull(t *testing.T, cfg LinkConfig, h func([]byte)) *Pull {
	t.Helper()
	return newPullKeeping(t, cfg, Borrowing(h))
}

// newPullKeeping is newPull with a handler that may keep its messages.
func newPullKeeping(t *testing.T, cfg LinkConfig, h func(*[]byte) bool) *Pull {
	t.Helper()
	cfg.Logger = quiet
	p, err := NewPull(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dialPeer dials a Push to url and returns its peer once connected.
func dialPeer(t *testing.T, url string) *Peer {
	t.Helper()
	p := newPush(t, LinkConfig{URL: url})
	waitPushPeers(t, p, 1)
	return p.Pick()
}

func newPush(t *testing.T, cfg LinkConfig) *Push {
	t.Helper()
	cfg.Logger = quiet
	p, err := NewPush(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func waitPushPeers(t *testing.T, p *Push, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Peers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d peers, want %d", p.Peers(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestPipeline: our Push and Pull, either side binding, over ipc and tcp;
// order is kept on one connection, header and body are one message.
func TestPipeline(t *testing.T) {
	for name, url := range urls(t) {
		for _, pullListens := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s-pull-listens-%v", name, pullListens), func(t *testing.T) {
				c := newCollector()
				newPull(t, LinkConfig{URL: url, Listen: pullListens}, c.handle)
				p := newPush(t, LinkConfig{URL: url, Listen: !pullListens})
				waitPushPeers(t, p, 1)
				peer := p.Pick()
				for i := range 100 {
					if err := peer.Send([]byte("hdr "), []byte(fmt.Sprint(i))); err != nil {
						t.Fatal(err)
					}
				}
				got := c.wait(t, 100)
				for i, m := range got {
					if m != fmt.Sprint("hdr ", i) {
						t.Fatalf("message %d = %q", i, m)
					}
				}
			})
		}
	}
}

// TestPushPickAndDone: Pick prefers the peer with fewer pinned sessions,
// and a peer's Done closes when its worker goes away; a send after that
// fails rather than vanishing.
func TestPushPickAndDone(t *testing.T) {
	url := ipcURL(t)
	p := newPush(t, LinkConfig{URL: url, Listen: true})
	a := newCollector()
	pa := newPull(t, LinkConfig{URL: url}, a.handle)
	waitPushPeers(t, p, 1)
	first := p.Pick()
	first.Pin(1)
	b := newCollector()
	newPull(t, LinkConfig{URL: url}, b.handle)
	waitPushPeers(t, p, 2)
	second := p.Pick()
	if second == first {
		t.Fatal("Pick chose the loaded peer")
	}
	second.Pin(2)
	if p.Pick() != first {
		t.Fatal("Pick did not follow the load")
	}
	if err := first.Send(nil, []byte("to a")); err != nil {
		t.Fatal(err)
	}
	if got := a.wait(t, 1); got[0] != "to a" {
		t.Fatalf("a got %q", got)
	}
	pa.Close()
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the peer left")
	}
	if err := first.Send(nil, []byte("late")); err != ErrLost {
		t.Fatalf("send to a gone peer: %v, want ErrLost", err)
	}
	waitPushPeers(t, p, 1)
}

// TestPullTooLong: a message over MaxRecvSize closes that connection; the
// Pull keeps serving others.
func TestPullTooLong(t *testing.T) {
	url := ipcURL(t)
	c := newCollector()
	newPull(t, LinkConfig{URL: url, Listen: true, MaxRecvSize: 10}, c.handle)
	p := newPush(t, LinkConfig{URL: url})
	waitPushPeers(t, p, 1)
	peer := p.Pick()
	peer.Send(nil, bytes.Repeat([]byte("x"), 11))
	select {
	case <-peer.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("an oversized message did not close the connection")
	}
	waitPushPeers(t, p, 1) // redialled
	p.Pick().Send(nil, []byte("small"))
	if got := c.wait(t, 1); len(got) != 1 || got[0] != "small" {
		t.Fatalf("got %q", got)
	}
}

func TestPipelineMangosPeers(t *testing.T) {
	for name, url := range urls(t) {
		t.Run("push-to-mangos-pull-"+name, func(t *testing.T) {
			sock, err := pull.NewSocket()
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			if err := sock.Listen(url); err != nil {
				t.Fatal(err)
			}
			p := newPush(t, LinkConfig{URL: url})
			waitPushPeers(t, p, 1)
			p.Pick().Send([]byte("a "), []byte("b"))
			got, err := sock.Recv()
			if err != nil || string(got) != "a b" {
				t.Fatalf("mangos got %q, %v", got, err)
			}
		})
		t.Run("mangos-push-to-pull-"+name, func(t *testing.T) {
			c := newCollector()
			newPull(t, LinkConfig{URL: url, Listen: true}, c.handle)
			sock, err := push.NewSocket()
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			if err := sock.Dial(url); err != nil {
				t.Fatal(err)
			}
			if err := sock.Send([]byte("from mangos")); err != nil {
				t.Fatal(err)
			}
			if got := c.wait(t, 1); got[0] != "from mangos" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// The C implementations as pipeline peers: nanocat and nngcat push to our
// Pull, and pull from our Push.
func TestPipelineCPeers(t *testing.T) {
	for _, bin := range []string{"nanocat", "nngcat"} {
		path, err := exec.LookPath(bin)
		if err != nil {
			t.Fatalf("%s not installed (run make deps): %v", bin, err)
		}
		for name, url := range urls(t) {
			t.Run(bin+"-push-"+name, func(t *testing.T) {
				c := newCollector()
				newPull(t, LinkConfig{URL: url, Listen: true}, c.handle)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, path, "--push", "--connect", url, "--data", "from "+bin).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v %s", bin, err, out)
				}
				if got := c.wait(t, 1); got[0] != "from "+bin {
					t.Fatalf("got %q", got)
				}
			})
			t.Run(bin+"-pull-"+name, func(t *testing.T) {
				p := newPush(t, LinkConfig{URL: url, Listen: true})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, path, "--pull", "--connect", url, "--raw")
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { cmd.Process.Kill(); cmd.Wait() }()
				waitPushPeers(t, p, 1)
				p.Pick().Send([]byte("to "), []byte(bin))
				got := make([]byte, len("to "+bin))
				if _, err := io.ReadFull(stdout, got); err != nil || string(got) != "to "+bin {
					t.Fatalf("%s printed %q, %v", bin, got, err)
				}
			})
		}
	}
}

// TestSender: DialSender waits for a PULL that binds late, Send has
// written the message when it returns (Close right after loses nothing),
// and a peer of another protocol is refused at once.
func TestSender(t *testing.T) {
	url := ipcURL(t)
	c := newCollector()
	dialed := make(chan *Sender, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := DialSender(ctx, url)
		if err != nil {
			t.Error(err)
		}
		dialed <- s
	}()
	newPull(t, LinkConfig{URL: url, Listen: true}, c.handle) // after the dial began
	s := <-dialed
	if s == nil {
		t.FailNow()
	}
	for i := range 3 {
		if err := s.Send([]byte(fmt.Sprint("m", i)), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if got := c.wait(t, 3); got[0] != "m0" || got[2] != "m2" {
		t.Fatalf("got %q", got)
	}

	other := ipcURL(t)
	newPush(t, LinkConfig{URL: other, Listen: true}) // a PUSH, not a PULL
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := DialSender(ctx, other); err != ErrBadProtocol {
		t.Fatalf("dial to a PUSH: %v, want ErrBadProtocol", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("a wrong peer was retried until the deadline")
	}
}

// TestPipelineLargeAndOwned: messages of every size class, sent with Send
// and SendOwned in turn, arrive whole and in order over ipc and tcp, while
// the Pull reads large bodies past its buffer (readBody); buffers the
// handler keeps are never read into again.
func TestPipelineLargeAndOwned(t *testing.T) {
	sizes := []int{0, 5, largeBody - 1, largeBody, 64 << 10, 64<<10 + 40, 3, 256 << 10, 100 << 10, 17, 1 << 20, 1}
	for name, url := range urls(t) {
		t.Run(name, func(t *testing.T) {
			type kept struct {
				bp   *[]byte
				want []byte
			}
			var mu sync.Mutex
			var keep []kept
			got := make(chan []byte, len(sizes)*4)
			newPullKeeping(t, LinkConfig{URL: url, Listen: true, MaxRecvSize: 2 << 20}, func(msg *[]byte) bool {
				got <- bytes.Clone(*msg)
				if len(*msg)%2 == 1 { // keep every odd-sized message
					mu.Lock()
					keep = append(keep, kept{msg, bytes.Clone(*msg)})
					mu.Unlock()
					return true
				}
				return false
			})
			peer := dialPeer(t, url)
			var want [][]byte
			var err error
			for round := range 4 {
				for i, n := range sizes {
					body := make([]byte, n)
					for j := range body {
						body[j] = byte(round*31 + i + j*7)
					}
					hdr := []byte{byte(i), byte(round)}
					want = append(want, append(append([]byte(nil), hdr...), body...))
					if (i+round)%2 == 0 {
						err = peer.Send(hdr, body)
					} else {
						bp := pieces.Copy(body)
						err = peer.SendOwned(hdr, bp)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			for i, w := range want {
				select {
				case m := <-got:
					if !bytes.Equal(m, w) {
						t.Fatalf("message %d: %d bytes, want %d (or its bytes differ)", i, len(m), len(w))
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("received %d messages, want %d", i, len(want))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i, k := range keep {
				if !bytes.Equal(*k.bp, k.want) {
					t.Fatalf("kept message %d was overwritten", i)
				}
			}
		})
	}
}

// TestPipelineConcurrentSenders: goroutines sending large messages (written
// by the sender itself when the connection is idle) and small ones (queued
// for the writer) on one connection: every message arrives whole, and each
// sender's in its order.
func TestPipelineConcurrentSenders(t *testing.T) {
	url := ipcURL(t)
	const senders, each = 4, 60
	got := make(chan []byte, senders*each)
	newPull(t, LinkConfig{URL: url, Listen: true, MaxRecvSize: 1 << 20}, func(msg []byte) { got <- bytes.Clone(msg) })
	peer := dialPeer(t, url)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				n := 10
				if (s+i)%3 != 0 {
					n = copyBelow + (s*each+i)*97
				}
				body := bytes.Repeat([]byte{byte(s*each + i)}, n)
				var err error
				if i%2 == 0 {
					err = peer.Send([]byte{byte(s), byte(i)}, body)
				} else {
					err = peer.SendOwned([]byte{byte(s), byte(i)}, pieces.Copy(body))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	next := make([]int, senders)
	for range senders * each {
		select {
		case m := <-got:
			s, i := int(m[0]), int(m[1])
			if i != next[s] {
				t.Fatalf("sender %d: message %d arrived before %d", s, i, next[s])
			}
			next[s]++
			for _, c := range m[2:] {
				if c != byte(s*each+i) {
					t.Fatalf("sender %d message %d: corrupt body", s, i)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("received %v messages per sender, want %d each", next, each)
		}
	}
}

// TestTrySendFull: with a peer that stopped reading, TrySend reports
// ErrFull once the queue is full, instead of waiting as Send would; what
// it did send arrives once the peer reads again.
func TestTrySendFull(t *testing.T) {
	url := ipcURL(t)
	release := make(chan struct{})
	got := make(chan struct{}, 8192)
	newPull(t, LinkConfig{URL: url, Listen: true}, func([]byte) {
		<-release // stops reading the connection until released
		got <- struct{}{}
	})
	peer := dialPeer(t, url)
	body := make([]byte, 64<<10)
	sent := 0
	for ; ; sent++ {
		err := peer.TrySend(nil, body)
		if err == ErrFull {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent > 4096 { // 256 MiB: far past every buffer on the way
			t.Fatal("TrySend never reported a full queue")
		}
	}
	close(release)
	timeout := time.After(10 * time.Second)
	for i := range sent {
		select {
		case <-got:
		case <-timeout:
			t.Fatalf("%d of %d messages arrived", i, sent)
		}
	}
}
