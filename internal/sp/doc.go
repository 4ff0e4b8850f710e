// Package sp speaks nanomsg's scalability protocols REQ and REP over the
// TCP and IPC transports, byte-compatible with libnanomsg, NNG and mangos,
// and built for a gateway's load: many requests in flight on one
// connection, writes batched while one is on the wire, reads buffered. A
// pipeline's large bodies are neither copied into the batch nor out of the
// read buffer: they are written from, and read into, buffers of package
// pieces that the caller hands over or keeps (Peer.SendOwned, NewPull).
//
// Why not mangos for these two transports: its REQ side starts a goroutine
// and arms timers for every send, and its transports read each message with
// two (TCP) or three (IPC) read system calls and write it with one writev.
// On a two-core machine shared with the client and the worker, system calls
// were half of the gateway's CPU profile. mangos still serves the other
// transports (tls+tcp, ws, wss, inproc).
//
// # Wire format
//
// Connection header, both directions, before anything else (8 bytes):
//
//	0x00 'S' 'P' 0x00  protocol(uint16, big endian)  0x0000
//
// with protocol 0x30 for REQ and 0x31 for REP; each side checks that the
// other is its peer protocol. Then messages, over TCP:
//
//	size(uint64, big endian)  payload(size bytes)
//
// and over IPC the same preceded by one byte 0x01 (message type).
//
// REQ/REP payload: a backtrace of 32-bit big-endian words, then the body.
// A REQ puts one word, its request id with the high bit set; devices in
// between push their own words (high bit clear) in front of it; a REP
// returns the whole backtrace unchanged in front of its reply, so the reply
// reaching the REQ starts with the request id.
package sp
