# A ZHTTP stream-mode handler for WebSocket sessions (ws:// uris): it
# accepts with 101 and credits, echoes every message with its content-type,
# granting the credits back as it reads, and answers a close with a close
# that carries the same code. Other requests get 404.
import os
import tnetstring
import zmq

instance_id = 'wsecho.{}'.format(os.getpid()).encode()

ctx = zmq.Context()
in_sock = ctx.socket(zmq.PULL)
in_sock.connect('ipc://client-out')
in_stream = ctx.socket(zmq.ROUTER)
in_stream.identity = instance_id
in_stream.connect('ipc://client-out-stream')
out_sock = ctx.socket(zmq.XPUB)  # reads subscriptions: wait for the gateway's
out_sock.connect('ipc://client-in')
out_sock.recv()
print('ready', flush=True)

poller = zmq.Poller()
poller.register(in_sock, zmq.POLLIN)
poller.register(in_stream, zmq.POLLIN)
seqs = {}


def send(to, rid, msg):
    msg[b'from'] = instance_id
    msg[b'id'] = rid
    msg[b'seq'] = seqs[rid]
    seqs[rid] += 1
    out_sock.send(to + b' T' + tnetstring.dumps(msg))


while True:
    socks = dict(poller.poll())
    if socks.get(in_sock) == zmq.POLLIN:
        raw = in_sock.recv()
    else:
        raw = in_stream.recv_multipart()[2]
    m = tnetstring.loads(raw[1:])
    to, rid, typ = m[b'from'], m[b'id'], m.get(b'type', b'')
    if b'uri' in m:
        seqs[rid] = 0
        if not m[b'uri'].startswith(b'ws'):
            send(to, rid, {b'code': 404, b'reason': b'Not Found', b'body': b'not a websocket\n'})
            continue
        print('open {}'.format(m[b'uri'].decode()), flush=True)
        send(to, rid, {b'code': 101, b'reason': b'Switching Protocols', b'credits': 65536})
    elif rid not in seqs:
        continue
    elif typ == b'close':
        print('close {}'.format(m.get(b'code', 0)), flush=True)
        send(to, rid, {b'type': b'close', b'code': m.get(b'code', 1000)})
        del seqs[rid]
    elif typ == b'cancel':
        print('cancel', flush=True)
        del seqs[rid]
    elif typ == b'':
        body = m.get(b'body', b'')
        reply = {b'body': body, b'credits': len(body)}
        if m.get(b'content-type') == b'binary':
            reply[b'content-type'] = b'binary'
        if m.get(b'more'):
            reply[b'more'] = True
        send(to, rid, reply)
