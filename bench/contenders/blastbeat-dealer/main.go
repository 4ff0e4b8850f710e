// Command blastbeat-dealer is the BlastBeat contender's dealer: a ZeroMQ
// DEALER named by its node that answers every request (a uwsgi or headers
// message) with the payload's hello, as a head and a body message under a
// Content-Length (no end: BlastBeat's end would close the connection), and
// every ping with a pong. One goroutine owns the socket (internal/zmq).
// With --split the head and the body go as two messages, as BlastBeat's
// README dealers send them; by default the body rides in the headers
// message (BlastBeat writes a headers message verbatim, so this is valid
// BlastBeat too), one message per reply as a REP worker sends.
//
//	blastbeat-dealer --node bench1 --connect tcp://127.0.0.1:5000
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/nanogate/nanogate/bench/contenders/payload"
	"github.com/nanogate/nanogate/internal/zmq"
)

func main() {
	node := flag.String("node", "bench1", "node `name`: the DEALER's identity")
	connect := flag.String("connect", "tcp://127.0.0.1:5000", "the gateway's ROUTER `address`")
	split := flag.Bool("split", false, "send headers and body as two messages")
	flag.Parse()

	head := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len(payload.Hello)))
	body := []byte(payload.Hello)
	whole := append(append([]byte(nil), head...), body...)
	var (
		msgHeaders, msgBody, msgPong = []byte("headers"), []byte("body"), []byte("pong")
		sock                         *zmq.Socket
	)
	loop, err := zmq.NewLoop("dealer", nil)
	if err != nil {
		log.Fatal(err)
	}
	sock, err = loop.Socket(zmq.Dealer, zmq.Options{Identity: []byte(*node), SndHWM: 100000, RcvHWM: 100000}, func(p [][]byte) {
		if len(p) != 3 {
			return
		}
		switch string(p[1]) {
		case "ping":
			sock.SendNow(p[0], msgPong, nil)
		case "uwsgi", "headers":
			if !*split {
				sock.SendNow(p[0], msgHeaders, whole)
				return
			}
			sock.SendNow(p[0], msgHeaders, head)
			sock.SendNow(p[0], msgBody, body)
		}
	})
	if err == nil {
		err = sock.Connect(*connect)
	}
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; loop.Close() }()
	if err := loop.Run(); err != nil {
		log.Fatal(err)
	}
}
