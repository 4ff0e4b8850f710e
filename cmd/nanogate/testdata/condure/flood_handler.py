# A ZHTTP handler that ignores credits: it answers a request with a head
# and then N bytes of body as fast as it can, whatever the gateway grants,
# and prints "cancelled" when the gateway gives up on the request. The
# test's client does not read, so the gateway must cut the stream rather
# than hold the flood.
import os
import sys
import tnetstring
import zmq

total = int(sys.argv[1])
instance_id = 'flood.{}'.format(os.getpid()).encode()

ctx = zmq.Context()
in_sock = ctx.socket(zmq.PULL)
in_sock.connect('ipc://client-out')
in_stream = ctx.socket(zmq.ROUTER)
in_stream.identity = instance_id
in_stream.connect('ipc://client-out-stream')
out_sock = ctx.socket(zmq.XPUB)  # reads subscriptions: wait for the gateway's
out_sock.sndhwm = 0  # no limit here: the flood must reach the gateway
out_sock.connect('ipc://client-in')
out_sock.recv()
print('ready', flush=True)

req = tnetstring.loads(in_sock.recv()[1:])
to, rid = req[b'from'], req[b'id']
seq = 0


def send(msg):
    global seq
    msg[b'from'] = instance_id
    msg[b'id'] = rid
    msg[b'seq'] = seq
    seq += 1
    out_sock.send(to + b' T' + tnetstring.dumps(msg))


send({b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'application/octet-stream']], b'more': True})
piece = b'x' * 65536
for _ in range(total // len(piece)):
    send({b'body': piece, b'more': True})
print('flooded', flush=True)
while True:
    m = tnetstring.loads(in_stream.recv_multipart()[2][1:])
    if m.get(b'type') == b'cancel':
        print('cancelled', flush=True)
        break
