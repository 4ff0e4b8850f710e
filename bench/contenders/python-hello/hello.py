"""The sdk scenario's Python hello (bench/README.md): one plain WSGI
callable, served unchanged by nanogate-wsgi and by gunicorn, so that the
two runs differ only in what carries the request to it.

    nanogate-wsgi hello:app --bind ipc:///tmp/w.sock     (PYTHONPATH: this dir and backend-sdk/python)
    gunicorn --worker-class gthread --threads 32 --chdir bench/contenders/python-hello hello:app
"""

BODY = b"hello world"  # payload.Hello: the harness checks it byte for byte
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
