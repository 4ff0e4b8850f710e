# hello.py: nanogate-wsgi hello:app --bind ipc:///tmp/hello.sock
def app(environ, start_response):
    sid = environ["nanogate.session_id"]        # the client connection's id
    body = ("hello from session %s, you are %s\n"
            % (sid, environ["REMOTE_ADDR"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
