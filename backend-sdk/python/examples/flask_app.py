"""An ordinary Flask application, unchanged for nanogate:

    nanogate-wsgi flask_app:app --bind ipc:///tmp/flask.sock
"""

import hashlib

from flask import Flask, abort, jsonify, make_response, redirect, request

app = Flask(__name__)


@app.get("/text")
def text():
    return "hello from flask\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.get("/json")
def json_view():
    return jsonify(
        remote_addr=request.remote_addr,
        scheme=request.scheme,
        host=request.host,
        args=request.args.to_dict(),
        session_id=request.environ.get("nanogate.session_id"),
        request_id=request.headers.get("X-Request-Id"),
        cookies=request.cookies.to_dict(),
    )


@app.get("/cookies")
def cookies():
    resp = make_response("cookies set\n")
    resp.set_cookie("a", "1")
    resp.set_cookie("b", "2", httponly=True)
    return resp


@app.get("/status/<int:code>")
def status(code):
    if code == 404:
        abort(404)
    return make_response("status %d\n" % code, code, {"X-Status": str(code)})


@app.get("/redirect")
def go():
    return redirect("/text")


@app.post("/form")
def form():
    return jsonify(form=request.form.to_dict())


@app.post("/binary")
def binary():
    data = request.get_data()
    resp = make_response(data)
    resp.headers["Content-Type"] = "application/octet-stream"
    resp.headers["X-Sha256"] = hashlib.sha256(data).hexdigest()
    return resp


@app.get("/boom")
def boom():
    raise RuntimeError("flask handler failed")


@app.get("/events")
def events():
    """Server-sent events, streamed under nanogate-asgi --wsgi on a route of
    format frames (nanogate-wsgi buffers the whole reply)."""
    import time

    n = int(request.args.get("n", "5"))

    def gen():
        for i in range(n):
            yield "data: %d\n\n" % i
            time.sleep(0.02)
    return app.response_class(gen(), mimetype="text/event-stream")


@app.route("/count", methods=["POST", "PUT"])
def count():
    """Reads the upload piece by piece (request.stream)."""
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = request.stream.read(65536)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    return jsonify(length=n, sha256=h.hexdigest())
