"""Hello through nanogate (nanogate-wsgi) against the same WSGI app served
directly by gunicorn (gthread, one process), or with --asgi a Starlette app
under nanogate-asgi against uvicorn, with wrk; prints req/s and the
worker's CPU per request (utime+stime from /proc over the wrk run).

    /usr/bin/python3 backend-sdk/python/bench/run.py --gateway bin/nanogate [--duration 10] [--connections 64]
    /usr/bin/python3 backend-sdk/python/bench/run.py --gateway bin/nanogate --asgi

Every process it starts is stopped by its PID when it ends.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
EXAMPLES = os.path.join(PKG, "examples")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_line(p, want):
    for line in p.stdout:
        if want in line:
            drain(p)
            return
    raise SystemExit("process exited before %r" % want)


def drain(p):
    """Read p's output to the end in a thread: a full pipe would stop it
    (the gateway's access log)."""
    import threading
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()


def wait_port(port):
    wait_connect(socket.AF_INET, ("127.0.0.1", port))


def wait_connect(family, address):
    import time
    for _ in range(500):
        s = socket.socket(family)
        try:
            s.settimeout(0.1)
            s.connect(address)
            return
        except OSError:
            time.sleep(0.02)  # polling an address another process opens
        finally:
            s.close()
    raise SystemExit("%s never accepted" % (address,))


def wrk(url, connections, duration):
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", "%ds" % duration, url],
                         capture_output=True, text=True, check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"Latency\s+(\S+)", out).group(1)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return reqs, rps, p99, int(errs.group(1)) if errs else 0


def start(argv, **kw):
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def measure(name, url, worker_pids, connections, duration):
    before = cpu_seconds(worker_pids())
    reqs, rps, avg, non2xx = wrk(url, connections, duration)
    cpu = cpu_seconds(worker_pids()) - before
    print("%-34s %9.0f req/s  avg latency %-8s worker CPU %6.1f us/req  non-2xx %d"
          % (name, rps, avg, cpu / reqs * 1e6, non2xx), flush=True)


NGINX_CONF = """daemon off;
user %(user)s;
worker_processes 2;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(d)s/nginx-body;
    proxy_temp_path %(d)s/nginx-proxy;
    fastcgi_temp_path %(d)s/nginx-fastcgi;
    uwsgi_temp_path %(d)s/nginx-uwsgi;
    scgi_temp_path %(d)s/nginx-scgi;
    upstream app { server unix:%(d)s/gunicorn.sock; keepalive 64; }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
"""


def behind_nginx(a, d, env, procs):
    """nginx (2 worker processes, keep-alive to the upstream) in front of
    gunicorn gthread on a unix socket: the same worker count as nanogate's
    run."""
    import pwd
    sock = os.path.join(d, "gunicorn.sock")
    gu = start(["gunicorn", "--worker-class", "gthread", "--workers", "1", "--threads", str(a.threads),
                "--bind", "unix:" + sock, "--log-level", "warning", a.app], cwd=HERE, env=env)
    procs.append(gu)
    drain(gu)
    wait_connect(socket.AF_UNIX, sock)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"d": d, "port": port, "user": pwd.getpwuid(os.getuid()).pw_name})
    ng = start(["nginx", "-c", conf, "-p", d])
    procs.append(ng)
    drain(ng)
    wait_port(port)
    measure("nginx -> gunicorn gthread 1x%d" % a.threads, "http://127.0.0.1:%d%s" % (port, a.path),
            lambda: children(gu.pid), a.connections, a.duration)
    stop(ng)
    stop(gu)
    with open(os.path.join(d, "nginx-error.log")) as f:
        errors = f.read().splitlines()
    if errors:
        print("  nginx error log: %d lines, the first: %s" % (len(errors), errors[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--app", default=None, help="module:app in bench/ or examples/ (default plain:app, "
                                                "with --asgi starlette_app:app)")
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--path", default=None, help="the URL path wrk requests (default /, with --asgi /hello)")
    ap.add_argument("--asgi", action="store_true",
                    help="nanogate-asgi on a frames route against uvicorn, instead of WSGI against gunicorn")
    a = ap.parse_args()
    a.app = a.app or ("starlette_app:app" if a.asgi else "plain:app")
    a.path = a.path or ("/hello" if a.asgi else "/")
    env = dict(os.environ, PYTHONPATH=PKG + os.pathsep + EXAMPLES)
    d = tempfile.mkdtemp(prefix="ngpybench", dir="/tmp")
    procs = []
    try:
        sock = "ipc://" + os.path.join(d, "w.sock")
        port = free_port()
        if a.asgi:
            cfg = os.path.join(d, "nanogate.toml")
            with open(cfg, "w") as f:
                f.write('listen = "127.0.0.1:%d"\n[sessions]\ninbound = "ipc://%s/in.sock"\n'
                        '[[route]]\npath = "/"\nformat = "frames"\nendpoints = ["%s"]\n' % (port, d, sock))
            w = start([sys.executable, "-m", "nanogate.asgi", a.app, "--bind", sock, "--log-level", "warning"],
                      cwd=HERE, env=env)
            gw_args = [a.gateway, "--config", cfg, "--log-level", "warn"]
            name = "nanogate -> nanogate-asgi"
        else:
            w = start([sys.executable, "-m", "nanogate.wsgi", a.app, "--bind", sock, "--threads", str(a.threads),
                       "--log-level", "warning"], cwd=HERE, env=env)
            cfg = os.path.join(d, "nanogate.toml")
            with open(cfg, "w") as f:
                # As many requests in flight as connections: the default 64
                # would answer the rest 503 at 256 connections.
                f.write('listen = "127.0.0.1:%d"\n[[route]]\npath = "/"\ncontexts = %d\nendpoints = ["%s"]\n'
                        % (port, max(a.connections, 64), sock))
            gw_args = [a.gateway, "--config", cfg, "--log-level", "warn"]
            name = "nanogate -> nanogate-wsgi (%d thr)" % a.threads
        procs.append(w)
        wait_line(w, "ready")
        g = start(gw_args)
        procs.append(g)
        drain(g)
        wait_port(port)
        measure(name, "http://127.0.0.1:%d%s" % (port, a.path), lambda: [w.pid], a.connections, a.duration)
        stop(g)
        stop(w)
        port = free_port()
        if a.asgi:
            direct = [sys.executable, "-m", "uvicorn", "--port", str(port), "--log-level", "warning",
                      "--no-access-log", a.app]
            name = "uvicorn direct (1 process)"
            pids = None
        elif shutil.which("gunicorn"):
            direct = ["gunicorn", "--worker-class", "gthread", "--workers", "1", "--threads", str(a.threads),
                      "--bind", "127.0.0.1:%d" % port, "--log-level", "warning", a.app]
            name = "gunicorn gthread 1x%d direct" % a.threads
            pids = "children"
        else:
            return
        p = start(direct, cwd=HERE, env=env)
        procs.append(p)
        drain(p)
        wait_port(port)
        measure(name, "http://127.0.0.1:%d%s" % (port, a.path),
                (lambda: children(p.pid)) if pids == "children" else (lambda: [p.pid]),
                a.connections, a.duration)
        stop(p)
        if not a.asgi and shutil.which("nginx"):
            behind_nginx(a, d, env, procs)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(d, True)


if __name__ == "__main__":
    main()
