package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// binBBDealer is the Go BlastBeat dealer (built as the other binaries).
const binBBDealer = "blastbeat-dealer"

// startGatewayBlastBeat runs nanogate with one route of format blastbeat
// (its ROUTER on a free loopback port) and one dealer, node bench1: the Go
// dealer (bench/contenders/blastbeat-dealer) or, with python, BlastBeat's
// README hello dealer in Python 3 on Debian's python3-zmq
// (bench/contenders/blastbeat-dealer/hello.py). The gateway answers 503
// until the node has answered its first ping; waitReady waits for that.
func startGatewayBlastBeat(python bool) func(*env, *stack, sizing) error {
	return func(e *env, s *stack, z sizing) error {
		if z.procs > 1 {
			return fmt.Errorf("the blastbeat contender runs one gateway (one ROUTER address); %d processes asked", z.procs)
		}
		zaddr, err := freeAddr()
		if err != nil {
			return err
		}
		router := "tcp://" + zaddr
		argv := []string{e.bins[binBBDealer], "--node", "bench1", "--connect", router}
		if python {
			argv = []string{"/usr/bin/python3", filepath.Join(e.repo, "bench/contenders/blastbeat-dealer/hello.py"), "bench1", router}
		}
		if _, err := s.run("dealer", argv); err != nil {
			return err
		}
		quiet := e.knowsAccessKey(binGateway)
		return startGateways(e, s, z, binGateway, func(addr string, _ int) string {
			return bbGatewayConfig(addr, z, router, quiet)
		})
	}
}

// bbGatewayConfig is gatewayConfig with its route of format blastbeat:
// node bench1 on a ROUTER bound at router.
func bbGatewayConfig(addr string, z sizing, router string, quiet bool) string {
	c := gatewayConfig(addr, z, nil, quiet)
	c = c[:strings.Index(c, "\n[[route]]")]
	return c + fmt.Sprintf("\n[[route]]\nname = \"bench\"\npath = \"/\"\ntimeout = \"5s\"\nformat = \"blastbeat\"\n"+
		"nodes = [\"bench1\"]\nendpoints = [\"zmq+%s\"]\n", router)
}
