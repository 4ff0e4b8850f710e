package main

import (
	"testing"

	"github.com/nanogate/nanogate/config"
)

// The blastbeat contender's config must pass nanogate's own parser.
func TestBlastBeatGatewayConfigParses(t *testing.T) {
	text := bbGatewayConfig("127.0.0.1:8080", sizing{maxConns: 64}, "tcp://127.0.0.1:5000", true)
	c, err := config.Parse("bench.toml", []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	r := c.Routes[0]
	if r.Format != config.FormatBlastBeat || r.Endpoints[0].URL != "zmq+tcp://127.0.0.1:5000" || len(r.BlastBeat.Nodes) != 1 || !c.Log.NoAccess {
		t.Fatalf("%+v", c)
	}
}
