package config

// The front ends server.frontend names.
const (
	FrontendFastHTTP = "fasthttp" // a TCP listener (net.Listen)
	FrontendZMQ      = "zmq"      // a ZeroMQ ZMQ_STREAM socket (frontend/zmqstream)
)

// checkFrontend checks server.frontend and what the ZMQ_STREAM front end
// cannot do: libzmq sets no SO_REUSEPORT, and its socket cannot be handed
// to another process.
func (c *Config) checkFrontend(p *problems) {
	s := &c.Server
	switch s.Frontend {
	case FrontendFastHTTP:
	case FrontendZMQ:
		if s.ReusePort {
			p.addf("server.frontend", `"zmq" cannot share its address (reuse_port): libzmq binds without SO_REUSEPORT`)
		}
		if s.UpgradeSocket != "" {
			p.addf("server.frontend", `"zmq" cannot be handed to a new gateway (upgrade_socket): the ZMQ_STREAM socket and its connections live inside libzmq`)
		}
	default:
		p.addf("server.frontend", `%q: want "fasthttp" or "zmq"`, s.Frontend)
	}
}
