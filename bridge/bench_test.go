package bridge

import (
	"log/slog"
	"testing"

	"github.com/nanogate/nanogate/internal/sp"
)

const benchReply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"

// BenchmarkRoundTrip measures one request through a Pool to an in-process
// REP worker over a real socket, with each transport, serially and with
// many requests in flight (RunParallel). allocs/op is the whole bridge
// path: ours and the transport's.
func BenchmarkRoundTrip(b *testing.B) {
	var url string
	for _, engine := range []struct {
		name   string
		mangos bool
	}{{"sp", false}, {"mangos", true}} {
		for _, scheme := range []string{"ipc", "tcp", "inproc"} {
			if scheme == "inproc" && !engine.mangos {
				continue // inproc is mangos' only
			}
			b.Run(engine.name+"/"+scheme, func(b *testing.B) {
				switch scheme {
				case "ipc":
					url = ipcURL(b, "bench")
				case "tcp":
					url = freeTCP(b)
				case "inproc":
					url = "inproc://bench"
				}
				if scheme == "inproc" {
					startWorker(b, url, func([]byte) []byte { return []byte(benchReply) })
				} else {
					srv := sp.NewServer(sp.ServerConfig{
						Handler:     func(dst, req []byte) []byte { return append(dst, benchReply...) },
						Concurrency: 64, Logger: slog.New(slog.DiscardHandler),
					})
					if err := srv.Listen(url); err != nil {
						b.Fatal(err)
					}
					defer srv.Shutdown()
				}
				p, err := NewPool(Config{Name: "bench", Endpoints: []Endpoint{{URL: url}}, Contexts: 1024,
					mangos: engine.mangos, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				waitWorkers(b, p, url, 1)
				msg := []byte("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
				b.ReportAllocs()
				b.SetParallelism(32) // 64 requests in flight on two cores
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 0, 256)
					for pb.Next() {
						var err error
						if buf, err = p.RoundTrip(buf[:0], msg, false); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
