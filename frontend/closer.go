package frontend

// AfterResponseCloser is a client connection that can end itself once the
// response being written is flushed: its next read reports end of stream,
// so fasthttp closes it (a worker's close frame, stream.go). The TCP
// front end's connections are (clientConn); another front end's net.Conn
// (frontend/zmqstream) implements it to behave the same.
type AfterResponseCloser interface{ CloseAfterResponse() }

// CloseAfterResponse implements AfterResponseCloser.
func (c *clientConn) CloseAfterResponse() { c.closeAfterResponse() }
