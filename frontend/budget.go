package frontend

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// bodyBudget bounds the memory of request bodies being received. Without
// request streaming, fasthttp allocates the whole announced Content-Length
// before the first byte of a body arrives: 500 clients announcing 8 MiB
// and sending 1 KiB took the gateway to 4.1 GB. Each body over smallBody
// reserves its announced length when its head arrives (fasthttp's
// HeaderReceived); past the budget the request is refused with 503 and
// Retry-After before anything is allocated, and the reservation is given
// back when the handler runs or the read fails. A reservation older than
// twice the read timeout can only be a read that ended unseen, and is
// dropped.
type bodyBudget struct {
	limit int64
	stale time.Duration

	entries atomic.Int64 // len(held) + len(refused): while zero, release takes no lock
	mu      sync.Mutex
	used    int64
	held    map[*fasthttp.RequestHeader]reservation
	refused map[*fasthttp.RequestHeader]bool
}

type reservation struct {
	n  int64
	at time.Time
}

// smallBody is what a body may announce without a reservation: the common
// request costs one map operation less.
const smallBody = 64 << 10

func newBodyBudget(limit int64, readTimeout time.Duration) *bodyBudget {
	return &bodyBudget{limit: limit, stale: 2 * readTimeout,
		held: make(map[*fasthttp.RequestHeader]reservation), refused: make(map[*fasthttp.RequestHeader]bool)}
}

// reserve is the server's HeaderReceived: it reserves the announced body,
// or makes fasthttp refuse it (a body limit of 1 byte) when the budget is
// spent.
func (b *bodyBudget) reserve(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	n := int64(h.ContentLength())
	if n <= smallBody {
		return fasthttp.RequestConfig{}
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, r := range b.held {
		if now.Sub(r.at) > b.stale {
			b.used -= r.n
			delete(b.held, k)
		}
	}
	defer func() { b.entries.Store(int64(len(b.held) + len(b.refused))) }()
	if b.used+n > b.limit {
		b.refused[h] = true
		return fasthttp.RequestConfig{MaxRequestBodySize: 1}
	}
	b.used += n
	b.held[h] = reservation{n, now}
	return fasthttp.RequestConfig{}
}

// release gives back the reservation of the request whose header is h,
// and reports whether the budget refused it. It goes by the header's
// address, not its Content-Length: fasthttp resets a request whose body
// read failed before it reports the failure.
func (b *bodyBudget) release(h *fasthttp.RequestHeader) (refused bool) {
	if b.entries.Load() == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r, ok := b.held[h]; ok {
		b.used -= r.n
		delete(b.held, h)
	}
	refused = b.refused[h]
	delete(b.refused, h)
	b.entries.Store(int64(len(b.held) + len(b.refused)))
	return refused
}
