# A ZHTTP stream-mode handler that answers with a large body sent only
# within the credits the gateway grants (spec 33: the initiator offers
# credits in its first packet and in credit packets as it writes to the
# client). It prints what it saw so the test can check the flow.
import os
import sys
import tnetstring
import zmq

size = int(sys.argv[1])
instance_id = 'credithandler.{}'.format(os.getpid()).encode()

ctx = zmq.Context()
in_sock = ctx.socket(zmq.PULL)
in_sock.connect('ipc://client-out')
in_stream = ctx.socket(zmq.ROUTER)
in_stream.identity = instance_id
in_stream.connect('ipc://client-out-stream')
# XPUB: a PUB that also reads subscriptions, so the handler can wait for
# the gateway's instead of sleeping.
out_sock = ctx.socket(zmq.XPUB)
out_sock.connect('ipc://client-in')
out_sock.recv()
print('ready', flush=True)

req = tnetstring.loads(in_sock.recv()[1:])
to, rid = req[b'from'], req[b'id']
credits = req.get(b'credits', 0)
seq = 0
grants = 0


def send(msg):
    global seq
    msg[b'from'] = instance_id
    msg[b'id'] = rid
    msg[b'seq'] = seq
    seq += 1
    out_sock.send(to + b' T' + tnetstring.dumps(msg))


send({b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'application/octet-stream']], b'more': True})
sent = 0
while sent < size:
    while credits == 0:
        m = tnetstring.loads(in_stream.recv_multipart()[2][1:])
        if m.get(b'type') == b'credit':
            credits += m[b'credits']
            grants += 1
        elif m.get(b'type') == b'cancel':
            print('cancelled', flush=True)
            sys.exit(1)
    n = min(credits, size - sent, 65536)
    body = bytes((sent + i) % 251 for i in range(n))
    credits -= n
    sent += n
    send({b'body': body, b'more': sent < size})
print('sent {} grants {}'.format(sent, grants), flush=True)
