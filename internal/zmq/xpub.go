//go:build !nozmq

package zmq

import zmq4 "github.com/pebbe/zmq4"

func init() { kinds[XPub] = zmq4.XPUB }
