"""A dealer for the failure tests. It answers pings, prints
"NODE TYPE SIDHEX PATH" for every other message, and answers a request by
its PATH_INFO: /retry sends retry; /head sends nothing (the client waits
for a head); /stream sends a chunked head and a first chunk, then a "tick"
chunk every 200 ms until the gateway sends end (an event stream: the
gateway sees a client that left when it writes to it); anything else gets
"NODE" as a whole response.
Usage: /usr/bin/python3 hold.py NODE ROUTER_ADDRESS
"""
import sys

import zmq


def uwsgi_to_dict(pkt):
    # BlastBeat's reading (its README): the u16 little-endian at bytes 1-2
    # is the end of the variables, counted from the packet's first byte.
    end = int.from_bytes(pkt[1:3], 'little')
    env, pos = {}, 4
    while pos < end:
        n = int.from_bytes(pkt[pos:pos+2], 'little')
        key, pos = pkt[pos+2:pos+2+n], pos+2+n
        n = int.from_bytes(pkt[pos:pos+2], 'little')
        env[key], pos = pkt[pos+2:pos+2+n], pos+2+n
    return env


node = sys.argv[1].encode()
context = zmq.Context()
socket = context.socket(zmq.DEALER)
socket.setsockopt(zmq.IDENTITY, node)
socket.connect(sys.argv[2])

streams = set()  # sids of open /stream responses
poller = zmq.Poller()
poller.register(socket, zmq.POLLIN)
while True:
    if not poller.poll(200):
        for sid in streams:
            socket.send_multipart([sid, b'chunk', b'tick\n'])
        continue
    sid, msg_type, msg_body = socket.recv_multipart()
    if msg_type == b'ping':
        socket.send_multipart([sid, b'pong', b''])
        continue
    path = b'-'
    if msg_type == b'uwsgi':
        path = uwsgi_to_dict(msg_body)[b'PATH_INFO']
    print('%s %s %s %s' % (node.decode(), msg_type.decode(), sid.hex(), path.decode()), flush=True)
    if msg_type == b'end':
        streams.discard(sid)
    if msg_type != b'uwsgi':
        continue
    if path == b'/retry':
        socket.send_multipart([sid, b'retry', b''])
    elif path == b'/head':
        pass
    elif path == b'/stream':
        socket.send_multipart([sid, b'headers', b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'])
        socket.send_multipart([sid, b'chunk', b'first piece\n'])
        streams.add(sid)
    else:
        socket.send_multipart([sid, b'headers', b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(node)])
        socket.send_multipart([sid, b'body', node])
