package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/template"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// nginxConf: Debian's nginx as a keep-alive reverse proxy to the direct
// fasthttp server. keepalive_requests is raised on both sides (nginx's
// default 1000 would close wrk's connections every 1000 requests, which
// neither fasthttp nor nanogate does).
var nginxConf = template.Must(template.New("nginx").Parse(`daemon off;
master_process on;
worker_processes {{.Workers}};
worker_rlimit_nofile {{.NoFile}};
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events {
    worker_connections {{.WorkerConns}};
}
http {
    access_log off;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    keepalive_timeout {{.KeepAlive}};
    keepalive_requests 1000000;
    upstream backend {
        server {{.Upstream}};
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen {{.Addr}} backlog=4096{{if .ReusePort}} reuseport{{end}};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
{{- if .Stream}}
            proxy_buffering off;
            proxy_buffer_size 256k;
            proxy_buffers 4 256k;
            proxy_busy_buffers_size 512k;
            proxy_request_buffering off;
            client_body_buffer_size 256k;
            client_max_body_size 0;
{{- end}}
        }
{{- if .WebSocket}}
        location {{.WSPath}} {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }
{{- end}}
    }
}
`))

// startNginx runs a fasthttp upstream and nginx in front of it, with its
// own prefix, config, pid file and logs in the stack's dir.
func startNginx(e *env, s *stack, z sizing) error { return startNginxTo(e, s, z, binFast) }

// startNginxWS runs the direct WebSocket echo server (ws-echo) and nginx
// in front of it, relaying /ws as WebSocket: HTTP/1.1 to the upstream with
// the client's Upgrade and "Connection: upgrade" (nginx's documented
// WebSocket proxying), and an hour of read and send timeout instead of 60 s,
// so that a silent WebSocket is not closed during the idle scenarios.
func startNginxWS(e *env, s *stack, z sizing) error { return startNginxTo(e, s, z, binWSEcho) }

// startNginxStream runs the direct net/http stream server and nginx in
// front of it, streaming both ways as nanogate does: proxy_buffering and
// proxy_request_buffering off (by default nginx would hold the 100 MiB
// download and the 1 GiB upload in its temporary files first), no body
// size limit, and 256 KiB buffers each way, as nanogate's frames. With its
// default 4-8 KiB buffers nginx moved 0.21 (download) and 0.34 (upload) of
// the direct server's speed; with these, 0.58 and 0.43.
func startNginxStream(e *env, s *stack, z sizing) error {
	return startNginxTo(e, s, z, binStreamDirect)
}

func startNginxTo(e *env, s *stack, z sizing, upstream string) error {
	up, err := startUpstream(e, s, upstream)
	if err != nil {
		return err
	}
	return startNginxFront(e, s, z, up, upstream == binWSEcho, upstream == binStreamDirect)
}

// startNginxFront runs nginx in front of the upstream at up (host:port),
// relaying WebSocket (ws) or streaming both ways (stream) when asked.
func startNginxFront(e *env, s *stack, z sizing, up string, ws, stream bool) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	// Each worker may end up with every connection (nginx does not
	// balance accepts evenly), and each proxied one holds an upstream
	// connection too; worker_connections counts both. Past the harness's
	// own limit nginx could not raise its own (it would log an alert).
	wc := 2*(z.idle+z.maxConns) + 4096
	nofile := wc + 1024
	if nofile > e.fdLimit {
		nofile, wc = e.fdLimit, e.fdLimit-1024
	}
	data := map[string]any{
		"Dir": s.dir, "Addr": addr, "Upstream": up,
		"WorkerConns": wc, "NoFile": nofile, "KeepAlive": "75s",
		"Workers": "auto", "ReusePort": false,
		"WebSocket": ws, "WSPath": payload.WSPath,
		"Stream": stream,
	}
	if z.procs > 1 {
		// Past one process's open-file limit: more workers, each with
		// its own listening socket, so that the kernel spreads the
		// connections over them as it does over nanogate's processes.
		data["Workers"], data["ReusePort"] = strconv.Itoa(max(z.procs, runtime.NumCPU())), true
	}
	if z.idle > 0 {
		data["KeepAlive"] = "3600s"
	}
	conf := filepath.Join(s.dir, "nginx.conf")
	if err := writeTemplate(conf, nginxConf, data); err != nil {
		return err
	}
	argv := []string{"nginx", "-p", s.dir + "/", "-c", conf, "-e", filepath.Join(s.dir, "error.log")}
	if _, err := s.run("nginx", argv); err != nil {
		return err
	}
	s.addr = addr
	return nil
}

