package frontend

// AfterResponseCloser is a client connection that can end itself once the
// response being written is flushed: its next read reports end of stream,
// so fasthttp closes it (a worker's close frame, stream.go). The TCP
// front end's connections are (clientConn); another front end's net.Conn
// (frontend/zmqstream) implements it to behave the same.
type AfterResponseCloser interface{ CloseAfterResponse() }

// CloseAfterResponse implements AfterResponseCloser.
func (c *clientConn) CloseAfterResponse() { c.closeAfterResponse() }

// LingeringCloser is a client connection that, once told, closes by
// reading and discarding what the client still sends for a while, so that
// a client refused (413, 503) in the middle of its upload reads the answer
// instead of a reset (RFC 9112 section 9.6; nginx's lingering_close). The
// TCP front end's connections are (clientConn); frontend/zmqstream's too.
type LingeringCloser interface{ LingerOnClose() }

// LingerOnClose implements LingeringCloser.
func (c *clientConn) LingerOnClose() { c.lingerOnClose() }
