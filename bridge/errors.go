package bridge

// Error is the type of the sentinel errors, which the front end maps to
// HTTP statuses.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrNoWorker: no endpoint of the pool has a connected worker (503, at
	// once: unlike mod_nano, nothing waits for one to appear).
	ErrNoWorker = Error("bridge: no worker connected")
	// ErrBusy: every context of the chosen endpoint is in use (503 with
	// Retry-After): overload is shed, not queued without end.
	ErrBusy = Error("bridge: all contexts busy")
	// ErrTimeout: the worker did not answer within the pool's timeout (504).
	ErrTimeout = Error("bridge: worker timed out")
	// ErrWorkerLost: the connection to the worker dropped while the request
	// was in flight; the request may or may not have run (502).
	ErrWorkerLost = Error("bridge: worker connection lost mid-request")
	// ErrReplyTooLarge: the worker's reply was over max_reply_bytes; it
	// was skipped and this request fails (502), the others go on.
	ErrReplyTooLarge = Error("bridge: reply over max_reply_bytes")
	// ErrClosed: the pool is shutting down (503).
	ErrClosed = Error("bridge: pool closed")
)
