// Command zhttp-hello is a ZHTTP stream-mode handler for the bench: what
// Condure's basichandler.py does (PULL BASE-out, PUB BASE-in, answer every
// request whole with "from" and "id"), in Go on one socket loop, with the
// payload's hello body.
//
//	zhttp-hello --base ipc:///tmp/client
package main

import (
	"flag"
	"log"

	"github.com/nanogate/nanogate/bench/contenders/payload"
	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

func main() {
	base := flag.String("base", "ipc:///tmp/nanogate-zhttp", "the gateway's --zclient-stream `base` (ipc:// only)")
	flag.Parse()
	loop, err := zmq.NewLoop("zhttp-hello", nil)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := loop.Socket(zmq.Pub, zmq.Options{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	var in, out zhttp.Packet
	var buf []byte
	from := []byte("zhttp-hello")
	headers := []zhttp.Header{{Name: []byte("Content-Type"), Value: []byte("text/plain")}}
	pull, err := loop.Socket(zmq.Pull, zmq.Options{}, func(parts [][]byte) {
		if len(parts) != 1 || zhttp.Parse(parts[0], &in) != nil {
			return
		}
		out = zhttp.Packet{From: from, IDs: in.IDs[:1], Code: 200, Reason: []byte("OK"),
			Headers: headers, Body: []byte(payload.Hello)}
		out.IDs[0].Seq = 0
		buf = append(append(buf[:0], in.From...), ' ')
		buf = zhttp.Append(buf, &out)
		if err := pub.SendNow(buf); err != nil {
			log.Print(err)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := pull.Connect(*base + "-out"); err != nil {
		log.Fatal(err)
	}
	if err := pub.Connect(*base + "-in"); err != nil {
		log.Fatal(err)
	}
	log.Print("ready")
	log.Fatal(loop.Run())
}
