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
    import time
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.02)  # polling a port another process opens
    raise SystemExit("port %d never opened" % port)


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
            gw_args = [a.gateway, "--listen", "127.0.0.1:%d" % port, "--route", "/=" + sock, "--log-level", "warn"]
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
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(d, True)


if __name__ == "__main__":
    main()
