package worker

// engine is one implementation of a Server's REP side. There are two:
// spEngine (package sp) serves tcp:// and ipc://, where it makes a third of
// mangos' system calls; mangosEngine serves tls+tcp://, ws://, wss:// and
// inproc://. A Server holds at most one of each and treats them alike: it
// picks one by the URL's scheme in attach and never asks which it got.
//
// The contract below is what Server.Shutdown and Server.Close document.
// It is kept by both engines and pinned by TestStopSameOnEveryEngine: when
// the two engines did not share one, Close returned at once on inproc and
// waited for the handlers on ipc.
type engine interface {
	// listen binds url; dial connects to a gateway that listens on url,
	// and reconnects whenever the connection drops.
	listen(url string) error
	dial(url string) error

	// serve starts taking requests: requests that arrive earlier wait for
	// it where the engine can make them wait (mangos; package sp serves
	// from listen and dial on). It is called once the Server serves, and
	// for an engine created later, as it is created; later calls do
	// nothing.
	serve() error

	// shutdown stops taking requests and returns a channel that is closed
	// once every handler has returned and its reply was written (or
	// dropped, after close). It does not close the sockets: close does.
	// Every call returns the same channel, before or after close.
	shutdown() <-chan struct{}

	// close stops taking requests and closes the sockets at once, without
	// waiting for the handlers: their replies are dropped, and the gateway
	// sees those requests fail. It may be called more than once.
	close() error
}

// Engine kinds, the index of Server.engines.
const (
	kindSP = iota
	kindMangos
	numKinds
)
