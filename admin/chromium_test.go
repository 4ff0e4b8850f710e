package admin

// The status page in a real browser: headless Chromium driven over the
// DevTools protocol, as cmd/nanogate's demo test does, so that what an
// operator sees (the text as laid out, not the HTML source) is checked.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

func TestStatusPageChromium(t *testing.T) {
	url := serve(t, Config{Snapshot: fakeSnapshot, Refresh: time.Hour, // no reload under the test's feet
		Ready: func() []string { return []string{"route api: endpoint tcp://10.0.0.7:5555 has no worker"} }})
	p := openPage(t, startChromium(t), url+"/")
	p.waitFor(t, "the page loaded", `document.readyState === "complete" && document.body.innerText.includes("Routes")`)

	text := p.eval(t, "document.body.innerText")
	for _, want := range []string{"v1.2.3-test", "0.0.0.0:8080", "api", "events", "prefix /api/", "frames",
		"ipc:///run/nanogate/api.sock", "tcp://10.0.0.7:5555", "ipc:///run/nanogate/events.sock",
		"no worker connected", "no_worker", "overflow"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q:\n%s", want, text)
		}
	}
	// The disconnected state is on the endpoint that has no worker, and
	// only there.
	for url, want := range map[string]string{
		"tcp://10.0.0.7:5555":             "no worker connected",
		"ipc:///run/nanogate/api.sock":    "connected",
		"ipc:///run/nanogate/events.sock": "connected",
	} {
		row := p.eval(t, `[...document.querySelectorAll("tr")].find(r => r.innerText.includes(`+jsString(url)+`)).querySelector("td.state").innerText`)
		if row != want {
			t.Errorf("state of %s: %q, want %q", url, row, want)
		}
	}

	shot := p.screenshot(t)
	file := filepath.Join(t.TempDir(), "status.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Fatalf("screenshot is %v", b)
	}
	t.Logf("screenshot: %s, %d bytes, %v", file, len(shot), img.Bounds().Size())
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// startChromium starts a headless Chromium with the DevTools server on a
// free port and returns that port; the test's cleanup stops it. A missing
// Chromium fails the test: CI installs it (the Makefile's TEST_PKGS).
func startChromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (run make deps): %v", err)
	}
	dir := t.TempDir()
	// No sandbox as root, and no background traffic to hosts a closed
	// network refuses (the flags of cmd/nanogate's demo test).
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
			return strings.SplitN(string(b), "\n", 2)[0]
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

// page is one tab; its WebSocket carries DevTools commands.
type page struct {
	ws *websocket.Conn
	id int
}

func openPage(t *testing.T, port, url string) *page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+port+"/json/new?"+url, nil)
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
	return &page{ws: ws}
}

// call sends one DevTools command and returns its result, skipping the
// events Chromium sends in between.
func (p *page) call(t *testing.T, method string, params any) json.RawMessage {
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

// eval runs a JavaScript expression in the page and returns its value as
// a string.
func (p *page) eval(t *testing.T, expr string) string {
	t.Helper()
	var r struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	raw := p.call(t, "Runtime.evaluate", map[string]any{"expression": "String(" + expr + ")", "returnByValue": true})
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		t.Fatalf("eval %s: %s", expr, r.ExceptionDetails.Text)
	}
	return r.Result.Value
}

// waitFor evaluates expr until it is "true": the tab loads the page on
// its own time.
func (p *page) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.eval(t, expr) != "true" {
		if time.Now().After(deadline) {
			t.Fatalf("page: not %s within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *page) screenshot(t *testing.T) []byte {
	t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	raw := p.call(t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	shot, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(shot) == 0 {
		t.Fatalf("screenshot: %d bytes, %v", len(shot), err)
	}
	return shot
}
