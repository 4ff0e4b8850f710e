"""BlastBeat's chunked dealer (its README's "chunk" section) in Python 3:
headers with Transfer-Encoding: chunked, 99 chunk messages, then an empty
chunk to end. Usage: /usr/bin/python3 chunked.py NODE ROUTER_ADDRESS
"""
import sys

import zmq

context = zmq.Context()
socket = context.socket(zmq.DEALER)
socket.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
socket.connect(sys.argv[2])

while True:
    sid, msg_type, msg_body = socket.recv_multipart()
    print('received a message of type %s' % msg_type.decode(), flush=True)
    if msg_type == b'ping':
        socket.send_multipart([sid, b'pong', b''])
    elif msg_type == b'uwsgi':
        # the head announces chunked encoding; each chunk message is one
        # chunk on the wire, and an empty one ends the response
        head = b'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n'
        socket.send_multipart([sid, b'headers', head])
        for n in range(1, 100):
            socket.send_multipart([sid, b'chunk', b'i am the number %d<br/>' % n])
        socket.send_multipart([sid, b'chunk', b''])
