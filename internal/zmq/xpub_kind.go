package zmq

// XPub is ZMQ_XPUB: a PUB whose handler receives the subscriptions of its
// peers (a first byte 1 to subscribe, 0 to unsubscribe, then the prefix),
// so that a publisher can wait until a subscriber is there instead of
// sleeping. The ZHTTP tests' handlers use it (xpub.go).
const XPub Kind = 64
