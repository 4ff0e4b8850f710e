package main

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certStore holds the served certificate, swapped whole on SIGHUP: new
// handshakes get the new one, connections already open keep theirs.
type certStore struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertStore(certFile, keyFile string) (*certStore, error) {
	s := &certStore{certFile: certFile, keyFile: keyFile}
	return s, s.load()
}

// load reads the pair again; on an error the one in use stays.
func (s *certStore) load() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("server.tls_cert %s, server.tls_key %s: %w", s.certFile, s.keyFile, err)
	}
	s.cert.Store(&c)
	return nil
}

// config is the TLS configuration of the client listener: TLS 1.2 and
// later (RFC 8996 retired 1.0 and 1.1), HTTP/1.1 offered by ALPN.
func (s *certStore) config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
	}
}
