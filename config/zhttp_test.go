package config

import (
	"strings"
	"testing"
	"time"
)

func TestZHTTPRoute(t *testing.T) {
	c, err := Parse("t.toml", []byte(`[[route]]
path = "/"
format = "zhttp"
zhttp_stream = "ipc://client"
zhttp_keep_alive = "1s"

[[route]]
path = "/rpc/"
format = "zhttp"
zhttp_req = "tcp://127.0.0.1:5000"
zhttp_id = "gw1"
`))
	if err != nil {
		t.Fatal(err)
	}
	z := c.Routes[0].ZHTTP
	if z.Stream != "ipc://client" || z.ID != "nanogate" || z.KeepAlive != time.Second || z.SessionTimeout != time.Minute {
		t.Fatalf("stream route %+v", z)
	}
	if z := c.Routes[1].ZHTTP; z.Req != "tcp://127.0.0.1:5000" || z.ID != "gw1" || z.Base() != z.Req {
		t.Fatalf("req route %+v", z)
	}
	var out strings.Builder
	if err := c.WriteRoutes(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipc://client          zhttp stream, bind", "tcp://127.0.0.1:5000  zhttp req, bind"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("nanogate check prints\n%s\nwithout %q", out.String(), want)
		}
	}
	r := ZHTTPFlagRoute("ipc://client", "", false, "")
	c = Default()
	c.Routes = []Route{r}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Every mistake names the file, the line and the key.
func TestZHTTPErrors(t *testing.T) {
	const route = "[[route]]\nformat = \"zhttp\"\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"no base", route,
			`t.toml:1: route[0].zhttp_stream: format "zhttp" needs zhttp_stream = "ipc://PATH" (Condure's --zclient-stream) or zhttp_req`},
		{"two modes", route + "zhttp_stream = \"ipc://a\"\nzhttp_req = \"ipc://b\"\n",
			`t.toml:4: route[0].zhttp_req: zhttp_stream and zhttp_req are two modes; a route takes one`},
		{"scheme", route + "zhttp_stream = \"inproc://a\"\n",
			`t.toml:3: route[0].zhttp_stream: unsupported scheme "inproc" (want ipc or tcp, as Condure)`},
		{"tcp ports", route + "zhttp_stream = \"tcp://127.0.0.1:65534\"\n",
			`t.toml:3: route[0].zhttp_stream: "tcp://127.0.0.1:65534": port "65534" must be a number from 1 to 65533 (this mode uses 3 ports from it)`},
		{"timeouts", route + "zhttp_stream = \"ipc://a\"\nzhttp_keep_alive = \"2m\"\n",
			`t.toml:1: route[0].zhttp_session_timeout: 1m0s must be longer than zhttp_keep_alive (2m0s)`},
		{"endpoints", route + "zhttp_stream = \"ipc://a\"\nendpoints = [\"ipc://x\"]\n",
			`t.toml:1: route[0].endpoint: a zhttp route has no endpoints: handlers connect to zhttp_stream or zhttp_req`},
		{"websocket", route + "zhttp_req = \"ipc://a\"\nwebsocket = true\n",
			`t.toml:4: route[0].websocket: REQ mode carries no WebSocket (one packet each way); use zhttp_stream`},
		{"id", route + "zhttp_stream = \"ipc://a\"\nzhttp_id = \"a b\"\n",
			`t.toml:4: route[0].zhttp_id: "a b": want 1 to 64 bytes without spaces (handlers address answers to it, then a space)`},
		{"shared base", route + "zhttp_stream = \"ipc://a\"\n" + route + "path = \"/x/\"\nzhttp_stream = \"ipc://a\"\nzhttp_id = \"other\"\n",
			`t.toml:7: route[1].zhttp_stream: shares ipc://a with route 1 but not its zhttp and websocket settings`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tc.doc))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}
