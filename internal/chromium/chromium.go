// Package chromium drives a headless Chromium over the DevTools protocol,
// for the tests that check pages in a real browser (the demo page, the
// admin status page). It is test support, as net/http/httptest is: it
// takes a testing.TB and fails the test on errors.
package chromium

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// Browser is a running headless Chromium; the test's cleanup stops it.
type Browser struct {
	port string // of its DevTools server
}

// Start runs Chromium with its DevTools server on a free port. A missing
// Chromium fails the test: CI installs it (the Makefile's TEST_PKGS).
func Start(t testing.TB) *Browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (run make deps): %v", err)
	}
	dir := t.TempDir()
	// No sandbox as root, and no background traffic to hosts a closed
	// network refuses.
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--window-size=1280,900", "--user-data-dir="+dir, "--remote-debugging-port=0", "about:blank")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// Chromium writes the port it chose, then a newline and a path, once
	// its DevTools server listens.
	portFile := filepath.Join(dir, "DevToolsActivePort")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(portFile); err == nil && bytes.Contains(b, []byte("\n")) {
			return &Browser{port: strings.SplitN(string(b), "\n", 2)[0]}
		}
		select {
		case <-done:
			t.Fatal("chromium exited before its DevTools server started")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not start its DevTools server within 30s")
		}
	}
}

// Page is one tab; its WebSocket carries DevTools commands.
type Page struct {
	ws *websocket.Conn
	id int
}

// Open loads url in a new tab.
func (b *Browser) Open(t testing.TB, url string) *Page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+b.port+"/json/new?"+url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("new tab: %v %+v", err, target)
	}
	ws, _, err := websocket.DefaultDialer.Dial(target.WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &Page{ws: ws}
}

// Call sends one DevTools command and returns its result, skipping the
// events Chromium sends in between.
func (p *Page) Call(t testing.TB, method string, params any) json.RawMessage {
	t.Helper()
	p.id++
	p.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	p.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p.ws.WriteJSON(map[string]any{"id": p.id, "method": method, "params": params}); err != nil {
		t.Fatal(err)
	}
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := p.ws.ReadJSON(&msg); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if msg.ID != p.id {
			continue
		}
		if msg.Error != nil {
			t.Fatalf("%s: %s", method, msg.Error.Message)
		}
		return msg.Result
	}
}

// Eval runs a JavaScript expression in the page and returns its value as
// a string; an exception fails the test.
func (p *Page) Eval(t testing.TB, expr string) string {
	t.Helper()
	v, exception := p.eval(t, expr)
	if exception != "" {
		t.Fatalf("eval %s: %s", expr, exception)
	}
	return v
}

// eval returns expr's value, or the text of the exception it threw.
func (p *Page) eval(t testing.TB, expr string) (value, exception string) {
	t.Helper()
	var r struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	raw := p.Call(t, "Runtime.evaluate", map[string]any{"expression": "String(" + expr + ")", "returnByValue": true})
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		return "", r.ExceptionDetails.Text
	}
	return r.Result.Value, ""
}

// WaitFor evaluates expr until its value is something ("", "false", "0",
// "null" and "undefined" are nothing, and so is an exception: the element
// may not be there yet) and returns it: the page changes on events the
// test does not see.
func (p *Page) WaitFor(t testing.TB, what, expr string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		switch v, _ := p.eval(t, expr); v {
		case "", "false", "0", "null", "undefined":
			if time.Now().After(deadline) {
				t.Fatalf("page: no %s within 20s (last %q)", what, v)
			}
			time.Sleep(20 * time.Millisecond)
		default:
			return v
		}
	}
}

// Screenshot returns a PNG of the whole page.
func (p *Page) Screenshot(t testing.TB) []byte {
	t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	raw := p.Call(t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	shot, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(shot) == 0 {
		t.Fatalf("screenshot: %d bytes, %v", len(shot), err)
	}
	return shot
}
