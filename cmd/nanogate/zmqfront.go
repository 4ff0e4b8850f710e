package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/frontend/zmqstream"
)

// openListener opens the clients' listener: a TCP one, or with
// server.frontend = "zmq" a ZMQ_STREAM socket (frontend/zmqstream), which
// frontend.Server serves the same way, with the same routes, limits and
// statuses.
func openListener(cfg *config.Config, log *slog.Logger) (net.Listener, error) {
	if cfg.Server.Frontend != config.FrontendZMQ {
		return listen(cfg.Listen, cfg.Server.ReusePort)
	}
	l, err := zmqstream.Listen(zmqstream.Config{
		Addr: cfg.Listen,
		// A request within the limits is never cut for arriving faster
		// than the server reads it (a MiB of slack for chunk framing and
		// the next pipelined request); the bytes of all connections
		// together are bounded as request bodies are.
		MaxInbound:      int(cfg.Server.MaxBodyBytes) + cfg.Server.MaxHeaderBytes + 1<<20,
		MaxInboundTotal: cfg.Server.MaxBodyMemory,
		Logger:          log,
	})
	if err != nil {
		return nil, fmt.Errorf("server.frontend = %q: %w", config.FrontendZMQ, err)
	}
	return l, nil
}

// stopListener closes the ZMQ_STREAM socket, and with it what libzmq still
// holds, once the server has shut down: closing the listener only stopped
// accepting (zmqstream.Listener.Close). A TCP listener needs nothing more.
func stopListener(ln net.Listener) {
	if zl, ok := ln.(*zmqstream.Listener); ok {
		zl.Stop()
	}
}
