"""BlastBeat's hello dealer, as its README writes dealers, in Python 3 with
Debian's python3-zmq: answer pings, and answer each request (a uwsgi
packet) with headers, a body and end (which closes the connection in
BlastBeat). Usage: /usr/bin/python3 hello.py NODE ROUTER_ADDRESS
"""
import sys

import zmq

context = zmq.Context()
socket = context.socket(zmq.DEALER)
# the identity is the node name the virtual host expects (bytes in Python 3)
socket.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
socket.connect(sys.argv[2])

while True:
    sid, msg_type, msg_body = socket.recv_multipart()
    print('received a message of type %s' % msg_type.decode(), flush=True)
    if msg_type == b'ping':
        socket.send(sid, zmq.SNDMORE)
        socket.send(b'pong', zmq.SNDMORE)
        socket.send(b'')
        continue
    if msg_type == b'uwsgi':
        socket.send_multipart([sid, b'headers', b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n'])
        socket.send_multipart([sid, b'body', b'Hello World'])
        socket.send_multipart([sid, b'end', b''])
