"""The benchmark's hello: the same app under nanogate-wsgi and gunicorn."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"hello\n"]
