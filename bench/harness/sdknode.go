package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The sdk scenario's Node contenders serve one (req, res) listener,
// bench/contenders/node-hello/hello.js (with express: an Express app of one
// route), in one Node process: through the Node SDK (backend-sdk/node,
// serve) behind nanogate, on Node's own http server directly, and on that
// server behind nginx.

// node is Debian's Node.js (the SDK needs no native build, and its plain
// listener no npm package).
const node = "node"

// nodeArgv is the command line of the hello app, then "--bind URL" or
// "--http ADDR" to follow. Express comes from backend-sdk/node/node_modules
// (npm ci there: make sdk-deps).
func nodeArgv(e *env, express bool) ([]string, error) {
	if err := needTools(node); err != nil {
		return nil, err
	}
	argv := []string{node, filepath.Join(e.repo, "bench/contenders/node-hello/hello.js")}
	if !express {
		return argv, nil
	}
	if _, err := os.Stat(filepath.Join(e.repo, "backend-sdk/node/node_modules/express")); err != nil {
		return nil, fmt.Errorf("express is not installed in backend-sdk/node (make sdk-deps: npm ci)")
	}
	return append(argv, "--express"), nil
}

// startGatewayNode runs the Node SDK worker binding an ipc endpoint, and
// nanogate dialing it.
func startGatewayNode(express bool) func(*env, *stack, sizing) error {
	return func(e *env, s *stack, z sizing) error {
		argv, err := nodeArgv(e, express)
		if err != nil {
			return err
		}
		url, sock, _ := endpointURL(s, "ipc", "node")
		if _, err := s.run(workerLabel, append(argv, "--bind", url)); err != nil {
			return err
		}
		if err := waitFile(sock, 15*time.Second); err != nil {
			return err
		}
		return startGateway(e, s, z, binGateway, []string{url})
	}
}

// startNodeHTTP runs the app on Node's http server at a free loopback
// port and returns the address once it accepts.
func startNodeHTTP(e *env, s *stack, express bool) (string, error) {
	argv, err := nodeArgv(e, express)
	if err != nil {
		return "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	if _, err := s.run(workerLabel, append(argv, "--http", addr)); err != nil {
		return "", err
	}
	return addr, waitAccept(s, addr, 15*time.Second)
}

// startNodeDirect serves the clients from Node's http server itself.
func startNodeDirect(express bool) func(*env, *stack, sizing) error {
	return func(e *env, s *stack, _ sizing) error {
		addr, err := startNodeHTTP(e, s, express)
		s.addr = addr
		return err
	}
}

// startNginxNode runs nginx (the nginx contender's config) in front of
// Node's http server.
func startNginxNode(express bool) func(*env, *stack, sizing) error {
	return func(e *env, s *stack, z sizing) error {
		up, err := startNodeHTTP(e, s, express)
		if err != nil {
			return err
		}
		return startNginxFront(e, s, z, up, false, false)
	}
}
