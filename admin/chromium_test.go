package admin

// The status page in a real browser: headless Chromium driven over the
// DevTools protocol, as cmd/nanogate's demo test does, so that what an
// operator sees (the text as laid out, not the HTML source) is checked.

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/chromium"
)

func TestStatusPageChromium(t *testing.T) {
	url := serve(t, Config{Snapshot: fakeSnapshot, Refresh: time.Hour, // no reload under the test's feet
		Ready: func() []string { return []string{"route api: endpoint tcp://10.0.0.7:5555 has no worker"} }})
	p := chromium.Start(t).Open(t, url+"/")
	p.WaitFor(t, "the page loaded", `document.readyState === "complete" && document.body.innerText.includes("Routes")`)

	text := p.Eval(t, "document.body.innerText")
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
		row := p.Eval(t, `[...document.querySelectorAll("tr")].find(r => r.innerText.includes(`+jsString(url)+`)).querySelector("td.state").innerText`)
		if row != want {
			t.Errorf("state of %s: %q, want %q", url, row, want)
		}
	}

	shot := p.Screenshot(t)
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
