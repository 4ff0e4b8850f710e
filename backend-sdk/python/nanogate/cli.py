"""What nanogate-wsgi and nanogate-asgi share: flags, loading the
application, logging, and serving until SIGTERM."""

import argparse
import importlib
import logging
import os
import signal
import socket
import sys
import threading

from . import sp


def parse_args(prog, description, argv, threads):
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("app", help="the application, as module:attribute (module.sub:app.wsgi_app)")
    p.add_argument("--bind", action="append", default=[], metavar="URL",
                   help="listen at URL (ipc:///path or tcp://host:port) for the gateway to "
                        "dial (endpoint mode dial); repeatable")
    p.add_argument("--dial", action="append", default=[], metavar="URL",
                   help="connect to a gateway endpoint in mode listen; redialled when lost; repeatable")
    if threads:
        p.add_argument("--threads", type=int, default=32,
                       help="handler threads, that is requests run at once (default 32)")
        p.add_argument("--backlog", type=int, default=1024,
                       help="requests that may wait for a thread; past it the answer is 503 (default 1024)")
    else:
        p.add_argument("--max-streams", type=int, default=1024,
                       help="streams run at once; past it the answer is 503 (default 1024)")
        p.add_argument("--wsgi", action="store_true",
                       help="the application is WSGI: run it on threads, its response iterable streamed")
        p.add_argument("--threads", type=int, default=32,
                       help="with --wsgi: threads running the application at once (default 32)")
    p.add_argument("--max-request-bytes", type=int, default=sp.DEFAULT_MAX_RECV,
                   help="largest message taken from the gateway; keep it above the gateway's "
                        "max_body_bytes plus headers (default 64 MiB)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = p.parse_args(argv)
    if not args.bind and not args.dial:
        p.error("give at least one --bind or --dial URL")
    for url in args.bind + args.dial:
        try:
            sp.parse_url(url)
        except ValueError as e:
            p.error(str(e))
    if threads and (args.threads < 1 or args.backlog < 1):
        p.error("--threads and --backlog must be at least 1")
    if not threads and args.threads < 1:
        p.error("--threads must be at least 1")
    return args


def setup_logging(level):
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper()),
                        format="%(asctime)s %(levelname)s %(message)s")


def load_app(spec):
    """Import module:attribute, the current directory first on sys.path
    (as gunicorn does), and return the attribute."""
    module, colon, attr = spec.partition(":")
    if not colon:
        attr = "application"
    if not module or not attr:
        raise SystemExit("nanogate: %r: want module:attribute" % spec)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise SystemExit("nanogate: cannot import %s: %s" % (module, e))
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit("nanogate: %s has no attribute %s" % (module, attr))
    return obj


def serve_until_signal(server, args, prog):
    """Bind and dial, say ready, serve until SIGTERM or SIGINT, then drain
    (docs/PROTOCOL.md) and return 0."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    # The kernel may hand SIGTERM to any of the process's threads, and
    # Python runs handlers only in the main thread once it executes code:
    # a main thread asleep in a lock would not wake. The wakeup fd is
    # written by whichever thread takes the signal, and the main thread
    # sleeps reading it.
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for url in args.bind:
            server.bind(url)
        for url in args.dial:
            server.dial(url)
    except OSError as e:
        logging.getLogger("nanogate").error("%s: %s", prog, e)
        return 1
    print("ready", flush=True)
    logging.getLogger("nanogate").info("%s: serving %s on %s", prog, args.app,
                                       " ".join(args.bind + args.dial))
    stops = {signal.SIGTERM, signal.SIGINT}
    while not stop.is_set():
        # Each byte is the number of a signal taken (by any thread).
        if stops.intersection(wake_r.recv(64)):
            break
    signal.set_wakeup_fd(-1)
    wake_r.close()
    wake_w.close()
    logging.getLogger("nanogate").info("%s: draining", prog)
    server.drain()
    logging.getLogger("nanogate").info("%s: stopped", prog)
    return 0
