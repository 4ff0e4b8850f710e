"""A WebSocket client for the end-to-end tests, on Debian's python3-websockets.

Usage: /usr/bin/python3 ws_client.py URL

Prints one line per event on stdout: "open", "text MSG", "binary HEX",
"pong", "closed CODE REASON". Reads commands on stdin, one per line:
"text MSG", "binary HEX", "fragments PART PART..." (one text message sent
as several frames), "ping", "close CODE REASON". Exits when the connection
closes.
"""
import asyncio
import sys

import websockets


async def commands(ws):
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        kind, _, arg = line.rstrip("\n").partition(" ")
        if kind == "text":
            await ws.send(arg)
        elif kind == "binary":
            await ws.send(bytes.fromhex(arg))
        elif kind == "fragments":
            await ws.send(iter(arg.split(" ")))
        elif kind == "ping":
            await (await ws.ping())
            print("pong", flush=True)
        elif kind == "close":
            code, _, reason = arg.partition(" ")
            await ws.close(int(code), reason)


async def main(url):
    async with websockets.connect(url, max_size=None) as ws:
        print("open", flush=True)
        sender = asyncio.create_task(commands(ws))
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    print("binary", msg.hex(), flush=True)
                else:
                    print("text", msg, flush=True)
        except websockets.ConnectionClosed:
            pass
        sender.cancel()
        print("closed", ws.close_code, ws.close_reason, flush=True)


asyncio.run(main(sys.argv[1]))
