"""The BlastBeat contender's Python dealer: BlastBeat's README hello dealer
(python3-zmq), with a Content-Length and no end message, so that the
client's connection stays open as with the other contenders (BlastBeat's
end closes it). Usage: /usr/bin/python3 hello.py NODE ROUTER_ADDRESS
"""
import sys

import zmq

HELLO = b'hello world'
HEAD = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n' % len(HELLO)

context = zmq.Context()
socket = context.socket(zmq.DEALER)
socket.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
socket.connect(sys.argv[2])

while True:
    sid, msg_type, msg_body = socket.recv_multipart()
    if msg_type == b'ping':
        socket.send_multipart([sid, b'pong', b''])
    elif msg_type == b'uwsgi':
        socket.send_multipart([sid, b'headers', HEAD])
        socket.send_multipart([sid, b'body', HELLO])
