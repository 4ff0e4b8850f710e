"""A raw ASGI 3 application for test_asgi (no framework): one path per
behaviour under test."""

import hashlib
import sys


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                scope["state"]["started"] = "yes"
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        return await websocket(scope, receive, send)
    path = scope["path"]
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
    if path == "/hello":
        await send(start)
        await send({"type": "http.response.body", "body": b"hello\n"})
    elif path == "/scope":
        ext = scope["extensions"]["nanogate"]
        body = "%s %s %s %s %s %s %s %s" % (scope["method"], scope["path"], scope["query_string"].decode(),
                                           scope["client"][0], scope["scheme"], ext["session_id"],
                                           ext["request_id"], scope["state"].get("started"))
        await send(start)
        await send({"type": "http.response.body", "body": body.encode()})
    elif path == "/stream":
        await send(start)
        for piece in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/big":
        await send(start)
        await send({"type": "http.response.body", "body": b"x" * (3 << 20)})
    elif path == "/echo":
        h, n, more = hashlib.sha256(), 0, True
        while more:
            msg = await receive()
            h.update(msg.get("body", b""))
            n += len(msg.get("body", b""))
            more = msg.get("more_body", False)
        await send(start)
        await send({"type": "http.response.body", "body": b"%d %s" % (n, h.hexdigest().encode())})
    elif path == "/raise":
        raise RuntimeError("raised before the response")
    elif path == "/raise-late":
        await send(start)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("raised mid-response")
    elif path == "/watch":
        await send(start)
        await send({"type": "http.response.body", "body": b"watching", "more_body": True})
        msg = await receive()
        while msg["type"] != "http.disconnect":
            msg = await receive()
        print("saw http.disconnect", file=sys.stderr, flush=True)
    elif path == "/hold":
        msg = await receive()  # the body: the test sends it when it wants the reply
        await send(start)
        await send({"type": "http.response.body", "body": b"held " + msg.get("body", b"")})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found\n"})


async def websocket(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            print("websocket closed by the client: %d" % msg["code"], file=sys.stderr, flush=True)
            return
        if msg.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": msg["text"].upper()})
        else:
            await send({"type": "websocket.send", "bytes": msg["bytes"] + b"!"})
