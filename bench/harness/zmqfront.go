package main

import (
	"fmt"
	"strings"
)

// startGatewayZMQ is nanogate-ipc-1w with server.frontend = "zmq": the
// clients connect to the ZeroMQ ZMQ_STREAM front end (frontend/zmqstream)
// instead of fasthttp's TCP listener; everything behind it is the same.
// It runs one process: the ZMQ_STREAM socket cannot share its address
// (no reuse_port), so idle counts past one process's open-file limit fail.
func startGatewayZMQ(e *env, s *stack, z sizing) error {
	if z.procs > 1 {
		return fmt.Errorf("the zmq front end runs in one process (no reuse_port); %d idle connections need %d", z.idle, z.procs)
	}
	url, err := startOneSDKWorker(e, s)
	if err != nil {
		return err
	}
	quiet := e.knowsAccessKey(binGateway)
	return startGateways(e, s, z, binGateway, func(addr string, _ int) string {
		return strings.Replace(gatewayConfig(addr, z, []string{url}, quiet), "[server]\n", "[server]\nfrontend = \"zmq\"\n", 1)
	})
}
