"""The smallest worker: nanogate-wsgi hello:app --bind ipc:///tmp/hello.sock"""


def app(environ, start_response):
    body = b"hello from " + environ["nanogate.session_id"].encode() + b"\n"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
