"""An ordinary Starlette application, unchanged for nanogate, on a route of
format frames with websocket = true:

    nanogate-asgi starlette_app:app --bind ipc:///tmp/stream.sock
"""

import asyncio
import hashlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect


async def hello(request):
    return PlainTextResponse("hello from starlette\n")


async def info(request):
    return JSONResponse({
        "client": request.client.host if request.client else None,
        "scheme": request.url.scheme,
        "query": dict(request.query_params),
        "session_id": request.scope["extensions"]["nanogate"]["session_id"],
        "request_id": request.headers.get("x-request-id"),
    })


async def stream(request):
    n = int(request.query_params.get("n", "5"))
    size = int(request.query_params.get("size", "0"))

    async def events():
        for i in range(n):
            if size:
                yield bytes([65 + i % 26]) * size
            else:
                yield "data: %d\n\n" % i
                await asyncio.sleep(0.01)
    return StreamingResponse(events(), media_type="text/event-stream" if not size else "application/octet-stream")


async def upload(request):
    h = hashlib.sha256()
    n = pieces = 0
    async for chunk in request.stream():
        if chunk:
            h.update(chunk)
            n += len(chunk)
            pieces += 1
    return JSONResponse({"length": n, "sha256": h.hexdigest(), "pieces": pieces})


async def echo(websocket):
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") == "close":
                await websocket.close(code=4000, reason="asked to")
                return
            if msg.get("text") is not None:
                await websocket.send_text("echo: " + msg["text"])
            else:
                await websocket.send_bytes(msg["bytes"][::-1])
    except WebSocketDisconnect:
        return


app = Starlette(routes=[
    Route("/hello", hello),
    Route("/info", info),
    Route("/stream", stream),
    Route("/upload", upload, methods=["POST", "PUT"]),
    WebSocketRoute("/ws", echo),
])
