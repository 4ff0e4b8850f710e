package config

import "testing"

// server.frontend: the two front ends, the default, and what "zmq" refuses.
func TestFrontend(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"", FrontendFastHTTP},
		{"[server]\nfrontend = \"fasthttp\"\n", FrontendFastHTTP},
		{"[server]\nfrontend = \"zmq\"\n", FrontendZMQ},
	} {
		c, err := Parse("t.toml", []byte(ok+tc.doc))
		if err != nil || c.Server.Frontend != tc.want {
			t.Errorf("%q: frontend %q, %v; want %q", tc.doc, c.Server.Frontend, err, tc.want)
		}
	}
	for _, tc := range []struct{ doc, want string }{
		{"[server]\nfrontend = \"nginx\"\n", `t.toml:4: server.frontend: "nginx": want "fasthttp" or "zmq"`},
		{"[server]\nfrontend = 1\n", `t.toml:4: server.frontend: want a string, got integer 1`},
		{"[server]\nfrontend = \"zmq\"\nreuse_port = true\n",
			`t.toml:4: server.frontend: "zmq" cannot share its address (reuse_port): libzmq binds without SO_REUSEPORT`},
		{"[server]\nfrontend = \"zmq\"\nupgrade_socket = \"/tmp/up.sock\"\n",
			`t.toml:4: server.frontend: "zmq" cannot be handed to a new gateway (upgrade_socket): the ZMQ_STREAM socket and its connections live inside libzmq`},
	} {
		_, err := Parse("t.toml", []byte(ok+tc.doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\ngot  %v\nwant %s", tc.doc, err, tc.want)
		}
	}
}
