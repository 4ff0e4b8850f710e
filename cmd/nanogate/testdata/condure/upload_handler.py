# A ZHTTP stream-mode handler that reads a streamed request body within
# the credits it grants (spec 33: the responder offers credits for the
# request body, 0 at first), then answers with the body's length and a
# checksum. A packet past its credits fails the upload.
import hashlib
import os
import sys
import tnetstring
import zmq

window = int(sys.argv[1])
instance_id = 'uploadhandler.{}'.format(os.getpid()).encode()

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

req = tnetstring.loads(in_sock.recv()[1:])
to, rid = req[b'from'], req[b'id']
seq = 0
in_seq = 1
digest = hashlib.sha256(req.get(b'body', b''))
total = len(req.get(b'body', b''))
more = req.get(b'more', False)
granted = window
overrun = False


def send(msg):
    global seq
    msg[b'from'] = instance_id
    msg[b'id'] = rid
    msg[b'seq'] = seq
    seq += 1
    out_sock.send(to + b' T' + tnetstring.dumps(msg))


# Credits may come with any packet; a credit packet before the response.
send({b'type': b'credit', b'credits': window})
while more:
    m = tnetstring.loads(in_stream.recv_multipart()[2][1:])
    if m.get(b'seq') != in_seq:
        print('bad seq {} want {}'.format(m.get(b'seq'), in_seq), flush=True)
    in_seq += 1
    if m.get(b'type'):
        continue  # keep-alive, credit
    body = m.get(b'body', b'')
    granted -= len(body)
    if granted < 0:
        overrun = True
    digest.update(body)
    total += len(body)
    more = m.get(b'more', False)
    if body:
        send({b'type': b'credit', b'credits': len(body)})
        granted += len(body)
answer = '{} {} {}\n'.format(total, digest.hexdigest(), 'overrun' if overrun else 'within-credits').encode()
send({b'code': 200, b'reason': b'OK', b'headers': [[b'Content-Type', b'text/plain']], b'body': answer})
print('done', flush=True)