// apacheConf: Debian's Apache httpd with the prefork MPM (the only one
// mod_nano supports), sized so that every load connection gets a child of
// its own from the start: prefork serves one connection per process, and
// a keep-alive connection holds its process.
var apacheConf = template.Must(template.New("apache").Parse(`ServerRoot "{{.Dir}}"
ServerName 127.0.0.1
Listen {{.Addr}}
ListenBacklog 4096
PidFile "{{.Dir}}/httpd.pid"
DefaultRuntimeDir "{{.Dir}}"
ErrorLog "{{.Dir}}/error.log"
LogLevel warn
User www-data
Group www-data
LoadModule mpm_prefork_module {{.Mods}}/mod_mpm_prefork.so
LoadModule authz_core_module {{.Mods}}/mod_authz_core.so
{{range .Load}}LoadModule {{.}}
{{end}}
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
Timeout 30
StartServers {{.Children}}
MinSpareServers 16
MaxSpareServers {{.Children}}
ServerLimit {{.Children}}
MaxRequestWorkers {{.Children}}
MaxConnectionsPerChild 0
<Location />
    Require all granted
{{.Location}}</Location>
{{.Extra}}
`))

const apacheModules = "/usr/lib/apache2/modules"

// startApacheProxy runs a fasthttp upstream and Apache's mod_proxy_http in
// front of it (each prefork child keeps its own backend connection).
func startApacheProxy(e *env, s *stack, z sizing) error {
	up, err := startUpstream(e, s, binFast)
	if err != nil {
		return err
	}
	return startApache(s, z, map[string]any{
		"Load": []string{
			"proxy_module " + apacheModules + "/mod_proxy.so",
			"proxy_http_module " + apacheModules + "/mod_proxy_http.so",
		},
		"Extra": fmt.Sprintf("ProxyPass \"/\" \"http://%s/\"\n", up),
	})
}

// startApacheModNano runs the C worker and Apache with mod_nano in front
// of it. mod_nano (github.com/frdpnl/mod_nano, module nano_module) reads
// one directive, "nanoChannel URL [PRIORITY]", valid in <Location> and
// <Directory>, and answers requests whose handler is "nano-handler".
func startApacheModNano(e *env, s *stack, z sizing) error {
	if e.modNanoSO == "" {
		return errSkipModNano
	}
	url, err := startCWorker(e, s)
	if err != nil {
		return err
	}
	return startApache(s, z, map[string]any{
		"Load":     []string{"nano_module " + e.modNanoSO},
		"Location": fmt.Sprintf("    SetHandler nano-handler\n    nanoChannel %s\n", url),
	})
}

// errSkipModNano is not a failure: mod_nano is not packaged by Debian.
var errSkipModNano = errors.New("skipped (set MOD_NANO_SO=/path/to/mod_nano.so)")

func startApache(s *stack, z sizing, data map[string]any) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	data["Dir"], data["Addr"], data["Mods"] = s.dir, addr, apacheModules
	data["Children"] = max(z.maxConns, 64) + 16
	for _, k := range []string{"Location", "Extra"} {
		if _, ok := data[k]; !ok {
			data[k] = ""
		}
	}
	conf := filepath.Join(s.dir, "httpd.conf")
	if err := writeTemplate(conf, apacheConf, data); err != nil {
		return err
	}
	if _, err := s.run("apache2", []string{"apache2", "-f", conf, "-DFOREGROUND"}); err != nil {
		return err
	}
	s.addr = addr
	return nil
}

// startUpstream runs the direct server bin (fasthttp-hello, ws-echo)
// behind a proxy; it belongs to the proxy's stack, so its CPU and memory
// count for the proxy as a nanogate worker's do for nanogate.
func startUpstream(e *env, s *stack, bin string) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	if _, err := s.run("upstream", []string{e.bins[bin], "--listen", addr}); err != nil {
		return "", err
	}
	return addr, nil
}

func writeTemplate(path string, t *template.Template, data map[string]any) error {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
