package session

import "testing"

// The codecs on the gateway's hot path, one request each way.

func BenchmarkAppendRequest(b *testing.B) {
	for _, tc := range requestCases {
		if tc.name != "get" && tc.name != "spoofed-headers" { // typical, and the longest path
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			g := NewIDGen()
			req := tc.req
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				req.Session = g.Make(3, 4)
				buf = AppendRequest(buf[:0], &req)
			}
		})
	}
}

func BenchmarkParseResponse(b *testing.B) {
	for _, c := range []struct{ name, reply string }{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nContent-Length: 11\r\n\r\nhello world"},
		{"mod_nano", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world"}, // body: the rest of the message
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			reply := []byte(c.reply)
			work := make([]byte, len(reply))
			var r Response
			b.ReportAllocs()
			for b.Loop() {
				copy(work, reply) // Parse de-chunks in place
				if err := r.Parse(work, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
