"""BlastBeat's WebSocket echo dealer (its README's "WebSockets" section) in
Python 3: every websocket message comes back as "received: MSG".
Usage: /usr/bin/python3 websocket.py NODE ROUTER_ADDRESS
"""
import sys

import zmq

context = zmq.Context()
socket = context.socket(zmq.DEALER)
socket.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
socket.connect(sys.argv[2])

while True:
    # receive a blastbeat message
    sid, msg_type, msg_body = socket.recv_multipart()
    print('received a message of type %s' % msg_type.decode(), flush=True)
    if msg_type == b'ping':
        socket.send_multipart([sid, b'pong', b''])
        continue
    if msg_type == b'websocket':
        socket.send(sid, zmq.SNDMORE)
        socket.send(b'websocket', zmq.SNDMORE)
        socket.send(b"received: %s" % msg_body)
        continue
