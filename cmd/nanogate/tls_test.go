package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial
// number serial, and its key, as PEM files in dir.
func writeCert(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "nanogate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestTLS: HTTPS to clients with curl, X-Forwarded-Proto https to the
// worker, TLS 1.1 refused, and the certificate read again on SIGHUP.
func TestTLS(t *testing.T) {
	t.Parallel()
	runTLS(t, "")
}

// runTLS is TestTLS with more [server] lines.
func runTLS(t *testing.T, server string) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, 1)
	ep := ipcURL(t, "tls")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
%stls_cert = %q
tls_key = %q
[[route]]
path = "/"
endpoints = [%q]
`, server, cert, key, ep))
	g, _ := startStack(t, ep, nil, "--config", cfg)
	url := "https://" + g.addr
	out, err := exec.Command("curl", "-sS", "-i", "-k", "--max-time", "10", url+"/echo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "X-Got-Forwarded-Proto: https") {
		t.Fatalf("curl https: %v %s", err, out)
	}
	serial := func(maxVersion uint16) (int64, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion}}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(url + "/hello")
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if _, err := serial(tls.VersionTLS11); err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	if n, err := serial(0); err != nil || n != 1 {
		t.Fatalf("serial %d, %v", n, err)
	}
	writeCert(t, dir, 2)
	mark := g.out.len()
	g.cmd.Process.Signal(syscall.SIGHUP)
	g.waitFrom(t, mark, "certificate reloaded", 10*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="certificate reloaded"`)
	})
	if n, err := serial(0); err != nil || n != 2 {
		t.Fatalf("after SIGHUP: serial %d, %v, want 2", n, err)
	}
}

// TestTLSWorker: a worker behind tls+tcp://, verified with the CA in the
// endpoint's tls_ca; a worker whose certificate that CA did not sign is
// refused, and the log says why.
func TestTLSWorker(t *testing.T) {
	t.Parallel()
	dir, other := t.TempDir(), t.TempDir()
	cert, key := writeCert(t, dir, 7)
	strangerCert, _ := writeCert(t, other, 8) // a CA that signed nothing here
	port := freePort(t)
	url := fmt.Sprintf("tls+tcp://127.0.0.1:%d", port)
	startWorker(t, "--bind", url, "--tls-cert", cert, "--tls-key", key)
	route := func(ca string) string {
		return writeFile(t, "nanogate.toml", fmt.Sprintf(`
[[route]]
path = "/"
[[route.endpoint]]
url = %q
tls_ca = %q
`, url, ca))
	}
	g := startGateway(t, "--config", route(cert))
	g.waitConnected(t, 0, url)
	resp, err := http.Get(g.url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("through TLS: %d", resp.StatusCode)
	}
	bad := startGateway(t, "--config", route(strangerCert))
	bad.waitFrom(t, 0, "the refused handshake logged", 10*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="worker not reachable yet; redialling in the background"`) && strings.Contains(l, "certificate")
	})
}
