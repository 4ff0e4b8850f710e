"""A BlastBeat dealer that decodes each request's uwsgi packet, as the
README's uwsgi_to_dict reads it, into a WSGI-style environ and answers with it, one
"KEY=VALUE" line per variable, sorted, under a Content-Length; a request
body (CONTENT_LENGTH bytes, in body messages) is answered once whole, as
"BODY=..." after the variables. Usage: environ.py NODE ROUTER_ADDRESS
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


context = zmq.Context()
socket = context.socket(zmq.DEALER)
socket.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
socket.connect(sys.argv[2])

pending = {}  # sid -> [environ, body so far]


def answer(sid, env, body):
    out = b''.join(k + b'=' + env[k] + b'\n' for k in sorted(env))
    if body:
        out += b'BODY=' + body + b'\n'
    head = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n' % len(out)
    socket.send_multipart([sid, b'headers', head])
    socket.send_multipart([sid, b'body', out])


while True:
    sid, msg_type, msg_body = socket.recv_multipart()
    print('received a message of type %s' % msg_type.decode(), flush=True)
    if msg_type == b'ping':
        socket.send_multipart([sid, b'pong', b''])
    elif msg_type == b'uwsgi':
        env = uwsgi_to_dict(msg_body)
        want = int(env.get(b'CONTENT_LENGTH', b'0') or 0)
        if want == 0:
            answer(sid, env, b'')
        else:
            pending[sid] = [env, b'']
    elif msg_type == b'body' and sid in pending:
        p = pending[sid]
        p[1] += msg_body
        if len(p[1]) >= int(p[0][b'CONTENT_LENGTH']):
            del pending[sid]
            answer(sid, p[0], p[1])
    elif msg_type == b'end':
        pending.pop(sid, None)
