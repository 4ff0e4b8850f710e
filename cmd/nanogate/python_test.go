package main

// End-to-end tests of the Python SDK (backend-sdk/python): unchanged Flask
// and Django applications under nanogate-wsgi, and an unchanged Starlette
// application under nanogate-asgi, behind the real gateway. They need
// Debian's python3-flask, python3-django, python3-starlette and
// python3-websockets, which /usr/bin/python3 sees (make sdk-deps).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

// pythonSDK is backend-sdk/python, absolute.
func pythonSDK(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../../backend-sdk/python")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// needPython skips the test when /usr/bin/python3 cannot import modules
// (the Debian packages of make sdk-deps).
func needPython(t testing.TB, modules ...string) {
	t.Helper()
	args := []string{"-c", "import " + strings.Join(modules, ", ")}
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Skipf("%s cannot import %s (make sdk-deps): %v\n%s", python, strings.Join(modules, ", "), err, out)
	}
}

// startPython runs `python3 -m nanogate.<server> app args...` in
// backend-sdk/python/examples (env -C: the process keeps env's PID, so the
// harness stops python itself) and waits for its "ready".
func startPython(t testing.TB, server, app string, args ...string) *proc {
	t.Helper()
	sdk := pythonSDK(t)
	argv := append([]string{"-C", filepath.Join(sdk, "examples"), "PYTHONPATH=" + sdk,
		python, "-m", "nanogate." + server, app}, args...)
	p := startProc(t, "nanogate-"+server+" "+app, "/usr/bin/env", argv...)
	p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
	return p
}

// pythonStack starts a WSGI app under nanogate-wsgi bound to an ipc
// endpoint and a gateway routing / to it.
func pythonStack(t *testing.T, app string) (*gateway, *proc) {
	t.Helper()
	ep := ipcURL(t, "py")
	w := startPython(t, "wsgi", app, "--bind", ep, "--threads", "8")
	g := startGateway(t, "--route", "/="+ep)
	g.waitConnected(t, 0, ep)
	return g, w
}

func pyJSON(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %v: %q", err, body)
	}
	return m
}

func pySHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPythonFlask(t *testing.T) {
	needPython(t, "flask")
	g, w := pythonStack(t, "flask_app:app")
	c := newClient(t)

	resp, body := get(t, c, g.url+"/text")
	if resp.StatusCode != 200 || string(body) != "hello from flask\n" {
		t.Fatalf("/text: %d %q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")

	req := mustRequest(t, "GET", g.url+"/json?x=1&y=two", nil)
	req.Header.Set("Cookie", "c=3; d=4")
	_, body = do(t, c, req)
	m := pyJSON(t, body)
	if m["remote_addr"] != "127.0.0.1" || m["scheme"] != "http" || m["host"] != g.addr {
		t.Errorf("/json: %v", m)
	}
	if a, _ := m["args"].(map[string]any); a["x"] != "1" || a["y"] != "two" {
		t.Errorf("/json args: %v", m["args"])
	}
	if ck, _ := m["cookies"].(map[string]any); ck["c"] != "3" || ck["d"] != "4" {
		t.Errorf("/json cookies: %v", m["cookies"])
	}
	sid, _ := m["session_id"].(string)
	if !hexID.MatchString(sid) {
		t.Errorf("session id %q", sid)
	}
	// The same keep-alive connection is the same session.
	_, body = get(t, c, g.url+"/json")
	if again := pyJSON(t, body)["session_id"]; again != sid {
		t.Errorf("session id changed on a keep-alive connection: %v then %v", sid, again)
	}

	resp, _ = get(t, c, g.url+"/cookies")
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || !strings.HasPrefix(got[0], "a=1;") || !strings.HasPrefix(got[1], "b=2;") || !strings.Contains(got[1], "HttpOnly") {
		t.Errorf("Set-Cookie = %q", got)
	}

	for _, code := range []int{201, 202, 404, 418, 503} {
		resp, _ := get(t, c, g.url+"/status/"+strconv.Itoa(code))
		if resp.StatusCode != code {
			t.Errorf("/status/%d: got %d", code, resp.StatusCode)
		}
	}
	resp, _ = get(t, c, g.url+"/redirect")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/text" {
		t.Errorf("/redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, err := c.PostForm(g.url+"/form", url.Values{"name": {"ada lovelace"}, "n": {"1&2"}})
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	m = pyJSON(t, body)
	if f, _ := m["form"].(map[string]any); f["name"] != "ada lovelace" || f["n"] != "1&2" {
		t.Errorf("/form: %v", m)
	}

	payload := binaryBody(3<<20, 11)
	req = mustRequest(t, "POST", g.url+"/binary", payload)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, body = do(t, c, req)
	if resp.StatusCode != 200 || len(body) != len(payload) || pySHA(body) != pySHA(payload) {
		t.Errorf("/binary: %d, %d bytes, first difference at %d", resp.StatusCode, len(body), firstDiff(body, payload))
	}
	checkHeader(t, resp, "X-Sha256", pySHA(payload))

	mark := w.out.len()
	resp, _ = get(t, c, g.url+"/boom")
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 500 || rid == "" {
		t.Fatalf("/boom: %d, request id %q", resp.StatusCode, rid)
	}
	w.waitFrom(t, mark, "a log line with the request id "+rid, startTimeout, func(line string) bool {
		return strings.Contains(line, rid)
	})
}

func TestPythonDjango(t *testing.T) {
	needPython(t, "django")
	g, _ := pythonStack(t, "djsite.wsgi:application")
	c := newClient(t)

	resp, body := get(t, c, g.url+"/hello/")
	if resp.StatusCode != 200 || string(body) != "hello from django\n" {
		t.Fatalf("/hello/: %d %q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")
	if ck := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(ck, "seen=yes;") {
		t.Errorf("Set-Cookie = %q", ck)
	}

	// CommonMiddleware's APPEND_SLASH redirect.
	resp, _ = get(t, c, g.url+"/hello")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/hello/" {
		t.Errorf("/hello: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	req := mustRequest(t, "GET", g.url+"/info/?a=b", nil)
	req.Header.Set("Cookie", "k=v")
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // the client's own: the gateway appends the real one
	_, body = do(t, c, req)
	m := pyJSON(t, body)
	if m["remote_addr"] != "127.0.0.1" || m["host"] != g.addr || m["secure"] != false {
		t.Errorf("/info/: %v", m)
	}
	if sid, _ := m["session_id"].(string); !hexID.MatchString(sid) {
		t.Errorf("session id %q", sid)
	}
	if q, _ := m["query"].(map[string]any); q["a"] != "b" {
		t.Errorf("query %v", m["query"])
	}
	if ck, _ := m["cookies"].(map[string]any); ck["k"] != "v" {
		t.Errorf("cookies %v", m["cookies"])
	}

	payload := binaryBody(300<<10, 5)
	req = mustRequest(t, "POST", g.url+"/upload/", payload)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, body = do(t, c, req)
	m = pyJSON(t, body)
	if resp.StatusCode != 201 || m["length"] != float64(len(payload)) || m["sha256"] != pySHA(payload) || m["content_type"] != "application/octet-stream" {
		t.Errorf("/upload/: %d %v", resp.StatusCode, m)
	}
	resp, _ = get(t, c, g.url+"/nowhere/")
	if resp.StatusCode != 404 {
		t.Errorf("/nowhere/: %d", resp.StatusCode)
	}
}
