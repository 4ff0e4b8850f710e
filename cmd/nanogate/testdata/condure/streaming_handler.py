# nanogate's streaming handler (ZHTTP stream mode, spec 33), using the
# three sockets of a stream-mode handler: PULL on BASE-out (first packets),
# ROUTER on BASE-out-stream whose identity is our "from" (the gateway's
# later packets to us), PUB on BASE-in (our packets). Every packet we send
# is sequenced from 0 on its id.
#   http:// request: a head with "more" (the body is to follow, so the
#     client gets it chunked), then the last body packet.
#   ws:// request: accept with 101 and credits, one message, then close.
# Packets with a type (keep-alive, credit, cancel, ...) are only printed.
import os
import tnetstring
import zmq

me = 'streaming.{}'.format(os.getpid()).encode()
ctx = zmq.Context()
first = ctx.socket(zmq.PULL)
first.connect('ipc://client-out')
later = ctx.socket(zmq.ROUTER)
later.identity = me
later.connect('ipc://client-out-stream')
out_sock = ctx.socket(zmq.PUB)
out_sock.connect('ipc://client-in')


def send(req, seq, fields):
    fields.update({b'from': me, b'id': req[b'id'], b'seq': seq})
    out_sock.send(req[b'from'] + b' T' + tnetstring.dumps(fields))


poller = zmq.Poller()
poller.register(first, zmq.POLLIN)
poller.register(later, zmq.POLLIN)
while True:
    for sock, _ in poller.poll():
        # The ROUTER's message is [gateway identity, empty, packet].
        msg = sock.recv() if sock is first else sock.recv_multipart()[-1]
        req = tnetstring.loads(msg[1:])
        print('IN {}'.format(req), flush=True)
        if b'type' in req:
            continue
        if req.get(b'uri', b'').startswith((b'ws://', b'wss://')):
            send(req, 0, {b'code': 101, b'reason': b'Switching Protocols', b'credits': 65536})
            send(req, 1, {b'body': b'hello world'})  # one text message
            send(req, 2, {b'type': b'close'})
        else:
            send(req, 0, {b'code': 200, b'reason': b'OK', b'credits': 65536,
                          b'headers': [[b'Content-Type', b'text/plain']], b'more': True})
            send(req, 1, {b'body': b'hello world\n'})  # no "more": the end
