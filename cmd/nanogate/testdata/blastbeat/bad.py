"""A dealer that sends what BlastBeat's protocol does not allow, once each,
then prints "sent" and answers pings: a message of two parts, one of four,
an unknown type, a routed type, a frame for an unknown sid, and a frame
for the sid given (a request of another node).
Usage: /usr/bin/python3 bad.py NODE ROUTER_ADDRESS [SIDHEX]
"""
import sys

import zmq

context = zmq.Context()
socket = context.socket(zmq.DEALER)
socket.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
socket.connect(sys.argv[2])

# wait for the first ping: the ROUTER knows this dealer from then on
while socket.recv_multipart()[1] != b'ping':
    pass
socket.send_multipart([b'', b'pong', b''])
socket.send_multipart([b'x' * 16, b'body'])
socket.send_multipart([b'x' * 16, b'body', b'a', b'b'])
socket.send_multipart([b'x' * 16, b'frobnicate', b''])
socket.send_multipart([b'x' * 16, b'@0123456789abcdef:websocket', b'hi'])
socket.send_multipart([b'x' * 16, b'body', b'nobody'])
if len(sys.argv) > 3:
    socket.send_multipart([bytes.fromhex(sys.argv[3]), b'body', b'not yours'])
print('sent', flush=True)
while True:
    sid, msg_type, _ = socket.recv_multipart()
    if msg_type == b'ping':
        socket.send_multipart([sid, b'pong', b''])
