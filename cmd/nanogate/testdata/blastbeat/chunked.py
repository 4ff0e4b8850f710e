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
        headers = '\r\n'.join(['HTTP/1.1 200 OK', 'Content-Type: text/html', 'Transfer-Encoding: chunked']) + '\r\n\r\n'
        socket.send(sid, zmq.SNDMORE)
        socket.send(b'headers', zmq.SNDMORE)
        socket.send(headers.encode())
        for i in range(1, 100):
            socket.send(sid, zmq.SNDMORE)
            socket.send(b'chunk', zmq.SNDMORE)
            socket.send(('i am the number %d<br/>' % i).encode())
        # to end a chunked response just send an empty chunk
        socket.send(sid, zmq.SNDMORE)
        socket.send(b'chunk', zmq.SNDMORE)
        socket.send(b'')
